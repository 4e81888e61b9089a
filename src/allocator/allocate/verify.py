"""Re-check every constraint on the final whole-pound allocation, exactly.

:func:`verify_cells` works on the per-cell integers; :func:`verify_frame` on the published wide
table (it also checks that LAs that are not eligible got £0 and that the totals add up).
Both raise :class:`~allocator.errors.SolverError` listing every failure by constraint name.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..columns import money_column, money_columns, total_column
from ..errors import SolverError
from .cells import Layout
from .constraints import Groups


def _fail(failures: list[str]) -> None:
    if failures:
        shown = "; ".join(failures[:20])
        more = f"; and {len(failures) - 20} more" if len(failures) > 20 else ""
        raise SolverError(f"verification of the final allocation failed ({len(failures)} "
                          f"problem(s)): {shown}{more}")


def check_cells(layout: Layout, groups: Groups, x: np.ndarray) -> list[str]:
    """Every failure of a constraint group on per-cell values ``x`` (whole pounds).

    Asks every rule (:meth:`.rules.Rule.violations`). Integer arithmetic throughout, no
    tolerance: budgets are exact integer sums, floors and caps the whole-pound bounds of
    :mod:`.exact` (floors rounded up, caps down), locks equalities and pace rules
    ``den * x[y] >= num * x[y-1]`` with the factor's exact fraction ``num / den``.
    """
    x = np.asarray(x)
    if x.shape != (layout.n_cells,):
        return [f"expected {layout.n_cells} cells, got shape {x.shape}"]
    if not np.issubdtype(x.dtype, np.integer):
        return ["allocation is not in whole pounds"]
    x = x.astype(np.int64)
    out = [f"negative: {layout.label(k)} £{x[k]:,}" for k in np.flatnonzero(x < 0).tolist()]
    for rule in groups.rules:
        out += rule.violations(layout, groups, x)
    return out


def verify_cells(layout: Layout, groups: Groups, x: np.ndarray) -> None:
    """Raise :class:`SolverError` if any constraint fails on ``x``."""
    _fail(check_cells(layout, groups, x))


def cells_from_frame(layout: Layout, frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Read per-cell values back from the wide table; list money in ineligible cells."""
    codes = layout.areas["code"].tolist()
    if frame["code"].astype(str).tolist() != codes:
        raise SolverError("allocation table rows do not match the areas (code order)")
    x = np.zeros(layout.n_cells, dtype=np.int64)
    problems = []
    for s, stream in enumerate(layout.streams):
        for y, year in enumerate(layout.years):
            col = money_column(stream, year)
            vals = frame[col].to_numpy()
            pos = layout.position[s, y]
            x[pos[pos >= 0]] = vals[pos >= 0]
            bad = np.flatnonzero((pos < 0) & (vals != 0))
            problems += [f"eligibility: {codes[i]} has £{vals[i]:,} in {col} but is not eligible"
                         for i in bad.tolist()]
    return x, problems


def verify_frame(layout: Layout, groups: Groups, frame: pd.DataFrame) -> None:
    """Re-check every constraint and the totals on the published table."""
    x, problems = cells_from_frame(layout, frame)
    problems += check_cells(layout, groups, x)
    money = money_columns(layout.streams, layout.years)
    for y in layout.years:
        cols = [money_column(s, y) for s in layout.streams]
        diff = frame[cols].sum(axis=1) != frame[total_column(y)]
        problems += [f"{total_column(y)} wrong for {c}" for c in frame.loc[diff, "code"]]
    diff = frame[money].sum(axis=1) != frame["total"]
    problems += [f"total wrong for {c}" for c in frame.loc[diff, "code"]]
    if any(frame[c].dtype != np.int64 for c in [*money, "total"]):
        problems.append("money columns are not int64 whole pounds")
    _fail(problems)
