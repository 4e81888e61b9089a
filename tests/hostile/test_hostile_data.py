"""Hostile data: every broken input file ends in one clear error and leaves outputs untouched.

Each case breaks ONE file of a mirror of the official data directory (symlinks; the broken file
is an edited copy), runs ``allocator run --data-dir MIRROR --out OUTPUTS`` where OUTPUTS already
holds a real run, and asserts: exit code 2, a message naming the file and the column / code /
row at fault, no traceback, and the previous run byte-for-byte unchanged with nothing added.
The configs turn the hash check off (``data.verify_hashes: false``), since an edited copy never
matches the catalogue; the hash check itself is the first case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Polygon

from .helpers import (
    BOUNDARIES,
    DATA_DIR,
    DEATHS,
    IMD,
    CliResult,
    Mirror,
    Outputs,
    assert_clean_error,
    run_cli,
    write_config,
)

pytestmark = pytest.mark.skipif(DATA_DIR is None, reason="shared/geodata not present")

LA = "E06000001"  # Hartlepool
PERIOD = "2018-20"


def run_broken(tmp_path: Path, mirror: Mirror, outputs: Outputs,
               overrides: dict[str, Any] | None = None, *, verify: bool = False) -> CliResult:
    cfg = write_config(tmp_path / "hostile.yaml", overrides, mirror=not verify)
    return run_cli("run", cfg, "--data-dir", mirror, "--out", outputs.path)


def validate_mirror(tmp_path: Path, mirror: Mirror) -> CliResult:
    cfg = write_config(tmp_path / "hostile.yaml", mirror=True)
    return run_cli("validate", cfg, "--data-dir", mirror)


def set_deaths(column: str, value: str, code: str = LA, period: str = PERIOD):
    def fn(df: pd.DataFrame) -> pd.DataFrame:
        row = (df["area_code"] == code) & (df["period"] == period)
        assert row.sum() == 1
        df.loc[row, column] = value
        return df

    return fn


# ----------------------------------------------------------------------------- files
def test_hash_check_fires_first_with_a_clear_message(tmp_path, mirror, outputs):
    mirror.edit_csv(DEATHS, set_deaths("deaths", "31"))
    res = run_broken(tmp_path, mirror, outputs, verify=True)
    assert_clean_error(res, DEATHS, "SHA-256", "does not match the catalogue",
                       "data.verify_hashes: false")
    outputs.assert_unchanged()


def test_missing_data_directory(tmp_path, outputs):
    cfg = write_config(tmp_path / "hostile.yaml")
    res = run_cli("run", cfg, "--data-dir", tmp_path / "no-such-dir", "--out", outputs.path)
    assert_clean_error(res, "--data-dir", "does not exist", str(tmp_path / "no-such-dir"))
    outputs.assert_unchanged()


def test_missing_file_names_it_and_how_to_get_it(tmp_path, mirror, outputs):
    mirror.remove(DEATHS)
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, str(mirror / DEATHS), "required source file is missing",
                       "allocator data fetch")
    outputs.assert_unchanged()


def test_empty_file(tmp_path, mirror, outputs):
    mirror.edit(DEATHS).write_bytes(b"")
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, DEATHS, "the file is empty")
    outputs.assert_unchanged()


def test_header_only_file_names_the_period_missing(tmp_path, mirror, outputs):
    header = (DATA_DIR / DEATHS).read_text(encoding="utf-8").splitlines()[0]
    mirror.edit(DEATHS).write_text(header + "\n", encoding="utf-8")
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, DEATHS, "column 'period'", PERIOD)
    outputs.assert_unchanged()


def test_wrong_encoding_names_the_file_and_utf8(tmp_path, mirror, outputs):
    text = (DATA_DIR / DEATHS).read_text(encoding="utf-8").replace("Hartlepool", "Hârtlepool")
    mirror.edit(DEATHS).write_bytes(text.encode("cp1252"))
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, DEATHS, "not valid utf-8 text", "save the file as UTF-8")
    outputs.assert_unchanged()


def test_wrong_encoding_names_the_line(tmp_path, mirror, outputs):
    lines = (DATA_DIR / DEATHS).read_text(encoding="utf-8").splitlines(keepends=True)
    n = next(i for i, line in enumerate(lines) if "Hartlepool" in line)
    lines[n] = lines[n].replace("Hartlepool", "Hârtlepool")
    mirror.edit(DEATHS).write_bytes("".join(lines).encode("cp1252"))
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, DEATHS, f"line {n + 1}")
    outputs.assert_unchanged()


def test_utf16_file(tmp_path, mirror, outputs):
    text = (DATA_DIR / DEATHS).read_text(encoding="utf-8")
    mirror.edit(DEATHS).write_bytes(text.encode("utf-16"))
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, DEATHS, "not valid utf-8 text at line 1")
    outputs.assert_unchanged()


def test_renamed_column_names_it_and_lists_what_is_there(tmp_path, mirror, outputs):
    mirror.edit_csv(DEATHS, lambda df: df.rename(columns={"asmr_per_100k": "ASMR"}))
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, DEATHS, "column 'asmr_per_100k'", "expected column is missing", "ASMR")
    outputs.assert_unchanged()


def test_stray_blank_row_is_harmless(tmp_path, mirror):
    """A trailing row of empty cells (a spreadsheet export habit) changes nothing."""
    text = (DATA_DIR / DEATHS).read_text(encoding="utf-8")
    mirror.edit(DEATHS).write_text(text + ",,,,,,,\n", encoding="utf-8")
    res = validate_mirror(tmp_path, mirror)
    assert res.returncode == 0, res.stderr
    assert "data: 152 LAs" in res.stdout


# ----------------------------------------------------------------------------- codes
def test_duplicate_la_code_in_an_indicator(tmp_path, mirror, outputs):
    def dup(df: pd.DataFrame) -> pd.DataFrame:
        row = df[(df["area_code"] == LA) & (df["period"] == PERIOD)].assign(asmr_per_100k="99")
        return pd.concat([df, row])

    mirror.edit_csv(DEATHS, dup)
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, DEATHS, "column 'area_code'", "duplicate", PERIOD, LA)
    outputs.assert_unchanged()


def test_duplicate_la_code_in_the_boundaries(tmp_path, mirror, outputs):
    mirror.edit_boundaries(lambda g: pd.concat([g, g[g["utla21_code"] == LA]]))
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, BOUNDARIES, "column 'utla21_code'", "duplicate area codes", LA)
    outputs.assert_unchanged()


def test_unknown_code(tmp_path, mirror, outputs):
    mirror.edit_csv(DEATHS, lambda df: pd.concat(
        [df, df[df["area_code"] == LA].assign(area_code="E06000999", area_name="Nowhere")]))
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, DEATHS, "column 'area_code'", "not among the May 2021 LAs",
                       "E06000999")
    outputs.assert_unchanged()


def test_code_from_another_boundary_vintage_in_an_indicator(tmp_path, mirror, outputs):
    """Buckinghamshire's 2019 county code E10000002 (E06000060 since April 2020)."""
    bucks = "E06000060"
    mirror.edit_csv(DEATHS, lambda df: pd.concat(
        [df, df[df["area_code"] == bucks].assign(area_code="E10000002")]))
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, DEATHS, "not among the May 2021 LAs", "E10000002")
    outputs.assert_unchanged()


