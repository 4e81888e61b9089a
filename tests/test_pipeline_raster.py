"""A raster indicator flows from config through zonal statistics into the index and waves.

The GeoTIFF here is a SYNTHETIC test fixture written by rasterio inside the test (a west-east
gradient over England's extent); it stands for a user-supplied surface, never for real data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from allocator.config import config_from_dict, read_config_document
from allocator.paths import default_data_dir

ROOT = Path(__file__).resolve().parents[1]
DATA = default_data_dir()
pytestmark = pytest.mark.skipif(DATA is None, reason="the official data is not present")


def _gradient_tif(path: Path) -> None:
    import rasterio
    from rasterio.transform import from_origin

    # 10 km cells over England in EPSG:27700; value = easting in km (synthetic)
    west, north, cell = 80_000, 660_000, 10_000
    cols, rows = 60, 60
    values = np.tile((west + cell * (np.arange(cols) + 0.5)) / 1000.0, (rows, 1)).astype("float32")
    with rasterio.open(
        path, "w", driver="GTiff", width=cols, height=rows, count=1, dtype="float32",
        crs="EPSG:27700", transform=from_origin(west, north, cell, cell), nodata=-1.0,
    ) as dst:
        dst.write(values, 1)


def test_raster_indicator_reaches_the_index(tmp_path: Path) -> None:
    from allocator.index import NeedIndex
    from allocator.pipeline import prepare

    tif = tmp_path / "synthetic_easting.tif"
    _gradient_tif(tif)
    doc = read_config_document(ROOT / "configs" / "ssmtrg-2022-25.yaml")
    doc["data"]["rasters"] = [
        {"name": "easting_km", "path": str(tif), "stat": "mean", "min_coverage": 0.5, "units": "km (synthetic)"}
    ]
    doc["index"]["indicators"].append(
        {"name": "easting_km", "direction": "higher_is_worse", "weight": 5, "missing": "national_median"}
    )
    cfg = config_from_dict(doc)
    root, areas = prepare(cfg, DATA)
    frame = areas.frame
    assert "easting_km" in frame.columns
    assert any(s["path"].endswith("synthetic_easting.tif") for s in areas.sources)
    # Norfolk lies east of Cornwall: the zonal mean of an easting gradient says so
    by = frame.set_index("code")["easting_km"]
    assert by["E10000020"] > by["E06000052"] + 300
    idx = NeedIndex(cfg.index).fit(frame)
    assert "easting_km" in idx.weights_.index
    assert idx.contributions_["easting_km"].abs().sum() > 0


def test_unknown_indicator_is_still_refused() -> None:
    from allocator.errors import ConfigError

    doc = read_config_document(ROOT / "configs" / "ssmtrg-2022-25.yaml")
    doc["index"]["indicators"].append({"name": "easting_km", "direction": "higher_is_worse"})
    with pytest.raises(ConfigError, match="unknown indicator 'easting_km'"):
        config_from_dict(doc)
