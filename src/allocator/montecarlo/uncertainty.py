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
locks and lock-outs (:func:`allocator.waves.assign_from_ranks`). The set-up and the evaluation of
a block of draws are shared with the Sobol' attribution (:mod:`allocator.montecarlo.draws`).

Random numbers come from four independent streams spawned from one ``SeedSequence(seed)``
(noise, weights, normaliser, aggregator), each consumed draw by draw in order, so the result
does not depend on the chunk size, and the per-draw loop (:meth:`RankUncertainty.fit` with
``method="loop"``) consumes exactly the same numbers as the vectorised path.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..errors import ConfigError
from ..index.config import IndexConfig, UncertaintyConfig
from ..index.need_index import NeedIndex
from ..progress import progress_bar
from ..waves import WavesConfig
from .draws import (
    CHUNK_ELEMENTS,
    Block,
    DrawStreams,
    chunk_draws,
    evaluate_blocks,
    evaluate_draw,
    monte_carlo_setup,
)

QUANTILE_METHOD = "inverted_cdf"

#: Rank quantiles reported, by column.
RANK_QUANTILES = {"rank_median": 0.5, "rank_p05": 0.05, "rank_p95": 0.95}


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
    chunk_elements : int
        Memory budget of one block of draws, in elements of its (draws x indicators x LAs)
        arrays (see :func:`allocator.montecarlo.draws.chunk_draws`); ``uncertainty_config.chunk_size``
        caps the draws per block. Results do not depend on either.
    n_jobs : int
        Threads evaluating blocks of draws (``vectorised`` only); the draws themselves are taken
        in order in the calling thread, so results are identical for every ``n_jobs``.

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
        chunk_elements: int = CHUNK_ELEMENTS,
        n_jobs: int = 1,
    ) -> None:
        self.index_config = index_config
        self.uncertainty_config = uncertainty_config
        self.waves_config = waves_config
        self.method = method
        self.progress = progress
        self.chunk_elements = chunk_elements
        self.n_jobs = n_jobs

    def fit(self, frame: pd.DataFrame) -> RankUncertainty:
        """Run the Monte Carlo on an areas table.

        Raises
        ------
        ConfigError
            No uncertainty config, or it is disabled; wave sizes/locks that do not fit the table.
        DataError
            As :meth:`NeedIndex.fit`.
        ValueError
            If ``method`` is unknown, or ``chunk_elements`` or ``n_jobs`` is below 1.
        """
        ucfg = self.uncertainty_config
        if ucfg is None:
            raise ConfigError("RankUncertainty needs an UncertaintyConfig (with a seed)")
        if not ucfg.enabled:
            raise ConfigError("uncertainty analysis is disabled (uncertainty.enabled: false)")
        if self.method not in ("vectorised", "loop"):
            raise ValueError(f"method: unknown method {self.method!r}; use 'vectorised' or 'loop'")
        if self.n_jobs < 1:
            raise ValueError(f"n_jobs must be at least 1, got {self.n_jobs}")
        if self.chunk_elements < 1:
            raise ValueError(f"chunk_elements must be at least 1, got {self.chunk_elements}")
        wcfg = self.waves_config or WavesConfig()
        index = NeedIndex(self.index_config, tie_break=wcfg.tie_break).fit(frame)
        s, notes = monte_carlo_setup(index, ucfg, wcfg, self.index_config)
        k, n = s.raw.shape
        d = ucfg.draws
        ranks = np.empty((d, n), dtype=np.int32)
        waves = np.empty((d, n), dtype=np.int8)
        weights = np.empty((d, k))
        ni_all = np.empty(d, dtype=np.int64)
        ai_all = np.empty(d, dtype=np.int64)
        streams = DrawStreams(ucfg.seed)
        show = self.progress  # None: a bar when stderr is a terminal (progress_bar)
        step = chunk_draws(s, ucfg.chunk_size, self.chunk_elements)
        start = time.perf_counter()
        with progress_bar(show, d, "rank uncertainty") as bar:
            if self.method == "vectorised":

                def blocks() -> Iterator[Block]:
                    for lo in range(0, d, step):
                        m = min(step, d - lo)
                        noisy, w, ni, ai = streams.draw(s, m)
                        weights[lo : lo + m], ni_all[lo : lo + m], ai_all[lo : lo + m] = w, ni, ai
                        yield lo, (noisy, w, ni, ai)

                evaluate_blocks(
                    s, blocks(), ranks, waves, n_jobs=self.n_jobs, wave_offset=1, done=bar.update
                )
            else:
                for i in range(d):
                    noisy, w, ni, ai = streams.draw(s, 1)
                    r, wv = evaluate_draw(s, noisy[0], w[0], int(ni[0]), int(ai[0]))
                    ranks[i], waves[i] = r, wv + 1
                    weights[i], ni_all[i], ai_all[i] = w[0], ni[0], ai[0]
                    bar.update(1)
        self.elapsed_ = time.perf_counter() - start

        codes = pd.Index(index.areas_["code"], name="code")
        n_waves = len(s.sizes)
        quantiles = rank_quantiles(ranks, list(RANK_QUANTILES.values()))
        res = pd.DataFrame(
            {"rank": index.rank_.to_numpy(), **dict(zip(RANK_QUANTILES, quantiles, strict=True))},
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
        if s.deprivations:
            drawn = np.concatenate(streams.deprivation_drawn)
            choices["deprivation"] = np.array(s.deprivations, dtype=object)[drawn]
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
                + (f", deprivation measures {list(s.deprivations)}" if s.deprivations else "")
            ]
        )
        return self


def rank_quantiles(ranks: NDArray[np.integer], q: list[float]) -> NDArray[np.int64]:
    """Quantiles ``q`` of each column of ``ranks`` (values 1..L), ``inverted_cdf`` definition.

    Equal to ``np.quantile(ranks, q, axis=0, method="inverted_cdf")``. The order statistic each
    quantile picks is found once, by that one quantile call on ``0 .. draws - 1``; it is then
    read from per-LA rank counts when the LAs are few next to the draws, else from each LA's
    ranks sorted in a contiguous row (several times faster than ``np.quantile`` along axis 0).

    Returns
    -------
    ndarray of int, shape (len(q), L)

    Raises
    ------
    ValueError
        If ``ranks`` has no rows.
    """
    d, n = ranks.shape
    if d == 0:
        raise ValueError("ranks: no draws")
    # 0-based order statistic picked by each quantile
    k = np.quantile(np.arange(d), q, method=QUANTILE_METHOD).astype(np.int64)
    if n + 1 > 4 * d:
        by_la = np.ascontiguousarray(ranks.T)
        by_la.sort(axis=1)
        return by_la[:, k].T.astype(np.int64)
    cols = np.arange(n, dtype=np.int64) * (n + 1)
    counts = np.bincount((ranks + cols).ravel(), minlength=n * (n + 1)).reshape(n, n + 1)
    cum = np.cumsum(counts, axis=1)  # (L, L + 1): draws with rank <= r
    return np.stack([(cum > kk).argmax(axis=1) for kk in k])
