"""Round LP pounds to whole pounds, keeping every stream-year exact and every bound.

Largest-remainder apportionment per stream-year: each cell gets ``floor(x)``, then the pounds
still missing from the budget go one each to the cells with the largest fractional remainders
(ties: ONS code order). Safety rules, all whole pounds:

* floors are rounded *up* and caps *down* before the solve, and LP values are clipped into
  ``[floor, cap]`` before rounding, so ``floor(x) >= floor`` and ``floor(x) + 1 <= cap``
  whenever ``x`` is fractional — apportionment can never break a floor, cap or lock;
* stream-years are rounded in year order, and a pace rule on a cell becomes a whole-pound
  bound from the *rounded* previous year (``ceil((1+u) * prev)`` for minimum rules,
  ``floor((1+g) * prev)`` for ``max_growth``, in exact integer arithmetic, see :mod:`.exact`);
  a pound that would break one goes to the next cell in remainder order instead;
* looking one year ahead, a cell whose next year has a whole-pound floor or lock under a
  ``max_growth`` rule is kept at least ``ceil(floor / (1+g))`` (and under a minimum rule at most
  ``floor(cap / (1+u))``), so rounding this year down cannot make next year's bound unreachable.

Rows on an LA's total over several streams (:mod:`.totals`) are kept the same way: the last of
a row's cells to be rounded (rounding goes stream by stream, year by year) gets the whole-pound
bound its already rounded cells leave it (:func:`.totals.round_bounds`).

If the whole-pound bounds of a stream-year cannot add up to its budget (possible only when
pace rules bind on almost every LA), :class:`~allocator.errors.InfeasibleError` says by how
much.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..errors import InfeasibleError
from .cells import Layout
from .constraints import Groups
from .exact import pace_bound
from .totals import round_bounds


def _apportion(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: int) -> np.ndarray:
    v = np.clip(values, lo, hi)
    base = np.clip(np.floor(v + 1e-7), lo, hi)
    remainder = np.round(v - base, 6)
    order_up = np.lexsort((np.arange(v.size), -remainder))
    order_down = np.lexsort((np.arange(v.size), remainder))
    short = int(round(total - base.sum()))
    while short != 0:
        if short > 0:
            room = order_up[(hi[order_up] - base[order_up]) >= 1]
            take = room[:short]
            base[take] += 1
        else:
            room = order_down[(base[order_down] - lo[order_down]) >= 1]
            take = room[: -short]
            base[take] -= 1
        if take.size == 0:
            break
        short = int(round(total - base.sum()))
    return base


def _divide(values: np.ndarray, factor: Fraction, up: bool) -> np.ndarray:
    """``ceil`` (``up``) or ``floor`` of whole-pound ``values / factor``, exactly (inf stays)."""
    out = np.array(values, dtype=float)
    num, den = factor.numerator, factor.denominator
    for j, v in enumerate(out.tolist()):
        if np.isfinite(v):
            q = int(v) * den
            out[j] = float(-((-q) // num) if up else q // num)
    return out


def round_allocation(layout: Layout, groups: Groups, x: np.ndarray) -> np.ndarray:
    """Whole pounds per cell (int64) from LP values ``x``.

    Raises
    ------
    InfeasibleError
        When whole-pound floors/caps/locks/pace bounds cannot meet a stream-year budget.
    """
    lo = groups.lower(layout.n_cells)
    hi = groups.upper(layout.n_cells)
    out = np.zeros(layout.n_cells, dtype=np.int64)
    pace_now = [(g, g.owner, np.asarray(g.meta["prev"]), g.meta["ratio"])
                for g in groups.pace_rows]
    totals = [g.meta["total"] for g in groups.rows if "total" in g.meta]
    for s in range(len(layout.streams)):
        for y in range(len(layout.years)):
            cells = layout.block(s, y)
            if cells.size == 0:
                continue
            c_lo, c_hi = lo[cells].copy(), hi[cells].copy()
            local = np.full(layout.n_cells, -1, dtype=np.int64)
            local[cells] = np.arange(cells.size)
            for g, now, prev, f in pace_now:
                mine = local[now] >= 0
                if not mine.any():
                    continue
                idx = local[now[mine]]
                bound = pace_bound(out[prev[mine]], f, g.sense).astype(float)
                if g.sense == ">=":
                    c_lo[idx] = np.maximum(c_lo[idx], bound)
                else:
                    c_hi[idx] = np.minimum(c_hi[idx], bound)
            for g, now, prev, f in pace_now:
                # look ahead: leave next year's whole-pound floor/lock (or cap) reachable
                mine = local[prev] >= 0
                if not mine.any() or f <= 0:
                    continue
                idx = local[prev[mine]]
                if g.sense == "<=":
                    need = np.minimum(_divide(lo[now[mine]], f, up=True), c_hi[idx])
                    c_lo[idx] = np.maximum(c_lo[idx], need)
                else:
                    room = np.maximum(_divide(hi[now[mine]], f, up=False), c_lo[idx])
                    c_hi[idx] = np.minimum(c_hi[idx], room)
            round_bounds(totals, out, cells, c_lo, c_hi)
            budget = int(layout.budget[s, y])
            label = f"{layout.streams[s]} {layout.years[y]}"
            if c_lo.sum() > budget or c_hi.sum() < budget:
                gap = c_lo.sum() - budget if c_lo.sum() > budget else budget - c_hi.sum()
                raise InfeasibleError(
                    f"rounding {label} to whole pounds: floors, caps, locks and pace rules "
                    f"(applied to the rounded {layout.years[y - 1] if y else 'previous'} "
                    f"amounts) cannot add up to the budget £{budget:,}; they are £{gap:,.0f} "
                    "apart. Relax the pace-of-change rules slightly for this stream."
                )
            vals = _apportion(x[cells], c_lo, c_hi, budget)
            if int(vals.sum()) != budget:
                raise InfeasibleError(
                    f"rounding {label} to whole pounds left £{budget - int(vals.sum()):,} "
                    "unallocated within the whole-pound bounds"
                )
            out[cells] = vals.astype(np.int64)
    return out
