"""Floors, caps and pace of change on an LA's total over a group of streams (``applies_to: total``).

Three rules, one per family, all built by :mod:`allocator.allocate.totals`:

=====================  ==============================  ===================================
rule (``name``)        builds                          presolve
=====================  ==============================  ===================================
``floor_total``        rows ``floor_total_*`` (>=)     ``floor_total_not_eligible``,
                                                       ``floor_total_above_cap``,
                                                       ``floors_total_above_budget``
``cap_total``          rows ``cap_total_*`` (<=)       (the floor checks see the caps)
``pace_total``         rows ``pace_total_*``, bounds   ``pace_total_above_budget``
                       ``pace_total_entry``
=====================  ==============================  ===================================

Where an LA has exactly one open cell of the group in a year, its total floor or cap is a bound
on that cell and is built by the ``floor`` / ``cap`` rules (so the waterfall's
``floor_uplift`` shows it on the stream that carries it); these rules build the rows for LA x
years with more than one open cell. Each row is checked on the final whole pounds with integer
arithmetic (:func:`allocator.allocate.totals.row_violations`) and kept through rounding
(:func:`allocator.allocate.totals.round_bounds`). Explain column ``floor_total``: the LA's floor
on the total for that year, on every cell of the group.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..cells import Layout
from ..config import AllocationConfig
from ..totals import TotalRows, row_violations, total_bounds, total_pace_rows
from ..totals_presolve import presolve_totals
from .base import BoundGroup, Built, Issue, RowGroup, Rule

if TYPE_CHECKING:
    from ..constraints import Groups


def as_row_group(rows: TotalRows) -> RowGroup:
    """The rows in the solver-independent CSR form every model builder reads."""
    indptr, indices, data = rows.csr()
    owner = np.array([int(max(np.concatenate([a, b]).tolist())) for a, b in
                      zip(rows.now, rows.prev, strict=True)], dtype=np.int64)
    return RowGroup(name=rows.name, names=list(rows.names), indptr=indptr, indices=indices,
                    data=data, sense=rows.sense, rhs=rows.rhs_int.astype(float), owner=owner,
                    rule=rows.rule, meta={"total": rows})


def total_rows(groups: Groups) -> list[TotalRows]:
    """Every total row set in the problem (for rounding and checks)."""
    return [g.meta["total"] for g in groups.rows if "total" in g.meta]


def _floors(config: AllocationConfig) -> list:
    return [f for f in config.floors if f.applies_to == "total"]


def _caps(config: AllocationConfig) -> list:
    return [c for c in config.caps if c.applies_to == "total"]


def merge_bounds(group: BoundGroup, cells: np.ndarray, values: np.ndarray, raw: np.ndarray,
                 rule: str, n_cells: int) -> BoundGroup:
    """``group`` with more bounds of its kind (largest lower, smallest upper, per cell)."""
    if cells.size == 0:
        return group
    lower = group.kind == "lower"
    fill_v = 0 if lower else np.iinfo(np.int64).max
    fill_r = 0.0 if lower else np.inf
    v = np.full(n_cells, fill_v, dtype=np.int64)
    r = np.full(n_cells, fill_r)
    v[group.cells], r[group.cells] = group.values, group.raw
    pick = np.maximum if lower else np.minimum
    v[cells], r[cells] = pick(v[cells], values), pick(r[cells], raw)
    has = np.zeros(n_cells, dtype=bool)
    has[group.cells] = True
    has[cells] = True
    keep = np.flatnonzero(has)
    words = "; ".join(w for w in (group.rule, rule) if w)
    return BoundGroup(group.name, group.kind, keep, v[keep], r[keep], words)


def with_total_bounds(group: BoundGroup, layout: Layout, config: AllocationConfig, kind: str,
                      base_dir: Path | None) -> BoundGroup:
    """The ``floor`` (or ``cap``) bound group plus the total floors (caps) on LA x years with one
    open cell of their group."""
    items = _floors(config) if kind == "floor" else _caps(config)
    if not items:
        return group
    tb = total_bounds(layout, items, kind, base_dir)
    return merge_bounds(group, tb.cells, tb.values, tb.raw, tb.rule, layout.n_cells)


class FloorTotalRule(Rule):
    """Floors on an LA's total over a group of streams (rows ``floor_total_*``)."""

    name = "floor_total"

    def build(self, layout: Layout, config: AllocationConfig, base_dir: Path | None = None
              ) -> Built:
        """Rows for LA x years with more than one open cell; file floors with none open."""
        items = _floors(config)
        if not items:
            return Built()
        tb = total_bounds(layout, items, "floor", base_dir)
        rows = (as_row_group(tb.rows),) if tb.rows is not None else ()
        return Built(rows=rows, orphans=tuple(tb.orphans))

    def violations(self, layout: Layout, groups: Groups, x: np.ndarray) -> list[str]:
        """Each total floor row on the integers."""
        return [m for g in groups.part(self.name).rows for m in
                row_violations(layout, g.meta["total"], x)]

    def presolve(self, layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
        """``floor_total_not_eligible``, ``floor_total_above_cap``, ``floors_total_above_budget``."""
        items = _floors(config)
        if not items:
            return []
        rows = groups.part(self.name).rows
        found = presolve_totals(
            layout, groups.lower(layout.n_cells), groups.upper(layout.n_cells),
            [list(f.streams or layout.streams) for f in items],
            rows[0].meta["total"] if rows else None, [],
            [(i, y, v, "+".join(items[g].streams or layout.streams))
             for i, g, y, v in groups.part(self.name).orphans])
        return [Issue(check, message, kind) for check, message, kind in found]

    def explain(self, layout: Layout, groups: Groups) -> dict[str, np.ndarray]:
        """``floor_total``: the LA's floor on the total that year, on each cell of the group."""
        out = np.full(layout.n_cells, np.nan)
        found = False
        for g in groups.part(self.name).rows:
            rows: TotalRows = g.meta["total"]
            for r in range(rows.n_rows):
                out[rows.now[r]] = float(rows.rhs_int[r])
                found = True
        return {"floor_total": out} if found else {}


class CapTotalRule(Rule):
    """Caps on an LA's total over a group of streams (rows ``cap_total_*``)."""

    name = "cap_total"

    def build(self, layout: Layout, config: AllocationConfig, base_dir: Path | None = None
              ) -> Built:
        """Rows for LA x years with more than one open cell."""
        items = _caps(config)
        if not items:
            return Built()
        tb = total_bounds(layout, items, "cap", base_dir)
        return Built(rows=(as_row_group(tb.rows),) if tb.rows is not None else ())

    def violations(self, layout: Layout, groups: Groups, x: np.ndarray) -> list[str]:
        """Each total cap row on the integers."""
        return [m for g in groups.part(self.name).rows for m in
                row_violations(layout, g.meta["total"], x)]


class PaceTotalRule(Rule):
    """Pace of change on an LA's total over a group of streams (rows ``pace_total_*``)."""

    name = "pace_total"

    def build(self, layout: Layout, config: AllocationConfig, base_dir: Path | None = None
              ) -> Built:
        """The rows, and entrants held at £0 under ``max_growth`` from £0."""
        rows, entry = total_pace_rows(layout, config.pace)
        bounds = ()
        if entry.size:
            z = np.zeros(entry.size, dtype=np.int64)
            bounds = (BoundGroup("pace_total_entry", "upper", entry, z, z.astype(float),
                                 "max growth of the total from £0 for LAs entering the streams"),)
        return Built(bounds=bounds, rows=tuple(as_row_group(r) for r in rows if r.n_rows))

    def violations(self, layout: Layout, groups: Groups, x: np.ndarray) -> list[str]:
        """Each total pace row on the integers (exact factor), and entrants held at £0."""
        names = layout.var_names()
        out = [f"pace_total_entry{names[k][1:]}: £{x[k]:,} > £0"
               for g in groups.part(self.name).bounds for k in g.cells.tolist() if x[k] > 0]
        return out + [m for g in groups.part(self.name).rows for m in
                      row_violations(layout, g.meta["total"], x)]

    def presolve(self, layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
        """``pace_total_above_budget``."""
        rows = [g.meta["total"] for g in groups.part(self.name).rows]
        if not rows:
            return []
        found = presolve_totals(layout, groups.lower(layout.n_cells),
                                groups.upper(layout.n_cells), [], None, rows, [])
        return [Issue(check, message, kind) for check, message, kind in found]
