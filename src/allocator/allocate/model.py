"""Build the PuLP model from the layout, the constraint groups and the pro-rata scaled targets.

Variables
    Each eligible cell's pounds are split at its need-based target ``t`` and its pro-rata
    scaled target ``s`` (:mod:`.scaling`): with ``b1 = min(t, s)`` and ``b2 = max(t, s)``,
    ``x = xa + xm + xb`` where ``xa_<stream>_<year>_<code>`` is the part up to ``b1``, ``xm_...``
    the part between ``b1`` and ``b2`` and ``xb_...`` the part above ``b2``. Floors, caps, locks
    and pace entry become bounds on the parts (``lo``/``up`` the whole-pound bounds):
    ``min(lo, b1) <= xa <= min(up, b1)``, ``clip(lo - b1, 0, b2 - b1) <= xm <=
    clip(up - b1, 0, b2 - b1)``, ``max(lo - b2, 0) <= xb <= max(up - b2, 0)``. ``z_fairness`` is
    the max-min ratio.

Rows
    The row groups of :mod:`.constraints` (``budget_<stream>_<year>``,
    ``pace_*_<stream>_<year>_<code>``) with every ``x`` written ``xa + xm + xb``; with
    ``fairness: maxmin``, ``fair_...``: ``xa + xm + xb - target * z >= 0`` for positive targets.

Objectives (one per stage, solved in this order by :mod:`.solve`, each stage holding the optima
of the stages before it)
    ``fairness`` (optional): minimise ``-z`` (maximise the smallest ``x / target``).
    ``policy``: minimise ``sum w_c |x_c - t_c|``, written ``sum w_c (t_c - xa_c -/+ xm_c + xb_c)``
    (``-xm`` when ``s < t``, ``+xm`` when ``s >= t``): both absolute values are convex with
    breakpoints at ``b1`` and ``b2``, so filling the parts in order is optimal for every stage
    and each stage's objective equals its true value at the optimum — no deviation variables or
    extra rows. ``w_c = 1`` (absolute, pounds) or ``1 / max(t_c, 1)`` (relative).
    ``pro_rata`` — the published tie-break: minimise ``sum_c |x_c - s_c|`` in pounds. The policy
    stage only fixes the total deviation from target; where floors push some LAs above target
    (or caps hold some below) it does not care *who* absorbs the difference. The rule: everyone
    who is not at a floor, cap, lock or pace limit absorbs it in proportion to their target.
    Formally the scaled targets are ``s_c = clamp(lambda * t_c, lo_c, hi_c)`` with one
    ``lambda`` per stream-year such that the stream-year sums to its budget, computed year by
    year with pace-of-change rules acting as bounds from the previous year's scaled amount
    (:func:`.scaling.pro_rata_targets`). With absolute deviation and no fairness stage, ``s`` is
    itself optimal for the policy stage whenever pace rules do not force otherwise, and then
    the allocation *is* ``s`` (before whole-pound rounding): every unconstrained LA receives the
    same fraction ``lambda`` of its target. Otherwise the allocation is the policy-optimal one
    nearest to ``s``.
    ``tie_break`` ("lexicographic", a last resort that only removes degeneracy the pro-rata
    stage leaves, e.g. when pace rules bind): minimise ``sum omega_c x_c`` with
    ``omega_c = 1 + sqrt(k_c + 1) / sqrt(K)``, where ``k_c`` is the 0-based position of the cell
    in ascending (ONS code, stream order, year order) and ``K`` the number of cells; the square
    roots make every exchange of money between cells cost a different amount, so the optimum
    is a single vertex and any two correct solvers return the same allocation.

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
PARTS = ("xa", "xm", "xb")


@dataclass
class LpModel:
    """A built model: variables, base constraints (in order) and one objective per stage.

    ``parts`` holds the three variable lists ``xa``, ``xm``, ``xb`` (one entry per cell).
    """

    parts: tuple[list[pulp.LpVariable], list[pulp.LpVariable], list[pulp.LpVariable]]
    z: pulp.LpVariable | None
    constraints: dict[str, pulp.LpConstraint]
    objectives: dict[str, pulp.LpAffineExpression]
    row_group: dict[str, str] = field(default_factory=dict)
    scaled: np.ndarray | None = None
    breaks: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def variables(self) -> list[pulp.LpVariable]:
        """Every money variable (all parts)."""
        return [v for part in self.parts for v in part]

    def values(self) -> np.ndarray:
        """Pounds per cell (``xa + xm + xb``) from the last solve."""
        return np.array([(a.varValue or 0.0) + (m.varValue or 0.0) + (b.varValue or 0.0)
                         for a, m, b in zip(*self.parts, strict=True)])

    def fill(self, x: np.ndarray) -> None:
        """Set the variables to the cell values ``x``, filling the parts in order."""
        if self.breaks is None:
            raise ValueError("model was built without its part breakpoints")
        b1, b2 = self.breaks
        vals = (np.minimum(x, b1), np.clip(x - b1, 0.0, b2 - b1), np.maximum(x - b2, 0.0))
        for part, v in zip(self.parts, vals, strict=True):
            for var, val in zip(part, v.tolist(), strict=True):
                var.varValue = val

    def reduced_costs(self) -> np.ndarray:
        """Reduced cost per cell: of the highest part above its lower bound (else of ``xa``)."""
        out = []
        for cell in zip(*self.parts, strict=True):
            use = cell[0]
            for v in cell[1:]:
                if (v.varValue or 0.0) > (v.lowBound or 0.0) + 1e-9:
                    use = v
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


def split_bounds(layout: Layout, groups: Groups, scaled: np.ndarray
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(lower, upper)`` bounds of the parts ``xa``, ``xm``, ``xb`` per cell (upper may be inf)."""
    lo = groups.lower(layout.n_cells)
    up = groups.upper(layout.n_cells)
    b1 = np.minimum(layout.target, scaled)
    b2 = np.maximum(layout.target, scaled)
    width = b2 - b1
    return [
        (np.minimum(lo, b1), np.minimum(up, b1)),
        (np.clip(lo - b1, 0.0, width), np.clip(up - b1, 0.0, width)),
        (np.maximum(lo - b2, 0.0), np.maximum(up - b2, 0.0)),
    ]


