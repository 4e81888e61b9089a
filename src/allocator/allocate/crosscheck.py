"""The two-solver cross-check: a second solver solves every stage itself and must agree.

``solver.cross_check`` names a second solver. It solves the same model stage by stage with no
shortcut (every stage a real solve, its own optimum held in the next stage), and the run fails
with ``cross-check failed`` unless

* every stage's optimum agrees in both directions: ``|primary - second| <= tolerance`` with
  the stated tolerance :func:`objective_tolerance` (the slack a stage's optimum is held with:
  ``1e-7`` of the optimum, or ``1e-8`` of the money in the model times the stage's largest
  objective coefficient, whichever is larger);
* after the tie-break and whole-pound rounding, no LA x stream x year differs by more than
  :func:`cell_tolerance` pounds: ``MAX_CELL_DIFF`` (rounding a value that sits on a half
  pound may go either way) plus the slack with which each solver held its own ``pro_rata``
  optimum in the tie-break stage (the tie-break may spend that slack; nothing when the stage
  was proved rather than solved). The slack is the one :mod:`.staged` holds every stage with:
  for CBC, whose solution file carries only 8 significant digits, it includes ``1e-7`` of
  the size of the objective's terms (about £55 on the published £533m), so the cell
  tolerance is stated, per run, in the manifest;
* both solvers agree on feasibility: if one proves a stage infeasible and the other solves it,
  the run fails rather than report either answer.

The same applies to every "£1m more" re-solve. :class:`StageRecord` is what the manifest keeps
per stage.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InfeasibleError, SolverError
from .cells import Layout
from .constraints import Groups
from .lp import MatrixLP
from .rounding import round_allocation
from .solve import HOLD_MONEY, SOLVER_LABEL, SolveResult, SolverInfeasible
from .verify import check_cells

#: Relative part of the objective tolerance (the default ``solver.hold_tolerance``).
OBJECTIVE_RTOL = 1e-7
#: Largest allowed difference per LA x stream x year after rounding, in pounds.
MAX_CELL_DIFF = 1


def label(name: str) -> str:
    """``"HiGHS"`` / ``"CBC"``."""
    return SOLVER_LABEL.get(name, name)


def objective_tolerance(a: float, b: float, money: float, biggest: float) -> float:
    """The stated tolerance between two solvers' optima of one stage.

    ``max(1e-7 * max(1, |a|, |b|), 1e-8 * money * biggest)``: ``money`` is the total of the
    budgets in the model, ``biggest`` the stage's largest objective coefficient (in pounds per
    pound, or per unit of the stage's objective).
    """
    return max(OBJECTIVE_RTOL * max(1.0, abs(a), abs(b)), HOLD_MONEY * money * biggest)


def _money(value: float) -> float:
    """Rounded to 2 decimals, without a negative zero."""
    return round(float(value), 2) + 0.0


@dataclass(frozen=True)
class StageRecord:
    """One stage as the manifest records it.

    Attributes
    ----------
    stage : str
    solver : str
        ``highs`` or ``cbc``.
    status : str
        ``optimal`` (anything else raises before a record is made).
    objective : float
        The primary solver's optimum.
    method : {"solved", "proved"}
        ``solved`` by the solver, or ``proved`` at the pro-rata scaled targets (the verified
        shortcut of :mod:`.solve`).
    check_solver : str or None
    check_objective : float or None
        The cross-check solver's own optimum (always ``solved``).
    tolerance : float or None
        The tolerance the two optima were compared with.
    """

    stage: str
    solver: str
    status: str
    objective: float
    method: str
    check_solver: str | None = None
    check_objective: float | None = None
    tolerance: float | None = None

    def as_dict(self) -> dict[str, object]:
        """Plain values for the manifest (objectives to 2 decimals)."""
        out: dict[str, object] = {
            "solver": self.solver, "status": self.status,
            "objective": _money(self.objective), "method": self.method,
        }
        if self.check_solver is not None:
            out["cross_check_solver"] = self.check_solver
            out["cross_check_objective"] = _money(self.check_objective or 0.0)
            out["cross_check_tolerance"] = float(f"{self.tolerance:.3g}")
        return out


def objective_scales(layout: Layout, lp: MatrixLP) -> tuple[float, dict[str, float]]:
    """Total budget money in the model and each stage's largest objective coefficient."""
    money = float(np.asarray(layout.budget, dtype=float).sum())
    biggest = {stage: float(np.max(np.abs(c), initial=0.0)) for stage, (c, _) in lp.costs.items()}
    return money, biggest


def stage_records(primary: SolveResult, other: SolveResult | None,
                  tolerances: dict[str, float] | None = None) -> list[StageRecord]:
    """One record per stage of ``primary`` (with the second solver's optimum when given)."""
    out = []
    for stage, obj in primary.objectives.items():
        method = "proved" if stage in primary.verified else "solved"
        if other is None:
            out.append(StageRecord(stage, primary.solver, "optimal", obj, method))
        else:
            out.append(StageRecord(stage, primary.solver, "optimal", obj, method, other.solver,
                                   other.objectives.get(stage),
                                   (tolerances or {}).get(stage)))
    return out


