"""Readers, one per publisher file: each returns a tidy table with clean codes and names.

Readers only parse: they strip the whitespace and non-breaking spaces ONS leaves in codes and
names, find columns by their published headers (which have trailing spaces in the IMD workbook),
turn ONS's ":" into a missing value with an explicit marker, and raise a
:class:`~allocator.errors.DataError` naming the file and column when a header is not there or a
value is not a number. Harmonising vintages and joining is done elsewhere.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import DataError, library_message
from ..safe_files import excerpt

#: English upper-tier LA code prefixes: unitary, metropolitan district, London borough, county.
UTLA_PREFIXES = ("E06", "E08", "E09", "E10")


def clean_text(s: pd.Series) -> pd.Series:
    """Strip ordinary and non-breaking spaces from a text column."""
    return s.astype("string").str.replace("\xa0", " ", regex=False).str.strip()


def require_columns(df: pd.DataFrame, columns: list[str], file: Path | str) -> None:
    """Raise a DataError naming the first missing column (and what the file has)."""
    for c in columns:
        if c not in df.columns:
            have = ", ".join(excerpt(c, 30) for c in df.columns[:12])
            raise DataError(f"expected column is missing (file has: {have})", file=file, column=c)


def to_number(
    s: pd.Series, *, file: Path | str, column: str, ids: pd.Series, missing: tuple[str, ...] = ()
) -> pd.Series:
    """Parse a column as numbers; values in ``missing`` become NaN; anything else unparsable raises."""
    text = clean_text(s)
    is_missing = text.isin(list(missing)) | text.isna() | (text == "")
    out = pd.to_numeric(text.where(~is_missing), errors="coerce")
    bad = out.isna() & ~is_missing
    if bad.any():
        shown = [f"{i}={v!r}" for i, v in zip(ids[bad], text[bad], strict=True)]
        raise DataError("values are not numbers", file=file, column=column, codes=shown)
    return out.astype(float)


def _first_bad_utf8_line(path: Path, encoding: str) -> str:
    """``line N`` holding the first byte that does not decode, for a clear encoding error."""
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError as exc:
                return f"line {n}, byte {exc.start + 1} (0x{raw[exc.start]:02x})"
    return "an unknown line"


def _read_csv(path: Path, **kw: object) -> pd.DataFrame:
    encoding = str(kw.get("encoding", "utf-8"))
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, **kw)
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty (no header row, no data)", file=path) from None
    except UnicodeDecodeError:
        where = _first_bad_utf8_line(path, encoding)
        raise DataError(
            f"not valid {encoding} text at {where}; save the file as {encoding.upper()} "
            "(the official file is, unless its catalogue entry says otherwise)",
            file=path,
        ) from None
    except pd.errors.ParserError as exc:
        raise DataError(f"cannot be read as CSV: {exc}", file=path) from None


def _read_excel(
    path: Path, sheet: str, header: int, book: pd.ExcelFile | None = None
) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = pd.read_excel(book if book is not None else path, sheet_name=sheet,
                               header=header)
    except Exception as exc:  # xlrd/openpyxl raise several types for a bad workbook
        raise DataError(f"cannot read sheet {sheet!r}: {exc}", file=path) from exc
    df.columns = [str(c).replace("\xa0", " ").strip() for c in df.columns]
    return df


# --------------------------------------------------------------------------- boundaries
def read_boundaries(path: Path) -> gpd.GeoDataFrame:
    """ONS Counties and Unitary Authorities (May 2021) BUC, English upper-tier LAs only.

    Returns
    -------
    geopandas.GeoDataFrame
        ``code``, ``name``, ``geometry`` in the file's CRS (checked by the contracts).
    """
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises its own error types
        raise DataError(f"cannot be read as a vector file: {library_message(exc)}", file=path) from exc
    require_columns(gdf, ["utla21_code", "utla21_name"], path)
    gdf = gdf.rename(columns={"utla21_code": "code", "utla21_name": "name"})
    gdf["code"] = clean_text(gdf["code"])
    gdf["name"] = clean_text(gdf["name"])
    # every English code (E...) must be a well-formed upper-tier code: a mangled one must be
    # blamed on this file, not silently dropped and reported later as a missing LA
    english = gdf[gdf["code"].str.startswith("E")]
    bad = english[~english["code"].str[:3].isin(UTLA_PREFIXES) | ~english["code"].str.fullmatch(r"E\d{8}")]
    if not bad.empty:
        raise DataError(
            "malformed or non-upper-tier English codes (expected E06/E08/E09/E10 + 6 digits)",
            file=path,
            column="utla21_code",
            codes=[f"{c!r} ({n})" for c, n in zip(bad["code"], bad["name"], strict=True)],
        )
    eng = gdf[gdf["code"].str[:3].isin(UTLA_PREFIXES)]
    return eng[["code", "name", "geometry"]].reset_index(drop=True)


# --------------------------------------------------------------------------- population
def read_population(path: Path, book: pd.ExcelFile | None = None) -> pd.DataFrame:
    """ONS mid-2020 estimates on 2021 geography, sheet ``MYE2 - Persons`` (header row 8).

    Returns
    -------
    pandas.DataFrame
        ``code``, ``name``, ``geography``, ``pop_all``, ``pop_15_64`` for every area in the
        sheet (countries, regions, counties, districts).
    """
    df = _read_excel(path, "MYE2 - Persons", header=7, book=book)
    ages = [str(a) for a in range(15, 65)]
    require_columns(df, ["Code", "Name", "Geography", "All ages", *ages], path)
    df = df[df["Code"].notna()].copy()
    out = pd.DataFrame(
        {
            "code": clean_text(df["Code"]),
            "name": clean_text(df["Name"]),
            "geography": clean_text(df["Geography"]),
        }
    )
    out["pop_all"] = to_number(df["All ages"], file=path, column="All ages", ids=out["code"])
    parts = [to_number(df[a], file=path, column=a, ids=out["code"]) for a in ages]
    out["pop_15_64"] = np.sum(parts, axis=0)
    return out.reset_index(drop=True)


def read_population_series(path: Path, book: pd.ExcelFile | None = None) -> pd.DataFrame:
    """ONS mid-year totals 2001-2020 on 2021 geography, sheet ``MYE4``.

    Returns
    -------
    pandas.DataFrame
        Index ``code``; one integer-named column per mid-year (e.g. ``2015``).
    """
    df = _read_excel(path, "MYE4", header=7, book=book)
    require_columns(df, ["Code", "Mid-2020"], path)
    df = df[df["Code"].notna()]
    codes = clean_text(df["Code"])
    cols = {c: int(c.split("-")[1]) for c in df.columns if c.startswith("Mid-")}
    out = pd.DataFrame(index=pd.Index(codes, name="code"))
    for c, year in sorted(cols.items(), key=lambda kv: kv[1]):
        out[year] = to_number(df[c], file=path, column=c, ids=codes).to_numpy()
    return out


# --------------------------------------------------------------------------- drug deaths
DEATHS_COLUMNS = ["area_code", "area_name", "period", "deaths", "asmr_per_100k", "lcl_95", "ucl_95"]


def read_deaths(path: Path) -> pd.DataFrame:
    """ONS Table 6 (drug misuse deaths, 3-year age-standardised rates), tidy CSV.

    Returns
    -------
    pandas.DataFrame
        ``code``, ``name``, ``period``, ``deaths``, ``rate``, ``lcl``, ``ucl`` and
        ``suppressed`` (True where ONS published ":" for the rate) for every area and period.
    """
    df = _read_csv(path)
    require_columns(df, DEATHS_COLUMNS, path)
    out = pd.DataFrame(
        {
            "code": clean_text(df["area_code"]),
            "name": clean_text(df["area_name"]),
            "period": clean_text(df["period"]),
        }
    )
    ids = out["code"] + " " + out["period"]
    out["deaths"] = to_number(df["deaths"], file=path, column="deaths", ids=ids)
    for src, dst in [("asmr_per_100k", "rate"), ("lcl_95", "lcl"), ("ucl_95", "ucl")]:
        out[dst] = to_number(df[src], file=path, column=src, ids=ids, missing=(":",))
    out["suppressed"] = clean_text(df["asmr_per_100k"]) == ":"
    return out


# --------------------------------------------------------------------------- IMD 2019
#: File 11 sheets and the district-file (File 10 conversion) column holding the same domain.
IMD_DOMAINS = {
    "IMD": "Score",
    "Income": "Income_Score",
    "Employment": "Employment_Score",
    "Education": "Education_Score",
    "Health": "Health_Score",
    "Crime": "Crime_Score",
    "Barriers": "Housing_and_Access_Score",
    "Living": "Environment_Score",
}
IMD_CODE_COLUMN = "Upper Tier Local Authority District code (2019)"
IMD_NAME_COLUMN = "Upper Tier Local Authority District name (2019)"


def read_imd_sheets(path: Path) -> dict[str, pd.DataFrame]:
    """Every domain sheet of File 11 named in :data:`IMD_DOMAINS`, read from one open workbook."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = pd.ExcelFile(path)
    except Exception as exc:  # openpyxl/zipfile raise several types for a non-workbook
        raise DataError(f"cannot be opened as a workbook: {exc}", file=path) from exc
    with book:
        return {s: read_imd_sheet(path, s, book=book) for s in IMD_DOMAINS}


