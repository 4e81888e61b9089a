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
import pandas as pd

from ...columns import money_column
from ...errors import DataError
from ..cells import Layout
from ..config import AllocationConfig, FloorConfig
from ..exact import ceil_product
from .base import BoundGroup, Built, Issue, Rule, in_scope, orphan_issues
from .totals import with_total_bounds

if TYPE_CHECKING:
    from ..constraints import Groups


def read_floor_file(path: Path, layout: Layout, floor: FloorConfig) -> np.ndarray:
    """Read a floor CSV into an array ``(n_streams, n_years, n_areas)`` of pounds (NaN = none).

    The file has ``code`` and either ``amount`` (applied to every stream-year in the floor's
    scope) or ``<stream>_<year>`` columns.

    Raises
    ------
    DataError
        Missing file or columns, unknown or duplicate codes, negative or non-numeric amounts.
    """
    if not path.is_file():
        raise DataError("floor file not found", file=path)
    frame = pd.read_csv(path, dtype={"code": str})
    if "code" not in frame.columns:
        raise DataError("floor file needs a 'code' column", file=path, column="code")
    dup = frame["code"][frame["code"].duplicated()]
    if len(dup):
        raise DataError("duplicate codes in floor file", file=path, column="code", codes=dup)
    codes = layout.areas["code"]
    unknown = sorted(set(frame["code"]) - set(codes))
    if unknown:
        raise DataError("floor file names codes not in the areas table", file=path,
                        column="code", codes=unknown)
    out = np.full((len(layout.streams), len(layout.years), len(codes)), np.nan)
    where = codes.reset_index(drop=True).reset_index().set_index("code")["index"]
    rows = where.loc[frame["code"]].to_numpy()
    streams = floor.streams or layout.streams
    years = floor.years or layout.years
    for s, stream in enumerate(layout.streams):
        for y, year in enumerate(layout.years):
            if stream not in streams or year not in years:
                continue
            col = money_column(stream, year)
            if col in frame.columns:
                use = col
            elif "amount" in frame.columns:
                use = "amount"
            else:
                continue
            vals = pd.to_numeric(frame[use], errors="coerce").to_numpy(float)
            bad = ~np.isfinite(vals) | (vals < 0)
            if bad.any():
                raise DataError("floor amounts must be numbers >= 0", file=path, column=use,
                                codes=frame["code"][bad])
            out[s, y, rows] = vals
    if np.isnan(out).all():
        raise DataError(
            "floor file has neither an 'amount' column nor '<stream>_<year>' columns for the "
            f"floor's streams {streams} and years {years}",
            file=path,
        )
    return out


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
            path = Path(f.path) if f.path is not None else Path()
            if base_dir is not None and not path.is_absolute():
                path = base_dir / path
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