def compare_objectives(primary: SolveResult, other: SolveResult, money: float,
                       biggest: dict[str, float], context: str = "") -> dict[str, float]:
    """Raise unless every stage's optima agree within :func:`objective_tolerance`.

    Returns the tolerance used per stage.
    """
    tols: dict[str, float] = {}
    problems = []
    if other.verified:
        problems.append(f"{label(other.solver)} did not solve the stages {other.verified} itself")
    for stage, a in primary.objectives.items():
        b = other.objectives.get(stage)
        if b is None:
            problems.append(f"{label(other.solver)} has no {stage} stage")
            continue
        tol = objective_tolerance(a, b, money, biggest.get(stage, 1.0))
        tols[stage] = tol
        if not (abs(a - b) <= tol):
            better = label(primary.solver) if a < b else label(other.solver)
            problems.append(
                f"{stage} stage optimum {label(primary.solver)} {a:,.6g} vs "
                f"{label(other.solver)} {b:,.6g} (differ by {abs(a - b):,.6g}, tolerance "
                f"{tol:,.3g}; {better}'s is lower)"
            )
    if problems:
        raise SolverError(f"cross-check failed{context}: " + "; ".join(problems))
    return tols


def compare_cells(layout: Layout, a: np.ndarray, b: np.ndarray, names: tuple[str, str],
                  tolerance: int = MAX_CELL_DIFF, context: str = "") -> int:
    """Largest whole-pound difference per cell; raise if any exceeds ``tolerance`` pounds."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if a.shape != b.shape:
        raise SolverError(f"cross-check failed{context}: {label(names[1])} returned "
                          f"{b.size} cells, {label(names[0])} {a.size}")
    diff = np.abs(a - b)
    bad = np.flatnonzero(diff > tolerance)
    if bad.size:
        shown = "; ".join(f"{layout.label(k)}: £{a[k]:,} vs £{b[k]:,}" for k in bad[:10].tolist())
        raise SolverError(
            f"cross-check failed{context}: {label(names[0])} and {label(names[1])} differ by "
            f"more than £{tolerance} in {bad.size} LA x stream x year cell(s): {shown}"
        )
    return int(diff.max()) if diff.size else 0


def cell_tolerance(primary: SolveResult, other: SolveResult) -> int:
    """Pounds by which two solvers' cells may differ after the tie-break and rounding."""
    freedom = 0.0
    for r in (primary, other):
        if "pro_rata" in r.objectives and "pro_rata" not in r.verified:
            opt = r.objectives["pro_rata"]
            freedom += max(r.hold_rhs.get("hold_pro_rata", opt) - opt, 0.0)
    return MAX_CELL_DIFF + int(math.floor(freedom))


def cross_check(layout: Layout, groups: Groups, lp: MatrixLP, primary: SolveResult,
                other: SolveResult, x_int: np.ndarray, context: str = ""
                ) -> tuple[dict[str, float], int]:
    """Compare the second solver's staged solve with the primary's whole pounds ``x_int``.

    Objectives in both directions (:func:`compare_objectives`), then the second solver's
    solution rounded and re-checked rule by rule, then every cell (:func:`compare_cells`).

    Returns
    -------
    tolerances : dict
        Objective tolerance per stage, and ``"cells"``: the cell tolerance in pounds.
    max_diff : int
        Largest difference in pounds over every LA x stream x year.

    Raises
    ------
    SolverError
        ``cross-check failed ...`` naming what disagrees.
    """
    tols = compare_objectives(primary, other, *objective_scales(layout, lp), context=context)
    try:
        x_other = round_allocation(layout, groups, other.x)
    except InfeasibleError as exc:
        raise SolverError(f"cross-check failed{context}: {label(other.solver)}'s solution "
                          f"cannot be rounded to whole pounds: {exc}") from None
    broken = check_cells(layout, groups, x_other)
    if broken:
        raise SolverError(f"cross-check failed{context}: {label(other.solver)}'s allocation "
                          f"breaks {len(broken)} rule(s): " + "; ".join(broken[:10]))
    tols["cells"] = cell_tolerance(primary, other)
    return tols, compare_cells(layout, x_int, x_other, (primary.solver, other.solver),
                               int(tols["cells"]), context)


