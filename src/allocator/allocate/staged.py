"""Staged solve of the sparse model in well-conditioned units, with HiGHS or CBC.

The stages, holds and the verified pro-rata shortcut are those described in :mod:`.solve`; the
model is :class:`.lp.MatrixLP` in the units of :meth:`.lp.MatrixLP.scaled`. Both solvers get the
same scaled model:

* HiGHS (:class:`HighsBackend`): passed once with ``Highs.passModel`` and re-solved from the
  previous basis after each stage's cost vector is swapped in and its hold row added;
* CBC (:class:`CbcBackend`): the same arrays as a PuLP problem, solved by PuLP's CBC.

Every value handed back (cell pounds, objectives, duals, reduced costs, hold right-hand sides)
is in pounds.

Presolve is off by default (:data:`PRESOLVE`): measured on the published model and at 33,755
areas, HiGHS's presolve took most of the solve time and removed nothing the simplex needed;
``solver.highs_options: {presolve: "on"}`` switches it back on.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import metadata

import numpy as np
import scipy.sparse as sp

from ..errors import SolverError
from .cbc import CbcFile
from .config import SolverConfig
from .lp import PARTS, MatrixLP
from .polish import polish
from .quiet import new_highs
from .solve import (
    HOLD_MONEY,
    SOLVER_LABEL,
    VERIFY_TOL,
    SolveResult,
    SolverInfeasible,
    make_solver,
)

#: HiGHS presolve setting unless ``solver.highs_options`` says otherwise (see the module doc).
PRESOLVE = "off"
#: Primal and dual feasibility tolerance of both solvers, in the scaled units (1e-9 of a
#: stream-year's budget: £0.10 on £100m, £10 on £10bn).
TOLERANCE = 1e-9


@functools.cache
def solver_version(name: str) -> str:
    """Package versions of the solver used (looked up once per process)."""
    try:
        if name == "highs":
            return f"HiGHS (highspy {metadata.version('highspy')}), sparse model passed directly"
        return f"CBC bundled with PuLP {metadata.version('pulp')}"
    except metadata.PackageNotFoundError:  # pragma: no cover - depends on the install
        return f"{SOLVER_LABEL.get(name, name)} (version unknown)"


class HighsBackend:
    """The scaled model in one ``highspy.Highs`` instance."""

    #: Relative precision of the values read back (in memory: full double precision).
    precision = 0.0
    #: Least hold slack in scaled objective units (the hold rule of :mod:`.solve` suffices).
    hold_scaled = 0.0

    def __init__(self, lp: MatrixLP, config: SolverConfig) -> None:
        try:
            import highspy
        except ImportError:  # pragma: no cover - depends on the install
            raise SolverError("solver 'highs' is not available: install highspy into the "
                              "environment (`pip install highspy`) or set solver.name: cbc"
                              ) from None
        self._hs = highspy
        h = new_highs(bool(config.msg))
        h.setOptionValue("threads", 1)
        h.setOptionValue("presolve", PRESOLVE)
        h.setOptionValue("primal_feasibility_tolerance", TOLERANCE)
        h.setOptionValue("dual_feasibility_tolerance", TOLERANCE)
        if config.time_limit is not None:
            h.setOptionValue("time_limit", float(config.time_limit))
        for key, value in config.highs_options.items():
            if h.setOptionValue(str(key), value) != highspy.HighsStatus.kOk:
                raise SolverError(f"solver.highs_options: HiGHS does not accept option {key!r} "
                                  f"= {value!r}")
        model = highspy.HighsLp()
        model.num_col_ = lp.n_cols
        model.num_row_ = lp.a.shape[0]
        model.col_cost_ = np.zeros(lp.n_cols)
        model.col_lower_ = lp.col_lower
        model.col_upper_ = lp.col_upper
        model.row_lower_ = lp.row_lower
        model.row_upper_ = lp.row_upper
        model.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        model.a_matrix_.num_col_ = lp.n_cols
        model.a_matrix_.num_row_ = lp.a.shape[0]
        model.a_matrix_.start_ = lp.a.indptr.astype(np.int32)
        model.a_matrix_.index_ = lp.a.indices.astype(np.int32)
        model.a_matrix_.value_ = lp.a.data.astype(float)
        if h.passModel(model) != highspy.HighsStatus.kOk:
            raise SolverError("HiGHS refused the model (please report this configuration)")
        self.h, self.n_cols, self.n_rows = h, lp.n_cols, lp.a.shape[0]
        self._idx = np.arange(lp.n_cols, dtype=np.int32)

    def solve(self, stage: str, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Column values, row duals and reduced costs of the stage's optimum (scaled units)."""
        hs, h = self._hs, self.h
        h.changeColsCost(self.n_cols, self._idx, cost)
        h.run()
        status = h.getModelStatus()
        if status == hs.HighsModelStatus.kInfeasible:
            raise SolverInfeasible(stage)
        if status in (hs.HighsModelStatus.kUnbounded, hs.HighsModelStatus.kUnboundedOrInfeasible):
            raise SolverError(
                f"HiGHS reports the {stage} stage {h.modelStatusToString(status)}; every cell is "
                "bounded by its stream-year budget, so this points to a malformed model (please "
                "report it)")
        if status != hs.HighsModelStatus.kOptimal:
            raise SolverError(
                f"HiGHS ended the {stage} stage with model status "
                f"'{h.modelStatusToString(status)}', not a proven optimum; raise "
                "solver.time_limit, try the other solver (solver.name), or run with "
                "solver.msg: true to see the log")
        sol = h.getSolution()
        return (np.asarray(sol.col_value), np.asarray(sol.row_dual)[: self.n_rows],
                np.asarray(sol.col_dual))

    def hold(self, name: str, cost: np.ndarray, rhs: float) -> None:
        """Add the row ``cost . x <= rhs``."""
        nz = np.flatnonzero(cost)
        self.h.addRow(-np.inf, rhs, nz.size, nz.astype(np.int32), cost[nz])