def test_code_from_another_boundary_vintage_in_the_boundaries(tmp_path, mirror, outputs):
    mirror.edit_boundaries(lambda g: g.assign(
        utla21_code=g["utla21_code"].replace({"E06000060": "E10000002"})))
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, "not joined", "E10000002 Buckinghamshire")
    outputs.assert_unchanged()


def test_malformed_code_in_the_boundaries_is_blamed_on_the_boundary_file(
        tmp_path, mirror, outputs):
    mirror.edit_boundaries(lambda g: g.assign(
        utla21_code=g["utla21_code"].replace({LA: "E6000001"})))
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, BOUNDARIES, "column 'utla21_code'", "malformed", "'E6000001' (Hartlepool)")
    outputs.assert_unchanged()


def test_la_in_the_indicators_but_not_the_boundaries(tmp_path, mirror, outputs):
    mirror.edit_boundaries(lambda g: g[g["utla21_code"] != LA])
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, "not among the 151 LAs of the May 2021 boundaries", LA)
    outputs.assert_unchanged()


def test_la_in_the_boundaries_but_not_the_indicators(tmp_path, mirror, outputs):
    mirror.edit_csv(DEATHS, lambda df: df[df["area_code"] != LA])
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, DEATHS, "have no value (not joined)", f"{LA} Hartlepool")
    outputs.assert_unchanged()


# ----------------------------------------------------------------------------- values
@pytest.mark.parametrize(
    ("value", "column", "needle"),
    [
        ("NaN", "asmr_per_100k", f"{LA} {PERIOD}='NaN'"),
        ("inf", "drug_deaths_rate", f"{LA} Hartlepool"),
        ("", "drug_deaths_rate", f"{LA} Hartlepool"),
        ("-5.2", "drug_deaths_rate", f"{LA} Hartlepool"),
        ("n/a", "asmr_per_100k", f"{LA} {PERIOD}='n/a'"),
    ],
    ids=["nan", "inf", "blank", "negative", "text"],
)
def test_bad_number_in_a_numeric_column(tmp_path, mirror, outputs, value, column, needle):
    mirror.edit_csv(DEATHS, set_deaths("asmr_per_100k", value))
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, DEATHS, f"column '{column}'", needle)
    outputs.assert_unchanged()


def test_negative_death_count(tmp_path, mirror, outputs):
    mirror.edit_csv(DEATHS, set_deaths("deaths", "-3"))
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, DEATHS, "negative values", LA)
    outputs.assert_unchanged()


@pytest.mark.parametrize("marker", ["[c]", "[x]", "*", "..", "-"])
def test_unknown_suppression_marker_is_named_not_zeroed(tmp_path, mirror, outputs, marker):
    """ONS marks suppressed cells ':'; other publishers' markers must not become 0 or NaN."""
    mirror.edit_csv(DEATHS, set_deaths("asmr_per_100k", marker))
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, DEATHS, "column 'asmr_per_100k'", "not numbers", f"='{marker}'")
    outputs.assert_unchanged()


