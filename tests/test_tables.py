"""Publication tables: reproducible bytes and no spreadsheet formula injection."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import box

from allocator.report.tables import neutralise_text, write_csv, write_gpkg

FRAME = pd.DataFrame(
    {
        "code": ["E06000001", "E06000002"],
        "name": ['=HYPERLINK("http://evil","x")', "<script>alert(1)</script>"],
        "place_based_2022_23": [1_000_000, 2_500_001],
    }
)


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_csv_neutralises_formulas_but_keeps_numbers(tmp_path: Path) -> None:
    p = write_csv(FRAME, tmp_path / "a.csv")
    back = pd.read_csv(p)
    assert back.loc[0, "name"].startswith("'=")
    assert back.loc[1, "name"] == "<script>alert(1)</script>"
    assert back["place_based_2022_23"].tolist() == [1_000_000, 2_500_001]
    assert neutralise_text(-5) == -5
    assert neutralise_text("-5") == "'-5"


def test_gpkg_is_byte_identical_across_writes(tmp_path: Path) -> None:
    g = gpd.GeoDataFrame(FRAME, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs="EPSG:27700")
    a, b = tmp_path / "a.gpkg", tmp_path / "b.gpkg"
    write_gpkg(g, a)
    time.sleep(1.1)
    write_gpkg(g, b)
    assert _sha(a) == _sha(b)
    back = gpd.read_file(a)
    assert back["place_based_2022_23"].tolist() == [1_000_000, 2_500_001]
    assert back.crs.to_epsg() == 27700