def stage_slopes(layout: Layout, objective: ObjectiveConfig, scaled: np.ndarray
                 ) -> dict[str, tuple[list[np.ndarray], float]]:
    """Per stage, the objective coefficient of each part and the constant.

    ``policy``: ``w |x - t|``; ``pro_rata``: ``|x - s|``; both are convex in ``x`` with
    breakpoints at ``min(t, s)`` and ``max(t, s)``.
    """
    w = deviation_weights(layout, objective)
    below = scaled < layout.target  # s < t: the middle part lies below t and above s
    one = np.ones(layout.n_cells)
    policy = [-w, np.where(below, -w, w), w]
    pro_rata = [-one, np.where(below, one, -one), one]
    return {
        "policy": (policy, float(np.dot(w, layout.target))),
        "pro_rata": (pro_rata, float(scaled.sum())),
    }


def _ub(values: np.ndarray) -> list[float | None]:
    return [None if math.isinf(u) else u for u in values.tolist()]


def _rows(group: RowGroup, parts: list[np.ndarray]) -> dict[str, pulp.LpConstraint]:
    cols = [p[group.indices].tolist() for p in parts]
    coefs = group.data.tolist()
    ptr = group.indptr.tolist()
    sense = _SENSE[group.sense]
    return {
        name: pulp.LpConstraint(
            pulp.LpAffineExpression([pair for col in cols
                                     for pair in zip(col[a:b], coefs[a:b], strict=True)]),
            sense, name, rhs,
        )
        for name, a, b, rhs in zip(group.names, ptr[:-1], ptr[1:], group.rhs.tolist(), strict=True)
    }


def build_model(layout: Layout, groups: Groups, objective: ObjectiveConfig,
                scaled: np.ndarray | None = None) -> LpModel:
    """Build the model from prepared arrays (the fast builder).

    Parameters
    ----------
    layout, groups, objective
    scaled : ndarray, optional
        Pro-rata scaled targets (:func:`.scaling.pro_rata_targets`); computed when omitted.
    """
    if scaled is None:
        from .scaling import pro_rata_targets

        scaled = pro_rata_targets(layout, groups).value
    prob = pulp.LpProblem("allocation", pulp.LpMinimize)
    names = [n[1:] for n in layout.var_names()]
    parts: list[list[pulp.LpVariable]] = []
    for prefix, (lo, up) in zip(PARTS, split_bounds(layout, groups, scaled), strict=True):
        parts.append([prob.add_variable(prefix + n, a, b)
                      for n, a, b in zip(names, lo.tolist(), _ub(up), strict=True)])
    arrays = []
    for part in parts:
        arr = np.empty(len(part), dtype=object)
        arr[:] = part
        arrays.append(arr)
    cons: dict[str, pulp.LpConstraint] = {}
    row_group: dict[str, str] = {}
    for group in groups.rows:
        rows = _rows(group, arrays)
        cons.update(rows)
        row_group.update(dict.fromkeys(rows, group.name))
    objectives: dict[str, pulp.LpAffineExpression] = {}
    z = None
    xa, xm, xb = parts
    if objective.fairness == "maxmin":
        z = prob.add_variable(FAIRNESS_VAR, None, None)
        pos = np.flatnonzero(layout.target > 0)
        cons.update(
            (f"fair{names[k]}",
             pulp.LpConstraint(pulp.LpAffineExpression(((xa[k], 1.0), (xm[k], 1.0), (xb[k], 1.0),
                                                        (z, -t))),
                               pulp.LpConstraintGE, f"fair{names[k]}", 0.0))
            for k, t in zip(pos.tolist(), layout.target[pos].tolist(), strict=True)
        )
        objectives["fairness"] = pulp.LpAffineExpression([(z, -1.0)])
    for stage, (slopes, const) in stage_slopes(layout, objective, scaled).items():
        objectives[stage] = pulp.LpAffineExpression(
            [pair for part, c in zip(parts, slopes, strict=True)
             for pair in zip(part, c.tolist(), strict=True)],
            constant=const,
        )
    omega = tie_break_weights(layout).tolist()
    objectives["tie_break"] = pulp.LpAffineExpression(
        [pair for part in parts for pair in zip(part, omega, strict=True)]
    )
    return LpModel((xa, xm, xb), z, cons, objectives, row_group, scaled,
                   (np.minimum(layout.target, scaled), np.maximum(layout.target, scaled)))


