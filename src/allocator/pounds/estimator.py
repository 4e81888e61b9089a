"""How uncertain is each LA's *money*? Monte Carlo through the whole allocation, in pounds.

:class:`PoundsUncertainty` draws the rank Monte Carlo's uncertain choices, carries every draw
through index -> waves -> targets -> the staged LP -> whole pounds -> the exact check of every
rule (:mod:`.draw`), and summarises each LA x stream x year's amounts in a mergeable sketch
(:mod:`.sketch`): published amount, P5 / P50 / P95, mean, and the probability of receiving less
than a stated share of the published amount. A draw that cannot be allocated or whose pounds
break a rule is counted and listed, never used and never dropped silently.

Attribution in pounds reuses the Saltelli design of the wave-1 attribution
(:class:`allocator.montecarlo.WaveSensitivity`: same factors, same scrambled Sobol' points for
the same seed and sample size): each design row is carried to whole pounds, and per cell the
total-order index (Jansen's estimator, ``mean((A - AB_j)^2) / (2 Var)``) says which choice moves
that amount most; over all cells the multivariate indices of :func:`allocator.montecarlo.sobol.
multivariate_indices` (variances in pounds squared, summed over cells) with bootstrap intervals.
"""

from __future__ import annotations

import time
import uuid
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..columns import TOTAL, money_column
from ..errors import ConfigError
from ..progress import progress_bar
from .draw import SOLVER, DrawContext, cell_vector
from .parallel import Task, WorkSpec, run_tasks, tasks
from .precision import percentile_caveat
from .sketch import PoundsSketch, bin_edges

#: Quantiles reported, by column.
QUANTILES = {"p05": 0.05, "p50": 0.5, "p95": 0.95}
#: Failed draws listed by index (all are counted).
MAX_LISTED = 20


