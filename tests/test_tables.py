"""Publication tables: reproducible bytes and no spreadsheet formula injection."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
from shapely.geometry import box

from allocator.report.tables import neutralise_text, write_csv, write_gpkg, write_xlsx

FRAME = pd.DataFrame(
    {
        "code": ["E06000001", "E06000002"],
        "name": ['=HYPERLINK("http://evil","x")', "<script>alert(1)</script>"],
        "place_based_2022_23": [1_000_000, 2_500_001],
    }
)


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_xlsx_is_byte_identical_across_writes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    write_xlsx([("allocation", FRAME)], [("run hash", "abc")], a, title="t", money_columns=["place_based_2022_23"])
    time.sleep(1.1)  # zip timestamps have 2-second resolution; the write must not depend on the clock
    time.sleep(1.1)
    write_xlsx([("allocation", FRAME)], [("run hash", "abc")], b, title="t", money_columns=["place_based_2022_23"])
    assert _sha(a) == _sha(b)


def test_xlsx_formula_text_is_stored_as_text(tmp_path: Path) -> None:
    p = tmp_path / "a.xlsx"
    write_xlsx([("allocation", FRAME)], [("note", "=1+1")], p, title="t", money_columns=["place_based_2022_23"])
    wb = openpyxl.load_workbook(p)
    cell = wb["allocation"]["B2"]
    assert cell.data_type == "s"
    assert cell.value == '=HYPERLINK("http://evil","x")'
    assert wb["notes"]["B1"].data_type == "s"
    assert wb["allocation"]["C3"].value == 2_500_001
    assert wb["allocation"]["C3"].number_format == "£#,##0"
    # the sheet XML holds no formula element at all
    import zipfile

    with zipfile.ZipFile(p) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
        assert all(b"<f>" not in z.read(n) for n in sheets)


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
