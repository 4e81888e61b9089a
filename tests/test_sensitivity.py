"""WaveSensitivity: Sobol' attribution of wave-1 membership to the uncertain modelling choices.

Data: the SYNTHETIC areas table tests/data/index_synthetic_areas.csv (not real data) and small
synthetic frames built in the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import sobol as sobol_sample

from allocator.errors import ConfigError
from allocator.index import (
    IndexConfig,
    IndicatorSpec,
    SensitivityConfig,
    UncertaintyConfig,
    validate_section,
)
from allocator.montecarlo import RankUncertainty, WaveSensitivity
from allocator.montecarlo.draws import monte_carlo_setup
from allocator.montecarlo.sobol import multivariate_indices, saltelli_design
from allocator.montecarlo.sobol_inputs import design_inputs, factor_inputs
from allocator.waves import WaveLock, WavesConfig

DATA = Path(__file__).parent / "data" / "index_synthetic_areas.csv"
ALL_METHODS = {
    "normalise_choices": ["zscore", "minmax", "rank", "exponential"],
    "aggregate_choices": ["arithmetic", "geometric"],
}
NAMES = ["drug_deaths_rate", "imd_score", "crime_score"]
WAVES = WavesConfig(sizes=[20, 20, "rest"])


def areas() -> pd.DataFrame:
    return pd.read_csv(DATA, dtype={"drug_deaths_flag": str, "imd_flag": str, "crime_flag": str})


def synthetic(n: int = 60, seed: int = 0, identical: bool = False) -> pd.DataFrame:
    """Positive, distinct indicator values for ``n`` synthetic LAs."""
    rng = np.random.default_rng(seed)
    x = rng.lognormal(2.0, 0.4, size=(3, n))
    if identical:
        x[1] = x[0]
        x[2] = x[0]
    return pd.DataFrame(
        {"code": [f"E06{i:06d}" for i in range(n)], **dict(zip(NAMES, x, strict=True))}
    )


def index_cfg(**errors: float) -> IndexConfig:
    return IndexConfig(
        indicators=[
            IndicatorSpec(name=k, direction="higher_is_worse", relative_error=errors.get(k))
            for k in NAMES
        ]
    )


def run(
    frame: pd.DataFrame | None = None,
    samples: int = 256,
    icfg: IndexConfig | None = None,
    wcfg: WavesConfig | None = None,
    **kw: object,
) -> WaveSensitivity:
    ucfg = UncertaintyConfig(seed=kw.pop("seed", 20220413), **kw)
    return WaveSensitivity(icfg, ucfg, wcfg, SensitivityConfig(samples=samples)).fit(
        areas() if frame is None else frame
    )


def row(ws: WaveSensitivity, factor: str) -> pd.Series:
    return ws.indices_.set_index("factor").loc[factor]


# ---------------------------------------------------------------------- the design and estimators
def test_design_is_salibs_sobol_sample_with_groups() -> None:
    widths = [3, 1, 1, 7, 7]
    names = [f"x{i}" for i in range(sum(widths))]
    groups = [f"g{j}" for j, w in enumerate(widths) for _ in range(w)]
    problem = {
        "num_vars": len(names),
        "names": names,
        "groups": groups,
        "bounds": [[0.0, 1.0]] * len(names),
    }
    expected = sobol_sample.sample(
        problem, 64, calc_second_order=False, seed=np.random.default_rng(5)
    )
    got = saltelli_design(widths, 64, np.random.default_rng(5)).reshape(-1, len(names))
    np.testing.assert_array_equal(got, expected)


def test_single_output_indices_equal_salib_analyze() -> None:
    # Ishigami function, x3 and x1 grouped: a scalar output must give SALib's own numbers
    widths = [2, 1]
    n = 512
    x = saltelli_design(widths, n, np.random.default_rng(3))
    p = -np.pi + 2 * np.pi * x
    y = np.sin(p[..., 0]) + 7 * np.sin(p[..., 2]) ** 2 + 0.1 * p[..., 1] ** 4 * np.sin(p[..., 0])
    problem = {"num_vars": 2, "names": ["a", "b"], "bounds": [[0.0, 1.0]] * 2}
    ref = sobol_analyze.analyze(
        problem, y.reshape(-1), calc_second_order=False, num_resamples=50, seed=11
    )
    r = np.random.default_rng(11).integers(n, size=(n, 50))
    s1, s1c, st, stc, total = multivariate_indices(y[..., None], 2, r, 1.959963984540054)
    np.testing.assert_allclose(s1, ref["S1"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(st, ref["ST"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(s1c, ref["S1_conf"], rtol=1e-6)
    np.testing.assert_allclose(stc, ref["ST_conf"], rtol=1e-6)
    assert total > 0


def test_vector_output_indices_weight_components_by_their_variance() -> None:
    # y1 depends only on factor 0, y2 (10x the variance) only on factor 1
    n = 1024
    x = saltelli_design([1, 1], n, np.random.default_rng(0))
    y = np.stack([x[..., 0], np.sqrt(10) * x[..., 1]], axis=-1)
    r = np.random.default_rng(1).integers(n, size=(n, 20))
    s1, _, st, _, _ = multivariate_indices(y, 2, r, 1.96)
    np.testing.assert_allclose(s1, [1 / 11, 10 / 11], atol=0.03)
    np.testing.assert_allclose(st, [1 / 11, 10 / 11], atol=0.03)


# ---------------------------------------------------------------------- known answers
def test_only_noisy_indicator_gets_all_the_variance() -> None:
    ws = run(
        synthetic(),
        icfg=index_cfg(drug_deaths_rate=0.3, imd_score=0.0, crime_score=0.0),
        wcfg=WAVES,
        weight_concentration=0,
        use_death_rate_interval=False,
    )
    ind = ws.indices_.set_index("factor")
    assert list(ind.index) == [
        "weights",
        "normaliser",
        "aggregator",
        *(f"noise: {k}" for k in NAMES),
    ]
    assert not ind.loc[["weights", "normaliser", "aggregator"], "varied"].any()
    noisy = ind.loc["noise: drug_deaths_rate"]
    assert noisy["ST"] == pytest.approx(1.0, abs=0.05)
    assert noisy["S1"] == pytest.approx(1.0, abs=0.1)
    others = ind.drop(index="noise: drug_deaths_rate")
    assert (others[["S1", "ST", "las_moved"]].abs() < 1e-12).all().all()
    assert ws.las_moved_all_ > 1  # the noise does move LAs in and out of wave 1
    assert noisy["las_moved"] == pytest.approx(ws.las_moved_all_, rel=0.1)


def test_identical_indicators_make_weights_and_methods_irrelevant() -> None:
    ws = run(
        synthetic(identical=True),
        icfg=index_cfg(),
        wcfg=WAVES,
        relative_error=0.0,
        use_death_rate_interval=False,
        weight_concentration=2.0,
        **ALL_METHODS,
    )
    ind = ws.indices_.set_index("factor")
    assert ind.loc[["weights", "normaliser", "aggregator"], "varied"].all()
    assert (ind[["S1", "S1_conf", "ST", "ST_conf", "las_moved"]] == 0).all().all()
    assert ws.las_moved_all_ == 0 and ws.published_moved_ == 0
    assert ws.la_indices_.empty
    assert any("same in every sample" in n for n in ws.notes_)


def test_weights_only_get_all_the_variance_when_indicators_differ() -> None:
    ws = run(
        synthetic(),
        icfg=index_cfg(),
        wcfg=WAVES,
        relative_error=0.0,
        use_death_rate_interval=False,
        weight_concentration=2.0,
    )
    w = row(ws, "weights")
    assert w["ST"] == pytest.approx(1.0, abs=0.05)
    assert w["S1"] == pytest.approx(1.0, abs=0.1)
    assert row(ws, "noise: imd_score")["ST"] == 0


def test_choice_of_normaliser_alone() -> None:
    ws = run(
        synthetic(),
        icfg=index_cfg(),
        wcfg=WAVES,
        relative_error=0.0,
        use_death_rate_interval=False,
        weight_concentration=0,
        normalise_choices=["zscore", "rank"],
    )
    ind = ws.indices_.set_index("factor")
    assert ind.loc["normaliser", "ST"] == pytest.approx(1.0, abs=0.05)
    assert ind.drop(index="normaliser")["ST"].abs().max() < 1e-12


# ---------------------------------------------------------------------- behaviour on a full table
@pytest.fixture(scope="module")
def full() -> WaveSensitivity:
    return run(samples=512, **ALL_METHODS)


def test_same_seed_identical_output_different_seed_differs(full: WaveSensitivity) -> None:
    again = run(samples=512, **ALL_METHODS)
    pd.testing.assert_frame_equal(full.indices_, again.indices_)
    pd.testing.assert_frame_equal(full.count_indices_, again.count_indices_)
    pd.testing.assert_frame_equal(full.rank_indices_, again.rank_indices_)
    pd.testing.assert_frame_equal(full.la_indices_, again.la_indices_)
    other = run(samples=512, seed=7, **ALL_METHODS)
    assert not np.allclose(other.indices_["ST"], full.indices_["ST"])


def test_chunk_size_does_not_change_results(full: WaveSensitivity) -> None:
    small = run(samples=512, chunk_size=333, **ALL_METHODS)
    pd.testing.assert_frame_equal(full.indices_, small.indices_)


def test_threads_do_not_change_results(full: WaveSensitivity) -> None:
    ucfg = UncertaintyConfig(seed=20220413, chunk_size=333, **ALL_METHODS)
    two = WaveSensitivity(None, ucfg, None, SensitivityConfig(samples=512), n_jobs=2).fit(areas())
    pd.testing.assert_frame_equal(full.indices_, two.indices_)
    pd.testing.assert_frame_equal(full.rank_indices_, two.rank_indices_)


def test_indices_are_shares_with_confidence(full: WaveSensitivity) -> None:
    ind = full.indices_
    assert full.runs_ == 512 * (6 + 2)
    assert ind["varied"].all()
    assert ((ind["ST"] >= 0) & (ind["ST"] <= 1.05)).all()
    assert (ind["ST"] >= ind["S1"] - ind["S1_conf"] - ind["ST_conf"]).all()
    assert ind["S1"].sum() <= 1.05
    assert ((ind["S1_conf"] > 0) & (ind["ST_conf"] > 0)).all()
    # ST is the expected number of LAs moved by redrawing one factor over the number moved by
    # redrawing everything
    np.testing.assert_allclose(ind["ST"], ind["las_moved"] / full.las_moved_all_, rtol=0.15)
    for other in (full.count_indices_, full.rank_indices_):
        assert list(other.columns) == ["factor", "varied", "S1", "S1_conf", "ST", "ST_conf"]
        assert list(other["factor"]) == list(ind["factor"])


def test_wave_probabilities_agree_with_the_monte_carlo(full: WaveSensitivity) -> None:
    ucfg = UncertaintyConfig(seed=1, draws=4000, **ALL_METHODS)
    mc = RankUncertainty(None, ucfg, None, progress=False).fit(areas()).results_
    la = full.la_indices_
    assert set(la.index) <= set(mc.index)
    p_mc = mc["p_wave_1"]
    moving = p_mc[(p_mc > 0) & (p_mc < 1)]
    # every LA that moves often in the Monte Carlo moves in the Sobol' runs
    assert set(moving[(moving > 0.05) & (moving < 0.95)].index) <= set(la.index)
    diff = (la["p_wave_1"] - p_mc.reindex(la.index)).abs()
    assert diff.max() < 0.1
    expected_moved = 2 * float((p_mc * (1 - p_mc)).sum())
    assert full.las_moved_all_ == pytest.approx(expected_moved, rel=0.15)


def test_la_table(full: WaveSensitivity) -> None:
    la = full.la_indices_
    assert la.index.name == "code"
    assert la["rank"].is_monotonic_increasing
    assert ((la["p_wave_1"] > 0) & (la["p_wave_1"] < 1)).all()
    assert la["borderline"].equals((la["p_wave_1"] >= 0.2) & (la["p_wave_1"] <= 0.8))
    st = la[[c for c in la.columns if c.startswith("ST ")]]
    assert st.shape[1] == 6
    assert (st.to_numpy() >= 0).all()
    assert set(la.index[la["published_wave_1"]]) <= set(
        full.index_.rank_.index[full.index_.rank_ <= 50]
    )


def test_locked_la_never_moves() -> None:
    plain = run(samples=128, **ALL_METHODS)
    code = plain.la_indices_.index[0]
    wcfg = WavesConfig(locks=[WaveLock(code=code, wave=1, reason="test")])
    locked = run(samples=128, wcfg=wcfg, **ALL_METHODS)
    assert code not in locked.la_indices_.index


# ---------------------------------------------------------------------- configuration
def test_samples_must_be_a_power_of_two() -> None:
    with pytest.raises(
        ConfigError,
        match=r"uncertainty\.sensitivity\.samples'?: samples must be a power of 2.*try 256 or 512",
    ):
        validate_section(
            UncertaintyConfig, {"seed": 1, "sensitivity": {"samples": 300}}, section="uncertainty"
        )
    cfg = validate_section(UncertaintyConfig, {"seed": 1, "sensitivity": {"samples": 64}})
    assert cfg.sensitivity is not None and cfg.sensitivity.samples == 64
    assert UncertaintyConfig(seed=1).sensitivity is None


def test_config_taken_from_uncertainty_section_and_seed_override() -> None:
    frame = synthetic()
    icfg = index_cfg(drug_deaths_rate=0.2, imd_score=0.1, crime_score=0.1)
    ucfg = UncertaintyConfig(
        seed=3, use_death_rate_interval=False, sensitivity=SensitivityConfig(samples=64)
    )
    a = WaveSensitivity(icfg, ucfg, WAVES).fit(frame)
    assert a.runs_ == 64 * (4 + 2)  # weights + three noise factors
    b = WaveSensitivity(icfg, ucfg, WAVES, SensitivityConfig(samples=64, seed=3)).fit(frame)
    pd.testing.assert_frame_equal(a.indices_, b.indices_)
    c = WaveSensitivity(icfg, ucfg, WAVES, SensitivityConfig(samples=64, seed=4)).fit(frame)
    assert not c.indices_["ST"].equals(a.indices_["ST"])


def test_disabled_or_missing_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="needs an UncertaintyConfig"):
        WaveSensitivity().fit(synthetic())
    with pytest.raises(ConfigError, match=r"uncertainty\.enabled: false"):
        WaveSensitivity(None, UncertaintyConfig(seed=1, enabled=False)).fit(synthetic())
    off = UncertaintyConfig(seed=1, sensitivity=SensitivityConfig(enabled=False))
    with pytest.raises(ConfigError, match=r"sensitivity\.enabled: false"):
        WaveSensitivity(None, off).fit(synthetic())


def test_weight_inputs_follow_the_monte_carlo_dirichlet() -> None:
    frame = synthetic()
    ucfg = UncertaintyConfig(seed=1, weight_concentration=20.0)
    ws = WaveSensitivity(index_cfg(), ucfg, WAVES, SensitivityConfig(samples=64)).fit(frame)
    s, _ = monte_carlo_setup(ws.index_, ucfg, WAVES, index_cfg())
    u = np.random.default_rng(0).random((20_000, sum(f.width for f in ws.factors_)))
    _, w, ni, ai = factor_inputs(s, ws.factors_, u)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    np.testing.assert_allclose(w.mean(axis=0), [1 / 3] * 3, atol=0.005)
    np.testing.assert_allclose(w.var(axis=0), [(1 / 3) * (2 / 3) / 21] * 3, rtol=0.05)
    assert (ni == 0).all() and (ai == 0).all()
    tiny = UncertaintyConfig(seed=1, weight_concentration=1e-3)
    s_tiny, _ = monte_carlo_setup(ws.index_, tiny, WAVES, index_cfg())
    _, w_tiny, _, _ = factor_inputs(s_tiny, ws.factors_, u[:100])
    np.testing.assert_allclose(w_tiny.sum(axis=1), 1.0)


@pytest.mark.parametrize("methods", [True, False])
def test_design_inputs_equal_every_row_mapped(methods: bool) -> None:
    """A and B mapped once and copied into the AB_j rows: the numbers of mapping every row."""
    frame = synthetic()
    kw = ({"normalise_choices": ["zscore", "rank"], "aggregate_choices": ["arithmetic",
           "geometric"]} if methods else {"weight_concentration": 0.0})
    ucfg = UncertaintyConfig(seed=1, **kw)
    ws = WaveSensitivity(index_cfg(), ucfg, WAVES, SensitivityConfig(samples=16)).fit(frame)
    s, _ = monte_carlo_setup(ws.index_, ucfg, WAVES, index_cfg())
    widths = [f.width for f in ws.factors_ if f.varied]
    design = saltelli_design(widths, 16, np.random.default_rng(3))
    expected = factor_inputs(s, ws.factors_, design.reshape(-1, design.shape[-1]))
    got_all = design_inputs(s, ws.factors_, design[:, 0], design[:, -1])
    for got, want in zip(got_all, expected, strict=True):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    # a sample's AB_j rows differ from A in factor j only, so mixing the sources must show
    noisy = got_all[0].reshape(16, len(widths) + 2, *s.raw.shape)
    assert not np.array_equal(noisy[:, 0], noisy[:, -1])


def test_one_blas_thread_limits_blas_and_keeps_the_numbers() -> None:
    from threadpoolctl import threadpool_info

    from allocator.montecarlo.sobol import one_blas_thread

    def blas_threads() -> list[int]:
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    before = blas_threads()
    rng = np.random.default_rng(0)
    y = (rng.random((512, 4, 300)) < 0.3).astype(float)
    r = rng.integers(512, size=(512, 100))
    free = multivariate_indices(y, 2, r, 1.96)
    with one_blas_thread():
        assert all(t == 1 for t in blas_threads())
        limited = multivariate_indices(y, 2, r, 1.96)
    assert blas_threads() == before
    for a, b in zip(free[:4], limited[:4], strict=True):
        np.testing.assert_array_equal(a, b)
    assert free[4] == limited[4]