def read_imd_sheet(path: Path, sheet: str, book: pd.ExcelFile | None = None) -> pd.DataFrame:
    """One sheet of IoD 2019 File 11 (upper-tier summaries).

    Returns
    -------
    pandas.DataFrame
        ``code``, ``name``, ``score`` (average score), ``rank`` (rank of average score).
    """
    df = _read_excel(path, sheet, header=0, book=book)
    score_cols = [c for c in df.columns if c.endswith("- Average score")]
    rank_cols = [c for c in df.columns if c.endswith("- Rank of average score")]
    require_columns(df, [IMD_CODE_COLUMN, IMD_NAME_COLUMN], path)
    if len(score_cols) != 1 or len(rank_cols) != 1:
        raise DataError(
            f"sheet {sheet!r} needs one '... - Average score' and one '... - Rank of average "
            "score' column",
            file=path,
            column=f"{sheet} - Average score",
        )
    df = df[df[IMD_CODE_COLUMN].notna()]
    out = pd.DataFrame(
        {"code": clean_text(df[IMD_CODE_COLUMN]), "name": clean_text(df[IMD_NAME_COLUMN])}
    )
    out["score"] = to_number(df[score_cols[0]], file=path, column=score_cols[0], ids=out["code"])
    out["rank"] = to_number(df[rank_cols[0]], file=path, column=rank_cols[0], ids=out["code"])
    return out.reset_index(drop=True)