def solve_checked(solve: Callable[[str, bool], SolveResult], name: str,
                  other_name: str | None, context: str = ""
                  ) -> tuple[SolveResult, SolveResult | None]:
    """The primary staged solve and, with a second solver, the second's (no shortcut).

    ``solve(name, shortcut)`` runs one solver's staged solve of the model. When one solver
    proves a stage infeasible and the other solves it, :class:`SolverError` says so
    (:func:`feasibility_disagreement`); when both prove it infeasible, the primary's
    :class:`SolverInfeasible` is raised as without a cross-check.
    """
    if other_name == name:
        other_name = None
    try:
        result = solve(name, True)
    except SolverInfeasible as exc:
        if other_name is not None:
            try:
                other = solve(other_name, False)
            except SolverInfeasible:
                raise exc from None
            raise feasibility_disagreement(name, other_name, exc.stage,
                                           other.objectives.get(exc.stage), context) from None
        raise
    if other_name is None:
        return result, None
    try:
        other = solve(other_name, False)
    except SolverInfeasible as exc:
        raise feasibility_disagreement(other_name, name, exc.stage,
                                       result.objectives.get(exc.stage), context) from None
    return result, other


def feasibility_disagreement(infeasible: str, solved: str, stage: str, objective: float | None,
                             context: str = "") -> SolverError:
    """The error when one solver proves a stage infeasible and the other solves it."""
    obj = "" if objective is None else f" (its {stage} optimum {objective:,.6g})"
    return SolverError(
        f"cross-check failed{context}: {label(infeasible)} reports the {stage} stage infeasible "
        f"but {label(solved)} solves it{obj}; the solvers disagree, so neither answer is "
        f"reported. Try solver.name: {solved}, or run with solver.msg: true to see both logs"
    )


STAGE_WORDS = {
    "fairness": "fairness (the smallest share of target, maximised)",
    "policy": "policy (total deviation from target)",
    "pro_rata": "pro-rata tie-break (pounds away from the pro-rata scaled targets)",
    "tie_break": "last tie-break (ONS code order)",
}


def _num(value: object) -> str:
    if not isinstance(value, float | int):
        return str(value)
    return f"{value:,.2f}" if value == 0 or abs(value) >= 1 else f"{value:.3g}"


def solver_summary(problem: Any) -> dict[str, Any]:
    """Solver facts for the manifest and summary (no timings: they would break replay).

    ``stages`` holds, per stage in solve order, the solver, status, optimum, whether it was
    ``solved`` or ``proved`` (the verified pro-rata shortcut) and, with a cross-check, the
    second solver's own optimum and the tolerance they agree to; ``cross_check`` the largest
    difference in pounds over every LA x stream x year and the difference allowed.
    """
    out: dict[str, Any] = {
        "status": problem.status_,
        "solver": problem.solver_name_,
        "solver_version": problem.solver_version_,
        "objective": round(float(problem.objective_value_), 2),
        "stages": {r.stage: r.as_dict() for r in problem.stages_},
    }
    if problem.cross_check_max_diff_ is not None:
        out["cross_check"] = {
            "solver": problem.stages_[0].check_solver,
            "max_cell_diff_pounds": int(problem.cross_check_max_diff_),
            "cell_tolerance_pounds": int(problem.cross_check_cell_tolerance_),
        }
        out["cross_check_max_diff_pounds"] = int(problem.cross_check_max_diff_)
    return out


def describe(summary: dict[str, Any]) -> list[str]:
    """The solver facts of a run (see :func:`solver_summary`) as plain sentences."""
    first = label(str(summary.get("solver", "")))
    lines = [f"Solved with {summary.get('solver_version', first)}; status "
             f"{summary.get('status', 'unknown')}."]
    for stage, rec in dict(summary.get("stages", {})).items():
        if not isinstance(rec, dict):
            lines.append(f"Stage {STAGE_WORDS.get(stage, stage)}: optimum {rec}.")
            continue
        how = ("solved by " + label(str(rec.get("solver"))) if rec.get("method") == "solved"
               else "proved optimal at the pro-rata scaled targets (not re-solved)")
        text = f"Stage {STAGE_WORDS.get(stage, stage)}: optimum {_num(rec.get('objective'))}, {how}"
        if "cross_check_solver" in rec:
            text += (f"; {label(str(rec['cross_check_solver']))} solved it independently: "
                     f"{_num(rec.get('cross_check_objective'))} (agreement required within "
                     f"{_num(rec.get('cross_check_tolerance'))})")
        lines.append(text + ".")
    cc = summary.get("cross_check")
    if isinstance(cc, dict):
        lines.append(
            f"Cross-check: {label(str(cc.get('solver')))} solved every stage itself; the largest "
            f"difference in any LA x stream x year is £{cc.get('max_cell_diff_pounds')} "
            f"(at most £{cc.get('cell_tolerance_pounds')} allowed)."
        )
    else:
        lines.append("No cross-check with a second solver (solver.cross_check is not set).")
    return lines


__all__ = ["MAX_CELL_DIFF", "OBJECTIVE_RTOL", "StageRecord", "cell_tolerance", "compare_cells", "cross_check",
           "compare_objectives", "describe", "feasibility_disagreement", "objective_scales",
           "objective_tolerance", "solve_checked", "stage_records"]
