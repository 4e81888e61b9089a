"""Caps: each cell at most the smallest cap that applies (rounded down to whole pounds).

``per_head`` pounds x population and/or ``share_of_stream`` of the stream-year budget. Bound
group ``cap`` (kind ``upper``); presolve reports a floor above a cap (``floor_above_cap``);
explain column ``cap``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..cells import Layout
from ..config import AllocationConfig, CapConfig
from ..exact import floor_product
from .base import BoundGroup, Built, Issue, Rule, in_scope, listing
from .totals import with_total_bounds

if TYPE_CHECKING:
    from ..constraints import Groups


def caps(layout: Layout, configs: list[CapConfig]) -> BoundGroup:
    """The cap group: each cell at most the smallest cap that applies (rounded down)."""
    n = layout.n_cells
    raw = np.full(n, np.inf)
    whole = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    rules = []
    for c in configs:
        scope = in_scope(layout, c.streams, c.years)
        if c.per_head is not None:
            pop = layout.areas[c.population].to_numpy(float)[layout.area]
            raw = np.where(scope, np.minimum(raw, c.per_head * pop), raw)
            whole = np.where(scope, np.minimum(whole, floor_product(c.per_head, pop)), whole)
            rules.append(f"£{c.per_head:g} per head ({c.population})")
        if c.share_of_stream is not None:
            budget = layout.budget[layout.stream, layout.year]
            raw = np.where(scope, np.minimum(raw, c.share_of_stream * budget), raw)
            # exact per stream-year (a handful of products), then one per cell
            per_sy = floor_product(c.share_of_stream, layout.budget.astype(float).ravel())
            down = per_sy.reshape(layout.budget.shape)[layout.stream, layout.year]
            whole = np.where(scope, np.minimum(whole, down), whole)
            rules.append(f"{c.share_of_stream:.2%} of the stream-year budget")
    cells = np.flatnonzero(np.isfinite(raw))
    return BoundGroup("cap", "upper", cells, whole[cells], raw[cells], "; ".join(rules))


def check_floor_above_cap(layout: Layout, groups: Groups) -> list[Issue]:
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
                  + listing(text))]


class CapRule(Rule):
    """Caps (bound group ``cap``)."""

    name = "cap"

    def build(self, layout: Layout, config: AllocationConfig, base_dir: Path | None = None
              ) -> Built:
        """The ``cap`` bounds."""
        group = caps(layout, [c for c in config.caps if c.applies_to == "each_stream"])
        return Built(bounds=(with_total_bounds(group, layout, config, "cap", base_dir),))

    def violations(self, layout: Layout, groups: Groups, x: np.ndarray) -> list[str]:
        """Each cell against its whole-pound cap (rounded down from the exact amount)."""
        cp = groups.cap
        names = layout.var_names()
        return [f"cap{names[k][1:]}: £{x[k]:,} > cap £{v:,} (£{r:,.2f} rounded down)"
                for k, v, r in zip(cp.cells.tolist(), cp.values.tolist(), cp.raw.tolist(),
                                   strict=True) if x[k] > v]

    def presolve(self, layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
        """``floor_above_cap``."""
        return check_floor_above_cap(layout, groups)

    def explain(self, layout: Layout, groups: Groups) -> dict[str, np.ndarray]:
        """``cap``: the whole-pound cap (NaN where none)."""
        cp = groups.cap.dense(layout.n_cells, math.inf)
        return {"cap": np.where(np.isfinite(cp), cp, np.nan)}
