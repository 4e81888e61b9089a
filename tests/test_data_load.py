"""The real load: the official files in the shared data directory -> 152 LAs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal

from allocator.data import DataConfig, check_data, load_areas
from allocator.data import cache as cache_mod
from allocator.data.catalogue import catalogue
from allocator.data.deaths import poisson_interval
from allocator.data.schema import ANALYSIS_CRS, MAP_CRS, N_UTLA_2021, OCU_COLUMNS, REQUIRED_COLUMNS
from allocator.errors import DataError
from allocator.paths import default_data_dir

DATA_DIR = default_data_dir()
pytestmark = pytest.mark.skipif(DATA_DIR is None, reason="shared/geodata not present")

SUPPRESSED_2018_20 = {
    "E06000017": "Rutland",
    "E06000034": "Thurrock",
    "E09000001": "City of London",
    "E09000015": "Harrow",
    "E09000024": "Merton",
    "E06000036": "Bracknell Forest",
    "E06000039": "Slough",
    "E06000040": "Windsor and Maidenhead",
    "E06000053": "Isles of Scilly",
}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("areas-cache")


@pytest.fixture(scope="module")
def areas(cache_dir):
    mp = pytest.MonkeyPatch()
    mp.setenv("ALLOCATOR_CACHE_DIR", str(cache_dir))
    try:
        yield load_areas(DataConfig(), DATA_DIR)
    finally:
        mp.undo()


def row(areas, code):
    f = areas.frame
    return f.loc[f["code"] == code].iloc[0]


def test_table_shape_columns_crs_order(areas):
    f = areas.frame
    assert len(f) == N_UTLA_2021 == 152
    assert list(f.columns) == REQUIRED_COLUMNS + ["geometry"]
    assert f.crs.to_string() == ANALYSIS_CRS
    assert f["code"].is_unique and f["code"].is_monotonic_increasing
    assert f["code"].str.match(r"^E(06|08|09|10)\d{6}$").all()
    assert f.geometry.is_valid.all()
    assert areas.to_map_crs().crs.to_string() == MAP_CRS
    # 27700 coordinates are metres in Great Britain
    minx, miny, maxx, maxy = f.total_bounds
    assert 0 <= minx < maxx < 700_000 and 0 <= miny < maxy < 1_300_000


def test_population_matches_england_total(areas):
    # ONS mid-2020, England: 56,550,138 (the LAs partition England)
    assert areas.frame["pop_all"].sum() == 56_550_138
    assert (areas.frame["pop_15_64"] < areas.frame["pop_all"]).all()
    share = areas.frame["pop_15_64"].sum() / areas.frame["pop_all"].sum()
    assert 0.60 < share < 0.66


def test_regions_are_the_nine_english_regions(areas):
    f = areas.frame
    assert f["region_code"].nunique() == 9
    assert (f.groupby("region_code")["region"].nunique() == 1).all()
    assert row(areas, "E09000033")["region"] == "London"
    assert row(areas, "E06000061")["region"] == "East Midlands"
    assert row(areas, "E06000060")["region"] == "South East"
    assert (f["region"] == "London").sum() == 33


def test_suppressed_death_rates_flagged_with_honest_intervals(areas):
    f = areas.frame
    flagged = f.loc[f["drug_deaths_flag"] != "", "code"]
    assert set(flagged) == set(SUPPRESSED_2018_20)
    for code in SUPPRESSED_2018_20:
        r = row(areas, code)
        assert r["drug_deaths_flag"].startswith("crude_from_counts")
        assert "not age-standardised" in r["drug_deaths_flag"]
        assert r["drug_deaths_lcl"] <= r["drug_deaths_rate"] <= r["drug_deaths_ucl"]
        assert r["drug_deaths_ucl"] > 0
    scilly = row(areas, "E06000053")
    assert scilly["drug_deaths_count"] == 0 and scilly["drug_deaths_rate"] == 0
    # zero deaths is not "no risk": the upper limit is far above England's 5.0
    assert scilly["drug_deaths_ucl"] > 20
    # the published rows are the published values
    hartlepool = row(areas, "E06000001")
    assert (hartlepool["drug_deaths_rate"], hartlepool["drug_deaths_lcl"],
            hartlepool["drug_deaths_ucl"], hartlepool["drug_deaths_count"]) == (16.3, 11.7, 22.1, 42)
    assert set(areas.flags.loc[areas.flags["column"] == "drug_deaths_flag", "name"]) == set(
        SUPPRESSED_2018_20.values())


def test_poisson_interval_known_values():
    # Garwood exact limits for 0 and 10 events (standard tables)
    assert poisson_interval(0) == pytest.approx((0.0, 3.689), abs=1e-3)
    assert poisson_interval(10) == pytest.approx((4.795, 18.390), abs=1e-3)


def test_buckinghamshire_and_northamptonshire(areas):
    bucks = row(areas, "E06000060")
    assert bucks["imd_score"] == 10.052  # File 11 value of E10000002, same area
    assert bucks["imd_flag"].startswith("recoded from E10000002")
    north, west = row(areas, "E06000061"), row(areas, "E06000062")
    for r in (north, west):
        assert r["imd_flag"].startswith("derived: population-weighted")
        assert r["crime_flag"] == r["imd_flag"]
    # each lies within the range of its own 2019 districts' scores
    assert 13.897 <= north["imd_score"] <= 25.706
    assert 7.652 <= west["imd_score"] <= 23.358
    # together (mid-2020 population weights) they are close to the 2019 county: 18.605
    county = (north["imd_score"] * north["pop_all"] + west["imd_score"] * west["pop_all"]) / (
        north["pop_all"] + west["pop_all"])
    assert county == pytest.approx(18.605, abs=0.1)
    # Northampton town dominates West Northamptonshire: plain district mean would be 14.73
    assert west["imd_score"] > 16.5


def test_imd_ranks_recomputed_over_152(areas):
    f = areas.frame
    assert sorted(f["imd_rank"]) == list(range(1, 153))
    top = f.sort_values("imd_rank").iloc[0]
    assert top["name"] == "Blackpool" and top["imd_rank"] == 1
    assert (np.diff(f.sort_values("imd_rank")["imd_score"].to_numpy()) <= 0).all()


def test_no_ocu_columns_and_note(areas):
    assert not any(c in areas.frame.columns for c in OCU_COLUMNS)
    assert any("without OCU prevalence: not supplied" in n for n in areas.notes)
    assert any("Open Government Licence" in n for n in areas.notes)


def test_sources_carry_catalogue_hashes(areas):
    cat = catalogue()
    keys = {s["key"] for s in areas.sources}
    assert {"boundaries_ctyua_2021", "population_mye_2020", "drug_deaths_table6",
            "imd2019_utla"} <= keys
    for s in areas.sources:
        assert s["sha256"] == cat[s["key"]].sha256
        assert set(s) == {"key", "path", "sha256", "publisher", "title", "period", "licence",
                          "url"}
        assert (DATA_DIR / s["path"]).is_file()


def test_cache_gives_identical_result(areas, cache_dir, monkeypatch):
    monkeypatch.setenv("ALLOCATOR_CACHE_DIR", str(cache_dir))
    cached = list(cache_dir.glob("areas-*.parquet"))
    assert len(cached) == 1
    warm = load_areas(DataConfig(), DATA_DIR)
    cold = load_areas(DataConfig(cache=False), DATA_DIR)
    for other in (warm, cold):
        assert_geodataframe_equal(other.frame, areas.frame, check_less_precise=False)
        assert other.notes == areas.notes and other.sources == areas.sources
        pd.testing.assert_frame_equal(other.flags, areas.flags)
    # a different config is a different key
    a = cache_mod.cache_key(areas.sources, DataConfig(), None)
    b = cache_mod.cache_key(areas.sources, DataConfig(suppressed_deaths="nearest_published"),
                            None)
    assert a != b


def test_nearest_published_uses_adjacent_period():
    d = load_areas(DataConfig(cache=False, suppressed_deaths="nearest_published"), DATA_DIR)
    harrow = d.frame.loc[d.frame["code"] == "E09000015"].iloc[0]
    # Harrow 2019-21 as published in Table 6: 1.6 (0.8-2.8) per 100,000
    assert "of 2019-21 used" in harrow["drug_deaths_flag"]
    assert (harrow["drug_deaths_rate"], harrow["drug_deaths_lcl"], harrow["drug_deaths_ucl"]) == (
        1.6, 0.8, 2.8)
    assert harrow["drug_deaths_count"] == 8  # the count stays the 2018-20 one
    rutland = d.frame.loc[d.frame["code"] == "E06000017"].iloc[0]
    assert "fell back to crude_from_counts" in rutland["drug_deaths_flag"]


def test_suppressed_error_lists_las():
    with pytest.raises(DataError, match="Rutland") as exc:
        load_areas(DataConfig(cache=False, suppressed_deaths="error"), DATA_DIR)
    assert "Isles of Scilly" in str(exc.value) and "asmr_per_100k" in str(exc.value)


def test_unknown_period_lists_available():
    with pytest.raises(DataError, match="2019-21") as exc:
        load_areas(DataConfig(cache=False, deaths_period="2020-22"), DATA_DIR)
    assert "not in the file" in str(exc.value)


def test_crime_severity_alternative():
    d = load_areas(DataConfig(cache=False, crime="crime_severity"), DATA_DIR)
    f = d.frame
    assert np.isfinite(f["crime_score"]).all() and (f["crime_score"] > 0).all()
    flags = dict(zip(f["code"], f["crime_flag"], strict=True))
    for code in ("E10000008", "E06000052", "E06000026", "E06000027"):  # Devon & Cornwall force
        assert flags[code].startswith("region_median")
    assert flags["E10000029"].startswith("partial")  # Suffolk: East Suffolk has no row
    assert flags["E10000006"] == ""  # Cumbria, from the 2023 Cumberland/Westmorland rows
    with pytest.raises(DataError, match="Devon"):
        load_areas(DataConfig(cache=False, crime="crime_severity", crime_missing="error"),
                   DATA_DIR)


def test_check_data_report():
    rep = check_data(DATA_DIR, DataConfig(cache=False))
    rows = {r["indicator"]: r for r in rep.rows}
    assert rep.n_areas == 152 and rep.ok
    for ind in ("population", "drug deaths", "IMD 2019", "crime", "region"):
        assert rows[ind]["covered"] == 152 and rows[ind]["missing"] == 0
    assert rows["drug deaths"]["flagged"] == 9
    assert set(rows["IMD 2019"]["flagged_names"]) == {
        "Buckinghamshire", "North Northamptonshire", "West Northamptonshire"}
    assert rows["OCU prevalence"]["covered"] == "not supplied"
    text = rep.to_text()
    assert "not supplied" in text and "Isles of Scilly" in text and "2018-20" in text


def _ocu_csv(path, codes, rate=5.0):
    # SYNTHETIC test values (not OHID estimates): a flat rate for every LA
    pd.DataFrame({"code": codes, "rate_per_1000_15_64": rate, "count": 100,
                  "year": "2016-17", "source": "synthetic test fixture"}).to_csv(path, index=False)


def test_ocu_supplied(areas, tmp_path):
    codes = areas.frame["code"].tolist()
    p = tmp_path / "ocu.csv"
    _ocu_csv(p, codes)
    d = load_areas(DataConfig(cache=False, ocu_file=p), DATA_DIR)
    assert list(d.frame.columns) == REQUIRED_COLUMNS + OCU_COLUMNS + ["geometry"]
    assert (d.frame["ocu_rate"] == 5.0).all() and (d.frame["ocu_flag"] == "").all()
    assert not any("not supplied" in n for n in d.notes)
    assert any(s["key"] == "ocu_user" for s in d.sources)

    _ocu_csv(p, codes[1:])
    with pytest.raises(DataError, match="E06000001 Hartlepool"):
        load_areas(DataConfig(cache=False, ocu_file=p), DATA_DIR)
    _ocu_csv(p, codes, rate=-1.0)
    with pytest.raises(DataError, match="negative"):
        load_areas(DataConfig(cache=False, ocu_file=p), DATA_DIR)
    pd.DataFrame({"code": codes, "rate": 1}).to_csv(p, index=False)
    with pytest.raises(DataError, match="rate_per_1000_15_64"):
        load_areas(DataConfig(cache=False, ocu_file=p), DATA_DIR)
