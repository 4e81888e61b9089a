"""NeedIndex on a SYNTHETIC areas table (tests/data/index_synthetic_areas.csv, made by
tests/data/index_synthetic_areas_make.py; not real data) and on tiny hand-made frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.errors import ConfigError, DataError
from allocator.index import IndexConfig, IndicatorSpec, NeedIndex, need_factor

DATA = Path(__file__).parent / "data" / "index_synthetic_areas.csv"


def areas() -> pd.DataFrame:
    return pd.read_csv(DATA, dtype={"drug_deaths_flag": str, "imd_flag": str, "crime_flag": str})


def spec(name: str, **kw: object) -> IndicatorSpec:
    return IndicatorSpec(name=name, direction=kw.pop("direction", "higher_is_worse"), **kw)


def tiny(**cols: list) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    base = {
        "code": [f"E0600000{i}" for i in range(n)],
        "name": [f"LA {i}" for i in range(n)],
        "region": ["North East"] * n,
        "drug_deaths_rate": [1.0] * n,  # the default tie-break key
    }
    base.update(cols)
    return pd.DataFrame(base)


@pytest.mark.parametrize("normaliser", ["zscore", "minmax", "rank", "exponential"])
@pytest.mark.parametrize("aggregator", ["arithmetic", "geometric"])
def test_contributions_sum_to_score_and_rank_follows_score(
    normaliser: str, aggregator: str
) -> None:
    idx = NeedIndex(IndexConfig(normalise=normaliser, aggregate=aggregator)).fit(areas())
    np.testing.assert_allclose(idx.contributions_.sum(axis=1), idx.score_, rtol=1e-12, atol=1e-12)
    assert sorted(idx.rank_) == list(range(1, 153))
    ordered = idx.score_.to_numpy()[np.argsort(idx.rank_.to_numpy())]
    assert np.all(np.diff(ordered) <= 0)
    assert idx.notes_ == [
        "need index built without ocu_rate (opiate and crack cocaine use prevalence): not supplied"
    ]
    assert list(idx.weights_.index) == ["drug_deaths_rate", "imd_score", "crime_score"]
    assert idx.weights_["weight"].sum() == pytest.approx(1.0)


def test_known_answer_three_las() -> None:
    frame = tiny(drug_deaths_rate=[1.0, 2.0, 3.0], imd_score=[30.0, 20.0, 10.0])
    cfg = IndexConfig(
        indicators=[spec("drug_deaths_rate", weight=3), spec("imd_score", weight=1)],
        normalise="minmax",
    )
    idx = NeedIndex(cfg).fit(frame)
    # minmax: deaths (0, .5, 1), imd (1, .5, 0); weights (.75, .25)
    np.testing.assert_allclose(idx.score_, [0.25, 0.5, 0.75])
    assert idx.rank_.tolist() == [3, 2, 1]
    np.testing.assert_allclose(idx.need_factor_, [0.5, 1.0, 1.5])
    np.testing.assert_allclose(idx.contributions_["imd_score"], [0.25, 0.125, 0.0])


def test_higher_is_better_is_negated() -> None:
    frame = tiny(imd_score=[1.0, 5.0, 3.0])
    worse = NeedIndex(IndexConfig(indicators=[spec("imd_score")])).fit(frame)
    better = NeedIndex(
        IndexConfig(indicators=[spec("imd_score", direction="higher_is_better")])
    ).fit(frame)
    assert worse.rank_.tolist() == [3, 1, 2]
    assert better.rank_.tolist() == [1, 3, 2]
    np.testing.assert_allclose(better.normalised_["imd_score"], -worse.normalised_["imd_score"])


def test_ties_broken_by_death_rate_then_code() -> None:
    frame = tiny(imd_score=[5.0, 5.0, 5.0, 9.0], drug_deaths_rate=[2.0, 3.0, 2.0, 1.0])
    idx = NeedIndex(IndexConfig(indicators=[spec("imd_score")])).fit(frame)
    # All but the last tie on score; LA 1 has the highest death rate; LAs 0 and 2 by code.
    assert idx.rank_.tolist() == [3, 2, 4, 1]


def test_row_order_does_not_change_results() -> None:
    a = areas()
    shuffled = a.sample(frac=1.0, random_state=5)
    x, y = NeedIndex().fit(a), NeedIndex().fit(shuffled)
    pd.testing.assert_series_equal(x.score_, y.score_)
    pd.testing.assert_series_equal(x.rank_, y.rank_)
    pd.testing.assert_frame_equal(x.contributions_, y.contributions_)


def test_need_factor_is_non_negative_and_monotone() -> None:
    idx = NeedIndex(IndexConfig(need_factor={"low": 0.0, "high": 2.0})).fit(areas())
    nf, score = idx.need_factor_.to_numpy(), idx.score_.to_numpy()
    assert nf.min() == 0.0 and nf.max() == 2.0
    order = np.argsort(score)
    assert np.all(np.diff(nf[order]) >= 0)
    assert need_factor(np.array([3.0, 3.0]), 0.5, 1.5).tolist() == [1.0, 1.0]


def test_required_indicator_absent_is_a_data_error() -> None:
    cfg = IndexConfig(indicators=[spec("imd_score"), spec("ocu_rate")])
    with pytest.raises(DataError, match=r"column 'ocu_rate': required indicator 'ocu_rate'"):
        NeedIndex(cfg).fit(areas())


def test_optional_indicator_used_when_present() -> None:
    a = areas()
    a["ocu_rate"] = np.linspace(2.0, 20.0, len(a))
    idx = NeedIndex().fit(a)
    assert "ocu_rate" in idx.weights_.index
    assert idx.notes_ == []


def test_missing_value_error_names_codes() -> None:
    a = areas()
    a.loc[[3, 7], "drug_deaths_rate"] = np.nan
    with pytest.raises(DataError) as exc:
        NeedIndex().fit(a)
    msg = str(exc.value)
    assert "column 'drug_deaths_rate'" in msg
    assert a.loc[3, "code"] in msg and a.loc[7, "code"] in msg


def test_regional_and_national_median_imputation_is_flagged() -> None:
    frame = pd.DataFrame(
        {
            "code": ["E06000001", "E06000002", "E06000003", "E06000004", "E06000005"],
            "name": list("ABCDE"),
            "region": ["North East", "North East", "North East", "London", "London"],
            "imd_score": [10.0, 20.0, np.nan, 40.0, 100.0],
            "imd_flag": ["", "", "", "population-weighted", ""],
            "drug_deaths_rate": [1.0] * 5,
        }
    )
    reg = NeedIndex(IndexConfig(indicators=[spec("imd_score", missing="regional_median")])).fit(
        frame
    )
    assert reg.raw_.loc["E06000003", "imd_score"] == 15.0
    assert reg.missing_.loc["E06000003", "imd_score"]
    assert reg.flags_.loc["E06000003", "imd_score"] == (
        "imd_score imputed: median of 2 other LAs in North East"
    )
    assert reg.flags_.loc["E06000004", "imd_score"] == "population-weighted"
    assert reg.flags_.loc["E06000001", "imd_score"] == ""
    assert any("imputed by regional median (E06000003)" in n for n in reg.notes_)
    nat = NeedIndex(IndexConfig(indicators=[spec("imd_score", missing="national_median")])).fit(
        frame
    )
    assert nat.raw_.loc["E06000003", "imd_score"] == 30.0


def test_log_transform_needs_positive_values() -> None:
    frame = tiny(imd_score=[1.0, 0.0, 3.0])
    with pytest.raises(DataError, match=r"transform 'log' but has values <= 0 \[E06000001\]"):
        NeedIndex(IndexConfig(indicators=[spec("imd_score", transform="log")])).fit(frame)
    ok = NeedIndex(IndexConfig(indicators=[spec("imd_score", transform="log")])).fit(
        tiny(imd_score=[1.0, np.e, np.e**2])
    )
    np.testing.assert_allclose(ok.normalised_["imd_score"], [-np.sqrt(1.5), 0, np.sqrt(1.5)])


def test_missing_tie_break_column_is_a_data_error() -> None:
    frame = tiny(imd_score=[1.0, 2.0]).drop(columns="drug_deaths_rate")
    with pytest.raises(DataError, match="column 'drug_deaths_rate': tie-break column is missing"):
        NeedIndex(IndexConfig(indicators=[spec("imd_score")])).fit(frame)


def test_duplicate_codes_and_non_numeric_values() -> None:
    frame = tiny(imd_score=[1.0, 2.0, 3.0])
    frame.loc[2, "code"] = frame.loc[0, "code"]
    with pytest.raises(DataError, match=r"duplicated ONS code \[E06000000\]"):
        NeedIndex(IndexConfig(indicators=[spec("imd_score")])).fit(frame)
    bad = tiny(imd_score=["1", "two", "3"])
    with pytest.raises(DataError, match=r"column 'imd_score': non-numeric value \[E06000001\]"):
        NeedIndex(IndexConfig(indicators=[spec("imd_score")])).fit(bad)


def test_present_weights_summing_to_zero() -> None:
    cfg = IndexConfig(
        indicators=[spec("imd_score", weight=0), spec("ocu_rate", weight=1, required=False)]
    )
    with pytest.raises(
        ConfigError, match="weights of the indicators present sum to zero: imd_score=0.0"
    ):
        NeedIndex(cfg).fit(areas())


def test_pca_weighting_reports_loadings_and_note() -> None:
    idx = NeedIndex(IndexConfig(weighting="pca")).fit(areas())
    w = idx.weights_
    assert w["weight"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(w["weight"], w["loading"] ** 2)
    assert any(n.startswith("PCA weights: first principal component explains") for n in idx.notes_)
