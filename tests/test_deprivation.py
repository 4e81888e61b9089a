"""Deprivation without double counting: the notes, the IoD domain columns, the Monte Carlo draw.

Monte Carlo tests use the SYNTHETIC areas table tests/data/index_synthetic_areas.csv with
SYNTHETIC income/employment columns added here (not real data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.config import config_from_dict, load_config, read_config_document
from allocator.errors import ConfigError
from allocator.index import IndexConfig, UncertaintyConfig
from allocator.index.config import IndicatorSpec
from allocator.index.deprivation import deprivation_notes
from allocator.montecarlo import RankUncertainty
from allocator.paths import default_data_dir

ROOT = Path(__file__).resolve().parents[1]
SYNTH = Path(__file__).parent / "data" / "index_synthetic_areas.csv"
DATA = default_data_dir()


def areas() -> pd.DataFrame:
    df = pd.read_csv(SYNTH, dtype={"drug_deaths_flag": str, "imd_flag": str, "crime_flag": str})
    rng = np.random.default_rng(7)  # SYNTHETIC domain scores loosely tied to the IMD
    df["income_score"] = (df["imd_score"] / 250 + rng.uniform(0, 0.05, len(df))).round(4)
    df["employment_score"] = (df["imd_score"] / 300 + rng.uniform(0, 0.05, len(df))).round(4)
    return df


def index(dep: str = "imd_score", crime_weight: float = 1.0) -> IndexConfig:
    return IndexConfig(indicators=[
        IndicatorSpec(name="drug_deaths_rate", direction="higher_is_worse"),
        IndicatorSpec(name=dep, direction="higher_is_worse"),
        IndicatorSpec(name="crime_score", direction="higher_is_worse", weight=crime_weight),
    ])


def mc(icfg: IndexConfig, method: str = "vectorised", **kw: object) -> RankUncertainty:
    ucfg = UncertaintyConfig(seed=11, draws=200, normalise_choices=["zscore", "rank"], **kw)
    return RankUncertainty(icfg, ucfg, None, method=method, progress=False).fit(areas())


def test_notes_say_when_crime_counts_twice():
    (note,) = deprivation_notes(index(), "imd_crime")
    assert "counted twice" in note and "9.3%" in note and "Income" in note
    (note,) = deprivation_notes(index(), "crime_severity")
    assert "overlap" in note
    assert deprivation_notes(index("income_score"), "imd_crime") == []
    assert deprivation_notes(index(crime_weight=0), "imd_crime") == []
    ucfg = UncertaintyConfig(seed=1, deprivation_choices=["income_score", "imd_score"])
    notes = deprivation_notes(index("income_score"), "imd_crime", ucfg)
    assert notes == ["Uncertainty: each Monte Carlo draw measures deprivation by one of IoD 2019 "
                     "Income domain, IMD 2019 (the Sobol' attribution keeps the index's own "
                     "measure)."]


def test_default_config_says_it_and_the_scenario_does_not_double_count():
    from allocator.pipeline import _deprivation_notes

    assert any("counted twice" in n for n in _deprivation_notes(
        load_config(ROOT / "configs" / "ssmtrg-2022-25.yaml")))
    scen = load_config(ROOT / "configs" / "deprivation-income.yaml")
    notes = _deprivation_notes(scen)
    assert not any("counted twice" in n for n in notes)
    assert any("Employment domain" in n for n in notes)
    doc = read_config_document(ROOT / "configs" / "deprivation-income.yaml")
    doc["uncertainty"]["deprivation_choices"] = ["imd_score", "imd_score"]
    with pytest.raises(ConfigError, match="more than once"):
        config_from_dict(doc)
    doc["uncertainty"]["deprivation_choices"] = ["crime_score"]
    with pytest.raises(ConfigError, match="deprivation_choices"):
        config_from_dict(doc)


def test_drawing_only_the_index_own_measure_changes_nothing():
    base = mc(index())
    same = mc(index(), deprivation_choices=["imd_score"])
    np.testing.assert_array_equal(base.ranks_, same.ranks_)
    assert (same.choices_["deprivation"] == "imd_score").all()


def test_drawing_another_measure_is_the_monte_carlo_of_that_measure():
    swapped = mc(index("imd_score"), deprivation_choices=["income_score"])
    direct = mc(index("income_score"))
    np.testing.assert_array_equal(swapped.ranks_, direct.ranks_)
    assert not np.array_equal(swapped.ranks_, mc(index()).ranks_)


def test_drawn_measures_are_reproducible_whatever_the_method_or_blocks():
    kw = {"deprivation_choices": ["imd_score", "income_score", "employment_score"]}
    vec, loop = mc(index(), **kw), mc(index(), method="loop", **kw)
    np.testing.assert_array_equal(vec.ranks_, loop.ranks_)
    pd.testing.assert_frame_equal(vec.choices_, loop.choices_)
    counts = vec.choices_["deprivation"].value_counts()
    assert set(counts.index) == set(kw["deprivation_choices"]) and counts.min() > 40
    assert "deprivation measures" in vec.notes_[-1]


def test_the_index_must_have_one_deprivation_indicator():
    icfg = IndexConfig(indicators=[
        IndicatorSpec(name="drug_deaths_rate", direction="higher_is_worse"),
        IndicatorSpec(name="crime_score", direction="higher_is_worse"),
    ])
    with pytest.raises(ConfigError, match="exactly one of imd_score, income_score"):
        mc(icfg, deprivation_choices=["income_score"])
    with pytest.raises(ConfigError, match="not in the areas table"):
        ucfg = UncertaintyConfig(seed=1, draws=10, deprivation_choices=["employment_score"])
        RankUncertainty(index(), ucfg, None, progress=False).fit(
            areas().drop(columns="employment_score"))


@pytest.mark.skipif(DATA is None, reason="shared/geodata not present")
def test_areas_table_has_the_iod_domains():
    from allocator.data import load_areas
    from allocator.data.config import DataConfig

    frame = load_areas(DataConfig(), DATA).frame.set_index("code")
    for col in ("income_score", "employment_score"):
        assert frame[col].between(0, 1).all()
    # Blackpool is among the most income-deprived LAs; Wokingham among the least
    assert frame.loc["E06000009", "income_score"] > 3 * frame.loc["E06000041", "income_score"]
    # the Northamptonshire split is derived like the IMD score, and flagged
    assert frame.loc["E06000061", "income_flag"] == frame.loc["E06000061", "imd_flag"] != ""