def read_imd_districts(path: Path) -> pd.DataFrame:
    """IoD 2019 lower-tier (2019 district) domain scores.

    Returns
    -------
    pandas.DataFrame
        Index ``code`` (2019 district code); the columns named in :data:`IMD_DOMAINS`.
    """
    df = _read_csv(path)
    cols = list(IMD_DOMAINS.values())
    require_columns(df, ["ltla19_code", *cols], path)
    codes = clean_text(df["ltla19_code"])
    out = pd.DataFrame(index=pd.Index(codes, name="code"))
    for c in cols:
        out[c] = to_number(df[c], file=path, column=c, ids=codes).to_numpy()
    return out


# --------------------------------------------------------------------------- lookups
def read_lookup(path: Path, year: int) -> pd.DataFrame:
    """ONS lower-tier -> upper-tier lookup for ``year`` (19, 21 or 23)."""
    df = _read_csv(path)
    cols = [f"ltla{year}_code", f"ltla{year}_name", f"utla{year}_code", f"utla{year}_name"]
    require_columns(df, cols, path)
    out = pd.DataFrame({k: clean_text(df[c]) for k, c in zip(
        ["ltla_code", "ltla_name", "utla_code", "utla_name"], cols, strict=True)})
    return out


def read_changes(path: Path) -> pd.DataFrame:
    """ONS code changes and mergers 2018-2025 (``oldcd, oldnm, newcd, newnm, type, start``)."""
    df = _read_csv(path, encoding="utf-8-sig")
    cols = ["oldcd", "oldnm", "newcd", "newnm", "type", "start"]
    require_columns(df, cols, path)
    out = pd.DataFrame({c: clean_text(df[c]) for c in cols})
    out["start"] = to_number(df["start"], file=path, column="start", ids=out["oldcd"]).astype(int)
    return out


def read_ltla14(path: Path) -> pd.DataFrame:
    """ONS 2014 district lookup with county and region (``ltlacd, ctycd, rgncd, rgnnm``)."""
    df = _read_csv(path, encoding="utf-8-sig")
    cols = ["ltlacd", "ltlanm", "ctycd", "ctynm", "rgncd", "rgnnm"]
    require_columns(df, cols, path)
    return pd.DataFrame({c: clean_text(df[c]) for c in cols})


