"""Monte Carlo rank uncertainty: how sure is each LA's rank and wave?

Each draw recomputes the whole index after perturbing

* the data: every indicator value gets Gaussian noise. The drug-misuse death rate uses its
  published 95% interval, ``sd = (ucl - lcl) / 3.92`` (normal approximation); other indicators
  (and death rates without an interval) use ``sd = e * |x|`` with ``e`` the indicator's
  ``relative_error`` (default :attr:`UncertaintyConfig.relative_error`). For an indicator that
  takes values <= 0 somewhere (e.g. an IMD domain score, centred on 0) a relative error to the
  value means nothing, so ``sd = e * (standard deviation of the indicator across LAs)``.
  Indicators that are non-negative in the data are truncated at 0, and those under a ``log``
  transform at half their smallest observed value;
* the weights: ``Dirichlet(c * w)`` around the index's weights ``w`` (``c`` =
  ``weight_concentration``; ``c = 0`` keeps them fixed; zero weights stay zero). Under ``pca``
  weighting ``w`` is the PCA weights of the unperturbed data;
* the methods: a normaliser and an aggregator drawn uniformly from ``normalise_choices`` /
  ``aggregate_choices`` (default: the index's own).

then ranks the LAs with the published tie-break and assigns waves with the published sizes,
locks and lock-outs (:func:`allocator.waves.assign_from_ranks`).

Random numbers come from four independent streams spawned from one ``SeedSequence(seed)``
(noise, weights, normaliser, aggregator), each consumed draw by draw in order, so the result
does not depend on the chunk size, and the per-draw loop (:meth:`RankUncertainty.fit` with
``method="loop"``) consumes exactly the same numbers as the vectorised path.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from tqdm.auto import tqdm

from ..errors import ConfigError
from .config import IndexConfig, UncertaintyConfig
from .need_index import NeedIndex, orient_and_transform, score_indicators
from .ranking import rank_scores

if TYPE_CHECKING:
    from ..waves import WavesConfig

FloatArray = NDArray[np.float64]

QUANTILE_METHOD = "inverted_cdf"


@dataclass(frozen=True)
class _Setup:
    """Everything a draw needs, fixed before the first draw."""

    specs: list
    raw: FloatArray  # (K, L)
    sd: FloatArray  # (K, L)
    floor: FloatArray  # (K,) lower truncation, -inf for none
    weights: FloatArray  # (K,) centre, sums to 1
    alpha: FloatArray | None  # Dirichlet parameters over positive weights, None = fixed
    positive: NDArray[np.bool_]  # (K,) weights drawn
    normalisers: list[str]
    aggregators: list[str]
    tb_position: NDArray[np.int64]
    sizes: list[int]
    locked: NDArray[np.int64]
    allowed: NDArray[np.bool_]


class _Streams:
    """The four random streams, consumed in draw order."""

    def __init__(self, seed: int) -> None:
        noise, weights, norm, agg = np.random.SeedSequence(seed).spawn(4)
        self.noise = np.random.default_rng(noise)
        self.weights = np.random.default_rng(weights)
        self.norm = np.random.default_rng(norm)
        self.agg = np.random.default_rng(agg)

    def draw(
        self, s: _Setup, m: int
    ) -> tuple[FloatArray, FloatArray, NDArray[np.int64], NDArray[np.int64]]:
        """Noisy raw values (m, K, L), weights (m, K), normaliser and aggregator indices (m,)."""
        k, n = s.raw.shape
        z = self.noise.standard_normal((m, k, n))
        noisy = np.maximum(s.raw + s.sd * z, s.floor[:, None])
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


class RankUncertainty:
    """Monte Carlo distribution of each LA's rank and wave.

    Parameters
    ----------
    index_config : IndexConfig, optional
    uncertainty_config : UncertaintyConfig
        Draws, seed and what to perturb.
    waves_config : WavesConfig, optional
        Sizes, tie-break and locks used in every draw (default :class:`WavesConfig` ()).
    method : {"vectorised", "loop"}
        ``vectorised`` evaluates a chunk of draws as (draws x indicators x LAs) arrays; ``loop``
        is the straightforward per-draw implementation (the benchmark baseline). Both give the
        same results for the same seed.
    progress : bool, optional
        Show a tqdm progress bar (after half a second). ``None``: only when stderr is a terminal.

    Attributes
    ----------
    index_ : NeedIndex
        The unperturbed index.
    results_ : DataFrame
        Indexed by ``code``: ``rank`` (published), ``rank_median``, ``rank_p05``, ``rank_p95``
        (observed ranks at those quantiles, ``inverted_cdf``), ``p_wave_1``, ``p_wave_le_2`` ...
        ``p_wave_le_{W-1}``, ``borderline``.
    ranks_ : ndarray of int32, shape (draws, L)
        Rank of each LA (``index_.areas_`` order) in each draw.
    waves_ : ndarray of int8, shape (draws, L)
        1-based wave in each draw.
    choices_ : DataFrame
        Per draw: ``normalise``, ``aggregate`` and ``weight_<indicator>``.
    notes_ : list of str
    elapsed_ : float
        Seconds spent in the draws.
    """

    def __init__(
        self,
        index_config: IndexConfig | None = None,
        uncertainty_config: UncertaintyConfig | None = None,
        waves_config: WavesConfig | None = None,
        *,
        method: Literal["vectorised", "loop"] = "vectorised",
        progress: bool | None = None,
    ) -> None:
        self.index_config = index_config
        self.uncertainty_config = uncertainty_config
        self.waves_config = waves_config
        self.method = method
        self.progress = progress

    # ------------------------------------------------------------------ set-up
    def _setup(
        self, index: NeedIndex, ucfg: UncertaintyConfig, wcfg: WavesConfig
    ) -> tuple[_Setup, list[str]]:
        from ..waves import lock_arrays

        icfg = self.index_config or IndexConfig()
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
        normalisers = list(ucfg.normalise_choices or [icfg.normalise])
        aggregators = list(ucfg.aggregate_choices or [icfg.aggregate])
        n = raw.shape[1]
        sizes = wcfg.resolve_sizes(n)
        locked, allowed = lock_arrays(wcfg, list(areas["code"]), sizes)
        setup = _Setup(
            specs=specs,
            raw=raw,
            sd=sd,
            floor=floor,
            weights=weights,
            alpha=alpha,
            positive=positive,
            normalisers=normalisers,
            aggregators=aggregators,
            tb_position=index.tie_break_position_,
            sizes=sizes,
            locked=locked,
            allowed=allowed,
        )
        return setup, notes

    # ------------------------------------------------------------------ the two implementations
    @staticmethod
    def _evaluate_chunk(
        s: _Setup, noisy: FloatArray, w: FloatArray, ni: NDArray[np.int64], ai: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Vectorised: ranks and 0-based waves for a chunk of draws."""
        from ..waves import assign_from_ranks

        oriented = orient_and_transform(noisy, s.specs)
        scores = np.empty((noisy.shape[0], noisy.shape[2]))
        for j, norm in enumerate(s.normalisers):
            for a, agg in enumerate(s.aggregators):
                mask = (ni == j) & (ai == a)
                if mask.any():
                    scores[mask] = score_indicators(oriented[mask], norm, w[mask], agg).score
        ranks = rank_scores(scores, s.tb_position)
        return ranks, assign_from_ranks(ranks, s.sizes, s.locked, s.allowed)

    @staticmethod
    def _evaluate_one(
        s: _Setup, noisy: FloatArray, w: FloatArray, ni: int, ai: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Per draw: the same steps on one (K, L) matrix."""
        from ..waves import assign_from_ranks

        oriented = orient_and_transform(noisy, s.specs)
        score = score_indicators(oriented, s.normalisers[ni], w, s.aggregators[ai]).score
        ranks = rank_scores(score, s.tb_position)
        return ranks, assign_from_ranks(ranks, s.sizes, s.locked, s.allowed)

    # ------------------------------------------------------------------ estimator API
    def fit(self, frame: pd.DataFrame) -> RankUncertainty:
        """Run the Monte Carlo on an areas table.

        Raises
        ------
        ConfigError
            No uncertainty config, or it is disabled; wave sizes/locks that do not fit the table.
        DataError
            As :meth:`NeedIndex.fit`.
        """
        from ..waves import WavesConfig

        ucfg = self.uncertainty_config
        if ucfg is None:
            raise ConfigError("RankUncertainty needs an UncertaintyConfig (with a seed)")
        if not ucfg.enabled:
            raise ConfigError("uncertainty analysis is disabled (uncertainty.enabled: false)")
        if self.method not in ("vectorised", "loop"):
            raise ConfigError(f"unknown method {self.method!r}; use 'vectorised' or 'loop'")
        wcfg = self.waves_config or WavesConfig()
        index = NeedIndex(self.index_config, tie_break=wcfg.tie_break).fit(frame)
        s, notes = self._setup(index, ucfg, wcfg)
        k, n = s.raw.shape
        d = ucfg.draws
        ranks = np.empty((d, n), dtype=np.int32)
        waves = np.empty((d, n), dtype=np.int8)
        weights = np.empty((d, k))
        ni_all = np.empty(d, dtype=np.int64)
        ai_all = np.empty(d, dtype=np.int64)
        streams = _Streams(ucfg.seed)
        show = sys.stderr.isatty() if self.progress is None else self.progress
        start = time.perf_counter()
        with tqdm(
            total=d, disable=not show, delay=0.5, desc="rank uncertainty", unit="draw"
        ) as bar:
            if self.method == "vectorised":
                for lo in range(0, d, ucfg.chunk_size):
                    m = min(ucfg.chunk_size, d - lo)
                    noisy, w, ni, ai = streams.draw(s, m)
                    r, wv = self._evaluate_chunk(s, noisy, w, ni, ai)
                    ranks[lo : lo + m], waves[lo : lo + m] = r, wv + 1
                    weights[lo : lo + m], ni_all[lo : lo + m], ai_all[lo : lo + m] = w, ni, ai
                    bar.update(m)
            else:
                for i in range(d):
                    noisy, w, ni, ai = streams.draw(s, 1)
                    r, wv = self._evaluate_one(s, noisy[0], w[0], int(ni[0]), int(ai[0]))
                    ranks[i], waves[i] = r, wv + 1
                    weights[i], ni_all[i], ai_all[i] = w[0], ni[0], ai[0]
                    bar.update(1)
        self.elapsed_ = time.perf_counter() - start

        codes = pd.Index(index.areas_["code"], name="code")
        n_waves = len(s.sizes)
        base_ranks = index.rank_.to_numpy()
        res = pd.DataFrame(
            {
                "rank": base_ranks,
                "rank_median": np.quantile(ranks, 0.5, axis=0, method=QUANTILE_METHOD).astype(int),
                "rank_p05": np.quantile(ranks, 0.05, axis=0, method=QUANTILE_METHOD).astype(int),
                "rank_p95": np.quantile(ranks, 0.95, axis=0, method=QUANTILE_METHOD).astype(int),
            },
            index=codes,
        )
        lo_band, hi_band = ucfg.borderline
        borderline = np.zeros(n, dtype=bool)
        for kk in range(1, max(n_waves, 2)):
            p = (waves <= kk).mean(axis=0)
            res["p_wave_1" if kk == 1 else f"p_wave_le_{kk}"] = p
            if kk < n_waves:
                borderline |= (p >= lo_band) & (p <= hi_band)
        if "p_wave_le_2" not in res.columns:
            res["p_wave_le_2"] = (waves <= 2).mean(axis=0)
        res["borderline"] = borderline
        self.index_ = index
        self.setup_ = s
        self.ranks_ = ranks
        self.waves_ = waves
        choices = pd.DataFrame(
            {
                "normalise": np.array(s.normalisers, dtype=object)[ni_all],
                "aggregate": np.array(s.aggregators, dtype=object)[ai_all],
            }
        )
        for j, spec in enumerate(s.specs):
            choices[f"weight_{spec.name}"] = weights[:, j]
        self.choices_ = choices
        self.results_ = res
        self.notes_ = (
            index.notes_
            + notes
            + [
                f"uncertainty: {d} Monte Carlo draws, seed {ucfg.seed}, weight concentration "
                f"{ucfg.weight_concentration:g}, normalisers {s.normalisers}, aggregators {s.aggregators}"
            ]
        )
        return self


def _column(frame: pd.DataFrame, name: str) -> FloatArray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
