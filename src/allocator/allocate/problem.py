"""The allocation problem as an estimator: parameters in, results in trailing-underscore attributes.

Pipeline of :meth:`AllocationProblem.solve`: layout (eligibility, targets) -> constraint groups
-> presolve -> pro-rata scaled targets -> model -> staged solve (fairness?, policy, pro-rata
tie-break, lexicographic tie-break) -> elastic re-solve if infeasible -> whole-pound rounding ->
verify -> optional cross-check -> explanation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pulp

from ..columns import money_column, money_columns, total_column
from ..errors import ConfigError
from ..rundir import naming
from .cells import Layout, build_layout
from .config import (
    AllocationConfig,
    CapConfig,
    FloorConfig,
    LockConfig,
    ObjectiveConfig,
    PaceConfig,
    SolverConfig,
    StreamConfig,
    TargetConfig,
    validate_allocation_config,
)
from .constraints import Groups, build_groups
from .crosscheck import StageRecord, cross_check, solve_checked, stage_records
from .elastic import explain_infeasible
from .explain import binding, shadow_words, waterfall
from .lp import MatrixLP, build_matrix, cell_units
from .marginal import marginal_gains
from .model import LpModel, build_model, build_model_loop
from .presolve import Issue, presolve
from .rounding import round_allocation
from .scaling import ProRata, pro_rata_targets
from .solve import SolveResult, SolverInfeasible
from .staged import staged_solve_matrix
from .verify import verify_cells, verify_frame

BUILDERS = {"vectorised": build_model, "loop": build_model_loop}
#: Variable fixed at 1 that carries a stage objective's constant in the model files.
OBJECTIVE_CONSTANT = "objective_constant"


class AllocationProblem:
    """Allocate ring-fenced streams to LAs by linear programming.

    Parameters
    ----------
    streams : mapping of str to StreamConfig (or dict)
        Budgets and eligibility per stream, in order.
    years : list of str, optional
        Modelled years; default the sorted years of the budgets.
    target : TargetConfig, optional
    floors, caps : sequence of FloorConfig / CapConfig
    pace : PaceConfig, optional
    locks : sequence of LockConfig
    objective : ObjectiveConfig, optional
    solver : SolverConfig, optional
    areas : DataFrame, optional
        One row per LA: ``code, name, region, pop_all, pop_15_64, need_factor, wave``; may
        instead be passed to :meth:`presolve` / :meth:`solve`.
    base_dir : path, optional
        Directory that relative floor-file paths are resolved against.
    explain_marginal : bool
        Re-solve with £1m more per stream-year, targets recomputed as need shares of the larger
        budget, to say where it would go (one extra build and staged solve per stream-year;
        switch off for very large problems).
    builder : {"vectorised", "loop"}
        Model builder (the loop builder is the benchmark baseline; both build the same model).

    Attributes
    ----------
    allocation_ : DataFrame
        ``code, name, region, wave``, ``<stream>_<year>`` (int64 pounds), ``total_<year>``,
        ``total``; one row per LA in code order.
    explain_ : DataFrame
        Waterfall per LA x stream x year (see :mod:`allocator.allocate.explain`).
    binding_ : DataFrame
        Constraints binding at the solution, with duals.
    shadow_prices_ : DataFrame
        Per stream-year: the budget row's dual (targets held fixed) and, in words, where £1m
        more would go (see :func:`allocator.allocate.explain.shadow_words`).
    pro_rata_ : ProRata
        The pro-rata scaled targets and ``lambda`` per stream-year (the published tie-break).
    status_ : str
        ``"optimal"`` after a successful solve.
    objective_value_ : float
        Policy-stage optimum (total deviation from target).
    objective_values_ : dict
        Optimum of every stage (``pro_rata`` is 0 when the allocation is exactly the pro-rata
        scaled targets before rounding).
    solve_verified_ : list of str
        Stages that were verified at the pro-rata scaled targets instead of solved (see
        :mod:`allocator.allocate.solve`); empty when every stage was solved.
    solver_name_, solver_version_ : str
    cross_check_max_diff_ : int or None
        Largest difference in pounds between the two solvers when cross-checking (see
        :mod:`allocator.allocate.crosscheck`: the second solver solves every stage itself).
    cross_check_cell_tolerance_ : int or None
        The pounds by which the two solvers' cells were allowed to differ.
    stages_ : list of StageRecord
        Per stage: solver, status, optimum, ``solved`` or ``proved`` (the verified pro-rata
        shortcut), and the cross-check solver's own optimum and the tolerance they agree to.
    presolve_issues_ : list
        Empty after a clean presolve.
    """

    def __init__(
        self,
        streams: Mapping[str, StreamConfig | Mapping[str, Any]],
        years: Sequence[str] | None = None,
        target: TargetConfig | None = None,
        floors: Sequence[FloorConfig] = (),
        caps: Sequence[CapConfig] = (),
        pace: PaceConfig | None = None,
        locks: Sequence[LockConfig] = (),
        objective: ObjectiveConfig | None = None,
        solver: SolverConfig | None = None,
        *,
        areas: pd.DataFrame | None = None,
        base_dir: str | Path | None = None,
        explain_marginal: bool = True,
        builder: str = "vectorised",
    ) -> None:
        self.streams = streams
        self.years = years
        self.target = target
        self.floors = floors
        self.caps = caps
        self.pace = pace
        self.locks = locks
        self.objective = objective
        self.solver = solver
        self.areas = areas
        self.base_dir = base_dir
        self.explain_marginal = explain_marginal
        self.builder = builder

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, config: AllocationConfig | Mapping[str, Any], areas: pd.DataFrame,
                    **kwargs: Any) -> AllocationProblem:
        """Build from an :class:`AllocationConfig` (or its raw mapping) and the areas table."""
        cfg = validate_allocation_config(config)
        return cls(
            streams=cfg.streams, years=cfg.years, target=cfg.target, floors=cfg.floors,
            caps=cfg.caps, pace=cfg.pace, locks=cfg.locks, objective=cfg.objective,
            solver=cfg.solver, areas=areas, **kwargs,
        )

    def config(self) -> AllocationConfig:
        """The parameters as one validated :class:`AllocationConfig`."""
        data: dict[str, Any] = {"streams": dict(self.streams), "floors": list(self.floors),
                                "caps": list(self.caps), "locks": list(self.locks)}
        if self.years is not None:
            data["years"] = list(self.years)
        for key in ("target", "pace", "objective", "solver"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return validate_allocation_config(data)

    def _prepare(self, areas: pd.DataFrame | None, cfg: AllocationConfig | None = None
                 ) -> tuple[AllocationConfig, Layout, Groups]:
        frame = areas if areas is not None else self.areas
        if frame is None:
            raise ConfigError("no areas table: pass areas= to AllocationProblem or to solve()")
        if self.builder not in BUILDERS:
            raise ConfigError(f"builder {self.builder!r} unknown; use 'vectorised' or 'loop'")
        cfg = cfg if cfg is not None else self.config()
        base = Path(self.base_dir) if self.base_dir is not None else None
        layout = build_layout(cfg, frame, base)
        return cfg, layout, build_groups(layout, cfg, base)

    def build(self, areas: pd.DataFrame | None = None) -> LpModel:
        """Build (but do not solve) the LP model."""
        cfg, layout, groups = self._prepare(areas)
        return BUILDERS[self.builder](layout, groups, cfg.objective,
                                      pro_rata_targets(layout, groups).value)

    # ------------------------------------------------------------------ steps
    def presolve(self, areas: pd.DataFrame | None = None) -> AllocationProblem:
        """Run the presolve checks.

        Raises
        ------
        ConfigError, InfeasibleError
            Listing every impossible part of the set-up in pounds and names.
        """
        cfg, layout, groups = self._prepare(areas)
        self.presolve_issues_: list[Issue] = presolve(layout, groups, cfg)
        return self

    def solve(self, areas: pd.DataFrame | None = None, *, check: bool = True
              ) -> AllocationProblem:
        """Solve, round, verify and explain.

        Parameters
        ----------
        areas : DataFrame, optional
        check : bool
            Run presolve first (default). Without it infeasible set-ups reach the solver and
            are explained by the elastic re-solve.

        Returns
        -------
        self

        Raises
        ------
        ConfigError, InfeasibleError, SolverError
        """
        cfg, layout, groups = self._prepare(areas)
        self.presolve_issues_ = presolve(layout, groups, cfg) if check else []
        scaled = pro_rata_targets(layout, groups)
        self._layout, self._groups, self._cfg, self._scaled = layout, groups, cfg, scaled
        self._pulp: LpModel | None = None
        try:
            lp, result, other = self._run_checked(layout, groups, cfg, scaled)
        except SolverInfeasible as exc:
            explain_infeasible(layout, groups, cfg.solver, exc.stage,
                               cell_units(layout, scaled.value))
            raise  # pragma: no cover - explain_infeasible always raises
        x_int = round_allocation(layout, groups, result.x)
        verify_cells(layout, groups, x_int)
        self.cross_check_max_diff_: int | None = None
        tolerances: dict[str, float] = {}
        if other is not None:
            tolerances, self.cross_check_max_diff_ = cross_check(layout, groups, lp, result,
                                                                 other, x_int)
        self.cross_check_cell_tolerance_: int | None = (
            int(tolerances["cells"]) if "cells" in tolerances else None)
        self.stages_: list[StageRecord] = stage_records(result, other, tolerances)
        self._result = result
        self._x_int = x_int
        self.allocation_ = self._wide(layout, x_int)
        verify_frame(layout, groups, self.allocation_)
        bound = binding(layout, groups, result.x, result.duals, result.reduced_costs)
        self.pro_rata_: ProRata = scaled
        self.explain_ = waterfall(layout, groups, result.x, x_int, bound, scaled)
        self.binding_ = bound.drop(columns="cell")
        marginal = self._marginal(areas, layout, cfg, x_int) if self.explain_marginal else None
        self.shadow_prices_ = shadow_words(layout, result.duals, marginal)
        self.status_ = "optimal"
        self.objective_values_ = dict(result.objectives)
        self.solve_verified_ = list(result.verified)
        self.objective_value_ = float(result.objectives["policy"])
        self.solver_name_ = result.solver
        self.solver_version_ = result.version
        return self

    def verify(self) -> AllocationProblem:
        """Re-check every constraint on :attr:`allocation_` (whole pounds).

        Raises
        ------
        SolverError
            Listing each broken constraint by name.
        """
        self._check_solved()
        verify_frame(self._layout, self._groups, self.allocation_)
        return self

    def write_model(self, path: str | Path, stage: str = "policy",
                    areas: pd.DataFrame | None = None) -> Path:
        """Write the exact model of ``stage`` as an LP (``.lp``) or MPS (``.mps``) file.

        Stages after the first include their ``hold_*`` rows (each earlier optimum plus the
        slack it was held with), so they need a solve first; any LP solver then reproduces the
        stage's optimum (:attr:`objective_values_`) within the tolerance the cross-check
        states. The objective's constant is the coefficient of a variable
        ``objective_constant`` fixed at 1. The content is deterministic (names sorted,
        coefficients to 12 significant digits).
        """
        path = Path(path)
        if hasattr(self, "_result"):
            model = self._pulp_model()
            holds = self._result.holds or {
                name: pulp.LpConstraint(pulp.LpAffineExpression(model.objectives[name[5:]]),
                                        pulp.LpConstraintLE, name, rhs)
                for name, rhs in self._result.hold_rhs.items()}
        else:
            model, holds = self.build(areas), {}
        if stage not in model.stages:
            raise ConfigError(f"unknown stage {stage!r}; stages are {model.stages}")
        before = model.stages[: model.stages.index(stage)]
        need = {f"hold_{s}" for s in before}
        if not need <= set(holds):
            raise ConfigError(f"stage {stage!r} holds the optimum of {before}: call solve() first")
        prob = model.problem(stage, {k: holds[k] for k in sorted(need)})
        const = float(prob.objective.constant)
        if const:
            # LP and MPS readers (GLPK's among them) take no constant in the objective: it
            # multiplies a variable fixed at 1, so every solver reports the stage's own value
            obj = prob.objective.copy()
            obj.constant = 0.0
            obj.addterm(prob.add_variable(OBJECTIVE_CONSTANT, 1, 1), const)
            obj.name = prob.objective.name
            prob.setObjective(obj)
        suffix = path.suffix.lower()
        if suffix not in (".lp", ".mps"):
            raise ConfigError(f"write_model needs a .lp or .mps path, got {path.name}")
        try:
            (prob.writeLP if suffix == ".lp" else prob.writeMPS)(str(path))
        except OSError as exc:  # PuLP's writes name no file (a full disk: "[Errno 28] ...")
            raise naming(exc, path) from exc
        return path

    # ------------------------------------------------------------------ helpers
    def _check_solved(self) -> None:
        if not hasattr(self, "allocation_"):
            raise ConfigError("call solve() before verify()")

    def _pulp_model(self) -> LpModel:
        """The PuLP model of the last solve (built on first use: CBC, model files)."""
        if getattr(self, "_pulp", None) is None:
            self._pulp = BUILDERS[self.builder](self._layout, self._groups, self._cfg.objective,
                                                self._scaled.value)
        return self._pulp

    def _stages(self, lp: MatrixLP, layout: Layout, cfg: AllocationConfig, scaled: ProRata,
                name: str, shortcut: bool = True) -> SolveResult:
        """Staged solve with ``name`` (HiGHS or CBC) on the scaled sparse model ``lp``."""
        breaks = (np.minimum(layout.target, scaled.value), np.maximum(layout.target, scaled.value))
        return staged_solve_matrix(lp, cell_units(layout, scaled.value), cfg.solver, name,
                                   scaled_targets=scaled.value, breaks=breaks, shortcut=shortcut)

    def _run_checked(self, layout: Layout, groups: Groups, cfg: AllocationConfig,
                     scaled: ProRata, context: str = ""
                     ) -> tuple[MatrixLP, SolveResult, SolveResult | None]:
        """The primary staged solve and, with ``solver.cross_check``, the second solver's,
        both on the same model (see :func:`.crosscheck.solve_checked`)."""
        lp = build_matrix(layout, groups, cfg.objective, scaled.value)
        result, other = solve_checked(
            lambda name, shortcut: self._stages(lp, layout, cfg, scaled, name, shortcut),
            cfg.solver.name, cfg.solver.cross_check, context)
        return lp, result, other

    @staticmethod
    def _wide(layout: Layout, x: np.ndarray) -> pd.DataFrame:
        out = layout.areas[["code", "name", "region", "wave"]].copy()
        n_areas = len(out)
        for s, stream in enumerate(layout.streams):
            for y, year in enumerate(layout.years):
                col = np.zeros(n_areas, dtype=np.int64)
                pos = layout.position[s, y]
                col[pos >= 0] = x[pos[pos >= 0]]
                out[money_column(stream, year)] = col
        for year in layout.years:
            cols = [money_column(s, year) for s in layout.streams]
            out[total_column(year)] = out[cols].sum(axis=1).astype(np.int64)
        money = money_columns(layout.streams, layout.years)
        out["total"] = out[money].sum(axis=1).astype(np.int64)
        return out

    def _marginal(self, areas: pd.DataFrame | None, layout: Layout, cfg: AllocationConfig,
                  x_int: np.ndarray) -> dict[str, pd.Series | str]:
        """Whole-pound change per cell when one stream-year has £1m more (see
        :func:`.marginal.marginal_gains`)."""
        return marginal_gains(layout, cfg, x_int, lambda c: self._prepare(areas, c),
                              self._run_checked)


def allocate(config: AllocationConfig | Mapping[str, Any], areas: pd.DataFrame,
             **kwargs: Any) -> AllocationProblem:
    """Convenience: ``AllocationProblem.from_config(config, areas, **kwargs).solve()``."""
    return AllocationProblem.from_config(config, areas, **kwargs).solve()


__all__ = ["AllocationProblem", "allocate"]