# --------------------------------------------------------------------------- crime severity
def read_crime_severity(path: Path) -> pd.DataFrame:
    """ONS Crime Severity Score 2022/23 by 2023 district (duplicated codes kept, ":" -> NaN).

    Returns
    -------
    pandas.DataFrame
        ``code``, ``value`` (NaN where ":"), ``row`` (1-based data row in the file).
    """
    df = _read_csv(path)
    require_columns(df, ["ltla23_code", "crime_severity_score"], path)
    codes = clean_text(df["ltla23_code"])
    out = pd.DataFrame({"code": codes, "row": np.arange(2, len(df) + 2)})
    out["value"] = to_number(
        df["crime_severity_score"], file=path, column="crime_severity_score", ids=codes,
        missing=(":",),
    )
    return out


# --------------------------------------------------------------------------- later vintages
def read_district_population(path: Path, year: int = 2020) -> pd.DataFrame:
    """ONS mid-year estimates by single year of age on 2021 districts, one mid-year.

    Parameters
    ----------
    path : pathlib.Path
        ``ons_mye_sya_la/la_pop_estimates.csv`` (columns ``name, code, year, Age 0 .. Aged 90+``).
    year : int
        The mid-year wanted.

    Returns
    -------
    pandas.DataFrame
        ``code``, ``name``, ``pop_all`` and ``pop_15_64`` (whole people), one row per district.
    """
    df = _read_csv(path)
    require_columns(df, ["name", "code", "year", "Age 0", "Aged 90+"], path)
    df = df[clean_text(df["year"]) == str(year)]
    if df.empty:
        raise DataError(f"no rows for mid-{year}", file=path, column="year")
    codes = clean_text(df["code"])
    dup = sorted(set(codes[codes.duplicated()]))
    if dup:
        raise DataError(f"duplicate district codes in mid-{year}", file=path, column="code",
                        codes=dup)
    ages = [c for c in df.columns if c.startswith("Age ")] + ["Aged 90+"]
    values = {c: to_number(df[c], file=path, column=c, ids=codes) for c in ages}
    bad = [c for c, v in values.items() if v.isna().any()]
    if bad:
        raise DataError(f"missing counts in mid-{year}", file=path, column=bad[0],
                        codes=codes[values[bad[0]].isna()])
    total = sum(values.values())
    working = sum(values[f"Age {a}"] for a in range(15, 65))
    return pd.DataFrame({"code": codes.to_numpy(), "name": clean_text(df["name"]).to_numpy(),
                         "pop_all": total.round().astype("int64").to_numpy(),
                         "pop_15_64": working.round().astype("int64").to_numpy()})


def read_topojson_utla(path: Path, year: int) -> gpd.GeoDataFrame:
    """English upper-tier LAs in force in ``year`` from ONS's multi-year TopoJSON.

    Features carry optional ``start`` and ``end`` years (the first and last year a boundary was
    in force); a feature is kept when ``start <= year <= end``. The file declares no CRS; its
    coordinates are longitude/latitude (EPSG:4326).

    Returns
    -------
    geopandas.GeoDataFrame
        ``code``, ``name``, ``geometry`` (EPSG:4326), sorted by code.
    """
    try:
        gdf = gpd.read_file(path, layer="utla")
    except Exception as exc:  # pyogrio raises its own error types
        raise DataError(f"cannot read layer 'utla': {library_message(exc)}", file=path) from exc
    require_columns(gdf, ["areacd", "areanm"], path)
    start = pd.to_numeric(gdf.get("start"), errors="coerce") if "start" in gdf else None
    end = pd.to_numeric(gdf.get("end"), errors="coerce") if "end" in gdf else None
    keep = np.array(clean_text(gdf["areacd"]).str[:3].isin(UTLA_PREFIXES).fillna(False), dtype=bool)
    if start is not None:
        keep &= (start.isna() | (start <= year)).to_numpy()
    if end is not None:
        keep &= (end.isna() | (end >= year)).to_numpy()
    out = gdf[keep]
    out = gpd.GeoDataFrame({"code": clean_text(out["areacd"]).to_numpy(),
                            "name": clean_text(out["areanm"]).to_numpy()},
                           geometry=out.geometry.to_numpy(), crs="EPSG:4326")
    dup = sorted(set(out["code"][out["code"].duplicated()]))
    if dup:
        raise DataError(f"several boundaries in force in {year} for one code", file=path,
                        column="areacd", codes=dup)
    return out.sort_values("code", kind="stable").reset_index(drop=True)
