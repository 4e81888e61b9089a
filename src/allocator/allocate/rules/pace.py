"""Pace of change: once funded, an LA's money moves at most so fast from one year to the next.

Rules per LA x stream eligible in two consecutive years: ``no_cash_cut`` (``x[y] >= x[y-1]``),
``min_uplift`` (``x[y] >= (1+u) x[y-1]``) and ``max_growth`` (``x[y] <= (1+g) x[y-1]``), as
two-term rows ``pace_<rule>_<stream>_<year>_<code>``; with ``entrants: from_zero`` and
``max_growth`` an entrant is capped at £0 (bound group ``pace_entry``). Checked on whole pounds
as ``den * x[y] <sense> num * x[y-1]`` with the factor's exact fraction. Presolve:
``pace_wave_entry``, ``pace_la``, ``pace_from_zero``. Explain: the ``pace_adjustment`` step and
``held = pace`` (see :mod:`allocator.allocate.explain`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..cells import Layout
from ..config import AllocationConfig
from ..exact import pace_gaps, ratio
from .base import (
    BoundGroup,
    Built,
    Issue,
    RowGroup,
    Rule,
    empty_bounds,
    gbp,
    listing,
)

if TYPE_CHECKING:
    from ..constraints import Groups


def _pairs(layout: Layout, streams: list[str] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells (now, previous) for LA x stream funded in consecutive years, and entrants."""
    now, prev, entrants = [], [], []
    for s, stream in enumerate(layout.streams):
        if streams and stream not in streams:
            continue
        for y in range(1, len(layout.years)):
            cur, old = layout.position[s, y], layout.position[s, y - 1]
            both = (cur >= 0) & (old >= 0)
            now.append(cur[both])
            prev.append(old[both])
            entrants.append(cur[(cur >= 0) & (old < 0)])
    def cat(parts):
        return (np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64))
    return cat(now), cat(prev), cat(entrants)


def _two_term_rows(name: str, layout: Layout, now: np.ndarray, prev: np.ndarray, rate: float,
                   sense: str, rule: str) -> RowGroup:
    factor = 1.0 + rate
    names = [n.replace("x_", f"{name}_", 1) for n in np.array(layout.var_names(), dtype=object)[now]] \
        if now.size else []
    indptr = np.arange(0, 2 * now.size + 1, 2, dtype=np.int64)
    indices = np.empty(2 * now.size, dtype=np.int64)
    indices[0::2], indices[1::2] = now, prev
    data = np.empty(2 * now.size)
    data[0::2], data[1::2] = 1.0, -factor
    return RowGroup(name, names, indptr, indices, data, sense, np.zeros(now.size), now.copy(), rule,
                    {"factor": factor, "ratio": ratio(rate), "prev": prev.copy()})


def pace(layout: Layout, config: AllocationConfig) -> tuple[list[RowGroup], BoundGroup]:
    """The pace-of-change groups.

    Returns
    -------
    rows : list of RowGroup
        ``pace_no_cash_cut`` (``x[y] - x[y-1] >= 0``), ``pace_min_uplift``
        (``x[y] - (1+u) x[y-1] >= 0``) and ``pace_max_growth`` (``x[y] - (1+g) x[y-1] <= 0``),
        for each LA x stream eligible in both years.
    entry : BoundGroup
        ``pace_entry``: with ``entrants: from_zero`` and ``max_growth``, entrants are capped
        at £0.
    """
    p = config.pace
    if p is None or p.applies_to == "total":  # totals: see .totals
        return [], empty_bounds("pace_entry", "upper", "")
    now, prev, entrants = _pairs(layout, p.streams)
    rows = []
    if p.no_cash_cut:
        rows.append(_two_term_rows("pace_no_cash_cut", layout, now, prev, 0.0, ">=",
                                   "no cash cut once funded"))
    if p.min_uplift is not None:
        rows.append(_two_term_rows("pace_min_uplift", layout, now, prev, p.min_uplift, ">=",
                                   f"at least {p.min_uplift:+.2%} on the previous year"))
    if p.max_growth is not None:
        rows.append(_two_term_rows("pace_max_growth", layout, now, prev, p.max_growth, "<=",
                                   f"at most {p.max_growth:+.2%} on the previous year"))
    if p.max_growth is not None and p.entrants == "from_zero" and entrants.size:
        z = np.zeros(entrants.size, dtype=np.int64)
        entry = BoundGroup("pace_entry", "upper", np.sort(entrants), z, z.astype(float),
                           "max growth from £0 for LAs entering a stream")
    else:
        entry = empty_bounds("pace_entry", "upper", "")
    return rows, entry


