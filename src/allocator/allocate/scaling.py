"""Pro-rata scaled targets: the published rule for who absorbs a floor's cost or a cap's surplus.

When floors lift some LAs above their need-based target (or caps hold some below it), the rest
of the stream-year must give up (or take) the difference. The rule, the classic formula-funding
scaling ("water-filling"), is: every LA of the stream-year gets the same fraction ``lambda`` of
its target, clamped to its own bounds,

``s_c = clamp(lambda * t_c, lo_c, hi_c)``,

with ``lambda`` (one per stream-year) chosen so that ``sum_c s_c`` is the budget. ``lo``/``hi``
are the cell's whole-pound floor/cap (a lock fixes both; an entrant held at £0 by
``pace.entrants: from_zero`` has ``hi = 0``). So every LA that is not at a floor, cap or lock keeps
the same share of its target as every other such LA.

Pace of change is applied year by year in the same way: in year ``y`` a pace rule on an LA
becomes a bound computed from its scaled amount in year ``y - 1`` (``no_cash_cut`` and
``min_uplift`` raise ``lo``, ``max_growth`` lowers ``hi``; a cell's own floor, cap or lock wins
a conflict), so what pace rules cost is also shared pro rata. If these pace bounds cannot meet
a stream-year's budget, that stream-year is scaled with its floors, caps and locks alone (the LP
still enforces pace and then stays as close as it can to the scaled amounts).

``lambda`` is found exactly: bisection brackets it, then the set of LAs strictly between their
bounds fixes it as ``(budget - sum of clamped amounts) / sum of free targets``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .cells import Layout
from .constraints import Groups

#: How a cell's scaled amount was set (``held`` codes).
FREE, FLOOR, CAP, LOCK, PACE = "scaled", "floor", "cap", "lock", "pace"


@dataclass(frozen=True)
class ProRata:
    """Pro-rata scaled targets.

    Attributes
    ----------
    value : ndarray of float
        ``s_c`` per cell (pounds).
    scale : ndarray of float, shape (n_streams, n_years)
        ``lambda`` per stream-year (NaN where the stream has no money that year).
    held : ndarray of str
        Per cell: ``"scaled"`` (``lambda x target``), or the bound that holds it: ``"floor"``,
        ``"cap"``, ``"lock"`` or ``"pace"``.
    pace_used : ndarray of bool, shape (n_streams, n_years)
        Whether the stream-year was scaled with its pace bounds (False where none apply or
        they could not meet the budget).
    """

    value: np.ndarray
    scale: np.ndarray
    held: np.ndarray
    pace_used: np.ndarray


def water_fill(target: np.ndarray, lo: np.ndarray, hi: np.ndarray, budget: float
               ) -> tuple[np.ndarray, float]:
    """Return ``(clamp(lam * target, lo, hi), lam)`` with the amounts summing to ``budget``.

    Parameters
    ----------
    target : ndarray
        Non-negative targets.
    lo, hi : ndarray
        Bounds with ``lo <= hi`` (``hi`` may be ``inf``).
    budget : float

    Returns
    -------
    values : ndarray
    lam : float
        ``0`` when the lower bounds alone reach the budget, ``inf`` when the upper bounds of
        the LAs with a positive target cannot reach it (then ``values`` is as close as the
        bounds allow and does not sum to ``budget``).
    """
    t = np.asarray(target, dtype=float)
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)

    def total(lam: float) -> float:
        return float(np.clip(lam * t, lo, hi).sum())

    if t.size == 0:
        return np.zeros(0), math.nan
    at_zero = total(0.0)
    if at_zero >= budget:
        vals = np.clip(np.zeros_like(t), lo, hi)
        free = (t > 0) & (lo < hi)
        if at_zero <= budget * (1 + 1e-12) and free.any():
            # the lower bounds meet the budget exactly: report the largest lambda that keeps
            # every LA at its lower bound (the scaling that would apply with a penny more)
            return vals, float(np.min(lo[free] / t[free]))
        return vals, 0.0
    pos = t > 0
    top = float(np.where(pos, hi, lo).sum())
    if top <= budget:
        return np.where(pos, hi, lo).astype(float), math.inf
    # at b every LA with a positive target reaches its cap (or the whole budget alone)
    a = 0.0
    b = float(np.max(np.where(np.isfinite(hi), np.maximum(hi, lo), budget)[pos] / t[pos]))
    for _ in range(200):
        mid = 0.5 * (a + b)
        if mid <= a or mid >= b:
            break
        if total(mid) < budget:
            a = mid
        else:
            b = mid
    lam = 0.5 * (a + b)
    raw = lam * t
    free = pos & (raw > lo) & (raw < hi)
    fixed = np.clip(raw, lo, hi)[~free].sum()
    t_free = t[free].sum()
    if t_free > 0:
        exact = (budget - fixed) / t_free
        if a <= exact <= b:
            lam = float(exact)
    return np.clip(lam * t, lo, hi), float(lam)


def pro_rata_targets(layout: Layout, groups: Groups) -> ProRata:
    """Scale every stream-year's targets pro rata to its budget (see the module doc).

    Stream-years are scaled in year order so each year's pace bounds come from the scaled
    amounts of the year before.
    """
    n = layout.n_cells
    lo = groups.lower(n)
    hi = groups.upper(n)
    lo_kind = np.full(n, FLOOR, dtype=object)
    hi_kind = np.full(n, CAP, dtype=object)
    lo_kind[groups.lock.cells] = LOCK
    hi_kind[groups.lock.cells] = LOCK
    pace_lo = np.full(n, -math.inf)
    pace_hi = np.full(n, math.inf)
    n_s, n_y = len(layout.streams), len(layout.years)
    value = np.zeros(n)
    held = np.full(n, FREE, dtype=object)
    scale = np.full((n_s, n_y), math.nan)
    pace_used = np.zeros((n_s, n_y), dtype=bool)
    for y in range(n_y):
        for s in range(n_s):
            cells = layout.block(s, y)
            if cells.size == 0 or layout.budget[s, y] <= 0:
                continue
            c_lo, c_hi = lo[cells], hi[cells]
            p_lo, p_hi = pace_lo[cells], pace_hi[cells]
            use_lo = np.minimum(np.maximum(c_lo, p_lo), c_hi)
            use_hi = np.maximum(np.minimum(c_hi, p_hi), use_lo)
            budget = float(layout.budget[s, y])
            paced = bool((use_lo > c_lo).any() or (use_hi < c_hi).any())
            if paced and (use_lo.sum() > budget or use_hi.sum() < budget):
                paced = False
            if not paced:
                use_lo, use_hi = c_lo, c_hi
            t = layout.target[cells]
            vals, lam = water_fill(t, use_lo, use_hi, budget)
            value[cells] = vals
            scale[s, y] = lam
            pace_used[s, y] = paced
            raw = lam * t if math.isfinite(lam) else np.where(t > 0, math.inf, 0.0)
            fuzz = 1e-9 * np.maximum(1.0, np.abs(vals))
            at_lo = (vals <= use_lo) & (raw < use_lo - fuzz)
            at_hi = (vals >= use_hi) & (raw > use_hi + fuzz)
            kind = np.full(cells.size, FREE, dtype=object)
            kind[at_lo] = np.where(paced & (use_lo > c_lo), PACE, lo_kind[cells])[at_lo]
            kind[at_hi] = np.where(paced & (use_hi < c_hi), PACE, hi_kind[cells])[at_hi]
            kind[lo_kind[cells] == LOCK] = LOCK
            held[cells] = kind
            # pace bounds for the next year, from this year's scaled amounts
            for g in groups.pace_rows:
                prev = np.asarray(g.meta["prev"])
                mine = np.isin(prev, cells)
                if not mine.any():
                    continue
                now, bound = g.owner[mine], float(g.meta["factor"]) * value[prev[mine]]
                if g.sense == ">=":
                    pace_lo[now] = np.maximum(pace_lo[now], bound)
                else:
                    pace_hi[now] = np.minimum(pace_hi[now], bound)
    return ProRata(value=value, scale=scale, held=held.astype(str), pace_used=pace_used)
