"""One Monte Carlo draw carried through to whole pounds, exactly as ``allocator run`` does it.

A :class:`DrawContext` is built once per worker from the run's config and areas table. Per draw
it takes the uncertain choices of the rank Monte Carlo (:mod:`allocator.montecarlo.draws`:
indicator noise, Dirichlet weights, normaliser, aggregator and, when configured, the deprivation
measure), recomputes the need score, the need factor and the waves, and then runs the
allocation steps of :meth:`allocator.allocate.AllocationProblem.solve` on that draw's areas
table: cells and targets (:func:`~allocator.allocate.cells.build_layout`), constraint groups,
presolve, pro-rata scaled targets, the sparse model (:func:`~allocator.allocate.lp.build_matrix`),
the staged HiGHS solve (:func:`~allocator.allocate.staged.staged_solve_matrix`), whole-pound
rounding and the exact integer re-check of every rule
(:func:`~allocator.allocate.verify.check_cells`). The CBC cross-check of a run is not repeated
per draw.

Each draw's random numbers come from its own ``SeedSequence([seed, draw])`` (:func:`draw_seed`),
so a draw is the same whichever worker computes it and in whichever chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..allocate.cells import build_layout, check_areas
from ..allocate.config import AllocationConfig
from ..allocate.constraints import build_groups
from ..allocate.lp import build_matrix, cell_units
from ..allocate.presolve import presolve
from ..allocate.rounding import round_allocation
from ..allocate.scaling import pro_rata_targets
from ..allocate.solve import SolverInfeasible
from ..allocate.staged import staged_solve_matrix
from ..allocate.verify import check_cells
from ..errors import AllocatorError
from ..index.config import IndexConfig, UncertaintyConfig
from ..index.need_index import NeedIndex, need_factor, orient_and_transform, score_indicators
from ..index.ranking import rank_scores
from ..montecarlo.draws import DrawStreams, MonteCarloSetup, monte_carlo_setup
from ..waves import WavesConfig, assign_from_ranks

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Draw outcomes, as counted in the output.
OK, INFEASIBLE, FAILED, VERIFY_FAILED = "ok", "infeasible", "solver_failed", "verify_failed"
#: Solver used per draw (the run's primary solver path; no cross-check per draw).
SOLVER = "highs"


def draw_seed(seed: int, draw: int) -> int:
    """The 128-bit seed of draw ``draw``: two words of ``SeedSequence([seed, draw])``."""
    words = np.random.SeedSequence([int(seed), int(draw)]).generate_state(2, np.uint64)
    return (int(words[0]) << 64) | int(words[1])


@dataclass
class DrawOutcome:
    """What one draw produced.

    Attributes
    ----------
    status : str
        ``ok``, ``infeasible`` (presolve or the solver proved it), ``solver_failed`` or
        ``verify_failed`` (the whole pounds broke a rule; the allocation is not used).
    pounds : ndarray of int64 or None
        Whole pounds per stream x year x LA (``(S, Y, L)``, LAs in code order); ``None``
        unless ``ok``.
    message : str
        Why the draw failed (empty when ``ok``).
    waves : ndarray of int
        1-based wave per LA in this draw.
    """

    status: str
    pounds: IntArray | None
    message: str = ""
    waves: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


class DrawContext:
    """Everything a worker needs to carry draws to whole pounds, built once.

    Parameters
    ----------
    index_config : IndexConfig
    uncertainty_config : UncertaintyConfig
        The rank Monte Carlo's distributions (noise, weights, choices).
    waves_config : WavesConfig
    allocation_config : AllocationConfig
    frame : DataFrame
        The run's areas table (as :func:`allocator.pipeline.prepare` loads it).
    base_dir : path, optional
        Folder relative floor and eligibility files are read from (the data directory).
    elasticity : (float, float), optional
        Draw the elasticity of every ``need_weighted_population`` target uniformly from this
        range, one value per draw (:mod:`allocator.allocate.targets`).
    """

    def __init__(
        self,
        index_config: IndexConfig,
        uncertainty_config: UncertaintyConfig,
        waves_config: WavesConfig,
        allocation_config: AllocationConfig,
        frame: pd.DataFrame,
        base_dir: str | Path | None = None,
        elasticity: tuple[float, float] | None = None,
    ) -> None:
        self.index_config = index_config
        self.uncertainty_config = uncertainty_config
        self.waves_config = waves_config
        self.allocation_config = allocation_config
        self.base_dir = None if base_dir is None else Path(base_dir)
        self.elasticity = elasticity
        if elasticity is not None:
            check_elasticity(allocation_config, elasticity)
        self.index = NeedIndex(index_config, tie_break=waves_config.tie_break).fit(frame)
        self.setup: MonteCarloSetup
        self.setup, self.notes = monte_carlo_setup(
            self.index, uncertainty_config, waves_config, index_config
        )
        plain = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
        nf, waves = self.published_need_and_waves()
        plain = plain.sort_values("code", kind="mergesort").reset_index(drop=True)
        # checked once here; per draw only need_factor and wave change (checked in allocate)
        self.areas = check_areas(plain.assign(need_factor=nf, wave=waves))
        self.codes = self.index.areas_["code"].astype(str).to_numpy()
        if list(self.areas["code"].astype(str)) != list(self.codes):  # pragma: no cover
            raise AllocatorError("the areas table and the need index list different LAs")
        self.streams = list(allocation_config.streams)
        self.years = allocation_config.resolved_years()
        self.shape = (len(self.streams), len(self.years), len(self.codes))

    # ------------------------------------------------------------------ the uncertain choices
    def inputs(self, draws: range) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
        """Noisy values (m, K, L), weights (m, K), normaliser and aggregator indices (m,).

        Each draw ``i`` uses its own :class:`~allocator.montecarlo.draws.DrawStreams` seeded
        with :func:`draw_seed` (``seed``, ``i``), so the values do not depend on the chunking.
        """
        seed = self.uncertainty_config.seed
        parts = [DrawStreams(draw_seed(seed, i)).draw(self.setup, 1) for i in draws]
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
            np.concatenate([p[3] for p in parts]),
        )

    def need_and_waves(
        self, noisy: FloatArray, weights: FloatArray, normaliser: IntArray, aggregator: IntArray
    ) -> tuple[FloatArray, IntArray]:
        """Need factor (m, L) and 1-based waves (m, L) of a block of draws."""
        s = self.setup
        oriented = orient_and_transform(noisy, s.specs)
        scores = np.empty((noisy.shape[0], noisy.shape[2]))
        for j, norm in enumerate(s.normalisers):
            for a, agg in enumerate(s.aggregators):
                mask = (normaliser == j) & (aggregator == a)
                if mask.any():
                    scores[mask] = score_indicators(
                        oriented[mask], norm, weights[mask], agg
                    ).score
        ranks = rank_scores(scores, s.tb_position)
        waves = assign_from_ranks(ranks, s.sizes, s.locked, s.allowed) + 1
        nf = self.index_config.need_factor
        factor = np.stack([need_factor(row, nf.low, nf.high) for row in scores])
        return factor, waves.astype(np.int64)

    def published_need_and_waves(self) -> tuple[FloatArray, IntArray]:
        """The unperturbed need factor and waves, computed as the run computes them."""
        s = self.setup
        nf = self.index.need_factor_.to_numpy(dtype=float)
        waves = assign_from_ranks(self.index.rank_.to_numpy(), s.sizes, s.locked, s.allowed) + 1
        return nf, np.asarray(waves, dtype=np.int64)

    # ------------------------------------------------------------------ whole pounds
    def allocate(self, need: FloatArray, waves: IntArray, *, config: AllocationConfig | None = None
                 ) -> DrawOutcome:
        """The staged LP, whole pounds and the exact re-check of every rule, for one draw.

        Never raises for a draw that cannot be allocated: the outcome says why.
        """
        cfg = config if config is not None else self.allocation_config
        need = np.asarray(need, dtype=float)
        waves = np.asarray(waves, dtype=np.int64)
        if not (np.isfinite(need).all() and (need >= 0).all() and (waves >= 1).all()):
            return DrawOutcome(FAILED, None, "need factor or wave out of range", waves)
        areas = self.areas.copy()
        areas["need_factor"] = need
        areas["wave"] = waves
        try:
            layout = build_layout(cfg, areas, self.base_dir, checked=True)
            groups = build_groups(layout, cfg, self.base_dir)
            presolve(layout, groups, cfg)
            scaled = pro_rata_targets(layout, groups)
            lp = build_matrix(layout, groups, cfg.objective, scaled.value)
            breaks = (np.minimum(layout.target, scaled.value),
                      np.maximum(layout.target, scaled.value))
            result = staged_solve_matrix(lp, cell_units(layout, scaled.value), cfg.solver, SOLVER,
                                         scaled_targets=scaled.value, breaks=breaks, shortcut=True)
            x_int = round_allocation(layout, groups, result.x)
        except SolverInfeasible as exc:
            return DrawOutcome(INFEASIBLE, None, f"the solver proved the {exc.stage} stage "
                               "infeasible", waves)
        except AllocatorError as exc:
            kind = FAILED if type(exc).__name__ == "SolverError" else INFEASIBLE
            return DrawOutcome(kind, None, " ".join(str(exc).split()), waves)
        problems = self.check(layout, groups, x_int)
        if problems:
            return DrawOutcome(VERIFY_FAILED, None, "; ".join(problems[:3]), waves)
        out = np.zeros(self.shape, dtype=np.int64)
        out[layout.stream, layout.year, layout.area] = x_int
        return DrawOutcome(OK, out, "", waves)

    def check(self, layout: Any, groups: Any, x_int: IntArray) -> list[str]:
        """Every broken rule of the whole pounds ``x_int`` (exact integer arithmetic)."""
        return check_cells(layout, groups, x_int)

    def elasticities(self, draws: range) -> list[float] | None:
        """Each draw's target elasticity (its own ``SeedSequence([seed, draw, 1])``), if drawn."""
        if self.elasticity is None:
            return None
        seed = self.uncertainty_config.seed
        u = [np.random.default_rng(np.random.SeedSequence([int(seed), int(i), 1])).random()
             for i in draws]
        return self.scale_elasticity(np.asarray(u, dtype=float))

    def scale_elasticity(self, u: FloatArray) -> list[float]:
        """Uniforms in [0, 1) mapped onto the elasticity range."""
        assert self.elasticity is not None
        lo, hi = self.elasticity
        return [float(lo + (hi - lo) * x) for x in u]

    def _allocate_all(self, need: FloatArray, waves: IntArray, elasticity: list[float] | None
                      ) -> list[DrawOutcome]:
        out = []
        for j in range(need.shape[0]):
            cfg = None if elasticity is None else with_elasticity(self.allocation_config,
                                                                  elasticity[j])
            out.append(self.allocate(need[j], waves[j], config=cfg))
        return out

    def run_draws(self, draws: range) -> list[DrawOutcome]:
        """Carry draws ``draws`` (indices) to whole pounds, in order."""
        if len(draws) == 0:
            return []
        need, waves = self.need_and_waves(*self.inputs(draws))
        return self._allocate_all(need, waves, self.elasticities(draws))

    def run_central(self) -> DrawOutcome:
        """The unperturbed draw: the published choices, which must give the run's allocation."""
        return self.allocate(*self.published_need_and_waves())

    def run_inputs(self, inputs: tuple[FloatArray, FloatArray, IntArray, IntArray],
                   elasticity: list[float] | None = None) -> list[DrawOutcome]:
        """Carry given inputs (e.g. the rows of a Saltelli design) to whole pounds."""
        need, waves = self.need_and_waves(*inputs)
        return self._allocate_all(need, waves, elasticity)


