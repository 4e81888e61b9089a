"""Build the PuLP model from the layout and constraint groups.

Variables
    Each eligible cell's pounds are split at the target ``t``: ``x = xa + xb`` with
    ``xa_<stream>_<year>_<code>`` the part up to the target and ``xb_...`` the part above it.
    Floors, caps, locks and pace entry become bounds on the two parts:
    ``min(lo, t) <= xa <= min(up, t)`` and ``max(lo - t, 0) <= xb <= max(up - t, 0)``, where
    ``lo``/``up`` are the whole-pound lower/upper bounds. ``z_fairness`` is the max-min ratio.

Rows
    The row groups of :mod:`.constraints` (``budget_<stream>_<year>``,
    ``pace_*_<stream>_<year>_<code>``) with every ``x`` written ``xa + xb``; with
    ``fairness: maxmin``, ``fair_...``: ``xa + xb - target * z >= 0`` for positive targets.

Objectives (one per stage, see :mod:`.solve`)
    ``fairness`` (optional): minimise ``-z`` (maximise the smallest ``x / target``).
    ``policy``: minimise ``sum w_c (t_c - xa_c + xb_c)``, which equals the deviation
    ``sum w_c |x_c - t_c|`` at the optimum (money below target is cheaper to give than money
    above it, so ``xa`` always fills first) — no extra rows or deviation variables, which keeps
    the LP small and the simplex fast. ``w_c = 1`` (absolute, pounds) or ``1 / max(t_c, 1)``
    (relative).
    ``tie_break`` (published rule "lexicographic"): minimise ``sum omega_c x_c`` with
    ``omega_c = 1 + sqrt(k_c + 1) / sqrt(K)``, where ``k_c`` is the 0-based position of the cell
    in ascending (ONS code, stream order, year order) and ``K`` the number of cells. Where the
    earlier stages are indifferent, money therefore goes to the LA earlier in ONS code order;
    the square roots make every exchange of money between cells cost a different amount, so
    the optimum is a single vertex and any two correct solvers return the same allocation.

:func:`build_model` builds the rows from prepared arrays (list comprehensions over ``zip``, no
per-term Python arithmetic); :func:`build_model_loop` is the straightforward nested-loop
baseline used by the benchmark. Both produce identical models (same LP file).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pulp

from .cells import Layout
from .config import ObjectiveConfig
from .constraints import Groups, RowGroup

_SENSE = {"==": pulp.LpConstraintEQ, ">=": pulp.LpConstraintGE, "<=": pulp.LpConstraintLE}
FAIRNESS_VAR = "z_fairness"


@dataclass
class LpModel:
    """A built model: variables, base constraints (in order) and one objective per stage."""

    xa: list[pulp.LpVariable]
    xb: list[pulp.LpVariable]
    z: pulp.LpVariable | None
    constraints: dict[str, pulp.LpConstraint]
    objectives: dict[str, pulp.LpAffineExpression]
    row_group: dict[str, str] = field(default_factory=dict)

    def values(self) -> np.ndarray:
        """Pounds per cell (``xa + xb``) from the last solve."""
        return np.array([(a.varValue or 0.0) + (b.varValue or 0.0)
                         for a, b in zip(self.xa, self.xb, strict=True)])

    def reduced_costs(self) -> np.ndarray:
        """Reduced cost per cell: of ``xb`` where it is above its lower bound, else of ``xa``."""
        out = []
        for a, b in zip(self.xa, self.xb, strict=True):
            use = b if (b.varValue or 0.0) > (b.lowBound or 0.0) + 1e-9 else a
            out.append(np.nan if use.dj is None else float(use.dj))
        return np.array(out)

    @property
    def stages(self) -> list[str]:
        """Stage names in solve order."""
        return list(self.objectives)

    def problem(self, stage: str, holds: dict[str, pulp.LpConstraint] | None = None,
                name: str = "allocation") -> pulp.LpProblem:
        """A fresh :class:`pulp.LpProblem` for ``stage`` with the given hold rows."""
        prob = pulp.LpProblem(name, pulp.LpMinimize)
        prob.extend(self.constraints)
        if holds:
            prob.extend(holds)
        obj = pulp.LpAffineExpression(self.objectives[stage])
        obj.name = f"objective_{stage}"
        prob.setObjective(obj)
        return prob


def tie_break_weights(layout: Layout) -> np.ndarray:
    """``omega_c = 1 + sqrt(k_c + 1) / sqrt(K)`` with ``k_c`` the (code, stream, year) rank."""
    order = np.lexsort((layout.year, layout.stream, layout.area))
    rank = np.empty(layout.n_cells, dtype=np.int64)
    rank[order] = np.arange(layout.n_cells)
    return 1.0 + np.sqrt(rank + 1.0) / math.sqrt(max(layout.n_cells, 1))


def deviation_weights(layout: Layout, objective: ObjectiveConfig) -> np.ndarray:
    """Policy weights per cell: 1 (absolute) or ``1 / max(target, 1)`` (relative)."""
    if objective.deviation == "absolute":
        return np.ones(layout.n_cells)
    return 1.0 / np.maximum(layout.target, 1.0)


def split_bounds(layout: Layout, groups: Groups) -> tuple[np.ndarray, ...]:
    """Bounds of the below-target part ``xa`` and the above-target part ``xb`` per cell."""
    lo = groups.lower(layout.n_cells)
    up = groups.upper(layout.n_cells)
    t = layout.target
    return (np.minimum(lo, t), np.minimum(up, t), np.maximum(lo - t, 0.0),
            np.maximum(up - t, 0.0))


def _ub(values: np.ndarray) -> list[float | None]:
    return [None if math.isinf(u) else u for u in values.tolist()]


def _rows(group: RowGroup, xa: np.ndarray, xb: np.ndarray) -> dict[str, pulp.LpConstraint]:
    va = xa[group.indices].tolist()
    vb = xb[group.indices].tolist()
    coefs = group.data.tolist()
    ptr = group.indptr.tolist()
    sense = _SENSE[group.sense]
    return {
        name: pulp.LpConstraint(
            pulp.LpAffineExpression([*zip(va[a:b], coefs[a:b], strict=True),
                                     *zip(vb[a:b], coefs[a:b], strict=True)]),
            sense, name, rhs,
        )
        for name, a, b, rhs in zip(group.names, ptr[:-1], ptr[1:], group.rhs.tolist(), strict=True)
    }


def build_model(layout: Layout, groups: Groups, objective: ObjectiveConfig) -> LpModel:
    """Build the model from prepared arrays (the fast builder)."""
    prob = pulp.LpProblem("allocation", pulp.LpMinimize)
    names = [n[1:] for n in layout.var_names()]
    a_lo, a_up, b_lo, b_up = split_bounds(layout, groups)
    xa = [prob.add_variable("xa" + n, lo, up)
          for n, lo, up in zip(names, a_lo.tolist(), a_up.tolist(), strict=True)]
    xb = [prob.add_variable("xb" + n, lo, up)
          for n, lo, up in zip(names, b_lo.tolist(), _ub(b_up), strict=True)]
    arr_a = np.empty(len(xa), dtype=object)
    arr_a[:] = xa
    arr_b = np.empty(len(xb), dtype=object)
    arr_b[:] = xb
    cons: dict[str, pulp.LpConstraint] = {}
    row_group: dict[str, str] = {}
    for group in groups.rows:
        rows = _rows(group, arr_a, arr_b)
        cons.update(rows)
        row_group.update(dict.fromkeys(rows, group.name))
    objectives: dict[str, pulp.LpAffineExpression] = {}
    z = None
    if objective.fairness == "maxmin":
        z = prob.add_variable(FAIRNESS_VAR, None, None)
        pos = np.flatnonzero(layout.target > 0)
        cons.update(
            (f"fair{names[k]}",
             pulp.LpConstraint(pulp.LpAffineExpression(((xa[k], 1.0), (xb[k], 1.0), (z, -t))),
                               pulp.LpConstraintGE, f"fair{names[k]}", 0.0))
            for k, t in zip(pos.tolist(), layout.target[pos].tolist(), strict=True)
        )
        objectives["fairness"] = pulp.LpAffineExpression([(z, -1.0)])
    w = deviation_weights(layout, objective)
    objectives["policy"] = pulp.LpAffineExpression(
        [*zip(xa, (-w).tolist(), strict=True), *zip(xb, w.tolist(), strict=True)],
        constant=float(np.dot(w, layout.target)),
    )
    omega = tie_break_weights(layout).tolist()
    objectives["tie_break"] = pulp.LpAffineExpression(
        [*zip(xa, omega, strict=True), *zip(xb, omega, strict=True)]
    )
    return LpModel(xa, xb, z, cons, objectives, row_group)


def build_model_loop(layout: Layout, groups: Groups, objective: ObjectiveConfig) -> LpModel:
    """Build the same model with plain nested loops (the benchmark baseline)."""
    prob = pulp.LpProblem("allocation", pulp.LpMinimize)
    names = layout.var_names()
    lower = groups.lower(layout.n_cells)
    upper = groups.upper(layout.n_cells)
    xa, xb = [], []
    for k in range(layout.n_cells):
        t = float(layout.target[k])
        lo, up = float(lower[k]), float(upper[k])
        xa.append(prob.add_variable("xa" + names[k][1:], min(lo, t), min(up, t)))
    for k in range(layout.n_cells):
        t = float(layout.target[k])
        lo, up = float(lower[k]), float(upper[k])
        xb.append(prob.add_variable("xb" + names[k][1:], max(lo - t, 0.0),
                                    None if math.isinf(up) else max(up - t, 0.0)))
    cons: dict[str, pulp.LpConstraint] = {}

    def add(constraint: pulp.LpConstraint, name: str) -> None:
        constraint.name = name
        cons[name] = constraint

    row_group: dict[str, str] = {}
    for group in groups.rows:
        for r, name in enumerate(group.names):
            expr = pulp.LpAffineExpression()
            for j in range(int(group.indptr[r]), int(group.indptr[r + 1])):
                k, coef = int(group.indices[j]), float(group.data[j])
                expr.addterm(xa[k], coef)
            for j in range(int(group.indptr[r]), int(group.indptr[r + 1])):
                k, coef = int(group.indices[j]), float(group.data[j])
                expr.addterm(xb[k], coef)
            rhs = float(group.rhs[r])
            if group.sense == "==":
                add(expr == rhs, name)
            elif group.sense == ">=":
                add(expr >= rhs, name)
            else:
                add(expr <= rhs, name)
            row_group[name] = group.name
    objectives: dict[str, pulp.LpAffineExpression] = {}
    z = None
    if objective.fairness == "maxmin":
        z = prob.add_variable(FAIRNESS_VAR, None, None)
        for k in range(layout.n_cells):
            t = float(layout.target[k])
            if t > 0:
                add(xa[k] + xb[k] - t * z >= 0, "fair" + names[k][1:])
        objectives["fairness"] = -1.0 * z
    w = deviation_weights(layout, objective)
    policy = pulp.LpAffineExpression()
    for k in range(layout.n_cells):
        policy.addterm(xa[k], -float(w[k]))
    for k in range(layout.n_cells):
        policy.addterm(xb[k], float(w[k]))
    policy.constant = float(np.dot(w, layout.target))
    objectives["policy"] = policy
    omega = tie_break_weights(layout)
    tie = pulp.LpAffineExpression()
    for k in range(layout.n_cells):
        tie.addterm(xa[k], float(omega[k]))
    for k in range(layout.n_cells):
        tie.addterm(xb[k], float(omega[k]))
    objectives["tie_break"] = tie
    return LpModel(xa, xb, z, cons, objectives, row_group)
