"""RankUncertainty (Monte Carlo), the index table and the strategy checks.

Data: the SYNTHETIC areas table tests/data/index_synthetic_areas.csv (not real data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.errors import ConfigError
from allocator.index import (
    IndexConfig,
    NeedIndex,
    UncertaintyConfig,
    index_table,
    strategy_checks,
)
from allocator.montecarlo import RankUncertainty
from allocator.waves import Waves, WavesConfig

DATA = Path(__file__).parent / "data" / "index_synthetic_areas.csv"
ALL_METHODS = {
    "normalise_choices": ["zscore", "minmax", "rank", "exponential"],
    "aggregate_choices": ["arithmetic", "geometric"],
}


def areas() -> pd.DataFrame:
    return pd.read_csv(DATA, dtype={"drug_deaths_flag": str, "imd_flag": str, "crime_flag": str})


def run(draws: int = 400, method: str = "vectorised", **kw: object) -> RankUncertainty:
    ucfg = UncertaintyConfig(seed=kw.pop("seed", 20220413), draws=draws, **kw)
    return RankUncertainty(None, ucfg, None, method=method, progress=False).fit(areas())


def test_same_seed_identical_output_different_seed_differs() -> None:
    a, b, c = run(seed=1), run(seed=1), run(seed=2)
    pd.testing.assert_frame_equal(a.results_, b.results_)
    np.testing.assert_array_equal(a.ranks_, b.ranks_)
    assert not np.array_equal(a.ranks_, c.ranks_)


def test_loop_and_vectorised_agree_for_the_same_seed() -> None:
    kw = dict(draws=150, seed=9, **ALL_METHODS)
    vec, loop = run(**kw), run(method="loop", **kw)
    np.testing.assert_array_equal(vec.ranks_, loop.ranks_)
    np.testing.assert_array_equal(vec.waves_, loop.waves_)
    pd.testing.assert_frame_equal(vec.results_, loop.results_)
    pd.testing.assert_frame_equal(vec.choices_, loop.choices_)


def test_chunk_size_does_not_change_results() -> None:
    a, b = run(draws=300, chunk_size=7), run(draws=300, chunk_size=1000)
    np.testing.assert_array_equal(a.ranks_, b.ranks_)


def test_row_order_does_not_change_results() -> None:
    ucfg = UncertaintyConfig(seed=3, draws=200)
    shuffled = areas().sample(frac=1.0, random_state=4)
    a = RankUncertainty(None, ucfg, progress=False).fit(areas())
    b = RankUncertainty(None, ucfg, progress=False).fit(shuffled)
    pd.testing.assert_frame_equal(a.results_, b.results_)


def test_without_noise_every_draw_reproduces_the_published_waves() -> None:
    u = run(draws=20, relative_error=0.0, weight_concentration=0.0, use_death_rate_interval=False)
    idx = NeedIndex().fit(areas())
    waves = Waves().fit(idx)
    res = u.results_
    assert (res["rank_median"] == idx.rank_).all() and (res["rank_p05"] == idx.rank_).all()
    np.testing.assert_array_equal(res["p_wave_1"], (waves.wave_ == 1).astype(float))
    np.testing.assert_array_equal(res["p_wave_le_2"], (waves.wave_ <= 2).astype(float))
    assert not res["borderline"].any()


def test_probabilities_are_consistent() -> None:
    u = run(draws=500, **ALL_METHODS)
    res = u.results_
    assert res.columns.tolist() == [
        "rank",
        "rank_median",
        "rank_p05",
        "rank_p95",
        "p_wave_1",
        "p_wave_le_2",
        "borderline",
    ]
    assert (res["rank_p05"] <= res["rank_median"]).all()
    assert (res["rank_median"] <= res["rank_p95"]).all()
    assert (res["p_wave_1"] <= res["p_wave_le_2"]).all()
    # Every draw has exactly 50 LAs in wave 1 and 100 in waves 1-2.
    assert res["p_wave_1"].sum() == pytest.approx(50.0)
    assert res["p_wave_le_2"].sum() == pytest.approx(100.0)
    band = res["p_wave_1"].between(0.2, 0.8) | res["p_wave_le_2"].between(0.2, 0.8)
    assert (res["borderline"] == band).all()
    assert res["borderline"].any()
    assert set(u.choices_["normalise"]) == set(ALL_METHODS["normalise_choices"])
    w = u.choices_.filter(like="weight_").to_numpy()
    np.testing.assert_allclose(w.sum(axis=1), 1.0)


def test_locks_apply_in_every_draw() -> None:
    code = NeedIndex().fit(areas()).rank_.idxmax()  # lowest need
    wcfg = WavesConfig(locks=[{"code": code, "wave": 1, "reason": "pilot"}])
    u = RankUncertainty(None, UncertaintyConfig(seed=1, draws=200), wcfg, progress=False).fit(
        areas()
    )
    assert u.results_.loc[code, "p_wave_1"] == 1.0
    assert (u.waves_ == 1).sum(axis=1).tolist() == [50] * 200


def test_death_rate_interval_noise_and_fallback_note() -> None:
    a = areas()
    a.loc[0, ["drug_deaths_lcl", "drug_deaths_ucl"]] = np.nan
    u = RankUncertainty(None, UncertaintyConfig(seed=1, draws=10), progress=False).fit(a)
    sd = pd.Series(u.setup_.sd[0], index=u.index_.areas_["code"])  # arrays are in code order
    one = a.loc[1]
    assert sd[one["code"]] == pytest.approx(
        (one["drug_deaths_ucl"] - one["drug_deaths_lcl"]) / 3.92
    )
    assert sd[a.loc[0, "code"]] == pytest.approx(0.05 * a.loc[0, "drug_deaths_rate"])
    assert any("no 95% interval for the death rate of 1 LA(s)" in n for n in u.notes_)


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="needs an UncertaintyConfig"):
        RankUncertainty().fit(areas())
    with pytest.raises(ConfigError, match="disabled"):
        RankUncertainty(None, UncertaintyConfig(seed=1, enabled=False)).fit(areas())


def test_ten_thousand_draws_give_one_ranking_per_draw() -> None:
    # speed is measured in benchmarks/, never asserted here
    u = run(draws=10_000)
    assert u.ranks_.shape == (10_000, 152)
    assert (np.sort(u.ranks_, axis=1) == np.arange(1, 153)).all()


def test_index_table_columns_and_order() -> None:
    a = areas()
    idx = NeedIndex().fit(a)
    waves = Waves(WavesConfig(locks=[{"code": "E06000000", "wave": 1, "reason": "pilot"}])).fit(idx)
    u = RankUncertainty(None, UncertaintyConfig(seed=5, draws=200), progress=False).fit(a)
    t = index_table(a, idx, waves, u)
    per = [
        f"{i}_{s}"
        for i in ("drug_deaths_rate", "imd_score", "crime_score")
        for s in ("raw", "norm", "contrib", "flag")
    ]
    assert t.columns.tolist() == [
        "code",
        "name",
        "region",
        *per,
        "score",
        "need_factor",
        "rank",
        "wave",
        "wave_label",
        "rank_median",
        "rank_p05",
        "rank_p95",
        "p_wave_1",
        "p_wave_le_2",
        "borderline",
        "override",
    ]
    assert t["rank"].tolist() == list(range(1, 153))
    assert t.loc[t["code"] == "E06000000", "override"].item() == "locked into wave 1: pilot"
    assert (t["wave"].value_counts().sort_index().tolist()) == [50, 50, 52]
    pd.testing.assert_frame_equal(t, index_table(a.sample(frac=1, random_state=1), idx, waves, u))
    bare = index_table(None, idx)
    assert bare.columns.tolist() == t.columns.tolist()
    assert bare["p_wave_1"].isna().all() and (bare["override"] == "").all()


def test_index_table_rejects_mismatched_pieces() -> None:
    a = areas()
    idx = NeedIndex().fit(a)
    other = NeedIndex(IndexConfig(normalise="rank")).fit(a)
    with pytest.raises(ConfigError, match="different ranking"):
        index_table(a, idx, Waves().fit(other))


def test_strategy_checks_known_answer() -> None:
    f = pd.DataFrame(
        {
            "wave": [1, 1, 2, 3, 3],
            "imd_score": [40.0, 20.0, 25.0, 10.0, 20.0],
            "region": ["North East", "London", "Yorkshire and The Humber", "London", "South East"],
            "pop_all": [100, 100, 200, 300, 300],
            "drug_deaths_count": [10, 5, np.nan, 3, 2],
        }
    )
    c = strategy_checks(f)
    assert c["imd_ratio_wave1_to_last"] == pytest.approx(30 / 15)
    assert c["share_wave1_ne_yh"] == 0.5 and c["share_all_ne_yh"] == 0.4
    assert c["pop_share_wave1"] == pytest.approx(0.2)
    assert c["deaths_share_wave1"] == pytest.approx(0.75)
    assert (c["n_wave1"], c["last_wave"], c["deaths_missing"]) == (2, 3, 1)