def test_suppressed_rates_with_rule_error_list_every_la(tmp_path, mirror, outputs):
    """``suppressed_deaths: error``: the ':' rates of 2018-20 are listed by code and name."""
    res = run_broken(tmp_path, mirror, outputs, {"data": {"suppressed_deaths": "error"}})
    assert_clean_error(res, DEATHS, "E06000017", "Rutland", "E09000001")
    outputs.assert_unchanged()


def test_text_in_a_workbook_score_column(tmp_path, mirror, outputs):
    from openpyxl import load_workbook

    path = mirror.edit(IMD)
    wb = load_workbook(path)
    ws = wb["Crime"]
    header = [str(c.value).strip() for c in ws[1]]
    code_col = next(i for i, h in enumerate(header) if h.startswith("Upper Tier") and "code" in h)
    score_col = next(i for i, h in enumerate(header) if h.endswith("- Average score"))
    row = next(r for r in ws.iter_rows(min_row=2) if str(r[code_col].value).strip() == LA)
    row[score_col].value = "see note 4"
    wb.save(path)
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, IMD, "Average score", "not numbers", f"{LA}='see note 4'")
    outputs.assert_unchanged()


# ----------------------------------------------------------------------------- geometry
def test_boundaries_in_another_crs(tmp_path, mirror, outputs):
    mirror.edit_boundaries(lambda g: g.to_crs(27700))
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, BOUNDARIES, "column 'geometry'", "CRS is EPSG:27700", "expected")
    outputs.assert_unchanged()


def _strip_crs(mirror: Mirror, project: bool) -> None:
    path = mirror.edit(BOUNDARIES)
    if project:
        import geopandas as gpd

        doc = json.loads(gpd.read_file(path).to_crs(27700).to_json())
    else:
        doc = json.loads(path.read_text(encoding="utf-8"))
    doc.pop("crs", None)
    path.write_text(json.dumps(doc), encoding="utf-8")


def test_boundaries_without_a_crs_in_lon_lat_are_read_as_geojson_says(tmp_path, mirror):
    """RFC 7946: a GeoJSON without ``crs`` is WGS 84 lon/lat, so these load as before."""
    _strip_crs(mirror, project=False)
    res = validate_mirror(tmp_path, mirror)
    assert res.returncode == 0, res.stderr
    assert "data: 152 LAs" in res.stdout


def test_boundaries_without_a_crs_in_metres_are_refused(tmp_path, mirror, outputs):
    _strip_crs(mirror, project=True)
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, BOUNDARIES, "column 'geometry'", "not longitude/latitude",
                       "EPSG:27700")
    outputs.assert_unchanged()


def _set_geometry(mirror: Mirror, geom: object) -> None:
    def fn(g):  # type: ignore[no-untyped-def]
        g.loc[g["utla21_code"] == LA, "geometry"] = geom
        return g

    mirror.edit_boundaries(fn)


@pytest.mark.parametrize("geom", [Polygon(), None], ids=["empty", "missing"])
def test_empty_or_missing_geometry(tmp_path, mirror, outputs, geom):
    _set_geometry(mirror, geom)
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, BOUNDARIES, "column 'geometry'", "missing or empty geometry", LA)
    outputs.assert_unchanged()


def test_invalid_geometry_is_repaired_and_reported(tmp_path, mirror):
    bowtie = Polygon([(-1.30, 54.60), (-1.10, 54.70), (-1.10, 54.60), (-1.30, 54.70)])
    assert not bowtie.is_valid
    _set_geometry(mirror, bowtie)
    res = validate_mirror(tmp_path, mirror)
    assert res.returncode == 0, res.stderr
    assert "invalid geometries repaired with shapely.make_valid" in res.stdout
    assert LA in res.stdout


def test_non_polygon_geometry_is_refused(tmp_path, mirror, outputs):
    line = LineString([(-1.30, 54.60), (-1.10, 54.70)])
    assert shapely.is_valid(line)
    _set_geometry(mirror, line)
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, BOUNDARIES, "column 'geometry'", "not a polygon", f"{LA} (LineString)")
    outputs.assert_unchanged()


def test_boundary_file_that_is_not_geojson(tmp_path, mirror, outputs):
    mirror.edit(BOUNDARIES).write_text('{"type": "FeatureCollection", "features": [', "utf-8")
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, BOUNDARIES, "cannot be read as a vector file")
    outputs.assert_unchanged()


def test_renamed_boundary_code_column(tmp_path, mirror, outputs):
    mirror.edit_boundaries(lambda g: g.rename(columns={"utla21_code": "UTLA21CD"}))
    res = run_broken(tmp_path, mirror, outputs)
    assert_clean_error(res, BOUNDARIES, "column 'utla21_code'", "UTLA21CD")
    outputs.assert_unchanged()


def test_data_check_command_on_a_broken_directory(mirror):
    mirror.remove(DEATHS)
    res = run_cli("data", "check", "--data-dir", mirror)
    assert_clean_error(res, DEATHS, "missing")
