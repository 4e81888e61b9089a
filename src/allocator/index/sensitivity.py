"""Which uncertain modelling choice moves wave membership most? Variance-based (Sobol') attribution.

:class:`~allocator.index.uncertainty.RankUncertainty` says *how* uncertain each LA's wave is;
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
code (:meth:`RankUncertainty._evaluate_chunk`: transform, normalise, weight, aggregate, rank with
the published tie-break, assign waves with the published sizes and locks).

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
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special
from scipy.stats import norm, qmc

from ..errors import ConfigError
from .config import IndexConfig, SensitivityConfig, UncertaintyConfig
from .need_index import NeedIndex
from .uncertainty import RankUncertainty, _Setup

if TYPE_CHECKING:
    from ..waves import WavesConfig

FloatArray = NDArray[np.float64]

#: Uniforms are kept this far from 0 and 1 before quantile functions (scrambled Sobol' points
#: can be exactly 0).
EPS = 1e-12

INDEX_COLUMNS = ["factor", "varied", "S1", "S1_conf", "ST", "ST_conf"]


@dataclass(frozen=True)
class Factor:
    """One group of uncertain inputs.

    Attributes
    ----------
    name : str
        ``weights``, ``normaliser``, ``aggregator`` or ``noise: <indicator>``.
    width : int
        Number of uniform inputs (0 when the configuration fixes the factor).
    detail : str
        What is varied, for notes.
    """

    name: str
    width: int
    detail: str

    @property
    def varied(self) -> bool:
        """Whether the factor is sampled."""
        return self.width > 0


def saltelli_design(widths: list[int], n: int, rng: np.random.Generator) -> FloatArray:
    """Saltelli design for grouped inputs, shape ``(n, groups + 2, inputs)``.

    Row block ``i`` holds ``A_i``, then ``A_i`` with group ``j``'s columns from ``B_i`` for each
    group, then ``B_i``; ``A | B`` is ``n`` points of a scrambled Sobol' sequence in
    ``2 * inputs`` dimensions. Reshaped to ``(-1, inputs)`` it equals
    ``SALib.sample.sobol.sample(problem, n, calc_second_order=False, seed=rng)`` for a problem
    with unit bounds and these groups (in this order).
    """
    d = int(sum(widths))
    base = qmc.Sobol(d=2 * d, scramble=True, seed=rng).random(n)
    a, b = base[:, :d], base[:, d:]
    out = np.empty((n, len(widths) + 2, d))
    out[:, 0] = a
    out[:, -1] = b
    lo = 0
    for j, w in enumerate(widths):
        out[:, j + 1] = a
        out[:, j + 1, lo : lo + w] = b[:, lo : lo + w]
        lo += w
    return out


def _split(y: FloatArray, g: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A (N, ...), B (N, ...) and AB (G, N, ...) from outputs shaped (N, G + 2, ...)."""
    return y[:, 0], y[:, -1], np.moveaxis(y[:, 1:-1], 1, 0)


