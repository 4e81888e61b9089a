"""Run the solver stage by stage, always checking its status before reading values.

Stages (see :mod:`.model`): optional ``fairness``, then ``policy``, then ``pro_rata`` (the
published tie-break), then ``tie_break`` (lexicographic, for any degeneracy left). After each
stage its optimum is held in the next with ``objective <= opt + hold_tolerance * max(1, |opt|)``
(rows ``hold_<stage>``). Every stage but ``fairness`` is held with at least ``HOLD_MONEY`` x the
total budget x the largest objective coefficient: CBC's solutions are accurate to only about
1e-8 of the money in the model, and the ``pro_rata`` optimum is often exactly 0, so a purely
relative slack would let solver round-off make the next stage infeasible (about £5 of total
deviation on a £533m model, far below the whole-pound rounding).

Verified shortcut: after the ``policy`` stage (and only without a ``fairness`` stage), the
pro-rata scaled targets ``s`` are checked on the model itself: every variable bound and every
row holds at ``s`` (to ``VERIFY_TOL`` pounds) and the policy objective at ``s`` is within the hold
tolerance of the solver's optimum. Then ``s`` is policy-optimal, the ``pro_rata`` optimum is 0
and attained only at ``s`` (``sum |x - s| = 0`` forces ``x = s``), so the ``tie_break`` stage
has exactly one feasible point: both later stages are recorded at ``s`` without solving them.
Otherwise they are solved. Duals (``pi``) of the budget rows are read from the ``policy`` stage.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np
import pulp

from ..errors import SolverError
from .config import SolverConfig
from .model import LpModel
from .quiet import QuietCBC, QuietHiGHS

SOLVER_LABEL = {"highs": "HiGHS", "cbc": "CBC"}
HOLD_MONEY = 1e-8
VERIFY_TOL = 1e-4


class SolverInfeasible(Exception):
    """Internal signal: the solver proved the model infeasible in ``stage``."""

    def __init__(self, stage: str) -> None:
        super().__init__(stage)
        self.stage = stage


def make_solver(name: str, msg: bool = False, time_limit: float | None = None,
                options: dict[str, Any] | None = None) -> pulp.LpSolver:
    """Return a PuLP solver object for ``"highs"`` or ``"cbc"``.

    Their logs never reach standard output: with ``msg`` they go to standard error, without it
    nowhere (see :mod:`.quiet`).

    Raises
    ------
    SolverError
        If the solver is not available, with how to install it.
    """
    if name == "highs":
        solver = QuietHiGHS(mip=False, msg=msg, timeLimit=time_limit, threads=1,
                            **(options or {}))
        if not solver.available():
            raise SolverError(
                "solver 'highs' is not available: install highspy into the environment "
                "(`pip install highspy`) or set solver.name: cbc"
            )
        return solver
    if name == "cbc":
        solver = QuietCBC(msg=msg, timeLimit=time_limit, threads=1)
        if not solver.available():
            raise SolverError(
                "solver 'cbc' is not available: PuLP's bundled CBC binary is missing or not "
                "executable; reinstall pulp or set solver.name: highs"
            )
        return solver
    raise SolverError(f"unknown solver {name!r}; use 'highs' or 'cbc'")


def solver_version(name: str) -> str:
    """Best-effort version string of the solver (package versions, not the binary's)."""
    try:
        if name == "highs":
            return f"HiGHS (highspy {metadata.version('highspy')}) via PuLP {pulp.__version__}"
        return f"CBC bundled with PuLP {pulp.__version__}"
    except metadata.PackageNotFoundError:  # pragma: no cover - depends on the install
        return f"{SOLVER_LABEL.get(name, name)} (version unknown)"


def check_status(prob: pulp.LpProblem, name: str, stage: str) -> None:
    """Raise unless the last solve of ``prob`` is a proven optimum.

    Raises
    ------
    SolverInfeasible
        The model is infeasible (the caller runs the elastic re-solve).
    SolverError
        Unbounded, not solved, time limit, or any non-optimal solution status.
    """
    status, sol = prob.status, prob.sol_status
    label = SOLVER_LABEL.get(name, name)
    if status == pulp.LpStatusInfeasible:
        raise SolverInfeasible(stage)
    if status == pulp.LpStatusUnbounded:
        raise SolverError(
            f"{label} reports the {stage} stage unbounded; every cell is bounded by its "
            "stream-year budget, so this points to a malformed model (please report it)"
        )
    if status != pulp.LpStatusOptimal or sol != pulp.LpSolutionOptimal:
        raise SolverError(
            f"{label} ended the {stage} stage with status '{pulp.LpStatus.get(status, status)}' "
            f"and solution status '{pulp.LpSolution.get(sol, sol)}', not a proven optimum; "
            "raise solver.time_limit, try the other solver (solver.name), or run with "
            "solver.msg: true to see the log"
        )
    highs = getattr(prob, "solverModel", None)
    if name == "highs" and highs is not None:
        import highspy

        model_status = highs.getModelStatus()
        if model_status != highspy.HighsModelStatus.kOptimal:
            raise SolverError(
                f"HiGHS ended the {stage} stage with model status {model_status}, not optimal; "
                "raise solver.time_limit or run with solver.msg: true"
            )


@dataclass
class SolveResult:
    """Values read after a successful staged solve."""

    x: np.ndarray
    objectives: dict[str, float]
    duals: dict[str, float] = field(default_factory=dict)
    reduced_costs: np.ndarray | None = None
    solver: str = "highs"
    version: str = ""
    holds: dict[str, pulp.LpConstraint] = field(default_factory=dict)
    verified: list[str] = field(default_factory=list)
    hold_rhs: dict[str, float] = field(default_factory=dict)


def _solve_once(prob: pulp.LpProblem, solver: pulp.LpSolver, name: str, stage: str) -> float:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            prob.solve(solver)
    except pulp.PulpSolverError as exc:
        raise SolverError(f"{SOLVER_LABEL.get(name, name)} failed in the {stage} stage: {exc}") \
            from None
    check_status(prob, name, stage)
    value = pulp.value(prob.objective)
    if value is None:
        raise SolverError(f"{SOLVER_LABEL.get(name, name)} returned no objective value in the "
                          f"{stage} stage")
    return float(value)


def staged_solve(model: LpModel, config: SolverConfig, name: str | None = None,
                 stages: list[str] | None = None) -> SolveResult:
    """Solve the stages in order, holding each optimum in the next.

    Parameters
    ----------
    model : LpModel
    config : SolverConfig
    name : {"highs", "cbc"}, optional
        Overrides ``config.name`` (used by the cross-check).
    stages : list of str, optional
        Subset of ``model.stages`` (in order); all by default.

    Raises
    ------
    SolverInfeasible
        Caught by the caller to run the elastic re-solve.
    SolverError
        Any other failure.
    """
    name = name or config.name
    solver = make_solver(name, config.msg, config.time_limit, dict(config.highs_options))
    holds: dict[str, pulp.LpConstraint] = {}
    objectives: dict[str, float] = {}
    duals: dict[str, float] = {}
    reduced = None
    money = sum(abs(c.constant) for n, c in model.constraints.items()
                if model.row_group.get(n) == "budget")
    verified: list[str] = []
    hold_rhs: dict[str, float] = {}
    at_scaled = False
    for stage in stages or model.stages:
        if at_scaled:
            opt = float(pulp.value(model.objectives[stage]))
            verified.append(stage)
        else:
            prob = model.problem(stage, holds)
            opt = _solve_once(prob, solver, name, stage)
        objectives[stage] = opt
        if stage == "policy":
            duals = {
                cname: float(c.pi) for cname, c in model.constraints.items()
                if c.pi is not None and not cname.startswith("fair_")
            }
            reduced = model.reduced_costs()
        tol = config.hold_tolerance * max(1.0, abs(opt))
        if stage != "fairness":
            biggest = max((abs(c) for c in model.objectives[stage].values()), default=0.0)
            tol = max(tol, HOLD_MONEY * money * biggest)
        hold = pulp.LpConstraint(pulp.LpAffineExpression(model.objectives[stage]),
                                 pulp.LpConstraintLE, f"hold_{stage}", opt + tol)
        holds[f"hold_{stage}"] = hold
        hold_rhs[f"hold_{stage}"] = opt + tol
        if stage == "policy" and model.z is None and "pro_rata" in model.objectives:
            at_scaled = scaled_is_optimal(model, opt + tol)
    if any(v.varValue is None for v in model.variables):
        raise SolverError(f"{SOLVER_LABEL.get(name, name)} reported optimal but left variables "
                          "without values")
    return SolveResult(
        x=model.values(),
        objectives=objectives,
        duals=duals,
        reduced_costs=reduced,
        solver=name,
        version=solver_version(name),
        holds=holds,
        verified=verified,
        hold_rhs=hold_rhs,
    )


def scaled_is_optimal(model: LpModel, policy_limit: float) -> bool:
    """Whether the pro-rata scaled targets are feasible and policy-optimal on ``model``.

    Leaves the variables at the scaled targets when True, at the solver's values otherwise.
    """
    if model.scaled is None or model.breaks is None:
        return False
    saved = [v.varValue for v in model.variables]
    model.fill(model.scaled)
    ok = all(
        (v.lowBound is None or v.varValue >= v.lowBound - VERIFY_TOL)
        and (v.upBound is None or v.varValue <= v.upBound + VERIFY_TOL)
        for v in model.variables
    )
    ok = ok and all(c.valid(VERIFY_TOL) for c in model.constraints.values())
    ok = ok and float(pulp.value(model.objectives["policy"])) <= policy_limit
    if not ok:
        for v, val in zip(model.variables, saved, strict=True):
            v.varValue = val
    return ok