class CbcBackend:
    """The same scaled arrays, written as an MPS file and solved by PuLP's CBC binary."""

    #: Relative precision of the objective read back from CBC's solution file (about 8
    #: significant digits) when :func:`.polish.polish` cannot restore the vertex: a hold row
    #: allows this much of the objective's size on top.
    precision = 1e-7
    #: Least hold slack in scaled objective units (10 x the solver tolerance).
    hold_scaled = 1e-8

    def __init__(self, lp: MatrixLP, config: SolverConfig) -> None:
        path = make_solver("cbc", config.msg, config.time_limit).path  # raises if missing
        self.lp = lp
        self.file = CbcFile(lp.a, lp.row_lower, lp.row_upper, lp.col_lower, lp.col_upper, path,
                            [f"primalT {TOLERANCE}", f"dualT {TOLERANCE}"], config.msg,
                            config.time_limit)
        self.holds: list[tuple[np.ndarray, float]] = []
        self.polished = True

    def solve(self, stage: str, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Column values, row duals and reduced costs of the stage's optimum (scaled units)."""
        status, x, y, d = self.file.solve(stage, cost)
        if status == "Infeasible":
            raise SolverInfeasible(stage)
        if status == "Unbounded":
            raise SolverError(
                f"CBC reports the {stage} stage unbounded; every cell is bounded by its "
                "stream-year budget, so this points to a malformed model (please report it)")
        if status != "Optimal":
            raise SolverError(
                f"CBC ended the {stage} stage with status '{status}', not a proven optimum; "
                "raise solver.time_limit, try the other solver (solver.name), or run with "
                "solver.msg: true to see the log")
        lp = self.lp
        a, lo, up = lp.a, lp.row_lower, lp.row_upper
        if self.holds:
            a = sp.vstack([a, sp.csr_matrix(np.array([c for c, _ in self.holds]))], format="csr")
            lo = np.concatenate([lo, np.full(len(self.holds), -np.inf)])
            up = np.concatenate([up, [r for _, r in self.holds]])
        x, self.polished = polish(a, lo, up, lp.col_lower, lp.col_upper, x)
        return x, y, d

    def hold(self, name: str, cost: np.ndarray, rhs: float) -> None:
        """Add the row ``cost . x <= rhs``."""
        self.holds.append((cost, rhs))
        self.file.hold(cost, rhs)


BACKENDS = {"highs": HighsBackend, "cbc": CbcBackend}


def fill_parts(x: np.ndarray, breaks: tuple[np.ndarray, np.ndarray], n_cols: int) -> np.ndarray:
    """Column values with the cell values ``x`` filling the parts ``xa, xm, xb`` in order."""
    b1, b2 = breaks
    parts = [np.minimum(x, b1), np.clip(x - b1, 0.0, b2 - b1), np.maximum(x - b2, 0.0)]
    out = np.zeros(n_cols)
    out[: PARTS * x.size] = np.concatenate(parts)
    return out


def at_scaled_targets(lp: MatrixLP, cols: np.ndarray, policy_limit: float) -> bool:
    """Whether ``cols`` (the pro-rata scaled targets) is feasible and policy-optimal.

    Bounds and rows are checked in pounds to ``VERIFY_TOL`` (plus 1e-12 of the row's size,
    the float error of summing it).
    """
    if np.any(cols < lp.col_lower - VERIFY_TOL) or np.any(cols > lp.col_upper + VERIFY_TOL):
        return False
    act = lp.a @ cols
    tol = VERIFY_TOL + 1e-12 * (abs(lp.a) @ np.abs(cols))
    if np.any(act < lp.row_lower - tol) or np.any(act > lp.row_upper + tol):
        return False
    return lp.objective("policy", cols) <= policy_limit


def _reduced(lp: MatrixLP, cols: np.ndarray, dj: np.ndarray) -> np.ndarray:
    n = lp.n_cells
    use = dj[:n].copy()
    for p in range(1, PARTS):
        part = slice(p * n, (p + 1) * n)
        use = np.where(cols[part] > lp.col_lower[part] + 1e-9, dj[part], use)
    return use


def staged_solve_matrix(lp: MatrixLP, units: np.ndarray, config: SolverConfig,
                        name: str | None = None, *,
                        scaled_targets: np.ndarray | None = None,
                        breaks: tuple[np.ndarray, np.ndarray] | None = None,
                        shortcut: bool = True,
                        stages: Sequence[str] | None = None) -> SolveResult:
    """Solve the stages of ``lp`` (in pounds) in scaled units with ``name`` (HiGHS or CBC).

    Parameters
    ----------
    lp : MatrixLP
        The model in pounds (:func:`.lp.build_matrix`).
    units : ndarray
        Pounds per unit of each cell (:func:`.lp.cell_units`).
    config : SolverConfig
    name : {"highs", "cbc"}, optional
        Overrides ``config.name``.
    scaled_targets, breaks : ndarray, optional
        The pro-rata scaled targets and the part breakpoints; with them (and ``shortcut``) the
        later stages are verified at the scaled targets instead of solved when that is proven
        optimal (see :mod:`.solve`).
    shortcut : bool
    stages : sequence of str, optional
        Subset of ``lp.stages`` in order; all by default.

    Raises
    ------
    SolverInfeasible
        The solver proved a stage infeasible (in scaled units).
    SolverError
        Any other failure.
    """
    name = name or config.name
    if name not in BACKENDS:
        raise SolverError(f"unknown solver {name!r}; use 'highs' or 'cbc'")
    work, scale = lp.scaled(units)
    backend = BACKENDS[name](work, config)
    budget_rows = np.array([g == "budget" for g in lp.row_group], dtype=bool)
    money = float(np.sum(np.abs(lp.row_lower[budget_rows]))) if budget_rows.size else 0.0
    objectives: dict[str, float] = {}
    duals: dict[str, float] = {}
    hold_rhs: dict[str, float] = {}
    verified: list[str] = []
    reduced = None
    cols = np.zeros(lp.n_cols)
    x_s = np.zeros(lp.n_cols)
    at_scaled = False
    pending: list[tuple[str, np.ndarray, float]] = []
    for stage in stages or lp.stages:
        c_s, c0_s = work.costs[stage]
        if at_scaled:
            verified.append(stage)
        else:
            for hold in pending:  # the earlier stages' optima, held (added when needed)
                backend.hold(*hold)
            pending = []
            x_s, y_s, d_s = backend.solve(stage, c_s)
            cols = scale.values(x_s)
            if stage == "policy":
                y = scale.duals(stage, y_s)
                duals = {row: float(v) for row, v, g in
                         zip(lp.row_names, y.tolist(), lp.row_group, strict=True)
                         if g != "fairness"}
                reduced = _reduced(lp, cols, scale.reduced_costs(stage, d_s))
        opt = lp.objective(stage, cols)
        objectives[stage] = opt
        tol = config.hold_tolerance * max(1.0, abs(opt))
        if stage != "fairness":
            biggest = float(np.max(np.abs(lp.costs[stage][0]), initial=0.0))
            tol = max(tol, HOLD_MONEY * money * biggest)
        read = (0.0 if getattr(backend, "polished", True) else backend.precision) \
            * abs(float(c_s @ x_s))
        tol = max(tol, (backend.hold_scaled + read) * scale.objective[stage])
        hold_rhs[f"hold_{stage}"] = opt + tol
        pending.append((f"hold_{stage}", c_s, (opt + tol) / scale.objective[stage] - c0_s))
        if (shortcut and stage == "policy" and "fairness" not in lp.costs
                and scaled_targets is not None and breaks is not None):
            filled = fill_parts(scaled_targets, breaks, lp.n_cols)
            if at_scaled_targets(lp, filled, opt + tol):
                at_scaled, cols = True, filled
    return SolveResult(
        x=lp.cells(cols), objectives=objectives, duals=duals, reduced_costs=reduced,
        solver=name, version=solver_version(name), holds={}, verified=verified,
        hold_rhs=hold_rhs,
    )
