"""Elastic re-solve: when the solver proves the model infeasible, say what to relax.

Every named group becomes soft: floors ``x + s >= floor``, caps ``x - s <= cap``, locks and
budgets ``... + s_up - s_down = value``, pace rows ``... + s >= 0`` / ``... - s <= 0``, pace entry
``x - s <= 0``. The elastic model minimises the total relaxation in pounds (budgets weigh 2, so
LA-level rules are relaxed before a ring-fenced budget changes). Its solution names each
constraint to relax and by how much.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pulp

from ..errors import InfeasibleError, SolverError
from .cells import Layout
from .config import SolverConfig
from .constraints import BoundGroup, Groups
from .solve import SolverInfeasible, _solve_once, make_solver

BUDGET_WEIGHT = 2.0


def relaxations(layout: Layout, groups: Groups, config: SolverConfig) -> pd.DataFrame:
    """Solve the elastic model and return one row per relaxed constraint.

    Returns
    -------
    DataFrame
        Columns ``group``, ``constraint``, ``cell`` (-1 for budget rows), ``label``,
        ``direction`` (``"lower"`` = reduce the bound / allow less, ``"raise"``), ``pounds``.
    """
    prob = pulp.LpProblem("allocation_elastic", pulp.LpMinimize)
    names = layout.var_names()
    x = [prob.add_variable(n, 0.0) for n in names]
    xa = np.empty(len(x), dtype=object)
    xa[:] = x
    cons: dict[str, pulp.LpConstraint] = {}
    slacks: list[tuple[pulp.LpVariable, str, str, int, str, float]] = []

    def slack(name: str, group: str, cell: int, direction: str, weight: float = 1.0
              ) -> pulp.LpVariable:
        v = prob.add_variable(f"s_{direction}_{name}", 0.0)
        slacks.append((v, group, name, cell, direction, weight))
        return v

    for g in groups.rows:
        ptr = g.indptr.tolist()
        for r, name in enumerate(g.names):
            a, b = ptr[r], ptr[r + 1]
            terms = list(zip(xa[g.indices[a:b]].tolist(), g.data[a:b].tolist(), strict=True))
            owner = int(g.owner[r])
            if g.sense == "==":
                w = BUDGET_WEIGHT if g.name == "budget" else 1.0
                terms += [(slack(name, g.name, owner, "up", w), 1.0),
                          (slack(name, g.name, owner, "down", w), -1.0)]
                sense = pulp.LpConstraintEQ
            elif g.sense == ">=":
                terms.append((slack(name, g.name, owner, "lower", 1.0), 1.0))
                sense = pulp.LpConstraintGE
            else:
                terms.append((slack(name, g.name, owner, "raise", 1.0), -1.0))
                sense = pulp.LpConstraintLE
            cons[name] = pulp.LpConstraint(pulp.LpAffineExpression(terms), sense, name,
                                           float(g.rhs[r]))

    def bound_rows(g: BoundGroup) -> None:
        for k, v in zip(g.cells.tolist(), g.values.tolist(), strict=True):
            name = f"{g.name}{names[k][1:]}"
            if g.kind == "lower":
                terms = [(x[k], 1.0), (slack(name, g.name, k, "lower"), 1.0)]
                sense = pulp.LpConstraintGE
            elif g.kind == "upper":
                terms = [(x[k], 1.0), (slack(name, g.name, k, "raise"), -1.0)]
                sense = pulp.LpConstraintLE
            else:
                terms = [(x[k], 1.0), (slack(name, g.name, k, "up"), 1.0),
                         (slack(name, g.name, k, "down"), -1.0)]
                sense = pulp.LpConstraintEQ
            cons[name] = pulp.LpConstraint(pulp.LpAffineExpression(terms), sense, name, float(v))

    for g in groups.bounds:
        bound_rows(g)
    prob.extend(cons)
    prob.setObjective(pulp.LpAffineExpression([(v, w) for v, *_, w in slacks]))
    solver = make_solver(config.name, config.msg, config.time_limit, dict(config.highs_options))
    try:
        _solve_once(prob, solver, config.name, "elastic")
    except SolverInfeasible:
        raise SolverError("the elastic re-solve is itself infeasible; please report this "
                          "configuration") from None
    rows = []
    for v, group, name, cell, direction, _w in slacks:
        val = v.varValue or 0.0
        if val > 0.5:
            rows.append({"group": group, "constraint": name, "cell": cell,
                         "label": layout.label(cell) if cell >= 0 else name.split("_", 1)[1],
                         "direction": direction, "pounds": math.ceil(val - 1e-6)})
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


def explain_infeasible(layout: Layout, groups: Groups, config: SolverConfig, stage: str) -> None:
    """Run the elastic re-solve and raise :class:`InfeasibleError` naming what to relax."""
    relaxed = relaxations(layout, groups, config)
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