class PoundsUncertainty:
    """Monte Carlo distribution of every LA's whole pounds per stream and year.

    Parameters
    ----------
    n_draws : int
        Monte Carlo draws (1 to 1,000,000).
    random_state : int, optional
        Seed; draw ``i`` uses ``SeedSequence([random_state, i])``. Default: the run's
        ``uncertainty.seed``.
    n_jobs : int
        Local worker processes (1: in this process). Results do not depend on it.
    scheduler : str or dask.distributed.Client, optional
        A Dask scheduler address (``tcp://host:8786``); overrides ``n_jobs``.
    share : float
        The "less than this share of the published amount" threshold, in (0, 1].
    sobol_samples : int
        Base samples ``N`` of the Saltelli design for the attribution in pounds (0: none);
        ``N * (factors + 2)`` extra allocations.
    chunk_size : int
        Draws per task. Tasks are fixed by draw index and merged exactly, so results do not
        depend on it (only speed and progress granularity do).
    progress : bool, optional
        A tqdm bar; ``None``: only when stderr is a terminal.
    elasticity : (float, float), optional
        Also draw the elasticity of the ``need_weighted_population`` target(s) uniformly from
        this range (its own stream per draw; one more factor in the attribution).

    Attributes
    ----------
    results_ : DataFrame
        One row per LA x stream x year (code order, then stream, then year): ``code, name,
        region, stream, year, published, p05, p50, p95, mean, p_below, pop_all,
        width_per_head, moved_most_by, moved_most_st``.
    attribution_ : DataFrame or None
        One row per factor: ``factor, varied, S1, S1_conf, ST, ST_conf`` over all cells.
    draws_ok_ : int
    failures_ : dict of str to int
        Failed draws by outcome (``infeasible``, ``solver_failed``, ``verify_failed``).
    failed_draws_ : list of (int, str, str)
        The first :data:`MAX_LISTED` failed draws: index, outcome, reason.
    design_runs_, design_failed_ : int
    central_matches_ : bool or None
        Whether the unperturbed draw reproduced the ``published`` allocation exactly
        (``None`` when no published allocation was given).
    p_wave_ : ndarray, shape (L, W)
        Share of draws putting each LA in each wave.
    elapsed_, cpu_seconds_ : float
        Wall and CPU seconds of :meth:`fit` in this process.
    worker_cpu_seconds_ : float
        CPU seconds the tasks took where they ran (this process, pool workers or the cluster).
    where_ : str
        Where the draws ran.
    percentile_caveat_ : str or None
        Set when fewer than :data:`~.precision.MIN_PERCENTILE_DRAWS` draws were allocated: why P5 and P95
        are not supported (every output of ``allocator uncertainty`` repeats it).
    notes_ : list of str
    run_had_rank_uncertainty_ : bool
        Whether the run's own config had its rank uncertainty switched on (the draws take the
        choices of its ``uncertainty`` section either way).
    """

    def __init__(self, n_draws: int = 1000, random_state: int | None = None, n_jobs: int = 1,
                 scheduler: Any = None, share: float = 0.9, sobol_samples: int = 64,
                 chunk_size: int = 25, progress: bool | None = None,
                 elasticity: tuple[float, float] | None = None) -> None:
        self.n_draws = n_draws
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.scheduler = scheduler
        self.share = share
        self.sobol_samples = sobol_samples
        self.chunk_size = chunk_size
        self.progress = progress
        self.elasticity = elasticity

    def _check_params(self) -> None:
        if not isinstance(self.n_draws, int) or not 1 <= self.n_draws <= 1_000_000:
            raise ValueError(f"n_draws must be an integer from 1 to 1,000,000, got {self.n_draws!r}")
        if not isinstance(self.n_jobs, int) or self.n_jobs < 1:
            raise ValueError(f"n_jobs must be an integer of at least 1, got {self.n_jobs!r}")
        if not 0 < float(self.share) <= 1:
            raise ValueError(f"share must be in (0, 1], got {self.share!r}")
        if not isinstance(self.sobol_samples, int) or self.sobol_samples < 0:
            raise ValueError(f"sobol_samples must be an integer >= 0, got {self.sobol_samples!r}")
        if self.random_state is not None and (not isinstance(self.random_state, int)
                                              or self.random_state < 0):
            raise ValueError(f"random_state must be None or an integer >= 0, got "
                             f"{self.random_state!r}")
        if self.elasticity is not None and (len(self.elasticity) != 2 or
                                            not 0 <= self.elasticity[0] <= self.elasticity[1]):
            raise ValueError(f"elasticity must be (low, high) with 0 <= low <= high, got "
                             f"{self.elasticity!r}")
        if not isinstance(self.chunk_size, int) or self.chunk_size < 1:
            raise ValueError(f"chunk_size must be an integer >= 1, got {self.chunk_size!r}")

    def fit(self, config: Any, frame: pd.DataFrame, base_dir: str | Path | None = None,
            published: pd.DataFrame | None = None, *, inject_failure: int | None = None
            ) -> PoundsUncertainty:
        """Run the draws and summarise them.

        Parameters
        ----------
        config : RunConfig
            The run's config.
        frame : DataFrame
            The run's areas table (:func:`allocator.pipeline.prepare`).
        base_dir : path, optional
            The data directory (floor and eligibility files).
        published : DataFrame, optional
            The run's ``allocation.csv``; the unperturbed draw must reproduce it exactly.
        inject_failure : int, optional
            Test hook: corrupt this draw's pounds so the exact check must report it.

        Raises
        ------
        ValueError
            A parameter out of range.
        ConfigError
            The unperturbed draw does not reproduce ``published`` (data or code changed since
            the run), or it cannot be allocated.
        """
        self._check_params()
        start, cpu0 = time.perf_counter(), time.process_time()
        seed = config.uncertainty.seed if self.random_state is None else int(self.random_state)
        ucfg = config.uncertainty.model_copy(update={"enabled": True, "seed": seed})
        configs = (config.index, ucfg, config.waves, config.allocation)
        plain = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
        ctx = DrawContext(*configs, plain, base_dir,
                          None if self.elasticity is None else tuple(self.elasticity))
        central = ctx.run_central()
        if central.pounds is None:
            raise ConfigError("the unperturbed draw (the published choices) cannot be allocated: "
                              f"{central.message}")
        self.central_matches_ = None
        if published is not None:
            self.central_matches_ = self._matches(ctx, central.pounds, published)
            if not self.central_matches_:
                raise ConfigError(
                    "the unperturbed draw does not reproduce the run's allocation.csv exactly, so "
                    "the data or the engine changed since the run; re-run its config first")
        budget = max((int(v) for st in config.allocation.streams.values()
                      for v in st.budget.values()), default=0)
        design = self._design(ctx, seed) if self.sobol_samples else None
        spec = WorkSpec(uuid.uuid4().hex, configs, plain, None if base_dir is None else
                        str(base_dir), cell_vector(central.pounds), Fraction(str(self.share)),
                        bin_edges(budget), design, inject_failure, self.elasticity)
        sketch = PoundsSketch(spec.published, spec.share, spec.edges)
        n_design = 0 if design is None else design.shape[0]
        design_out = np.full((n_design, spec.published.size), -1, dtype=np.int64)
        wave_counts = np.zeros((len(ctx.codes), len(ctx.setup.sizes)), dtype=np.int64)
        failures: dict[str, int] = {}
        pending: list[PoundsSketch] = []
        listed: list[tuple[int, str, str]] = []

        worker_cpu = [0.0]

        def on_result(task: Task, answer: Any) -> None:
            kind, lo, hi = task
            result, cpu = answer
            worker_cpu[0] += cpu
            if kind == "design":
                design_out[lo:hi] = result
                return
            part, failed, waves = result
            pending.append(part)
            if sum(p.keys.size for p in pending) > max(sketch.keys.size, 1 << 16):
                sketch.merge(*pending)  # in batches: one sort per batch, not per task
                pending.clear()
            for w in range(wave_counts.shape[1]):
                wave_counts[:, w] += (waves == w + 1).sum(axis=0)
            for item in failed:
                failures[item[1]] = failures.get(item[1], 0) + 1
                listed.append(item)
            if len(listed) > 2 * MAX_LISTED:  # memory bound: keep the lowest draw indices
                listed[:] = sorted(listed)[:MAX_LISTED]

        todo = tasks(self.n_draws, self.chunk_size, n_design)
        with progress_bar(self.progress, self.n_draws + n_design,
                          "pounds uncertainty") as bar:
            self.where_ = run_tasks(spec, todo, n_jobs=self.n_jobs, scheduler=self.scheduler,
                                    on_result=on_result, progress=bar.update)
        sketch.merge(*pending)
        self.draws_ok_ = sketch.n
        self.failures_ = dict(sorted(failures.items()))
        self.failed_draws_ = sorted(listed)[:MAX_LISTED]
        self.p_wave_ = wave_counts / self.n_draws
        self.sketch_ = sketch
        self.context_ = ctx
        self.random_state_ = seed
        self.run_had_rank_uncertainty_ = bool(config.uncertainty.enabled)
        self.results_ = self._table(ctx, sketch, central.pounds)
        self.attribution_ = None
        self.design_runs_ = n_design
        self.design_failed_ = int((design_out[:, 0] < 0).sum()) if n_design else 0
        if design is not None:
            self._attribute(ctx, design_out)
        # rows by LA (code order), then stream, then year, then the LA's total
        s_, y_, n_la = ctx.shape
        cell = np.arange(s_ * y_ * n_la + n_la)
        sy = np.where(cell < s_ * y_ * n_la, cell // n_la, s_ * y_)
        order = np.lexsort((sy, cell % n_la))
        self.results_ = self.results_.iloc[order].reset_index(drop=True)
        self.elapsed_ = time.perf_counter() - start
        self.cpu_seconds_ = time.process_time() - cpu0
        self.worker_cpu_seconds_ = worker_cpu[0]
        self.percentile_caveat_ = percentile_caveat(self.draws_ok_)
        self.notes_ = self._notes(ctx, seed)
        return self

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _matches(ctx: DrawContext, pounds: np.ndarray, published: pd.DataFrame) -> bool:
        table = published.assign(code=published["code"].astype(str)).set_index("code")
        if set(table.index) != set(ctx.codes):
            return False
        table = table.loc[list(ctx.codes)]
        for s, stream in enumerate(ctx.streams):
            for y, year in enumerate(ctx.years):
                col = money_column(stream, year)
                if col not in table.columns or not np.array_equal(
                        table[col].to_numpy(dtype=np.int64), pounds[s, y]):
                    return False
        return True

    def _design(self, ctx: DrawContext, seed: int) -> np.ndarray:
        """The wave attribution's Saltelli design (same seed derivation and sample size N)."""
        from ..montecarlo.sensitivity import WaveSensitivity
        from ..montecarlo.sobol import saltelli_design

        factors = [f for f in WaveSensitivity._factors(ctx.setup) if f.varied]
        if ctx.elasticity is not None:  # one more factor, the design's last column
            from ..montecarlo.sobol import Factor

            lo, hi = ctx.elasticity
            factors.append(Factor("target elasticity", 1,
                                  f"target elasticity uniform in [{lo:g}, {hi:g}]"))
        design_ss, _ = np.random.SeedSequence(seed).spawn(2)
        d = saltelli_design([f.width for f in factors], self.sobol_samples,
                            np.random.default_rng(design_ss))
        self.factors_ = factors
        return d.reshape(-1, d.shape[-1])

    def _attribute(self, ctx: DrawContext, values: np.ndarray) -> None:
        from scipy import special

        from ..montecarlo.sobol import multivariate_indices, split_runs

        g = len(self.factors_)
        n = self.sobol_samples
        y = values.reshape(n, g + 2, -1)
        keep = (y[:, :, 0] >= 0).all(axis=1)  # a block with any failed run is left out
        y = y[keep].astype(float)
        names = [f.name for f in self.factors_]
        if y.shape[0] < 2 or g == 0:
            self.results_["moved_most_by"] = "not attributed"
            self.results_["moved_most_st"] = np.nan
            return
        a, b, ab = split_runs(y, g)
        var = np.concatenate([a, b]).var(axis=0)  # (C,)
        st = 0.5 * ((a[None] - ab) ** 2).mean(axis=1)  # (G, C)
        with np.errstate(invalid="ignore", divide="ignore"):
            st = np.where(var > 0, st / np.where(var > 0, var, 1.0), 0.0)
        top = st.argmax(axis=0)
        self.results_["moved_most_by"] = np.where(var > 0, np.array(names, dtype=object)[top],
                                                  "nothing (the same in every sample)")
        self.results_["moved_most_st"] = np.where(var > 0, st.max(axis=0), 0.0).round(3)
        r = np.random.default_rng(np.random.SeedSequence(self.random_state_).spawn(2)[1]
                                  ).integers(y.shape[0], size=(y.shape[0], 100))
        s1, s1c, stt, stc, _ = multivariate_indices(y, g, r, float(special.ndtri(0.975)))
        self.attribution_ = pd.DataFrame({"factor": names, "S1": s1, "S1_conf": s1c,
                                          "ST": stt, "ST_conf": stc})
        self.attribution_blocks_ = int(keep.sum())

    def _table(self, ctx: DrawContext, sketch: PoundsSketch, central: np.ndarray
               ) -> pd.DataFrame:
        s, y, n_la = ctx.shape
        area = np.tile(np.arange(n_la), s * y + 1)
        stream = np.r_[np.repeat(np.arange(s), y * n_la), np.full(n_la, s)]
        year = np.r_[np.tile(np.repeat(np.arange(y), n_la), s), np.full(n_la, y)]
        areas = ctx.areas
        period = f"{ctx.years[0]} to {ctx.years[-1]}" if len(ctx.years) > 1 else ctx.years[0]
        out = pd.DataFrame({
            "code": ctx.codes[area],
            "name": areas["name"].to_numpy()[area],
            "region": areas["region"].to_numpy()[area],
            "stream": np.array([*ctx.streams, TOTAL], dtype=object)[stream],
            "year": np.array([*ctx.years, period], dtype=object)[year],
            "published": cell_vector(central),
        })
        if sketch.n:
            qs = sketch.quantiles(list(QUANTILES.values()))
            for j, col in enumerate(QUANTILES):
                out[col] = qs[j]
            out["mean"] = sketch.mean().round(2)
            out["p_below"] = sketch.p_below().round(6)
        else:
            for col in [*QUANTILES, "mean", "p_below"]:
                out[col] = np.nan
        pop = areas["pop_all"].to_numpy(dtype=float)[area]
        out["pop_all"] = pop
        out["width_per_head"] = ((out["p95"] - out["p05"]) / np.where(pop > 0, pop, np.nan)).round(4)
        return out

    def _notes(self, ctx: DrawContext, seed: int) -> list[str]:
        fails = sum(self.failures_.values())
        notes = [
            f"pounds uncertainty: {self.n_draws:,} Monte Carlo draws (seed {seed}), each carried "
            f"through the need index, the waves, the targets, the staged LP ({SOLVER}) and "
            "whole-pound rounding, every rule re-checked exactly on the whole pounds; "
            f"{self.draws_ok_:,} allocated, {fails:,} failed"
            + ("" if not fails else " (" + ", ".join(f"{v} {k}" for k, v in self.failures_.items())
               + ")"),
            "the CBC cross-check of a run is not repeated per draw",
        ]
        if self.elasticity is not None:
            lo, hi = self.elasticity
            notes.append(f"target elasticity drawn uniformly from [{lo:g}, {hi:g}] per draw")
        if self.attribution_ is not None:
            notes.append(
                f"attribution in pounds: Saltelli design, N = {self.sobol_samples} "
                f"({self.design_runs_} allocations, {self.design_failed_} failed, "
                f"{self.attribution_blocks_} complete blocks used)")
        return notes + list(ctx.notes)


__all__ = ["PoundsUncertainty", "QUANTILES"]
