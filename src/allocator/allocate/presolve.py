"""Checks that explain impossible set-ups in pounds and names, before any solve.

Each check is a small function returning :class:`Issue` s. :func:`presolve` runs them all and
raises one error listing every issue: :class:`~allocator.errors.ConfigError` when a stream-year
has nobody to pay or money is pinned to an LA that is not eligible, otherwise
:class:`~allocator.errors.InfeasibleError`.

Checks (``Issue.check``): ``no_eligible``, ``floor_not_eligible``, ``lock_not_eligible``,
``floor_above_cap``, ``lock_outside_bounds``, ``locks_above_budget``, ``floors_above_budget``,
``caps_below_budget``, ``pace_wave_entry`` (aggregate pace rules vs the budget when a wave
enters), ``pace_la`` (one LA's floor/cap/lock across two years vs a pace rule) and
``pace_from_zero`` (an entrant with a floor while max growth applies from £0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, InfeasibleError
from .cells import Layout
from .config import AllocationConfig
from .constraints import Groups
from .eligible import describe

SHOW = 8


@dataclass(frozen=True)
class Issue:
    """One impossible part of the set-up."""

    check: str
    message: str
    kind: str = "infeasible"  # or "config"


def _gbp(v: float) -> str:
    return "unlimited" if not np.isfinite(v) else f"£{v:,.0f}"


def _list(items: list[str]) -> str:
    shown = "; ".join(items[:SHOW])
    return shown + (f"; and {len(items) - SHOW} more" if len(items) > SHOW else "")


def _area(layout: Layout, i: int) -> str:
    return f"{layout.area_names[i]} ({layout.area_codes[i]})"


def _sy(layout: Layout, s: int, y: int) -> str:
    return f"{layout.streams[s]} {layout.years[y]}"


def check_no_eligible(layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
    """A stream-year with a budget but no eligible LA."""
    out = []
    for s, (name, stream) in enumerate(config.streams.items()):
        for y in range(len(layout.years)):
            if layout.budget[s, y] > 0 and layout.block(s, y).size == 0:
                why = {"wave_started": f"eligible: wave_started and no LA is in wave {y + 1} "
                                       "or earlier",
                       "wave_not_started": f"eligible: wave_not_started and every LA's wave has "
                                           f"started by {layout.years[y]}"}.get(
                    stream.eligible if isinstance(stream.eligible, str) else "",
                    f"eligible: {describe(stream.eligible)}")
                out.append(Issue("no_eligible",
                                 f"{name} {layout.years[y]} has a budget of "
                                 f"£{layout.budget[s, y]:,} but no LA is eligible ({why})",
                                 "config"))
    return out


def _orphans(layout: Layout, items: list[tuple[int, int, int, float]], what: str,
             check: str, config: AllocationConfig) -> list[Issue]:
    if not items:
        return []
    waves = layout.areas["wave"].to_numpy()
    why = {"wave_started": "but its wave {w} has not started",
           "wave_not_started": "but its wave {w} has started"}

    def reason(s: int) -> str:
        spec = config.streams[layout.streams[s]].eligible
        return why.get(spec, "but it is not eligible for that stream") if isinstance(spec, str) \
            else f"but the stream's eligibility ({describe(spec)}) leaves it out"

    text = [f"{_area(layout, i)} {_sy(layout, s, y)}: {what} £{v:,.0f} "
            + reason(s).format(w=waves[i]) for i, s, y, v in items]
    return [Issue(check, f"eligibility leaves a {what.split()[0]}ed LA no money: "
                  + _list(text), "config")]


def check_orphans(layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
    """Floors or locks on LA x stream x years that eligibility leaves with no money."""
    return (_orphans(layout, groups.floor_orphans, "floor of", "floor_not_eligible", config)
            + _orphans(layout, groups.lock_orphans, "lock at", "lock_not_eligible", config))


def check_floor_above_cap(layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
    """A cell whose (rounded-up) floor exceeds its (rounded-down) cap."""
    n = layout.n_cells
    fl, cp = groups.floor.dense(n, 0.0), groups.cap.dense(n, np.inf)
    bad = np.flatnonzero(fl > cp)
    if not bad.size:
        return []
    text = [f"{layout.label(k)}: floor £{fl[k]:,.0f} above cap £{cp[k]:,.0f} by "
            f"£{fl[k] - cp[k]:,.0f}" for k in bad.tolist()]
    return [Issue("floor_above_cap", f"a floor is above a cap for {bad.size} LA x stream x "
                  f"year(s) (floor: {groups.floor.rule}; cap: {groups.cap.rule}): "
                  + _list(text))]


def check_locks(layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
    """Locks below a floor or above a cap, and locks that exceed a stream-year budget."""
    out = []
    n = layout.n_cells
    fl, cp = groups.floor.dense(n, 0.0), groups.cap.dense(n, np.inf)
    text = []
    for k, v in zip(groups.lock.cells.tolist(), groups.lock.values.tolist(), strict=True):
        if v < fl[k]:
            text.append(f"{layout.label(k)}: locked at £{v:,} below its floor £{fl[k]:,.0f}")
        elif v > cp[k]:
            text.append(f"{layout.label(k)}: locked at £{v:,} above its cap £{cp[k]:,.0f}")
    if text:
        out.append(Issue("lock_outside_bounds", "a lock conflicts with a floor or cap: "
                         + _list(text)))
    for s in range(len(layout.streams)):
        for y in range(len(layout.years)):
            mask = (layout.stream[groups.lock.cells] == s) & (layout.year[groups.lock.cells] == y)
            total = int(groups.lock.values[mask].sum())
            budget = int(layout.budget[s, y])
            if mask.any() and total > budget:
                names = [layout.label(k) for k in groups.lock.cells[mask].tolist()]
                out.append(Issue("locks_above_budget",
                                 f"locks in {_sy(layout, s, y)} total £{total:,}, exceeding its "
                                 f"budget £{budget:,} by £{total - budget:,} (locked: "
                                 f"{_list(names)})"))
    return out


def check_budget_bounds(layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
    """Floors (with locks) above a budget; caps (with locks) below it."""
    out = []
    lo, hi = groups.lower(layout.n_cells), groups.upper(layout.n_cells)
    for s in range(len(layout.streams)):
        for y in range(len(layout.years)):
            cells = layout.block(s, y)
            if not cells.size:
                continue
            budget = int(layout.budget[s, y])
            low, high = lo[cells].sum(), hi[cells].sum()
            if low > budget:
                top = cells[np.argsort(-lo[cells], kind="mergesort")][:3]
                big = ", ".join(f"{layout.label(k)} £{lo[k]:,.0f}" for k in top.tolist())
                out.append(Issue("floors_above_budget",
                                 f"floors (and locks) in {_sy(layout, s, y)} total £{low:,.0f} "
                                 f"across {int((lo[cells] > 0).sum())} LAs, above its budget "
                                 f"£{budget:,} by £{low - budget:,.0f} (floor: "
                                 f"{groups.floor.rule or 'locks only'}; largest: {big})"))
            if high < budget:
                out.append(Issue("caps_below_budget",
                                 f"caps (and locks) in {_sy(layout, s, y)} allow at most "
                                 f"£{high:,.0f} across {cells.size} eligible LAs, £"
                                 f"{budget - high:,.0f} short of its budget £{budget:,} (cap: "
                                 f"{groups.cap.rule or 'locks only'})"))
    return out


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
                        f"{this_y}; {who} can receive at most {_gbp(ent_max)} ({ent_why}); "
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
                  + _list(text))] if text else []


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
                  + _list(text))]


CHECKS: list[Callable[[Layout, Groups, AllocationConfig], list[Issue]]] = [
    check_no_eligible,
    check_orphans,
    check_floor_above_cap,
    check_locks,
    check_budget_bounds,
    check_pace_wave_entry,
    check_pace_la,
    check_pace_from_zero,
]


def find_issues(layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
    """Run every check and return all issues (empty when the set-up is possible so far)."""
    return [issue for check in CHECKS for issue in check(layout, groups, config)]


def presolve(layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
    """Run the checks; raise if any fails.

    Raises
    ------
    ConfigError
        A stream-year with nobody eligible, or a floor/lock on an LA that is not eligible.
    InfeasibleError
        Any numeric impossibility.
    """
    issues = find_issues(layout, groups, config)
    if not issues:
        return issues
    text = " ".join(f"({n}) [{i.check}] {i.message}." for n, i in enumerate(issues, 1))
    msg = f"presolve found {len(issues)} problem(s) before solving: {text}"
    if any(i.kind == "config" for i in issues):
        raise ConfigError(msg)
    raise InfeasibleError(msg)