def multivariate_indices(
    y: FloatArray, g: int, r: NDArray[np.int64], z: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, float]:
    """Sobol' indices of a vector output, aggregated over its components.

    Parameters
    ----------
    y : ndarray, shape (N, G + 2, L)
        Outputs in Saltelli order (see :func:`saltelli_design`).
    g : int
        Number of factors G.
    r : ndarray of int, shape (N, R)
        Bootstrap row indices (as :func:`SALib.analyze.sobol.analyze` draws them).
    z : float
        Normal quantile of the confidence level.

    Returns
    -------
    S1, S1_conf, ST, ST_conf : ndarray, shape (G,)
        ``sum_l numerator_l / sum_l V_l`` with SALib's estimators; with one component (L = 1)
        identical to :func:`SALib.analyze.sobol.analyze`. Zero when the output never varies.
    total : float
        ``sum_l V_l`` (population variances over the rows of A and B).
    """
    y = np.asarray(y, dtype=float)
    y = y - y.mean(axis=(0, 1))  # centre each component, as SALib centres its output
    a, b, ab = _split(y, g)
    n = a.shape[0]
    ab_rows = np.concatenate([a, b])
    total = float(ab_rows.var(axis=0).sum())
    # per-row sums over components: the estimators are means over rows, so a bootstrap
    # resample of rows needs only these (and, for the variance, per-component sums)
    s1_rows = np.einsum("nl,gnl->gn", b, ab - a)  # (G, N)
    st_rows = 0.5 * ((a - ab) ** 2).sum(axis=2)  # (G, N)
    counts = np.zeros((r.shape[1], n))
    for k in range(r.shape[1]):
        counts[k] = np.bincount(r[:, k], minlength=n)
    sq = (a**2).sum(axis=1) + (b**2).sum(axis=1)
    mean_r = counts @ (a + b) / (2 * n)  # (R, L)
    total_r = counts @ sq / (2 * n) - (mean_r**2).sum(axis=1)  # (R,)
    tiny = np.finfo(float).eps
    if total <= tiny:
        zeros = np.zeros(g)
        return zeros, zeros.copy(), zeros.copy(), zeros.copy(), 0.0
    s1 = s1_rows.mean(axis=1) / total
    st = st_rows.mean(axis=1) / total
    safe = np.where(total_r > tiny, total_r, np.inf)
    s1_b = (counts @ s1_rows.T) / n / safe[:, None]  # (R, G)
    st_b = (counts @ st_rows.T) / n / safe[:, None]
    return s1, z * s1_b.std(axis=0, ddof=1), st, z * st_b.std(axis=0, ddof=1), total


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
    ) -> None:
        self.index_config = index_config
        self.uncertainty_config = uncertainty_config
        self.waves_config = waves_config
        self.sensitivity_config = sensitivity_config

    # ------------------------------------------------------------------ factors and inputs
    @staticmethod
    def _factors(s: _Setup) -> list[Factor]:
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

    @staticmethod
    def _inputs(
        s: _Setup, factors: list[Factor], u: FloatArray
    ) -> tuple[FloatArray, FloatArray, NDArray[np.int64], NDArray[np.int64]]:
        """Map uniforms (m, inputs) to noisy values, weights, normaliser and aggregator indices."""
        m = u.shape[0]
        k, n = s.raw.shape
        u = np.clip(u, EPS, 1.0 - EPS)
        cols: dict[str, FloatArray] = {}
        lo = 0
        for f in factors:
            if f.varied:
                cols[f.name] = u[:, lo : lo + f.width]
                lo += f.width
        if "weights" in cols:
            uw = cols["weights"]
            gam = special.gammaincinv(s.alpha, uw)
            total = gam.sum(axis=1, keepdims=True)
            # every gamma quantile can underflow to 0 for tiny concentrations: Dirichlet's limit
            # there puts all weight on one indicator (the one with the largest uniform)
            onehot = (uw == uw.max(axis=1, keepdims=True)).astype(float)
            w = np.zeros((m, k))
            w[:, s.positive] = np.where(total > 0, gam / np.where(total > 0, total, 1.0), onehot)
        else:
            w = np.broadcast_to(s.weights, (m, k)).copy()

        def choice(name: str, options: list[str]) -> NDArray[np.int64]:
            if name not in cols:
                return np.zeros(m, dtype=np.int64)
            idx = (cols[name][:, 0] * len(options)).astype(np.int64)
            return np.minimum(idx, len(options) - 1)

        ni = choice("normaliser", s.normalisers)
        ai = choice("aggregator", s.aggregators)
        noisy = np.empty((m, k, n))
        for j, spec in enumerate(s.specs):
            zj = special.ndtri(cols[f"noise: {spec.name}"])
            noisy[:, j] = np.maximum(s.raw[j] + s.sd[j] * zj, s.floor[j])
        return noisy, w, ni, ai

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
        from SALib.analyze import sobol as sobol_analyze

        from ..waves import WavesConfig, assign_from_ranks

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
        s, notes = RankUncertainty(icfg, ucfg, wcfg)._setup(index, ucfg, wcfg)
        factors = self._factors(s)
        varied = [f for f in factors if f.varied]
        g = len(varied)
        big_n = scfg.samples
        seed = ucfg.seed if scfg.seed is None else scfg.seed
        design_ss, boot_ss = np.random.SeedSequence(seed).spawn(2)
        boot_seed = int(boot_ss.generate_state(1)[0]) or 1  # SALib ignores a seed of 0

        design = saltelli_design([f.width for f in varied], big_n, np.random.default_rng(design_ss))
        flat = design.reshape(-1, design.shape[-1])
        runs, n = flat.shape[0], s.raw.shape[1]
        ranks = np.empty((runs, n), dtype=np.int64)
        waves = np.empty((runs, n), dtype=np.int64)
        for lo in range(0, runs, ucfg.chunk_size):
            hi = min(lo + ucfg.chunk_size, runs)
            noisy, w, ni, ai = self._inputs(s, factors, flat[lo:hi])
            ranks[lo:hi], waves[lo:hi] = RankUncertainty._evaluate_chunk(s, noisy, w, ni, ai)

        published = assign_from_ranks(index.rank_.to_numpy(), s.sizes, s.locked, s.allowed) == 0
        member = (waves == 0).reshape(big_n, g + 2, n)
        r = np.random.default_rng(boot_seed).integers(big_n, size=(big_n, scfg.num_resamples))
        zq = float(norm.ppf(0.5 + scfg.conf_level / 2))

        def table(s1: FloatArray, s1c: FloatArray, st: FloatArray, stc: FloatArray) -> pd.DataFrame:
            vals = dict(
                zip([f.name for f in varied], zip(s1, s1c, st, stc, strict=True), strict=True)
            )
            rows = [[f.name, f.varied, *vals.get(f.name, (0.0, 0.0, 0.0, 0.0))] for f in factors]
            out = pd.DataFrame(rows, columns=INDEX_COLUMNS)
            out[INDEX_COLUMNS[2:]] = out[INDEX_COLUMNS[2:]].astype(float)
            return out

        # headline: wave-1 membership (multivariate)
        s1, s1c, st, stc, total = multivariate_indices(member, g, r, zq)
        indices = table(s1, s1c, st, stc)
        a, b, ab = _split(member.astype(float), g)
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
        if np.ptp(count) == 0:
            self.count_indices_ = table(*(np.zeros(g),) * 4)
        else:
            problem = {
                "num_vars": g,
                "names": [f.name for f in varied],
                "bounds": [[0.0, 1.0]] * g,
            }
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # constant bootstrap resamples
                res = sobol_analyze.analyze(
                    problem,
                    count.reshape(-1),
                    calc_second_order=False,
                    num_resamples=scfg.num_resamples,
                    conf_level=scfg.conf_level,
                    seed=boot_seed,
                )
            self.count_indices_ = table(res["S1"], res["S1_conf"], res["ST"], res["ST_conf"])

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
        a, b, ab = _split(y, g)
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