def _pace_factors(config: AllocationConfig) -> tuple[float | None, float | None, str]:
    p = config.pace
    if p is None:
        return None, None, ""
    lows, names = [], []
    if p.no_cash_cut:
        lows.append(1.0)
        names.append("no_cash_cut")
    if p.min_uplift is not None:
        lows.append(1.0 + p.min_uplift)
        names.append(f"min_uplift {p.min_uplift:+.1%}")
    f_lo = max(lows) if lows else None
    f_hi = None if p.max_growth is None else 1.0 + p.max_growth
    return f_lo, f_hi, " and ".join(names)


def check_pace_wave_entry(layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
    """Aggregate pace rules against each stream-year budget when LAs enter (or do not)."""
    p = config.pace
    if p is None:
        return []
    f_lo, f_hi, low_name = _pace_factors(config)
    lo, hi = groups.lower(layout.n_cells), groups.upper(layout.n_cells)
    waves = layout.areas["wave"].to_numpy()
    out = []
    for s, stream in enumerate(layout.streams):
        if p.streams and stream not in p.streams:
            continue
        for y in range(1, len(layout.years)):
            cur, old = layout.position[s, y], layout.position[s, y - 1]
            if not (cur >= 0).any() or not (old >= 0).any():
                continue
            both = (cur >= 0) & (old >= 0)
            c_now, c_old = cur[both], old[both]
            ent = cur[(cur >= 0) & (old < 0)]
            leave = old[(old >= 0) & (cur < 0)]
            b_old, b_now = int(layout.budget[s, y - 1]), int(layout.budget[s, y])
            prev_y, this_y = layout.years[y - 1], layout.years[y]
            ent_waves = sorted(set(waves[layout.area[ent]].tolist()))
            who = (f"the {ent.size} LAs entering in {this_y} (wave "
                   f"{', '.join(map(str, ent_waves))})" if ent.size else "no LA entering")
            if f_lo is not None and c_now.size:
                min_old = max(lo[c_old].sum(), b_old - hi[leave].sum())
                need = f_lo * min_old + lo[ent].sum()
                if need > b_now + 0.5:
                    out.append(Issue(
                        "pace_wave_entry",
                        f"pace of change ({low_name}) in {stream}: the {c_now.size} LAs funded "
                        f"in both {prev_y} and {this_y} share at least £{min_old:,.0f} in "
                        f"{prev_y}, so they need at least £{f_lo * min_old:,.0f} in {this_y}; "
                        f"with {who} and their floors of £{lo[ent].sum():,.0f} that is "
                        f"£{need:,.0f}, above the {this_y} budget £{b_now:,} by "
                        f"£{need - b_now:,.0f}"))
            if f_hi is not None:
                max_old = min(hi[c_old].sum(), b_old - lo[leave].sum()) if c_now.size else 0.0
                if p.entrants == "from_zero":
                    ent_max, ent_why = 0.0, "max growth applies from £0 to entrants"
                else:
                    ent_max, ent_why = float(hi[ent].sum()), "their caps"
                avail = f_hi * max_old + ent_max
                if avail < b_now - 0.5:
                    out.append(Issue(
                        "pace_wave_entry",
                        f"pace of change (max_growth {p.max_growth:+.1%}) in {stream}: the "
                        f"{c_now.size} LAs funded in both {prev_y} and {this_y} share at most "
                        f"£{max_old:,.0f} in {prev_y}, so at most £{f_hi * max_old:,.0f} in "
                        f"{this_y}; {who} can receive at most {gbp(ent_max)} ({ent_why}); "
                        f"together £{avail:,.0f}, short of the {this_y} budget £{b_now:,} by "
                        f"£{b_now - avail:,.0f}"))
    return out


def check_pace_la(layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
    """One LA's floor/lock in one year against its cap/lock the next, under a pace rule."""
    lo, hi = groups.lower(layout.n_cells), groups.upper(layout.n_cells)
    text = []
    for g in groups.pace_rows:
        now, prev, f = g.owner, np.asarray(g.meta["prev"]), float(g.meta["factor"])
        if g.sense == ">=":
            bad = np.flatnonzero(f * lo[prev] > hi[now] + 0.5)
            text += [f"{layout.label(int(now[j]))}: {g.name} needs at least "
                     f"£{f * lo[prev[j]]:,.0f} (from £{lo[prev[j]]:,.0f} the year before) but "
                     f"its cap/lock is £{hi[now[j]]:,.0f}" for j in bad.tolist()]
        else:
            bad = np.flatnonzero(lo[now] > f * hi[prev] + 0.5)
            text += [f"{layout.label(int(now[j]))}: floor/lock £{lo[now[j]]:,.0f} is above the "
                     f"{g.name} limit £{f * hi[prev[j]]:,.0f} (from its cap/lock "
                     f"£{hi[prev[j]]:,.0f} the year before)" for j in bad.tolist()]
    return [Issue("pace_la", "a pace-of-change rule conflicts with an LA's floor, cap or lock: "
                  + listing(text))] if text else []


def check_pace_from_zero(layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
    """An LA entering a stream with a floor while max growth applies from £0."""
    cells = groups.pace_entry.cells
    lo = groups.lower(layout.n_cells)
    bad = cells[lo[cells] > 0]
    if not bad.size:
        return []
    waves = layout.areas["wave"].to_numpy()
    text = [f"{layout.label(k)} (wave {waves[layout.area[k]]}) has a floor of £{lo[k]:,.0f}"
            for k in bad.tolist()]
    return [Issue("pace_from_zero",
                  "pace of change: max growth applies from £0 to LAs entering a stream "
                  "(pace.entrants: from_zero), so these entrants can receive nothing although "
                  "they have floors — set pace.entrants: exempt or drop their floors: "
                  + listing(text))]


class PaceRule(Rule):
    """Pace of change (row groups ``pace_*``, bound group ``pace_entry``)."""

    name = "pace"

    def build(self, layout: Layout, config: AllocationConfig, base_dir: Path | None = None
              ) -> Built:
        """The pace rows and the entrants' bound."""
        rows, entry = pace(layout, config)
        return Built(bounds=(entry,), rows=tuple(rows))

    def violations(self, layout: Layout, groups: Groups, x: np.ndarray) -> list[str]:
        """Each pace row on the integers (exact factor), and entrants held at £0."""
        names = layout.var_names()
        out = [f"pace_entry{names[k][1:]}: £{x[k]:,} > £0"
               for k in groups.pace_entry.cells.tolist() if x[k] > 0]
        for g in groups.pace_rows:
            prev = np.asarray(g.meta["prev"])
            rows, gaps = pace_gaps(x[g.owner], x[prev], g.meta["ratio"], g.sense)
            out += [f"{g.names[r]}: {g.rule} broken by £{float(gap):,.2f} "
                    f"(£{x[g.owner[r]]:,} after £{x[prev[r]]:,})"
                    for r, gap in zip(rows.tolist(), gaps, strict=True)]
        return out

    def presolve(self, layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
        """``pace_wave_entry``, ``pace_la``, ``pace_from_zero``."""
        return (check_pace_wave_entry(layout, groups, config)
                + check_pace_la(layout, groups, config)
                + check_pace_from_zero(layout, groups, config))
