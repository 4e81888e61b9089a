"""Elastic re-solve: when the solver proves the model infeasible, say what to relax.

Every named group becomes soft: floors ``x + s >= floor``, caps ``x - s <= cap``, locks and
budgets ``... + s_up - s_down = value``, pace rows ``... + s >= 0`` / ``... - s <= 0``, pace entry
``x - s <= 0``. The elastic model minimises the total relaxation in pounds (budgets weigh 2, so
LA-level rules are relaxed before a ring-fenced budget changes). Its solution names each
constraint to relax and by how much.

It is solved like the allocation itself (:mod:`.staged`): as sparse arrays in well-conditioned
units, passed directly to HiGHS (or written for CBC). Each cell is measured in its own size
(:func:`.lp.cell_units`), each slack in the largest term of the row it relaxes, and each row is
divided by that term, so every coefficient is at most 1. A relaxation is reported in whole
pounds, rounded up unless it is a whole pound to within the solver's accuracy.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import InfeasibleError, SolverError
from .cells import Layout
from .config import SolverConfig
from .constraints import Groups
from .lp import MatrixLP, cell_units
from .solve import SolverInfeasible
from .staged import BACKENDS

BUDGET_WEIGHT = 2.0
#: Relative accuracy of a slack read back from the scaled solve (10 x the solver tolerance).
ACCURACY = 1e-8
STAGE = "elastic"


def elastic_matrix(layout: Layout, groups: Groups, units: np.ndarray
                   ) -> tuple[MatrixLP, np.ndarray, pd.DataFrame]:
    """The elastic model in scaled units.

    Returns
    -------
    lp : MatrixLP
        Columns: the cells, then one slack per relaxable side of each row; one cost vector
        (stage ``"elastic"``), already scaled.
    col_units : ndarray
        Pounds per unit of each column.
    slacks : DataFrame
        Per slack column (in order): ``group``, ``constraint``, ``cell``, ``direction``.
    """
    n = layout.n_cells
    units = np.maximum(np.asarray(units, dtype=float), 1.0)
    names = layout.var_names()
    # every row as (group, name, owner cell, sense, rhs, cell indices, coefficients)
    rows: list[tuple[str, str, int, str, float, np.ndarray, np.ndarray]] = []
    for g in groups.rows:
        for r, name in enumerate(g.names):
            a, b = int(g.indptr[r]), int(g.indptr[r + 1])
            rows.append((g.name, name, int(g.owner[r]), g.sense, float(g.rhs[r]),
                         g.indices[a:b], g.data[a:b].astype(float)))
    sense_of = {"lower": ">=", "upper": "<="}
    for bg in groups.bounds:
        for k, v in zip(bg.cells.tolist(), bg.values.tolist(), strict=True):
            rows.append((bg.name, f"{bg.name}{names[k][1:]}", k, sense_of.get(bg.kind, "=="),
                         float(v), np.array([k]), np.array([1.0])))
    slack_sides = {"==": (("up", 1.0), ("down", -1.0)), ">=": (("lower", 1.0),),
                   "<=": (("raise", -1.0),)}
    r_idx, c_idx, vals = [], [], []
    lower, upper, cost, col_units, meta = [], [], [], [], []
    for i, (group, name, owner, sense, rhs, idx, coef) in enumerate(rows):
        terms = coef * units[idx]
        big = float(np.max(np.abs(terms), initial=0.0))
        unit = big if big > 0 else max(abs(rhs), 1.0)
        r_idx += [i] * len(idx)
        c_idx += idx.tolist()
        vals += (terms / unit).tolist()
        weight = BUDGET_WEIGHT if group == "budget" and sense == "==" else 1.0
        for direction, sign in slack_sides[sense]:
            r_idx.append(i)
            c_idx.append(n + len(meta))
            vals.append(sign)
            cost.append(weight * unit)
            col_units.append(unit)
            meta.append((group, name, owner, direction))
        lower.append(rhs / unit if sense in ("==", ">=") else -math.inf)
        upper.append(rhs / unit if sense in ("==", "<=") else math.inf)
    n_cols = n + len(meta)
    a = sp.csr_matrix((vals, (r_idx, c_idx)), shape=(len(rows), n_cols))
    c = np.concatenate([np.zeros(n), np.asarray(cost, dtype=float)])
    top = float(np.max(c, initial=0.0))
    lp = MatrixLP(n, a, np.asarray(lower, dtype=float), np.asarray(upper, dtype=float),
                  np.zeros(n_cols), np.full(n_cols, math.inf), [r[1] for r in rows],
                  [r[0] for r in rows], {STAGE: (c / (top if top > 0 else 1.0), 0.0)})
    slacks = pd.DataFrame(meta, columns=["group", "constraint", "cell", "direction"])
    return lp, np.concatenate([units, np.asarray(col_units, dtype=float)]), slacks


def whole_pounds(value: float, unit: float) -> int:
    """A relaxation in whole pounds: rounded up, unless within the solve's accuracy of a whole
    pound (``ACCURACY`` of the slack's unit, and at least £1e-6)."""
    near = round(value)
    if abs(value - near) <= max(1e-6, ACCURACY * unit):
        return int(near)
    return math.ceil(value)


def relaxations(layout: Layout, groups: Groups, config: SolverConfig,
                units: np.ndarray | None = None) -> pd.DataFrame:
    """Solve the elastic model and return one row per relaxed constraint.

    Parameters
    ----------
    layout, groups, config
    units : ndarray, optional
        Pounds per solver unit of each cell (default :func:`.lp.cell_units` of the layout; the
        allocation passes the units of its own solve).

    Returns
    -------
    DataFrame
        Columns ``group``, ``constraint``, ``cell`` (-1 for budget rows), ``label``,
        ``direction`` (``"lower"`` = reduce the bound / allow less, ``"raise"``), ``pounds``.
    """
    lp, col_units, slacks = elastic_matrix(
        layout, groups, cell_units(layout) if units is None else units)
    backend = BACKENDS[config.name](lp, config)
    try:
        x, _, _ = backend.solve(STAGE, lp.costs[STAGE][0])
    except SolverInfeasible:
        raise SolverError("the elastic re-solve is itself infeasible; please report this "
                          "configuration") from None
    n = layout.n_cells
    pounds = np.asarray(x[n:], dtype=float) * col_units[n:]
    rows = []
    for r, val, unit in zip(slacks.itertuples(), pounds.tolist(), col_units[n:].tolist(),
                            strict=True):
        if val > 0.5:
            cell = int(r.cell)
            label = layout.label(cell) if cell >= 0 else r.constraint.split("_", 1)[1]
            rows.append({"group": r.group, "constraint": r.constraint, "cell": cell,
                         "label": label, "direction": r.direction,
                         "pounds": whole_pounds(val, unit)})
    return pd.DataFrame(rows, columns=["group", "constraint", "cell", "label", "direction",
                                       "pounds"])


_VERB = {
    ("floor", "lower"): "lower the floor of {label} by £{p:,}",
    ("cap", "raise"): "raise the cap of {label} by £{p:,}",
    ("lock", "up"): "lock {label} £{p:,} lower",
    ("lock", "down"): "lock {label} £{p:,} higher",
    ("budget", "up"): "cut the {label} budget by £{p:,}",
    ("budget", "down"): "add £{p:,} to the {label} budget",
    ("pace_entry", "raise"): "let {label} (an entrant) receive £{p:,} despite max growth from £0",
}


def describe(layout: Layout, relaxed: pd.DataFrame) -> str:
    """Words for the relaxations: one sentence per group, largest first."""
    parts = []
    for group, rows in relaxed.groupby("group", sort=True):
        rows = rows.sort_values(["pounds", "constraint"], ascending=[False, True])
        items = []
        for r in rows.head(6).itertuples():
            key = (str(group), str(r.direction))
            if key in _VERB:
                items.append(_VERB[key].format(label=r.label, p=int(r.pounds)))
            elif str(group).startswith("pace"):
                items.append(f"relax {r.constraint} for {r.label} by £{int(r.pounds):,}")
            else:
                items.append(f"relax {r.constraint} by £{int(r.pounds):,}")
        more = f" (and {len(rows) - 6} more)" if len(rows) > 6 else ""
        parts.append(f"{group}: relax {len(rows)} constraint(s) by £{int(rows['pounds'].sum()):,}"
                     f" in total — " + "; ".join(items) + more)
    return ". ".join(parts)


def explain_infeasible(layout: Layout, groups: Groups, config: SolverConfig, stage: str,
                       units: np.ndarray | None = None) -> None:
    """Run the elastic re-solve and raise :class:`InfeasibleError` naming what to relax."""
    relaxed = relaxations(layout, groups, config, units)
    if relaxed.empty:
        raise InfeasibleError(
            f"the solver found the {stage} stage infeasible, but the elastic re-solve needs no "
            "relaxation of more than £0.50: the conflict is numerical; try solver.name: "
            f"{'cbc' if config.name == 'highs' else 'highs'}"
        )
    err = InfeasibleError(
        f"the allocation is infeasible ({stage} stage). The smallest relaxation in pounds "
        f"that makes it feasible: {describe(layout, relaxed)}."
    )
    err.relaxations = relaxed  # type: ignore[attr-defined]
    raise err
