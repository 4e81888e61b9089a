"""Which uncertain modelling choice moves wave membership most? Variance-based (Sobol') attribution.

:class:`~allocator.montecarlo.uncertainty.RankUncertainty` says *how* uncertain each LA's wave is;
this module says *why*. The uncertain inputs of that Monte Carlo are grouped into factors

``weights``
    The indicator weights, ``Dirichlet(c * w)`` as in the Monte Carlo, drawn from one uniform per
    positively weighted indicator through the gamma inverse CDF (independent
    ``Gamma(c * w_k)`` variables divided by their sum are Dirichlet). Varied when
    ``weight_concentration > 0`` and at least two weights are positive.
``normaliser``, ``aggregator``
    One uniform mapped onto the choice list (``floor(u * n)``, the Monte Carlo's mapping). Varied
    when ``normalise_choices`` / ``aggregate_choices`` list two or more methods.
``noise: <indicator>``
    One uniform per LA, turned into a standard normal by its quantile function and scaled by
    that indicator's noise standard deviation (published death-rate interval or relative
    error, truncated as in the Monte Carlo). Always sampled: an indicator whose noise is zero is
    a *dummy* factor whose estimated indices show the estimator's noise floor.

so each model evaluation is exactly one Monte Carlo draw, evaluated with the same vectorised
code (:func:`allocator.montecarlo.kernel.evaluate_block`: transform, normalise, weight,
aggregate, rank with the published tie-break, assign waves with the published sizes and locks).

Design and estimators
---------------------
Inputs are sampled with Saltelli's scheme on a scrambled Sobol' sequence (the design of
:func:`SALib.sample.sobol.sample` with groups and ``calc_second_order=False``, built here
without its per-row Python loop and checked against it in the tests): ``N`` base rows ``A``,
``N`` rows ``B``, and for each factor ``j`` the rows ``AB_j`` (``A`` with factor ``j``'s columns
taken from ``B``): ``N * (factors + 2)`` model runs. First-order and total-order indices use the
estimators of :mod:`SALib.analyze.sobol` (Saltelli et al. 2010, Computer Physics Communications
181: ``S1_j = mean(B (AB_j - A)) / V``, Jansen's ``ST_j = mean((A - AB_j)^2) / (2 V)``), with
bootstrap confidence half-widths (``num_resamples`` row resamples, normal quantile).

Headline quantity
-----------------
The output is the wave-1 membership vector ``y = (1[LA in wave 1])`` over all LAs. Its indices are
the multivariate (Gamboa et al. 2013, Bernoulli 19) Sobol' indices: each LA's partial variances
summed over LAs and divided by the summed variances, ``S_j = sum_l V_j(y_l) / sum_l V(y_l)``.
Because the ``y_l`` are 0/1 this reads in numbers of LAs:

* ``sum_l V(y_l)`` is half the expected number of LAs whose wave-1 membership differs between
  two independent Monte Carlo draws (``las_moved_all_``, the full number);
* ``ST_j`` is the expected number of LAs whose wave-1 membership changes when only factor ``j``
  is redrawn (``las_moved`` column) divided by ``las_moved_all_``;
* ``S1_j`` is the share of the membership variance removed by knowing factor ``j`` alone.

This measures what the choice does to *which* LAs are in wave 1. The scalar "number of LAs whose
wave-1 membership differs from the published waves" (``count_indices_``, analysed with
:func:`SALib.analyze.sobol.analyze` itself) is also reported, but its variance can miss a factor
that always moves about the same number of LAs (different ones each time). The same multivariate
indices for the LAs' ranks (``rank_indices_``) and per-LA total-order indices of wave-1
membership (``la_indices_``) come from the same runs at no extra cost.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..errors import ConfigError
from ..index.config import IndexConfig, SensitivityConfig, UncertaintyConfig
from ..index.need_index import NeedIndex
from ..waves import WavesConfig, assign_from_ranks
from .draws import (
    CHUNK_ELEMENTS,
    MonteCarloSetup,
    chunk_draws,
    evaluate_blocks,
    monte_carlo_setup,
)
from .sobol import (
    Factor,
    count_table,
    factor_table,
    multivariate_indices,
    one_blas_thread,
    saltelli_ab,
    split_runs,
)
from .sobol_inputs import design_inputs

FloatArray = NDArray[np.float64]

class WaveSensitivity:
    """Sobol' attribution of wave-1 membership to the uncertain modelling choices.

    Parameters
    ----------
    index_config : IndexConfig, optional
        The index (default :class:`IndexConfig` ()).
    uncertainty_config : UncertaintyConfig
        What is uncertain (as for :class:`RankUncertainty`) and the seed.
    waves_config : WavesConfig, optional
        Sizes, tie-break and locks (default :class:`WavesConfig` ()).
    sensitivity_config : SensitivityConfig, optional
        Sample size, bootstrap and seed. Default: ``uncertainty_config.sensitivity``, else
        :class:`SensitivityConfig` ().
    chunk_elements : int
        Memory budget of one block of model runs, in elements of its (runs x indicators x LAs)
        arrays (see :func:`allocator.montecarlo.draws.chunk_draws`); ``uncertainty_config.chunk_size``
        caps the runs per block. Results do not depend on either.
    n_jobs : int
        Threads evaluating blocks of runs; results are identical for every ``n_jobs``.

    Attributes
    ----------
    index_ : NeedIndex
        The unperturbed index (its ranks give the published waves).
    factors_ : list of Factor
        Every factor, varied or fixed by the configuration, in output order.
    indices_ : DataFrame
        One row per factor: ``factor``, ``varied``, ``S1``, ``S1_conf``, ``ST``, ``ST_conf``
        (multivariate indices of wave-1 membership, see the module docstring), and
        ``las_moved``: expected number of LAs whose wave-1 membership changes when only that
        factor is redrawn. Fixed factors have zeros (a constant input explains no variance).
    count_indices_ : DataFrame
        ``factor, varied, S1, S1_conf, ST, ST_conf`` of the scalar "number of LAs whose wave-1
        membership differs from the published waves", from :func:`SALib.analyze.sobol.analyze`.
    rank_indices_ : DataFrame
        ``factor, varied, S1, S1_conf, ST, ST_conf`` of the LAs' ranks (multivariate).
    la_indices_ : DataFrame
        Indexed by ``code``, LAs whose wave-1 membership varies in the sample, by published
        rank: ``rank``, ``published_wave_1``, ``p_wave_1`` (over the 2N independent runs A and
        B), ``borderline`` (``p_wave_1`` in the uncertainty config's band), then
        ``ST <factor>`` for each varied factor: that LA's total-order index.
    las_moved_all_ : float
        Expected number of LAs whose wave-1 membership differs between two independent draws.
    published_moved_ : float
        Expected number of LAs whose wave-1 membership differs from the published waves.
    runs_ : int
        Model evaluations, ``samples * (varied factors + 2)``.
    elapsed_ : float
        Seconds spent sampling, evaluating and analysing.
    notes_ : list of str
    """

    def __init__(
        self,
        index_config: IndexConfig | None = None,
        uncertainty_config: UncertaintyConfig | None = None,
        waves_config: WavesConfig | None = None,
        sensitivity_config: SensitivityConfig | None = None,
        *,
        chunk_elements: int = CHUNK_ELEMENTS,
        n_jobs: int = 1,
    ) -> None:
        self.index_config = index_config
        self.uncertainty_config = uncertainty_config
        self.waves_config = waves_config
        self.sensitivity_config = sensitivity_config
        self.chunk_elements = chunk_elements
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ factors and inputs
    @staticmethod
    def _factors(s: MonteCarloSetup) -> list[Factor]:
        n = s.raw.shape[1]
        factors = [
            Factor(
                "weights",
                int(s.positive.sum()) if s.alpha is not None else 0,
                "Dirichlet weights over "
                + ", ".join(sp.name for sp, p in zip(s.specs, s.positive, strict=True) if p),
            ),
            Factor(
                "normaliser",
                1 if len(s.normalisers) > 1 else 0,
                "normaliser in " + ", ".join(s.normalisers),
            ),
            Factor(
                "aggregator",
                1 if len(s.aggregators) > 1 else 0,
                "aggregator in " + ", ".join(s.aggregators),
            ),
        ]
        factors += [
            Factor(f"noise: {sp.name}", n, f"noise on {sp.name} ({n} LAs)") for sp in s.specs
        ]
        return factors

    # ------------------------------------------------------------------ estimator API
    def fit(self, frame: pd.DataFrame) -> WaveSensitivity:
        """Sample, evaluate and attribute.

        Raises
        ------
        ConfigError
            No uncertainty config, uncertainty or sensitivity disabled; wave sizes/locks that do
            not fit the table.
        DataError
            As :meth:`NeedIndex.fit`.
        """
        with one_blas_thread():
            return self._fit(frame)

    def _fit(self, frame: pd.DataFrame) -> WaveSensitivity:
        from scipy import special

        ucfg = self.uncertainty_config
        if ucfg is None:
            raise ConfigError("WaveSensitivity needs an UncertaintyConfig (with a seed)")
        if not ucfg.enabled:
            raise ConfigError(
                "sensitivity analysis needs the uncertainty analysis (uncertainty.enabled: false)"
            )
        scfg = self.sensitivity_config or ucfg.sensitivity or SensitivityConfig()
        if not scfg.enabled:
            raise ConfigError(
                "sensitivity analysis is disabled (uncertainty.sensitivity.enabled: false)"
            )
        start = time.perf_counter()
        wcfg = self.waves_config or WavesConfig()
        icfg = self.index_config or IndexConfig()
        index = NeedIndex(icfg, tie_break=wcfg.tie_break).fit(frame)
        s, notes = monte_carlo_setup(index, ucfg, wcfg, icfg)
        factors = self._factors(s)
        varied = [f for f in factors if f.varied]
        g = len(varied)
        big_n = scfg.samples
        seed = ucfg.seed if scfg.seed is None else scfg.seed
        design_ss, boot_ss = np.random.SeedSequence(seed).spawn(2)
        boot_seed = int(boot_ss.generate_state(1)[0]) or 1  # SALib ignores a seed of 0

        # the design's A and B rows; every AB_j row is A with factor j's columns from B
        a_rows, b_rows = saltelli_ab(
            sum(f.width for f in varied), big_n, np.random.default_rng(design_ss)
        )
        runs, n = big_n * (g + 2), s.raw.shape[1]
        ranks = np.empty((runs, n), dtype=np.int32)
        waves = np.empty((runs, n), dtype=np.int8)
        # blocks of whole samples (A, the AB_j, B); inputs mapped from A and B only
        per = max(1, chunk_draws(s, ucfg.chunk_size, self.chunk_elements) // (g + 2))
        blocks = (
            (i * (g + 2), design_inputs(s, factors, a_rows[i : i + per], b_rows[i : i + per]))
            for i in range(0, big_n, per)
        )
        evaluate_blocks(s, blocks, ranks, waves, n_jobs=self.n_jobs)

        published = assign_from_ranks(index.rank_.to_numpy(), s.sizes, s.locked, s.allowed) == 0
        member = (waves == 0).reshape(big_n, g + 2, n)
        r = np.random.default_rng(boot_seed).integers(big_n, size=(big_n, scfg.num_resamples))
        zq = float(special.ndtri(0.5 + scfg.conf_level / 2))  # the normal quantile (norm.ppf)

        def table(s1: FloatArray, s1c: FloatArray, st: FloatArray, stc: FloatArray) -> pd.DataFrame:
            return factor_table(factors, s1, s1c, st, stc)

        # headline: wave-1 membership (multivariate)
        s1, s1c, st, stc, total = multivariate_indices(member, g, r, zq)
        indices = table(s1, s1c, st, stc)
        a, b, ab = split_runs(member.astype(float), g)
        moved = dict(
            zip([f.name for f in varied], (np.abs(a - ab).sum(axis=2).mean(axis=1)), strict=True)
        )
        indices["las_moved"] = [float(moved.get(f.name, 0.0)) for f in factors]
        self.las_moved_all_ = float(np.abs(a - b).sum(axis=1).mean())
        if total == 0:
            notes.append(
                "sensitivity: wave 1 was the same in every sample; no factor moves it "
                "(all indices 0)"
            )

        # ranks (multivariate)
        self.rank_indices_ = table(
            *multivariate_indices(ranks.reshape(big_n, g + 2, n), g, r, zq)[:4]
        )

        # scalar: number of LAs whose wave-1 membership differs from the published waves
        count = (member != published).sum(axis=2).astype(float)  # (N, G + 2)
        self.published_moved_ = float(np.r_[count[:, 0], count[:, -1]].mean())
        # analysed on first use of count_indices_ (SALib and scipy.stats load only then)
        self._count = (count, factors, scfg.num_resamples, scfg.conf_level, boot_seed)
        self._count_indices: pd.DataFrame | None = None

        # per LA: total-order indices of wave-1 membership where it varies
        self.la_indices_ = self._la_table(index, member, published, g, varied, ucfg)

        self.index_ = index
        self.factors_ = factors
        self.indices_ = indices
        self.runs_ = runs
        self.elapsed_ = time.perf_counter() - start
        fixed = [f.name for f in factors if not f.varied]
        self.notes_ = (
            index.notes_
            + notes
            + [
                f"sensitivity: Sobol' indices of wave-1 membership from {runs} runs "
                f"(Saltelli design, N = {big_n}, {g} factors, seed {seed}); factors: "
                + "; ".join(f.detail for f in varied)
                + (f"; fixed by the configuration: {', '.join(fixed)}" if fixed else "")
            ]
        )
        return self

    @property
    def count_indices_(self) -> pd.DataFrame:
        """Sobol' indices of the number of LAs whose wave-1 membership differs from the published
        waves, from :func:`SALib.analyze.sobol.analyze` (computed on first access).

        Raises
        ------
        AttributeError
            Before :meth:`fit`.
        """
        if "_count" not in vars(self):
            raise AttributeError("count_indices_ is available after fit()")
        if self._count_indices is None:
            self._count_indices = count_table(*self._count)
        return self._count_indices

    @staticmethod
    def _la_table(
        index: NeedIndex,
        member: NDArray[np.bool_],
        published: NDArray[np.bool_],
        g: int,
        varied: list[Factor],
        ucfg: UncertaintyConfig,
    ) -> pd.DataFrame:
        y = member.astype(float)
        a, b, ab = split_runs(y, g)
        ab_rows = np.concatenate([a, b])
        var = ab_rows.var(axis=0)
        keep = var > 0
        codes = index.areas_["code"].to_numpy()
        lo_band, hi_band = ucfg.borderline
        p1 = ab_rows.mean(axis=0)
        out = pd.DataFrame(
            {
                "rank": index.rank_.to_numpy(),
                "published_wave_1": published,
                "p_wave_1": p1,
                "borderline": (p1 >= lo_band) & (p1 <= hi_band),
            },
            index=pd.Index(codes, name="code"),
        )
        safe = np.where(keep, var, 1.0)
        for j, f in enumerate(varied):
            out[f"ST {f.name}"] = np.where(keep, 0.5 * ((a - ab[j]) ** 2).mean(axis=0) / safe, 0.0)
        return out[keep].sort_values("rank")

