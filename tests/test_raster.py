"""Zonal statistics with exact cell fractions, on small GeoTIFFs written in each test.

Every raster here is synthetic, written by rasterio into ``tmp_path``; the expected values are
worked out by hand from the geometry.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rasterio.io
import shapely
import yaml
from pydantic import ValidationError
from rasterio.transform import from_origin

from allocator.errors import ConfigError, DataError
from allocator.paths import REPO_ROOT
from allocator.raster import (
    RasterIndicatorConfig,
    add_raster_indicators,
    cell_fractions,
    raster_indicator_entries,
    zonal_stats,
)

X0, Y0, RES = 400_000.0, 300_000.0, 100.0  # a 100 m grid in British National Grid
BNG = "EPSG:27700"


def write_tif(path: Path, arr: np.ndarray, transform=None, crs: str | None = BNG,
              nodata: float | None = None) -> Path:
    arr = np.asarray(arr, dtype="float32")
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    transform = transform if transform is not None else from_origin(X0, Y0, RES, RES)
    profile = {"driver": "GTiff", "width": arr.shape[2], "height": arr.shape[1],
               "count": arr.shape[0], "dtype": "float32", "transform": transform}
    if crs is not None:
        profile["crs"] = crs
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr)
    return path


def cells(c0: float, r0: float, c1: float, r1: float):
    """Box over grid columns c0..c1 and rows r0..r1 (fractional allowed, row 0 at the top)."""
    return shapely.box(X0 + c0 * RES, Y0 - r1 * RES, X0 + c1 * RES, Y0 - r0 * RES)


def areas(*geoms, crs: str = BNG, codes=None) -> gpd.GeoDataFrame:
    codes = codes or [f"E0600000{i + 1}" for i in range(len(geoms))]
    return gpd.GeoDataFrame({"code": codes}, geometry=list(geoms), crs=crs)


@pytest.fixture
def ramp(tmp_path: Path) -> tuple[Path, np.ndarray]:
    arr = np.arange(100, dtype="float32").reshape(10, 10)  # value = 10 * row + col
    return write_tif(tmp_path / "ramp.tif", arr), arr


# -- exact fractions ----------------------------------------------------------------------------


def test_constant_raster_sum_is_value_times_covered_cells(tmp_path):
    tif = write_tif(tmp_path / "c.tif", np.full((10, 10), 2.5))
    z = zonal_stats(areas(cells(1, 2, 4, 4), cells(0, 0, 10, 10)), tif, "sum")
    assert z["value"].tolist() == pytest.approx([2.5 * 6, 2.5 * 100])
    assert z["coverage"].tolist() == pytest.approx([1.0, 1.0])
    assert z["flag"].tolist() == ["", ""]
    m = zonal_stats(areas(cells(1, 2, 4, 4)), tif, "mean")
    assert m["value"].iloc[0] == pytest.approx(2.5)


def test_half_covered_cell_counts_half(ramp):
    tif, arr = ramp
    # Column 0 whole and half of column 1, row 3: cells 30 and 31.
    z = zonal_stats(areas(cells(0, 3, 1.5, 4)), tif, "sum")
    assert z["value"].iloc[0] == pytest.approx(30 + 0.5 * 31)
    m = zonal_stats(areas(cells(0, 3, 1.5, 4)), tif, "mean")
    assert m["value"].iloc[0] == pytest.approx((30 * 1 + 31 * 0.5) / 1.5)
    # A triangle that is the lower-left half of cell (row 5, col 5): half the value.
    x, y = X0 + 5 * RES, Y0 - 6 * RES
    tri = shapely.Polygon([(x, y), (x + RES, y), (x, y + RES)])
    z = zonal_stats(areas(tri), tif, "sum")
    assert z["value"].iloc[0] == pytest.approx(0.5 * arr[5, 5])
    assert z["coverage"].iloc[0] == pytest.approx(1.0)


def test_centroid_sampling_would_be_wrong(ramp):
    """A polygon covering 40% of four cells but none of their centres still gets 40% of each."""
    tif, arr = ramp
    # Square centred on the corner shared by cells (2,2),(2,3),(3,2),(3,3), 80 m wide.
    cx, cy = X0 + 3 * RES, Y0 - 3 * RES
    sq = shapely.box(cx - 40, cy - 40, cx + 40, cy + 40)
    z = zonal_stats(areas(sq), tif, "sum")
    share = 40 * 40 / RES**2
    assert z["value"].iloc[0] == pytest.approx(share * (arr[2, 2] + arr[2, 3] + arr[3, 2]
                                                        + arr[3, 3]))


def test_cell_fractions_match_brute_force_intersection():
    geom = shapely.Point(X0 + 437, Y0 - 512).buffer(333, quad_segs=7)
    geom = geom.difference(shapely.Point(X0 + 400, Y0 - 500).buffer(90))  # with a hole
    transform = from_origin(X0, Y0, RES, RES)
    frac = cell_fractions(geom, transform, (12, 11))
    r, c = np.meshgrid(np.arange(12), np.arange(11), indexing="ij")
    boxes = shapely.box(X0 + c * RES, Y0 - (r + 1) * RES, X0 + (c + 1) * RES, Y0 - r * RES)
    brute = shapely.area(shapely.intersection(boxes, geom)) / RES**2
    np.testing.assert_allclose(frac, brute, atol=1e-12)
    assert frac.sum() * RES**2 == pytest.approx(geom.area, rel=1e-12)


# -- statistics ---------------------------------------------------------------------------------


def test_weighted_mean(tmp_path, ramp):
    tif, arr = ramp
    w = np.zeros((10, 10))
    w[4, 0], w[4, 1] = 1.0, 3.0
    wtif = write_tif(tmp_path / "w.tif", w)
    full = zonal_stats(areas(cells(0, 4, 2, 5)), tif, "weighted_mean", weights_raster=wtif)
    assert full["value"].iloc[0] == pytest.approx((40 * 1 + 41 * 3) / 4)
    half = zonal_stats(areas(cells(0, 4, 1.5, 5)), tif, "weighted_mean", weights_raster=wtif)
    assert half["value"].iloc[0] == pytest.approx((40 * 1 + 41 * 3 * 0.5) / (1 + 1.5))
    # Zero weight everywhere under the polygon: missing, and said so.
    none = zonal_stats(areas(cells(5, 5, 7, 7)), tif, "weighted_mean", weights_raster=wtif)
    assert math.isnan(none["value"].iloc[0])
    assert "no weight" in none["flag"].iloc[0]


def test_weights_nodata_cells_are_excluded(tmp_path, ramp):
    tif, arr = ramp
    w = np.full((10, 10), 2.0)
    w[6, 1] = -1.0
    wtif = write_tif(tmp_path / "wnd.tif", w, nodata=-1.0)
    z = zonal_stats(areas(cells(0, 6, 3, 7)), tif, "weighted_mean", weights_raster=wtif)
    assert z["value"].iloc[0] == pytest.approx((60 + 62) / 2)
    assert z["coverage"].iloc[0] == pytest.approx(2 / 3)
    assert "nodata" in z["flag"].iloc[0]


def test_nodata_cell_is_excluded_and_reported(tmp_path):
    arr = np.ones((10, 10))
    arr[1, 1] = -9999
    tif = write_tif(tmp_path / "nd.tif", arr, nodata=-9999)
    z = zonal_stats(areas(cells(0, 0, 2, 2)), tif, "sum")
    assert z["value"].iloc[0] == pytest.approx(3.0)
    assert z["coverage"].iloc[0] == pytest.approx(0.75)
    assert "25.00% of the area on nodata cells" in z["flag"].iloc[0]
    m = zonal_stats(areas(cells(0, 0, 2, 2)), tif, "mean")
    assert m["value"].iloc[0] == pytest.approx(1.0)  # not dragged towards -9999 or 0


def test_nan_cells_without_declared_nodata_are_excluded(tmp_path):
    arr = np.full((10, 10), 4.0)
    arr[0, 0] = np.nan
    tif = write_tif(tmp_path / "nan.tif", arr)
    z = zonal_stats(areas(cells(0, 0, 1, 2)), tif, "mean")
    assert z["value"].iloc[0] == pytest.approx(4.0)
    assert z["coverage"].iloc[0] == pytest.approx(0.5)


def test_all_nodata_gives_missing_not_zero(tmp_path):
    tif = write_tif(tmp_path / "allnd.tif", np.full((10, 10), -1.0), nodata=-1)
    z = zonal_stats(areas(cells(2, 2, 4, 4)), tif, "sum")
    assert math.isnan(z["value"].iloc[0])
    assert z["coverage"].iloc[0] == 0.0
    assert z["flag"].iloc[0].startswith("not covered")


# -- coverage -----------------------------------------------------------------------------------


def test_raster_that_misses_an_la_reports_it(ramp):
    tif, arr = ramp
    inside = cells(0, 0, 2, 1)
    half_out = cells(8, 0, 12, 1)  # columns 8-9 inside, 10-11 beyond the right edge
    outside = shapely.box(X0 + 5000, Y0 - 5000, X0 + 6000, Y0 - 4000)
    z = zonal_stats(areas(inside, half_out, outside), tif, "sum")
    assert z["value"].iloc[0] == pytest.approx(0 + 1)
    assert z["value"].iloc[1] == pytest.approx(8 + 9)  # covered part only, not scaled up
    assert z["coverage"].iloc[1] == pytest.approx(0.5)
    assert "50.00% of the area outside the raster extent" in z["flag"].iloc[1]
    assert math.isnan(z["value"].iloc[2])
    assert z["coverage"].iloc[2] == 0.0
    assert z["flag"].iloc[2] == "not covered: the LA lies outside the raster extent"


# -- CRS ----------------------------------------------------------------------------------------


def _merc_tif(tmp_path: Path, value_fn) -> tuple[Path, rasterio.Affine]:
    """A 20 x 20 grid of 200 m cells in Web Mercator over Northamptonshire."""
    x0, y0 = -100_000.0, 6_850_000.0
    t = from_origin(x0, y0, 200, 200)
    r, c = np.meshgrid(np.arange(20), np.arange(20), indexing="ij")
    return write_tif(tmp_path / "merc.tif", value_fn(r, c), transform=t, crs="EPSG:3857"), t


def test_crs_mismatch_polygons_are_reprojected_to_the_raster(tmp_path):
    tif, t = _merc_tif(tmp_path, lambda r, c: np.full(r.shape, 2.0))
    # A box of 3 x 4 cells defined in the raster CRS, handed over in EPSG:27700.
    box = shapely.box(t.c + 2 * 200, t.f - 7 * 200, t.c + 5 * 200, t.f - 3 * 200)
    g = gpd.GeoSeries([shapely.segmentize(box, 5)], crs="EPSG:3857").to_crs(BNG)
    z = zonal_stats(areas(g.iloc[0]), tif, "sum")
    assert z["value"].iloc[0] == pytest.approx(2.0 * 12, rel=1e-5)
    assert z["coverage"].iloc[0] == pytest.approx(1.0, abs=1e-5)


def test_crs_mismatch_reproject_raster_on_request(tmp_path):
    tif, t = _merc_tif(tmp_path, lambda r, c: np.full(r.shape, 7.0))
    box = shapely.box(t.c + 2 * 200, t.f - 12 * 200, t.c + 10 * 200, t.f - 3 * 200)
    g = gpd.GeoSeries([shapely.segmentize(box, 5)], crs="EPSG:3857").to_crs(BNG)
    z = zonal_stats(areas(g.iloc[0]), tif, "mean", reproject="raster")
    assert z["value"].iloc[0] == pytest.approx(7.0)
    with pytest.raises(ConfigError, match="conserve"):
        zonal_stats(areas(g.iloc[0]), tif, "sum", reproject="raster")


def test_geographic_raster_mean_weights_cells_by_true_area(tmp_path):
    # Two rows of one 10-degree cell: 30-60N (value 1) over 0-30N (value 0).
    t = from_origin(0.0, 60.0, 10.0, 30.0)
    tif = write_tif(tmp_path / "ll.tif", np.array([[1.0], [0.0]]), transform=t, crs="EPSG:4326")
    z = zonal_stats(areas(shapely.box(0, 0, 10, 60), crs="EPSG:4326"), tif, "mean")
    a_top = math.sin(math.radians(60)) - math.sin(math.radians(30))
    a_bottom = math.sin(math.radians(30))
    assert z["value"].iloc[0] == pytest.approx(a_top / (a_top + a_bottom))


def test_raster_without_crs_is_an_error(tmp_path):
    tif = write_tif(tmp_path / "nocrs.tif", np.ones((10, 10)), crs=None)
    with pytest.raises(DataError, match="no coordinate reference system") as e:
        zonal_stats(areas(cells(0, 0, 1, 1)), tif, "sum")
    assert "nocrs.tif" in str(e.value)


# -- windowed reading ---------------------------------------------------------------------------


def test_reads_only_the_window_under_each_la(tmp_path, monkeypatch):
    big = write_tif(tmp_path / "big.tif", np.ones((2000, 3000)))
    seen = []
    original = rasterio.io.DatasetReader.read

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("window"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", spy)
    g = areas(cells(10, 10, 13.5, 12), cells(2500, 1900, 2502, 1901))
    z = zonal_stats(g, big, "sum")
    assert z["value"].tolist() == pytest.approx([7.0, 2.0])
    assert len(seen) == 2 and all(w is not None for w in seen)
    assert sum(int(w.width) * int(w.height) for w in seen) <= 2 * 3 * 4
    assert (int(seen[0].col_off), int(seen[0].row_off)) == (10, 10)


def test_large_windows_are_read_in_strips_with_the_same_answer(ramp, monkeypatch):
    tif, arr = ramp
    poly = shapely.Point(X0 + 500, Y0 - 500).buffer(420)
    whole = zonal_stats(areas(poly), tif, "mean")
    seen = []
    original = rasterio.io.DatasetReader.read

    def spy(self, *args, **kwargs):
        seen.append(kwargs["window"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", spy)
    strips = zonal_stats(areas(poly), tif, "mean", max_cells=20)
    assert strips["value"].iloc[0] == pytest.approx(whole["value"].iloc[0], rel=1e-12)
    assert len(seen) > 1 and all(int(w.width) * int(w.height) <= 20 for w in seen)


# -- errors -------------------------------------------------------------------------------------


def test_bad_requests_raise_named_errors(tmp_path, ramp):
    tif, _ = ramp
    g = areas(cells(0, 0, 1, 1))
    with pytest.raises(ConfigError, match="unknown zonal statistic"):
        zonal_stats(g, tif, "median")
    with pytest.raises(ConfigError, match="weights_raster is required"):
        zonal_stats(g, tif, "weighted_mean")
    with pytest.raises(DataError, match="band 2 requested but the raster has 1"):
        zonal_stats(g, tif, "sum", band=2)
    with pytest.raises(DataError, match="raster not found") as e:
        zonal_stats(g, tmp_path / "nope.tif", "sum")
    assert "nope.tif" in str(e.value)
    other = write_tif(tmp_path / "other.tif", np.ones((5, 5)))
    with pytest.raises(DataError, match="not on the grid") as e:
        zonal_stats(g, tif, "weighted_mean", weights_raster=other)
    assert "other.tif" in str(e.value)
    with pytest.raises(DataError, match="duplicate area codes") as e:
        zonal_stats(areas(cells(0, 0, 1, 1), cells(1, 1, 2, 2), codes=["X", "X"]), tif, "sum")
    nocrs = gpd.GeoDataFrame({"code": ["A"]}, geometry=[cells(0, 0, 1, 1)])
    with pytest.raises(DataError, match="no CRS"):
        zonal_stats(nocrs, tif, "sum")


# -- config and the areas table -----------------------------------------------------------------


def test_add_raster_indicators_adds_columns_sources_and_notes(tmp_path):
    arr = np.full((10, 10), 3.0)
    tif = write_tif(tmp_path / "surf.tif", arr)
    frame = areas(cells(0, 0, 2, 2), cells(9, 0, 11, 1), cells(9.5, 5, 12, 6))
    frame["name"] = ["a", "b", "c"]
    spec = RasterIndicatorConfig(name="surface", path=Path("surf.tif"), stat="mean",
                                 units="minutes", min_coverage=0.4)
    out, sources, notes = add_raster_indicators(frame, [spec], base_dir=tmp_path)
    assert out["surface"].iloc[:2].tolist() == pytest.approx([3.0, 3.0])
    assert math.isnan(out["surface"].iloc[2])  # 20% covered < 0.4
    assert out["surface_flag"].iloc[0] == ""
    assert "50.00% of the area outside" in out["surface_flag"].iloc[1]
    assert "value withheld" in out["surface_flag"].iloc[2]
    assert "surface" not in frame.columns  # input untouched
    assert sources == [{
        "key": "raster:surface", "path": str(tmp_path / "surf.tif"),
        "sha256": hashlib.sha256(tif.read_bytes()).hexdigest(), "publisher": "user-supplied",
        "title": "surf.tif", "period": "", "licence": "", "url": "",
    }]
    text = " ".join(notes)
    assert "E06000003" in text and "E06000002" in text
    assert raster_indicator_entries([spec]) == {"surface": {"column": "surface",
                                                            "unit": "minutes"}}
    with pytest.raises(ConfigError, match="overwrite the existing column 'name'"):
        add_raster_indicators(frame, [spec.model_copy(update={"name": "name"})], tmp_path)


def test_config_model_validation():
    with pytest.raises(ValidationError, match="weights_path is required"):
        RasterIndicatorConfig(name="x", path=Path("a.tif"), stat="weighted_mean")
    with pytest.raises(ValidationError, match="lowercase identifier"):
        RasterIndicatorConfig(name="Bad Name", path=Path("a.tif"), stat="sum")
    with pytest.raises(ValidationError, match="extra"):
        RasterIndicatorConfig(name="x", path=Path("a.tif"), stat="sum", colour="red")


def test_example_config_declares_a_valid_raster_indicator_used_by_the_index():
    doc = yaml.safe_load((REPO_ROOT / "configs/examples/raster-indicator.yaml").read_text())
    specs = [RasterIndicatorConfig.model_validate(r) for r in doc["data"]["rasters"]]
    assert [s.name for s in specs] == ["access_minutes"]
    assert specs[0].stat == "weighted_mean" and specs[0].weights_path is not None
    assert "access_minutes" in [i["name"] for i in doc["index"]["indicators"]]


# -- real boundaries ----------------------------------------------------------------------------

BOUNDARIES = Path("/work/shared/geodata/ons_boundaries_buc/DERIVED_CTYUA_May2021_UK_BUC.geojson")


@pytest.mark.skipif(not BOUNDARIES.is_file(), reason="official boundary file not available")
def test_real_boundaries_unit_raster_sums_to_la_area(tmp_path):
    """A 1 km grid of ones over the East Midlands: every fully covered LA sums to its km^2."""
    g = gpd.read_file(BOUNDARIES)
    g = g[g["utla21_code"].str.match(r"^E(06|08|09|10)")].rename(columns={"utla21_code": "code"})
    g = g[["code", "geometry"]].to_crs(BNG)
    t = from_origin(420_000, 420_000, 1000, 1000)
    tif = write_tif(tmp_path / "ones.tif", np.ones((200, 150)), transform=t)
    z = zonal_stats(g, tif, "sum").set_index("code")
    km2 = (g.set_index("code").geometry.area / 1e6)
    full = z.index[z["coverage"] > 1 - 1e-9]
    assert {"E06000061", "E06000062", "E10000018", "E10000019"} <= set(full)
    np.testing.assert_allclose(z.loc[full, "value"], km2[full], rtol=1e-9)
    far = z.loc["E06000052"]  # Cornwall
    assert math.isnan(far["value"]) and far["flag"].startswith("not covered")
    part = z[(z["coverage"] > 0) & (z["coverage"] < 1 - 1e-9)]
    assert len(part) > 0 and part["flag"].str.startswith("partly covered").all()


def test_invalid_polygon_is_repaired_and_flagged(tmp_path):
    tif = write_tif(tmp_path / "one.tif", np.ones((10, 10)))
    s = 2 * RES  # a self-intersecting "bow tie" over a 2 x 2 cell square: two triangles
    bow = shapely.Polygon([(X0, Y0 - s), (X0 + s, Y0), (X0 + s, Y0 - s), (X0, Y0)])
    assert not bow.is_valid
    z = zonal_stats(areas(bow), tif, "sum")
    assert z["value"].iloc[0] == pytest.approx(2.0)  # half of the four cells
    assert "repaired" in z["flag"].iloc[0]
