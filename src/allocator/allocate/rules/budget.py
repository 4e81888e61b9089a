"""Budget / ring-fence: each stream-year's allocations sum exactly to its budget.

One row per stream-year with money (``budget_<stream>_<year>``, ``== budget``); presolve checks
the stream-year's floors and locks against it (``floors_above_budget``) and its caps and locks
(``caps_below_budget``); the whole pounds must add up to the budget exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..cells import Layout
from ..config import AllocationConfig, year_key
from .base import Built, Issue, RowGroup, Rule, stream_year

if TYPE_CHECKING:
    from ..constraints import Groups


def budget_rows(layout: Layout) -> RowGroup:
    """The ring-fence: the cells of each stream-year sum exactly to its budget."""
    names, pieces, rhs = [], [], []
    for s, stream in enumerate(layout.streams):
        for y, year in enumerate(layout.years):
            cells = layout.block(s, y)
            if layout.budget[s, y] <= 0:
                continue
            names.append(f"budget_{stream}_{year_key(year)}")
            pieces.append(cells)
            rhs.append(float(layout.budget[s, y]))
    lengths = np.array([len(p) for p in pieces], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    indices = np.concatenate(pieces).astype(np.int64) if pieces else np.zeros(0, np.int64)
    return RowGroup(
        name="budget",
        names=names,
        indptr=indptr,
        indices=indices,
        data=np.ones(indices.size),
        sense="==",
        rhs=np.array(rhs, dtype=float),
        owner=np.full(len(names), -1, dtype=np.int64),
        rule="each stream-year's allocations sum exactly to its budget (ring-fence)",
    )


def check_budget_bounds(layout: Layout, groups: Groups) -> list[Issue]:
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
                                 f"floors (and locks) in {stream_year(layout, s, y)} total £{low:,.0f} "
                                 f"across {int((lo[cells] > 0).sum())} LAs, above its budget "
                                 f"£{budget:,} by £{low - budget:,.0f} (floor: "
                                 f"{groups.floor.rule or 'locks only'}; largest: {big})"))
            if high < budget:
                out.append(Issue("caps_below_budget",
                                 f"caps (and locks) in {stream_year(layout, s, y)} allow at most "
                                 f"£{high:,.0f} across {cells.size} eligible LAs, £"
                                 f"{budget - high:,.0f} short of its budget £{budget:,} (cap: "
                                 f"{groups.cap.rule or 'locks only'})"))
    return out


class BudgetRule(Rule):
    """The ring-fence (rows ``budget_<stream>_<year>``)."""

    name = "budget"

    def build(self, layout: Layout, config: AllocationConfig, base_dir: Path | None = None
              ) -> Built:
        """One ``==`` row per stream-year with money."""
        return Built(rows=(budget_rows(layout),))

    def violations(self, layout: Layout, groups: Groups, x: np.ndarray) -> list[str]:
        """Integer sum of each stream-year against its budget."""
        out = []
        for s, stream in enumerate(layout.streams):
            for y, year in enumerate(layout.years):
                want = int(layout.budget[s, y])
                got = int(x[layout.block(s, y)].sum())
                if got != want:
                    out.append(f"budget_{stream}_{year_key(year)}: £{got:,} != budget £{want:,}")
        return out

    def presolve(self, layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
        """``floors_above_budget`` and ``caps_below_budget``."""
        return check_budget_bounds(layout, groups)