def build_model_loop(layout: Layout, groups: Groups, objective: ObjectiveConfig,
                     scaled: np.ndarray | None = None) -> LpModel:
    """Build the same model with plain nested loops (the benchmark baseline)."""
    if scaled is None:
        from .scaling import pro_rata_targets

        scaled = pro_rata_targets(layout, groups).value
    prob = pulp.LpProblem("allocation", pulp.LpMinimize)
    names = layout.var_names()
    lower = groups.lower(layout.n_cells)
    upper = groups.upper(layout.n_cells)
    parts: list[list[pulp.LpVariable]] = [[], [], []]
    for k in range(layout.n_cells):
        b1 = min(float(layout.target[k]), float(scaled[k]))
        lo, up = float(lower[k]), float(upper[k])
        parts[0].append(prob.add_variable("xa" + names[k][1:], min(lo, b1), min(up, b1)))
    for k in range(layout.n_cells):
        b1 = min(float(layout.target[k]), float(scaled[k]))
        width = max(float(layout.target[k]), float(scaled[k])) - b1
        lo, up = float(lower[k]), float(upper[k])
        parts[1].append(prob.add_variable("xm" + names[k][1:], min(max(lo - b1, 0.0), width),
                                          min(max(up - b1, 0.0), width)))
    for k in range(layout.n_cells):
        b2 = max(float(layout.target[k]), float(scaled[k]))
        lo, up = float(lower[k]), float(upper[k])
        parts[2].append(prob.add_variable("xb" + names[k][1:], max(lo - b2, 0.0),
                                          None if math.isinf(up) else max(up - b2, 0.0)))
    cons: dict[str, pulp.LpConstraint] = {}

    def add(constraint: pulp.LpConstraint, name: str) -> None:
        constraint.name = name
        cons[name] = constraint

    row_group: dict[str, str] = {}
    for group in groups.rows:
        for r, name in enumerate(group.names):
            expr = pulp.LpAffineExpression()
            for part in parts:
                for j in range(int(group.indptr[r]), int(group.indptr[r + 1])):
                    k, coef = int(group.indices[j]), float(group.data[j])
                    expr.addterm(part[k], coef)
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
                add(parts[0][k] + parts[1][k] + parts[2][k] - t * z >= 0, "fair" + names[k][1:])
        objectives["fairness"] = -1.0 * z
    w = deviation_weights(layout, objective)
    policy = pulp.LpAffineExpression()
    pro_rata = pulp.LpAffineExpression()
    for p in range(3):
        for k in range(layout.n_cells):
            below = float(scaled[k]) < float(layout.target[k])
            wk = float(w[k])
            slope = (-wk, -wk if below else wk, wk)[p]
            policy.addterm(parts[p][k], slope)
    for p in range(3):
        for k in range(layout.n_cells):
            below = float(scaled[k]) < float(layout.target[k])
            slope = (-1.0, 1.0 if below else -1.0, 1.0)[p]
            pro_rata.addterm(parts[p][k], slope)
    policy.constant = float(np.dot(w, layout.target))
    pro_rata.constant = float(scaled.sum())
    objectives["policy"] = policy
    objectives["pro_rata"] = pro_rata
    omega = tie_break_weights(layout)
    tie = pulp.LpAffineExpression()
    for part in parts:
        for k in range(layout.n_cells):
            tie.addterm(part[k], float(omega[k]))
    objectives["tie_break"] = tie
    return LpModel((parts[0], parts[1], parts[2]), z, cons, objectives, row_group, scaled,
                   (np.minimum(layout.target, scaled), np.maximum(layout.target, scaled)))
