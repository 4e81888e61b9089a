"""Apportionment between geographies: area, population (dasymetric) and lookup weights.

Polygons and rasters here are synthetic (built in the test) unless the test name says "real";
expected values are worked out by hand.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from allocator.apportion import (
    NORTHAMPTONSHIRE_2021,
    Apportioner,
    apportion,
    northamptonshire_lookup,
    split_northamptonshire,
)
from allocator.errors import ConfigError, DataError

BNG = "EPSG:27700"
X0, Y0 = 400_000.0, 300_000.0


def sq(x0: float, y0: float, x1: float, y1: float):
    """Box in km offsets from (X0, Y0)."""
    return shapely.box(X0 + x0 * 1000, Y0 + y0 * 1000, X0 + x1 * 1000, Y0 + y1 * 1000)


def gdf(codes, geoms, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": codes, **cols}, geometry=geoms, crs=BNG)


@pytest.fixture
def two_by_two():
    """Sources: two 2 x 2 km squares side by side. Targets: a 1 km strip and the rest."""
    src = gdf(["s1", "s2"], [sq(0, 0, 2, 2), sq(2, 0, 4, 2)], n=[100.0, 50.0], r=[10.0, 20.0])
    tgt = gdf(["t1", "t2"], [sq(0, 0, 1, 2), sq(1, 0, 4, 2)])
    return src, tgt


# -- area -----------------------------------------------------------------------------------------


def test_area_weighted_extensive_and_intensive(two_by_two):
    src, tgt = two_by_two
    out = apportion(src, tgt, ["n", "r"], extensive={"n": True, "r": False})
    assert out["code"].tolist() == ["t1", "t2"]
    assert out["n"].tolist() == pytest.approx([50.0, 50.0 + 50.0])
    # t2 = 2 km^2 of s1 (r=10) + 4 km^2 of s2 (r=20)
    assert out["r"].tolist() == pytest.approx([10.0, (10 * 2 + 20 * 4) / 6])


def test_area_weighting_is_computed_in_a_projected_crs(two_by_two):
    src, tgt = two_by_two
    out = apportion(src.to_crs("EPSG:4326"), tgt.to_crs("EPSG:4326"), ["n"])
    assert out["n"].tolist() == pytest.approx([50.0, 100.0], rel=1e-6)
    with pytest.raises(ConfigError, match="not projected"):
        apportion(src, tgt, ["n"], crs="EPSG:4326")


def test_totals_are_conserved_on_an_irregular_partition():
    rng = np.random.default_rng(7)
    srcs = [sq(i, j, i + 1, j + 1) for i in range(5) for j in range(4)]
    values = rng.integers(0, 1000, size=(len(srcs), 3)).astype(float)
    src = gdf([f"s{k}" for k in range(len(srcs))], srcs,
              a=values[:, 0], b=values[:, 1], c=values[:, 2])
    # Targets: three wedges with slanted edges that cover the same 5 x 4 km rectangle.
    ext = sq(0, 0, 5, 4)
    cut1 = shapely.Polygon([(X0 - 1, Y0 - 1), (X0 + 1700, Y0 - 1), (X0 + 1100, Y0 + 4001),
                            (X0 - 1, Y0 + 4001)])
    cut2 = shapely.Polygon([(X0 - 1, Y0 - 1), (X0 + 3900, Y0 - 1), (X0 + 2300, Y0 + 4001),
                            (X0 - 1, Y0 + 4001)])
    t1 = ext.intersection(cut1)
    t2 = ext.intersection(cut2).difference(t1)
    t3 = ext.difference(cut2)
    tgt = gdf(["t1", "t2", "t3"], [t1, t2, t3])
    out = apportion(src, tgt, ["a", "b", "c"])
    np.testing.assert_allclose(out[["a", "b", "c"]].sum().to_numpy(), values.sum(axis=0),
                               rtol=1e-12)
    # And each target gets each square's value times the share of the square inside it.
    expected = [sum(v * g.intersection(t).area / g.area for v, g in zip(values[:, 0], srcs,
                                                                       strict=True))
                for t in (t1, t2, t3)]
    np.testing.assert_allclose(out["a"], expected, rtol=1e-9)


def test_missing_value_propagates_instead_of_counting_as_zero(two_by_two):
    src, tgt = two_by_two
    src.loc[1, "n"] = np.nan
    out = apportion(src, tgt, ["n"])
    assert out["n"].iloc[0] == pytest.approx(50.0)
    assert math.isnan(out["n"].iloc[1])


def test_sources_outside_the_targets(two_by_two):
    src, tgt = two_by_two
    far = gdf(["s1", "s2", "s3"], [sq(0, 0, 2, 2), sq(3, 0, 5, 2), sq(50, 50, 51, 51)],
              n=[1.0, 2.0, 3.0])
    with pytest.raises(DataError, match="less than 90%") as e:
        apportion(far, tgt, ["n"])
    assert "s2 (50.0%)" in str(e.value) and "s3 (0.0%)" in str(e.value)
    ap = Apportioner(min_coverage=0.0).fit(far, tgt)
    out = ap.transform(far, ["n"])
    assert out["n"].sum() == pytest.approx(1.0 + 2.0)  # s2 kept whole, s3 dropped
    assert any("s3" in n and "not apportioned" in n for n in ap.notes_)
    assert any("s2 (50.00%)" in n for n in ap.notes_)


# -- population (dasymetric) ----------------------------------------------------------------------


def write_pop(path: Path, arr: np.ndarray) -> Path:
    arr = np.asarray(arr, dtype="float32")
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0],
                       count=1, dtype="float32", crs=BNG,
                       transform=from_origin(X0, Y0 + 2000, 500, 500)) as dst:
        dst.write(arr, 1)
    return path


def test_population_weighted_split_follows_where_people_live(tmp_path, two_by_two):
    src, tgt = two_by_two
    # 500 m cells over the 4 x 2 km rectangle: 8 columns x 4 rows.
    pop = np.zeros((4, 8))
    pop[:, 0] = 10.0  # s1's people all live in its westernmost 500 m (inside t1)
    pop[:, 1] = 0.0
    pop[:, 2:4] = 5.0  # s1's eastern half (t2)
    pop[:, 4:] = 1.0  # s2 evenly (t2)
    tif = write_pop(tmp_path / "pop.tif", pop)
    ap = Apportioner("population", weights_raster=tif).fit(src, tgt)
    out = ap.transform(src, ["n", "r"], extensive={"n": True, "r": False})
    s1_t1, s1_t2, s2_t2 = 40.0, 40.0, 16.0
    assert out["n"].tolist() == pytest.approx([100 * s1_t1 / (s1_t1 + s1_t2),
                                               100 * s1_t2 / (s1_t1 + s1_t2) + 50])
    assert out["n"].sum() == pytest.approx(150.0)
    assert out["r"].tolist() == pytest.approx([10.0, (10 * s1_t2 + 20 * s2_t2) / (s1_t2 + s2_t2)])
    assert ap.source_coverage_.tolist() == pytest.approx([1.0, 1.0])


def test_population_split_falls_back_on_area_for_empty_sources(tmp_path, two_by_two):
    src, tgt = two_by_two
    pop = np.zeros((4, 8))
    pop[:, 4:] = 1.0  # nobody in s1
    tif = write_pop(tmp_path / "pop.tif", pop)
    ap = Apportioner("population", weights_raster=tif).fit(src, tgt)
    out = ap.transform(src, ["n"])
    assert out["n"].tolist() == pytest.approx([50.0, 100.0])  # s1 by area: half each
    assert any("no population" in n and "s1" in n for n in ap.notes_)


# -- lookup ---------------------------------------------------------------------------------------


def test_lookup_with_weights_conserves_and_weights_means():
    lk = pd.DataFrame({"source": ["a", "a", "b"], "target": ["X", "Y", "Y"],
                       "weight": [30.0, 10.0, 60.0]})
    vals = pd.DataFrame({"code": ["a", "b"], "n": [8.0, 5.0], "r": [1.0, 3.0]})
    out = apportion(vals, None, ["n", "r"], method="lookup", lookup=lk,
                    extensive={"n": True, "r": False})
    assert out["code"].tolist() == ["X", "Y"]
    assert out["n"].tolist() == pytest.approx([6.0, 2.0 + 5.0])
    assert out["r"].tolist() == pytest.approx([1.0, (1 * 10 + 3 * 60) / 70])


def test_lookup_errors_name_the_codes():
    vals = pd.DataFrame({"code": ["a", "b"], "n": [1.0, 2.0]})
    ambiguous = pd.DataFrame({"source": ["a", "a", "b"], "target": ["X", "Y", "Y"]})
    with pytest.raises(DataError, match="no 'weight' column") as e:
        apportion(vals, None, ["n"], method="lookup", lookup=ambiguous)
    assert "[a]" in str(e.value)
    partial = pd.DataFrame({"source": ["a"], "target": ["X"]})
    with pytest.raises(DataError, match="source codes missing from the lookup") as e:
        apportion(vals, None, ["n"], method="lookup", lookup=partial)
    assert "[b]" in str(e.value)
    with pytest.raises(ConfigError, match="lookup is required"):
        apportion(vals, None, ["n"], method="lookup")


# -- Northamptonshire ------------------------------------------------------------------------------

#: Synthetic district populations (test fixture, NOT official figures).
SYNTHETIC_POP = {"E07000150": 70_000, "E07000151": 85_000, "E07000152": 95_000,
                 "E07000153": 100_000, "E07000154": 225_000, "E07000155": 95_000,
                 "E07000156": 80_000}
IMD_LTLA19 = Path("/work/shared/geodata/imd2019_lad_fallback/DERIVED_imd2019_england_ltla19.csv")


def test_northamptonshire_split_sums_counts_and_weights_scores():
    vals = pd.DataFrame({"code": list(SYNTHETIC_POP) + ["E06000001"],
                         "deaths": [1, 2, 3, 4, 5, 6, 7, 99], "score": [1, 2, 3, 4, 5, 6, 7, 99]})
    out = split_northamptonshire(vals, ["deaths", "score"], SYNTHETIC_POP,
                                 extensive={"deaths": True, "score": False})
    assert out["code"].tolist() == ["E06000061", "E06000062"]
    north = ["E07000150", "E07000152", "E07000153", "E07000156"]
    assert out["deaths"].tolist() == [1 + 3 + 4 + 7, 2 + 5 + 6]
    p = SYNTHETIC_POP
    assert out["score"].iloc[0] == pytest.approx(
        sum(v * p[c] for v, c in zip([1, 3, 4, 7], north, strict=True))
        / sum(p[c] for c in north))
    assert out["deaths"].sum() == sum(range(1, 8))  # the other LA is not pulled in
    with pytest.raises(DataError, match="missing from the values table") as e:
        split_northamptonshire(vals.iloc[1:], ["score"], SYNTHETIC_POP)
    assert "E07000150" in str(e.value)
    with pytest.raises(DataError, match="population missing") as e:
        northamptonshire_lookup({k: v for k, v in SYNTHETIC_POP.items() if k != "E07000156"})
    assert "E07000156" in str(e.value)


@pytest.mark.skipif(not IMD_LTLA19.is_file(), reason="official IMD district file not available")
def test_real_imd_districts_split_to_the_2021_unitaries():
    imd = pd.read_csv(IMD_LTLA19).rename(columns={"ltla19_code": "code"})
    out = split_northamptonshire(imd, ["Score"], SYNTHETIC_POP).set_index("code")["Score"]
    scores = imd.set_index("code")["Score"]
    for ua in ("E06000061", "E06000062"):
        ds = [d for d, t in NORTHAMPTONSHIRE_2021.items() if t == ua]
        assert scores[ds].min() <= out[ua] <= scores[ds].max()
        assert out[ua] == pytest.approx(
            sum(scores[d] * SYNTHETIC_POP[d] for d in ds) / sum(SYNTHETIC_POP[d] for d in ds))


BUC = Path("/work/shared/geodata/ons_boundaries_buc")


@pytest.mark.skipif(not (BUC / "DERIVED_CTYUA_Dec2019_UK_BUC.geojson").is_file(),
                    reason="official boundary files not available")
def test_real_2019_to_2021_utla_boundaries_conserve_totals():
    old = gpd.read_file(BUC / "DERIVED_CTYUA_Dec2019_UK_BUC.geojson")
    new = gpd.read_file(BUC / "DERIVED_CTYUA_May2021_UK_BUC.geojson")
    old = old[old["utla19_code"].str.startswith("E")].rename(columns={"utla19_code": "code"})
    new = new[new["utla21_code"].str.startswith("E")].rename(columns={"utla21_code": "code"})
    old = old.assign(count=np.arange(1.0, len(old) + 1))  # any extensive column
    ap = Apportioner("area").fit(old, new)
    out = ap.transform(old, ["count"]).set_index("code")["count"]
    assert len(out) == 152
    assert out.sum() == pytest.approx(old["count"].sum(), rel=1e-12)
    w = ap.weights_.set_index(["source", "target"])["share"]
    # Northamptonshire splits about 42/58 by area between North and West Northamptonshire.
    north, west = w[("E10000021", "E06000061")], w[("E10000021", "E06000062")]
    assert north + west > 0.999 and 0.40 < north < 0.44
    assert w[("E10000002", "E06000060")] > 0.99  # Buckinghamshire
