"""The Monte Carlo set-up shared by the rank uncertainty and the Sobol' attribution.

One draw perturbs the indicator values, the weights and the method choices, recomputes the
index, ranks it with the published tie-break and cuts the ranking into the published waves.
:func:`monte_carlo_setup` fixes everything a draw needs (noise scales, truncation floors,
Dirichlet parameters, choice lists, tie-break positions, wave sizes and locks);
:func:`evaluate_blocks` evaluates blocks of draws with
:func:`allocator.montecarlo.kernel.evaluate_block`, :func:`evaluate_draw` one draw (the per-draw
baseline) and :func:`evaluate_draws` a block through the same index functions as the baseline
(the reference the kernel is tested against); :func:`chunk_draws` sizes blocks by array
elements, so memory stays within a fixed budget whatever the number of areas.

:class:`~allocator.montecarlo.uncertainty.RankUncertainty` feeds these functions with Gaussian
noise and Dirichlet weights from seeded streams (:class:`DrawStreams`);
:class:`~allocator.montecarlo.sensitivity.WaveSensitivity` feeds them the same distributions
through quantile functions of a Saltelli design.

This package sits downstream of :mod:`allocator.index` and :mod:`allocator.waves` (data flows
data -> index -> waves -> Monte Carlo), so neither of those imports it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..index.config import IndexConfig, IndicatorSpec, UncertaintyConfig
from ..index.deprivation import deprivation_setup
from ..index.need_index import NeedIndex, orient_and_transform, score_indicators
from ..index.ranking import rank_scores
from ..waves import WavesConfig, assign_from_ranks, lock_arrays
from .kernel import evaluate_block

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Default memory budget of one block of draws, in array elements of the widest
#: (draws x indicators x areas) array. A block holds a few such float64 arrays at once, so
#: 2**21 elements keep a block's working set near 100 MB whatever the number of areas.
CHUNK_ELEMENTS = 1 << 21


@dataclass(frozen=True)
class MonteCarloSetup:
    """Everything a draw needs, fixed before the first draw.

    Attributes
    ----------
    specs : list of IndicatorSpec
        The index's indicators, in order (axis ``K`` below).
    raw : ndarray, shape (K, L)
        Unperturbed indicator values (after imputation), LAs in ``index.areas_`` order.
    sd : ndarray, shape (K, L)
        Standard deviation of each value's Gaussian noise.
    floor : ndarray, shape (K,)
        Lower truncation of each indicator's noisy values (``-inf``: none).
    weights : ndarray, shape (K,)
        Centre of the weights, summing to 1.
    alpha : ndarray or None
        Dirichlet parameters over the positive weights; ``None`` keeps the weights fixed.
    positive : ndarray of bool, shape (K,)
        Indicators whose weight is drawn.
    normalisers, aggregators : list of str
        The method choices drawn from.
    tb_position : ndarray of int, shape (L,)
        Position of each LA in the published tie-break order.
    sizes : list of int
        Wave sizes.
    locked, allowed : ndarray
        Wave locks and allowed waves (:func:`allocator.waves.lock_arrays`).
    deprivations : tuple of str
        Deprivation measures drawn for indicator ``dep_slot`` (empty: none drawn), with their
        values ``dep_raw``, noise ``dep_sd`` (each shape (C, L)) and floors ``dep_floor`` (C,).
    """

    specs: list[IndicatorSpec]
    raw: FloatArray
    sd: FloatArray
    floor: FloatArray
    weights: FloatArray
    alpha: FloatArray | None
    positive: NDArray[np.bool_]
    normalisers: list[str]
    aggregators: list[str]
    tb_position: IntArray
    sizes: list[int]
    locked: IntArray
    allowed: NDArray[np.bool_]
    deprivations: tuple[str, ...] = ()
    dep_slot: int = -1
    dep_raw: FloatArray | None = None
    dep_sd: FloatArray | None = None
    dep_floor: FloatArray | None = None


def monte_carlo_setup(
    index: NeedIndex,
    uncertainty_config: UncertaintyConfig,
    waves_config: WavesConfig,
    index_config: IndexConfig | None = None,
) -> tuple[MonteCarloSetup, list[str]]:
    """Noise scales, floors, weights, choices and wave rules of a fitted index.

    Parameters
    ----------
    index : NeedIndex
        Fitted on the areas table.
    uncertainty_config : UncertaintyConfig
        Noise, weight concentration and method choices.
    waves_config : WavesConfig
        Wave sizes and locks.
    index_config : IndexConfig, optional
        The index's own normaliser and aggregator, used when the uncertainty config lists no
        choices (default :class:`IndexConfig` ()).

    Returns
    -------
    setup : MonteCarloSetup
    notes : list of str
        Plain-English notes (e.g. LAs whose death rate has no published interval).

    Raises
    ------
    ConfigError
        Wave sizes or locks that do not fit the areas table.
    """
    ucfg = uncertainty_config
    icfg = index_config or IndexConfig()
    specs = index.indicators_
    raw = index.raw_.to_numpy().T.copy()
    areas = index.areas_
    notes: list[str] = []
    sd = np.empty_like(raw)
    floor = np.full(len(specs), -np.inf)
    for k, spec in enumerate(specs):
        x = raw[k]
        e = ucfg.relative_error if spec.relative_error is None else spec.relative_error
        scale = np.abs(x) if np.all(x > 0) else np.full_like(x, x.std())
        sd[k] = e * scale
        if (
            spec.name == "drug_deaths_rate"
            and spec.relative_error is None
            and ucfg.use_death_rate_interval
        ):
            lcl = _column(areas, "drug_deaths_lcl")
            ucl = _column(areas, "drug_deaths_ucl")
            ok = ~np.isnan(lcl) & ~np.isnan(ucl) & ~index.missing_[spec.name].to_numpy()
            sd[k] = np.where(ok, (ucl - lcl) / 3.92, sd[k])
            if not ok.all():
                codes = areas["code"].to_numpy()[~ok]
                notes.append(
                    f"uncertainty: no 95% interval for the death rate of {len(codes)} LA(s) "
                    f"({', '.join(codes)}); relative error {e:g} used instead"
                )
        if spec.transform == "log":
            floor[k] = 0.5 * x.min()
        elif np.all(x >= 0):
            floor[k] = 0.0
    weights = index.weights_["weight"].to_numpy(dtype=float)
    positive = weights > 0
    c = ucfg.weight_concentration
    alpha = c * weights[positive] if c > 0 and positive.sum() > 1 else None
    sizes = waves_config.resolve_sizes(raw.shape[1])
    locked, allowed = lock_arrays(waves_config, list(areas["code"]), sizes)
    dep = deprivation_setup(specs, areas, ucfg) if ucfg.deprivation_choices else {}
    setup = MonteCarloSetup(
        specs=list(specs),
        raw=raw,
        sd=sd,
        floor=floor,
        weights=weights,
        alpha=alpha,
        positive=positive,
        normalisers=list(ucfg.normalise_choices or [icfg.normalise]),
        aggregators=list(ucfg.aggregate_choices or [icfg.aggregate]),
        tb_position=index.tie_break_position_,
        sizes=sizes,
        locked=locked,
        allowed=allowed,
        **dep,
    )
    return setup, notes


def chunk_draws(setup: MonteCarloSetup, max_draws: int, elements: int = CHUNK_ELEMENTS) -> int:
    """Draws per block: as many as fit ``elements`` (draws x indicators x areas), at most ``max_draws``.

    Raises
    ------
    ValueError
        If ``max_draws`` or ``elements`` is below 1.
    """
    if max_draws < 1:
        raise ValueError(f"max_draws must be at least 1, got {max_draws}")
    if elements < 1:
        raise ValueError(f"elements must be at least 1, got {elements}")
    per_draw = max(1, setup.raw.size)
    return int(max(1, min(max_draws, elements // per_draw)))


def evaluate_draws(
    setup: MonteCarloSetup,
    noisy: FloatArray,
    weights: FloatArray,
    normaliser: IntArray,
    aggregator: IntArray,
) -> tuple[IntArray, IntArray]:
    """Ranks and 0-based waves of a block of draws, through the index's own functions.

    The reference for :func:`allocator.montecarlo.kernel.evaluate_block` (same numbers, fewer
    passes), which :func:`evaluate_blocks` uses.

    Parameters
    ----------
    setup : MonteCarloSetup
    noisy : ndarray, shape (m, K, L)
        Perturbed indicator values.
    weights : ndarray, shape (m, K)
        Weights of each draw, summing to 1.
    normaliser, aggregator : ndarray of int, shape (m,)
        Index into ``setup.normalisers`` / ``setup.aggregators``.

    Returns
    -------
    ranks, waves : ndarray of int, shape (m, L)
    """
    plain = all(sp.transform == "none" and sp.direction != "higher_is_better" for sp in setup.specs)
    # nothing to transform or negate: use the values as they are (they are only read below)
    oriented = noisy if plain else orient_and_transform(noisy, setup.specs)
    scores = np.empty((noisy.shape[0], noisy.shape[2]))
    for j, norm in enumerate(setup.normalisers):
        for a, agg in enumerate(setup.aggregators):
            mask = (normaliser == j) & (aggregator == a)
            if mask.all():
                scores[:] = score_indicators(oriented, norm, weights, agg).score
            elif mask.any():
                scores[mask] = score_indicators(oriented[mask], norm, weights[mask], agg).score
    ranks = rank_scores(scores, setup.tb_position)
    return ranks, assign_from_ranks(ranks, setup.sizes, setup.locked, setup.allowed)


def evaluate_draw(
    setup: MonteCarloSetup, noisy: FloatArray, weights: FloatArray, normaliser: int, aggregator: int
) -> tuple[IntArray, IntArray]:
    """One draw, step by step on a (K, L) matrix: the per-draw baseline of :func:`evaluate_draws`."""
    oriented = orient_and_transform(noisy, setup.specs)
    score = score_indicators(
        oriented, setup.normalisers[normaliser], weights, setup.aggregators[aggregator]
    ).score
    ranks = rank_scores(score, setup.tb_position)
    return ranks, assign_from_ranks(ranks, setup.sizes, setup.locked, setup.allowed)


Block = tuple[int, tuple[FloatArray, FloatArray, IntArray, IntArray]]


def evaluate_blocks(
    setup: MonteCarloSetup,
    blocks: Iterable[Block],
    ranks: NDArray[np.integer],
    waves: NDArray[np.integer],
    *,
    n_jobs: int = 1,
    wave_offset: int = 0,
    done: Callable[[int], object] | None = None,
) -> None:
    """Evaluate blocks of draws into ``ranks`` and ``waves`` (rows ``lo : lo + m`` per block).

    ``blocks`` yields ``(lo, (noisy, weights, normaliser, aggregator))`` and is consumed in
    order in the calling thread, so random numbers are drawn in the same order whatever
    ``n_jobs``; with ``n_jobs > 1`` that many threads evaluate blocks (numpy releases the GIL
    in its sorts and array arithmetic) while the next block is drawn. Each block writes only its
    own rows, so the result is identical for every ``n_jobs``. At most ``n_jobs + 2`` blocks are
    in memory at once.

    Raises
    ------
    ValueError
        If ``n_jobs`` is below 1.
    """
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be at least 1, got {n_jobs}")

    def work(lo: int, inputs: tuple[FloatArray, FloatArray, IntArray, IntArray]) -> int:
        m = inputs[0].shape[0]
        evaluate_block(setup, *inputs, ranks[lo : lo + m], waves[lo : lo + m], wave_offset)
        return m

    if n_jobs == 1:
        for lo, inputs in blocks:
            m = work(lo, inputs)
            if done is not None:
                done(m)
        return
    from concurrent.futures import Future, ThreadPoolExecutor

    pending: deque[Future[int]] = deque()
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        for lo, inputs in blocks:
            pending.append(pool.submit(work, lo, inputs))
            while len(pending) > n_jobs:
                m = pending.popleft().result()
                if done is not None:
                    done(m)
        while pending:
            m = pending.popleft().result()
            if done is not None:
                done(m)


class DrawStreams:
    """Independent random streams spawned from one seed, consumed in draw order.

    Noise, weights, normaliser, aggregator and (when drawn) the deprivation measure each have
    their own stream, so the numbers a draw gets do not depend on how draws are grouped into
    blocks. The deprivation measure of every draw is appended to :attr:`deprivation_drawn`.

    Parameters
    ----------
    random_state : int
        Seed of the ``numpy.random.SeedSequence`` the four streams are spawned from.
    """

    def __init__(self, random_state: int) -> None:
        self.random_state = random_state
        # spawn(5)[:4] are the same four streams spawn(4) gives: results without deprivation
        # choices are unchanged by the fifth
        noise, weights, norm, agg, dep = np.random.SeedSequence(random_state).spawn(5)
        self.noise = np.random.default_rng(noise)
        self.weights = np.random.default_rng(weights)
        self.norm = np.random.default_rng(norm)
        self.agg = np.random.default_rng(agg)
        self.dep = np.random.default_rng(dep)
        self.deprivation_drawn: list[IntArray] = []

    def draw(
        self, setup: MonteCarloSetup, m: int
    ) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
        """Noisy values (m, K, L), weights (m, K), normaliser and aggregator indices (m,)."""
        s = setup
        k, n = s.raw.shape
        noisy = self.noise.standard_normal((m, k, n))
        z_dep = noisy[:, s.dep_slot, :].copy() if s.deprivations else None
        noisy *= s.sd
        noisy += s.raw
        np.maximum(noisy, s.floor[:, None], out=noisy)
        if z_dep is not None:
            self._swap_deprivation(s, noisy, z_dep)
        if s.alpha is None:
            w = np.broadcast_to(s.weights, (m, k)).copy()
        else:
            w = np.zeros((m, k))
            w[:, s.positive] = self.weights.dirichlet(s.alpha, size=m)
        ni = np.minimum(
            (self.norm.random(m) * len(s.normalisers)).astype(np.int64), len(s.normalisers) - 1
        )
        ai = np.minimum(
            (self.agg.random(m) * len(s.aggregators)).astype(np.int64), len(s.aggregators) - 1
        )
        return noisy, w, ni, ai

    def _swap_deprivation(self, s: MonteCarloSetup, noisy: FloatArray, z: FloatArray) -> None:
        """Put each draw's deprivation measure (same standard normal noise) in its slot."""
        assert s.dep_raw is not None and s.dep_sd is not None and s.dep_floor is not None
        c = len(s.deprivations)
        di = np.minimum((self.dep.random(noisy.shape[0]) * c).astype(np.int64), c - 1)
        for j in range(c):
            mask = di == j
            if mask.any():
                vals = z[mask] * s.dep_sd[j] + s.dep_raw[j]
                noisy[mask, s.dep_slot, :] = np.maximum(vals, s.dep_floor[j])
        self.deprivation_drawn.append(di)


def _column(frame: pd.DataFrame, name: str) -> FloatArray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