def _nwp_targets(config: AllocationConfig) -> list[str]:
    where = ["allocation.target"] if config.target.basis == "need_weighted_population" else []
    where += [f"allocation.streams.{name}.target" for name, st in config.streams.items()
              if st.target is not None and st.target.basis == "need_weighted_population"]
    return where


def check_elasticity(config: AllocationConfig, elasticity: tuple[float, float]) -> None:
    """Raise ConfigError unless the range is valid and some target has an elasticity."""
    from ..errors import ConfigError

    lo, hi = elasticity
    if not 0 <= lo <= hi <= 10:
        raise ConfigError(f"pounds_uncertainty.elasticity: need 0 <= low <= high <= 10, got "
                          f"[{lo:g}, {hi:g}]")
    if not _nwp_targets(config):
        raise ConfigError("pounds_uncertainty.elasticity draws the elasticity of a "
                          "need_weighted_population target, but no stream uses one (set "
                          "allocation.target.basis: need_weighted_population, or leave the "
                          "elasticity out)")


def with_elasticity(config: AllocationConfig, elasticity: float) -> AllocationConfig:
    """``config`` with every ``need_weighted_population`` target's elasticity replaced."""
    update: dict[str, Any] = {}
    if config.target.basis == "need_weighted_population":
        update["target"] = config.target.model_copy(update={"elasticity": elasticity})
    streams = {}
    for name, st in config.streams.items():
        if st.target is not None and st.target.basis == "need_weighted_population":
            st = st.model_copy(update={"target": st.target.model_copy(
                update={"elasticity": elasticity})})
        streams[name] = st
    update["streams"] = streams
    return config.model_copy(update=update)


def cell_vector(pounds: IntArray) -> IntArray:
    """The summarised cells of one draw: every stream x year x LA (``(S, Y, L)`` flattened),
    then each LA's total over every stream and year."""
    return np.concatenate([pounds.ravel(), pounds.sum(axis=(0, 1))])


def context_from_run_config(config: Any, frame: pd.DataFrame, base_dir: str | Path | None,
                            elasticity: tuple[float, float] | None = None) -> DrawContext:
    """A :class:`DrawContext` for a :class:`~allocator.config.RunConfig`."""
    ucfg = config.uncertainty
    if not ucfg.enabled:
        ucfg = ucfg.model_copy(update={"enabled": True})
    return DrawContext(config.index, ucfg, config.waves, config.allocation, frame, base_dir,
                       elasticity)


__all__ = ["DrawContext", "DrawOutcome", "draw_seed", "context_from_run_config",
           "cell_vector", "OK", "INFEASIBLE", "FAILED", "VERIFY_FAILED", "SOLVER"]
