"""Presolve for the total rules: impossible total floors and total pace, in the user's terms.

Split from :mod:`allocator.allocate.totals` (which builds the rows and bounds); each message
names the LAs, streams, years and pounds involved.
"""

from __future__ import annotations

import numpy as np

from .cells import Layout
from .totals import TotalRows, open_cells_of, stream_group


def _gbp(v: float) -> str:
    return "unlimited" if not np.isfinite(v) else f"£{v:,.0f}"


def _names(layout: Layout, areas: list[int], amounts: list[float], show: int = 4) -> str:
    order = sorted(range(len(areas)), key=lambda j: (-amounts[j], areas[j]))[:show]
    return ", ".join(f"{layout.area_names[areas[j]]} {_gbp(amounts[j])}" for j in order)


def presolve_totals(layout: Layout, lo: np.ndarray, hi: np.ndarray, floor_groups: list[list[str]],
                    floor_rows: TotalRows | None, pace_rows: list[TotalRows],
                    orphans: list[tuple[int, int, float, str]]) -> list[tuple[str, str, str]]:
    """Impossible set-ups of the total floors and total pace rules, in LAs, streams, years, pounds.

    Parameters
    ----------
    lo, hi : ndarray
        Effective whole-pound bounds per cell (every floor, cap and lock).
    floor_groups : list of list of str
        The stream groups that carry a total floor.
    floor_rows : TotalRows, optional
        Total floors on LA x years with more than one open cell.
    pace_rows : list of TotalRows
    orphans : list
        File floors on LA x years with no open cell in their group.

    Returns
    -------
    list of (check, message, kind)
        ``kind`` is ``"config"`` or ``"infeasible"``.
    """
    out: list[tuple[str, str, str]] = []
    waves = layout.areas["wave"].to_numpy()
    if orphans:
        text = [f"{layout.area_names[i]} ({layout.area_codes[i]}) {streams} {layout.years[y]}: "
                f"floor of £{v:,.0f} on the total but none of these streams is open to it that "
                f"year (wave {waves[i]})" for i, y, v, streams in orphans]
        out.append(("floor_total_not_eligible",
                    "eligibility leaves a floored LA no money: " + "; ".join(text[:8])
                    + (f"; and {len(text) - 8} more" if len(text) > 8 else ""), "config"))
    row_need: dict[tuple[int, int], float] = {}
    if floor_rows is not None:
        bad = []
        for r in range(floor_rows.n_rows):
            cells = floor_rows.now[r]
            need, room = int(floor_rows.rhs_int[r]), float(hi[cells].sum())
            row_need[(int(floor_rows.area[r]), int(floor_rows.year[r]))] = need
            if room < need:
                bad.append(f"{floor_rows.label(layout, r)}: floor on the total £{need:,} but its "
                           f"caps allow at most {_gbp(room)}")
        if bad:
            out.append(("floor_total_above_cap", "; ".join(bad[:8])
                        + (f"; and {len(bad) - 8} more" if len(bad) > 8 else ""), "infeasible"))
    for streams in floor_groups:
        group = stream_group(layout, streams)
        for y, year in enumerate(layout.years):
            open_cells = open_cells_of(layout, group, y)
            least = [max(float(lo[c].sum()), row_need.get((i, y), 0.0))
                     for i, c in enumerate(open_cells)]
            out += _hall(layout, group, y, open_cells, least, lo,
                         "floors_total_above_budget",
                         f"to meet their floors on {'+'.join(streams)} in {year}")
    for rows in pace_rows:
        if rows.sense != ">=" or rows.n_rows == 0:
            continue
        group = stream_group(layout, rows.streams)
        for y in range(1, len(layout.years)):
            open_cells = open_cells_of(layout, group, y)
            before = open_cells_of(layout, group, y - 1)
            least = []
            for i, c in enumerate(open_cells):
                carried = float(rows.ratio) * float(lo[before[i]].sum()) if before[i].size else 0.0
                least.append(max(float(lo[c].sum()), carried))
            out += _hall(layout, group, y, open_cells, least, lo, "pace_total_above_budget",
                         f"for their totals on {'+'.join(rows.streams)} to keep their "
                         f"{layout.years[y - 1]} floors ({rows.rule})")
    return out


def _hall(layout: Layout, group: list[int], y: int, open_cells: list[np.ndarray],
          least: list[float], lo: np.ndarray, check: str, why: str) -> list[tuple[str, str, str]]:
    """For every set T of the group's streams: the LAs that can only be paid from T need no
    more than T's budgets (less the floors of other LAs' cells in T)."""
    from itertools import combinations

    out = []
    if len(group) > 8:
        return out
    stream_of = {int(c): int(layout.stream[c]) for cells in open_cells for c in cells.tolist()}
    for size in range(1, len(group) + 1):
        for subset in combinations(group, size):
            tset = set(subset)
            inside = [i for i, c in enumerate(open_cells)
                      if c.size and all(stream_of[int(k)] in tset for k in c.tolist())]
            if not inside:
                continue
            others = sum(float(lo[k]) for i, c in enumerate(open_cells) if i not in set(inside)
                         for k in c.tolist() if stream_of[int(k)] in tset)
            need = sum(least[i] for i in inside) + others
            have = float(layout.budget[list(subset), y].sum())
            if need > have + 0.5:
                names = "+".join(layout.streams[s] for s in subset)
                text = (f"{layout.years[y]}: the {len(inside)} LAs that can only be paid from "
                        f"{names} need at least {_gbp(need - others)} {why}, but {names} "
                        f"{layout.years[y]} has {_gbp(have)}"
                        + (f" ({_gbp(others)} of it already held by other LAs' floors)"
                           if others else "")
                        + f": {_gbp(need - have)} short (largest: "
                        + _names(layout, inside, [least[i] for i in inside]) + ")")
                out.append((check, text, "infeasible"))
    return out
