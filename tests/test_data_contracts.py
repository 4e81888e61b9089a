"""Data contracts: each broken input gives a DataError naming file, column and codes.

Broken inputs are built in tmp dirs: either small synthetic tables, or a mirror of the shared data
directory (symlinks) in which one file is replaced by an edited copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Polygon, box

from allocator.data import DataConfig, contracts, load_areas, readers
from allocator.data.catalogue import catalogue
from allocator.errors import DataError
from allocator.paths import default_data_dir

DATA_DIR = default_data_dir()
needs_data = pytest.mark.skipif(DATA_DIR is None, reason="shared/geodata not present")
DEATHS = "ons_drug_deaths_la_2021reg/DERIVED_table6_drug_misuse_asmr_persons_long.csv"
NOCHECK = {"cache": False, "verify_hashes": False}


class Mirror(type(Path())):
    """A data dir of symlinks to the real files; ``edit(rel)`` swaps one for a writable copy."""

    def edit(self, rel: str) -> Path:
        p = self / rel
        p.unlink()
        shutil.copyfile(DATA_DIR / rel, p)
        return p


@pytest.fixture
def mirror(tmp_path):
    root = Mirror(tmp_path / "geodata")
    for src in catalogue().values():
        link = root / src.path
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(DATA_DIR / src.path)
    return root


def _edit_deaths(mirror, fn):
    p = mirror.edit(DEATHS)
    df = pd.read_csv(p, dtype=str, keep_default_na=False)
    fn(df).to_csv(p, index=False)
    return p


# ----------------------------------------------------------------------------- missing / hash
def test_missing_file_names_file_and_how_to_get_it(tmp_path):
    with pytest.raises(DataError) as exc:
        load_areas(DataConfig(cache=False), tmp_path)
    msg = str(exc.value)
    assert "DERIVED_CTYUA_May2021_UK_BUC.geojson" in msg
    assert "geoportal.statistics.gov.uk" in msg and "allocator data fetch" in msg


@needs_data
def test_hash_mismatch_is_an_error_unless_disabled(mirror):
    _edit_deaths(mirror, lambda df: df)  # same values, different bytes (quoting/line ends)
    with pytest.raises(DataError, match="SHA-256") as exc:
        load_areas(DataConfig(cache=False), mirror)
    assert DEATHS in str(exc.value)
    d = load_areas(DataConfig(**NOCHECK), mirror)
    assert len(d.frame) == 152
    assert any("SHA-256" in n for n in d.notes)


# ----------------------------------------------------------------------------- deaths file
@needs_data
def test_wrong_column(mirror):
    _edit_deaths(mirror, lambda df: df.rename(columns={"asmr_per_100k": "rate"}))
    with pytest.raises(DataError, match="column 'asmr_per_100k'.*missing"):
        load_areas(DataConfig(**NOCHECK), mirror)


@needs_data
def test_duplicate_code(mirror):
    def dup(df):
        extra = df[(df["area_code"] == "E06000001") & (df["period"] == "2018-20")]
        return pd.concat([df, extra])

    _edit_deaths(mirror, dup)
    with pytest.raises(DataError, match=r"duplicate rows for period 2018-20.*\[E06000001\]"):
        load_areas(DataConfig(**NOCHECK), mirror)


@needs_data
def test_unknown_code(mirror):
    def add(df):
        extra = df[df["area_code"] == "E06000001"].copy()
        extra["area_code"], extra["area_name"] = "E06000099", "Nowhere"
        return pd.concat([df, extra])

    _edit_deaths(mirror, add)
    with pytest.raises(DataError, match=r"codes not among the May 2021 LAs.*E06000099"):
        load_areas(DataConfig(**NOCHECK), mirror)


@needs_data
def test_missing_la_is_listed_with_name(mirror):
    _edit_deaths(mirror, lambda df: df[df["area_code"] != "E08000025"])
    with pytest.raises(DataError, match=r"not joined.*E08000025 Birmingham"):
        load_areas(DataConfig(**NOCHECK), mirror)


@needs_data
def test_not_a_number(mirror):
    def bad(df):
        m = (df["area_code"] == "E06000002") & (df["period"] == "2018-20")
        df.loc[m, "deaths"] = "n/a"
        return df

    p = _edit_deaths(mirror, bad)
    with pytest.raises(DataError, match=r"column 'deaths'.*not numbers.*E06000002 2018-20='n/a'"):
        readers.read_deaths(p)


@needs_data
def test_negative_count(mirror):
    def neg(df):
        m = (df["area_code"] == "E06000002") & (df["period"] == "2018-20")
        df.loc[m, "deaths"] = "-3"
        return df

    _edit_deaths(mirror, neg)
    with pytest.raises(DataError, match=r"drug_deaths_count.*negative.*E06000002 Middlesbrough"):
        load_areas(DataConfig(**NOCHECK), mirror)


@needs_data
def test_imd_unmapped_2019_code(mirror):
    p = mirror.edit("imd2019_utla/File_11_-_IoD2019_Local_Authority_District_Summaries__upper-tier__.xlsx")
    sheets = pd.read_excel(p, sheet_name=None)
    with pd.ExcelWriter(p) as xw:
        for name, df in sheets.items():
            if name in readers.IMD_DOMAINS:
                col = readers.IMD_CODE_COLUMN
                df[col] = df[col].replace({"E06000001": "E06000098"})
            df.to_excel(xw, sheet_name=name, index=False)
    with pytest.raises(DataError, match=r"no known successor.*E06000098 Hartlepool"):
        load_areas(DataConfig(**NOCHECK), mirror)


# ----------------------------------------------------------------------------- small tables
def test_nan_values_named():
    df = pd.DataFrame({"code": ["E06000001", "E06000002"], "x": [1.0, np.nan]})
    with pytest.raises(DataError, match=r"f\.csv, column 'x': missing or non-finite.*E06000002 B"):
        contracts.check_values(df, ["x"], file="f.csv", names={"E06000002": "B"})
    df["x"] = [1.0, np.inf]
    with pytest.raises(DataError, match="non-finite"):
        contracts.check_values(df, ["x"], file="f.csv")
    df["x"] = [1.0, -1.0]
    contracts.check_values(df, ["x"], file="f.csv", nonnegative=False)  # e.g. IMD crime domain


def test_malformed_and_duplicate_codes():
    with pytest.raises(DataError, match=r"malformed.*'E07000001'"):
        contracts.check_codes(pd.Series(["E06000001", "E07000001"]), file="f.csv")
    with pytest.raises(DataError, match=r"malformed.*'e06000001 '"):
        contracts.check_codes(pd.Series(["e06000001 "]), file="f.csv")
    with pytest.raises(DataError, match=r"duplicate area codes \[E06000001\]"):
        contracts.check_codes(pd.Series(["E06000001", "E06000001"]), file="f.csv")


def _boundary_file(path, crs, geoms, codes=("E06000001", "E06000002")):
    gdf = gpd.GeoDataFrame({"utla21_code": list(codes), "utla21_name": ["A", "B"]},
                           geometry=list(geoms), crs=crs)
    gdf.to_file(path, driver="GeoJSON")
    return path


def test_wrong_crs(tmp_path):
    p = _boundary_file(tmp_path / "b.geojson", "EPSG:27700",
                       [box(400000, 500000, 410000, 510000), box(410000, 500000, 420000, 510000)])
    b = readers.read_boundaries(p)
    with pytest.raises(DataError, match=r"b\.geojson, column 'geometry': CRS is EPSG:27700, "
                                        r"expected OGC:CRS84"):
        contracts.check_crs(b, "OGC:CRS84", file=p)
    ok = _boundary_file(tmp_path / "ok.geojson", "EPSG:4326",
                        [box(-1.3, 54.6, -1.2, 54.7), box(-1.2, 54.6, -1.1, 54.7)])
    contracts.check_crs(readers.read_boundaries(ok), "OGC:CRS84", file=ok)


def test_invalid_geometry_repaired_and_reported(tmp_path):
    bowtie = Polygon([(-1.3, 54.6), (-1.2, 54.7), (-1.2, 54.6), (-1.3, 54.7), (-1.3, 54.6)])
    p = _boundary_file(tmp_path / "b.geojson", "EPSG:4326", [bowtie, box(-1.2, 54.6, -1.1, 54.7)])
    b = readers.read_boundaries(p)
    assert not b.geometry.is_valid.all()
    fixed, repaired = contracts.repair_geometries(b, file=p)
    assert repaired == ["E06000001"]
    assert fixed.geometry.is_valid.all()
    # make_valid keeps both lobes of the bow-tie (buffer(0) would drop one)
    assert fixed.geometry.iloc[0].area == pytest.approx(shapely.make_valid(bowtie).area)
    assert fixed.geometry.iloc[0].area == pytest.approx(0.005)


def test_empty_geometry_is_an_error(tmp_path):
    p = _boundary_file(tmp_path / "b.geojson", "EPSG:4326",
                       [Polygon(), box(-1.2, 54.6, -1.1, 54.7)])
    b = readers.read_boundaries(p)
    with pytest.raises(DataError, match=r"missing or empty geometry.*E06000001"):
        contracts.repair_geometries(b, file=p)


def test_join_contract_lists_both_directions():
    names = {"E06000001": "Hartlepool", "E06000002": "Middlesbrough"}
    with pytest.raises(DataError, match=r"not joined.*E06000002 Middlesbrough"):
        contracts.check_joined(["E06000001"], names, file="x.csv", column="code", indicator="x")
    with pytest.raises(DataError, match=r"x\.csv, column 'code': x: codes not among.*E06000003"):
        contracts.check_joined([*names, "E06000003"], names, file="x.csv", column="code",
                               indicator="x")


def test_config_rejects_bad_period_and_unknown_keys():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        DataConfig(deaths_period="2018-2020")
    with pytest.raises(ValidationError):
        DataConfig(deaths_period="2018-21")
    with pytest.raises(ValidationError):
        DataConfig(suppressed_deaths="zero")
    with pytest.raises(ValidationError):
        DataConfig(colour="red")
    assert DataConfig(deaths_period="2019-21").period_years() == [2019, 2020, 2021]
