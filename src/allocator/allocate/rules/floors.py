"""Floors: each cell at least the largest floor that applies (rounded up to whole pounds).

A floor with ``applies_to: total`` binds an LA's total over its streams; where only one of those
streams is open to the LA in a year, it is a bound on that cell and joins this group (the rows for
the other LA x years are :mod:`.totals`).

Kinds: ``fixed`` pounds, ``per_head`` pounds x population, or a ``file`` (``code`` and
``amount`` or ``<stream>_<year>`` columns, e.g. last year's allocation). Bound group ``floor``
(kind ``lower``); presolve reports file floors on LAs that are not eligible
(``floor_not_eligible``); explain column ``floor``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..cells import Layout
from ..config import AllocationConfig, FloorConfig
from ..exact import ceil_product
from .base import BoundGroup, Built, Issue, Rule, in_scope, orphan_issues
from .totals import with_total_bounds

if TYPE_CHECKING:
    from ..constraints import Groups


def read_floor_file(path: Path, layout: Layout, floor: FloorConfig) -> np.ndarray:
    """Read a floor CSV into ``(n_streams, n_years, n_areas)`` pounds (NaN = none).

    Strict: see :func:`allocator.data.floor_file.read_floor_table` (unknown columns, a missing
    stream-year column, ragged rows, non-finite or absurd amounts are errors).
    """
    from ...data.floor_file import read_floor_table

    return read_floor_table(
        path, codes=layout.areas["code"].tolist(), streams=layout.streams, years=layout.years,
        scope_streams=floor.streams, scope_years=floor.years,
    )


@dataclass(frozen=True)
class FloorResult:
    """Floors on cells plus floors set on LA x stream x years that are not eligible."""

    group: BoundGroup
    orphans: list[tuple[int, int, int, float]]


def floors(layout: Layout, configs: list[FloorConfig], base_dir: Path | None = None) -> FloorResult:
    """The floor group: each cell at least the largest floor that applies to it.

    ``fixed`` and ``per_head`` floors apply to eligible cells only; a ``file`` floor that gives
    a positive amount to a non-eligible LA x stream x year is returned in ``orphans`` for
    presolve to report.
    """
    n = layout.n_cells
    raw = np.zeros(n)
    whole = np.zeros(n, dtype=np.int64)
    has = np.zeros(n, dtype=bool)
    orphans: list[tuple[int, int, int, float]] = []
    rules = []
    for f in configs:
        scope = in_scope(layout, f.streams, f.years)
        if f.kind == "fixed":
            vals = np.full(n, float(f.amount or 0.0))
            up = np.full(n, ceil_product(f.amount or 0.0, np.ones(1))[0], dtype=np.int64)
            rules.append(f"fixed £{f.amount:,.0f}")
        elif f.kind == "per_head":
            pop = layout.areas[f.population].to_numpy(float)[layout.area]
            vals = float(f.amount or 0.0) * pop
            up = ceil_product(f.amount or 0.0, pop)
            rules.append(f"£{f.amount:g} per head ({f.population})")
        else:
            from ...safe_files import resolve_input

            path = resolve_input(f.path or "", base_dir, "allocation.floors path")
            grid = read_floor_file(path, layout, f)
            vals = grid[layout.stream, layout.year, layout.area]
            scope = scope & np.isfinite(vals)
            vals = np.nan_to_num(vals)
            up = ceil_product(1, vals)
            bad = np.argwhere(np.nan_to_num(grid) > 0)
            for s, y, i in bad.tolist():
                if layout.position[s, y, i] < 0:
                    orphans.append((i, s, y, float(grid[s, y, i])))
            rules.append(f"from file {path.name}")
        raw = np.where(scope, np.maximum(raw, vals), raw)
        whole = np.where(scope, np.maximum(whole, up), whole)
        has |= scope
    cells = np.flatnonzero(has & (raw > 0))
    group = BoundGroup("floor", "lower", cells, whole[cells], raw[cells], "; ".join(rules))
    return FloorResult(group, orphans)


class FloorRule(Rule):
    """Floors (bound group ``floor``)."""

    name = "floor"

    def build(self, layout: Layout, config: AllocationConfig, base_dir: Path | None = None
              ) -> Built:
        """The ``floor`` bounds and the floors on cells that are not eligible."""
        res = floors(layout, [f for f in config.floors if f.applies_to == "each_stream"],
                     base_dir)
        group = with_total_bounds(res.group, layout, config, "floor", base_dir)
        return Built(bounds=(group,), orphans=tuple(res.orphans))

    def violations(self, layout: Layout, groups: Groups, x: np.ndarray) -> list[str]:
        """Each cell against its whole-pound floor (rounded up from the exact amount)."""
        fl = groups.floor
        names = layout.var_names()
        return [f"floor{names[k][1:]}: £{x[k]:,} < floor £{v:,} (£{r:,.2f} rounded up)"
                for k, v, r in zip(fl.cells.tolist(), fl.values.tolist(), fl.raw.tolist(),
                                   strict=True) if x[k] < v]

    def presolve(self, layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
        """``floor_not_eligible``."""
        return orphan_issues(layout, groups.floor_orphans, "floor of", "floor_not_eligible", config)

    def explain(self, layout: Layout, groups: Groups) -> dict[str, np.ndarray]:
        """``floor``: the whole-pound floor (NaN where none)."""
        fl = groups.floor.dense(layout.n_cells, 0.0)
        return {"floor": np.where(fl > 0, fl, np.nan)}
