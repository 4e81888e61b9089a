"""Build the areas table: one row per English upper-tier LA on May 2021 boundaries.

:func:`load_areas` reads the official files listed in ``geodata/catalogue.yaml`` (hash-checked),
moves every indicator onto the 152 LAs of May 2021 (:mod:`allocator.data.crosswalk`), treats
suppressed death rates by the configured rule (:mod:`allocator.data.deaths`), checks the data
contracts (:mod:`allocator.data.contracts`) and returns an :class:`AreaData` whose ``frame``
follows :mod:`allocator.data.schema`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from ..errors import DataError
from ..paths import resolve_data_dir
from . import cache as cache_mod
from . import catalogue, contracts, crosswalk, readers, schema
from .config import DataConfig
from .deaths import deaths_for_period
from .ocu import DEFAULT_OCU_FILE, NOT_SUPPLIED, read_ocu

#: Catalogue keys read for every build, and the extra ones for ``crime: crime_severity``.
BASE_KEYS = [
    "boundaries_ctyua_2021",
    "population_mye_2020",
    "drug_deaths_table6",
    "imd2019_utla",
    "imd2019_ltla",
    "lookup_ltla19_utla19",
    "lad_changes",
    "lookup_ltla14",
]
CRIME_SEVERITY_KEYS = ["crime_severity_2223", "lookup_ltla21_utla21"]
BOUNDARY_CRS = "OGC:CRS84"

ATTRIBUTION = (
    "Source: Office for National Statistics, Ministry of Housing, Communities and Local "
    "Government; Open Government Licence v3.0. Contains OS data (c) Crown copyright and "
    "database right 2021."
)

FLAG_COLUMNS = ["drug_deaths_flag", "imd_flag", "income_flag", "employment_flag", "crime_flag",
                "ocu_flag"]


@dataclass
class AreaData:
    """The areas table and everything a run must repeat about how it was built.

    Attributes
    ----------
    frame : geopandas.GeoDataFrame
        One row per LA, columns and CRS as in :mod:`allocator.data.schema`.
    sources : list of dict
        Every file read: key, path (relative to the data directory), sha256, publisher, title,
        period, licence, url.
    notes : list of str
        Statements every output must repeat (attribution, treatments, missing inputs).
    flags : pandas.DataFrame
        ``code, name, column, flag`` for every value that is not the published one.
    config : dict
        The :class:`DataConfig` used, as plain data.
    """

    frame: gpd.GeoDataFrame
    sources: list[dict[str, str]]
    notes: list[str]
    flags: pd.DataFrame
    config: dict[str, Any] = field(default_factory=dict)

    def to_map_crs(self) -> gpd.GeoDataFrame:
        """Return a copy of the frame in the map CRS (EPSG:4326, lon/lat)."""
        return self.frame.to_crs(schema.MAP_CRS)

    @property
    def codes(self) -> list[str]:
        """LA codes in table order."""
        return self.frame["code"].tolist()


def source_keys(config: DataConfig) -> list[str]:
    """Catalogue keys a build with ``config`` reads."""
    return BASE_KEYS + (CRIME_SEVERITY_KEYS if config.crime == "crime_severity" else [])


def load_areas(config: DataConfig | None = None, data_dir: Path | str | None = None) -> AreaData:
    """Load the areas table from the official files.

    Parameters
    ----------
    config : DataConfig, optional
        Data section of the run config; defaults to ``DataConfig()``.
    data_dir : path-like, optional
        Directory of the official files; see :func:`allocator.paths.resolve_data_dir`.

    Returns
    -------
    AreaData

    Raises
    ------
    DataError
        When a file is missing, has the wrong hash, or breaks a data contract.
    """
    config = config or DataConfig()
    root = resolve_data_dir(data_dir)
    records = [catalogue.verify(k, root, strict=config.verify_hashes) for k in source_keys(config)]
    ocu_path = _ocu_path(config, root)
    ocu_hash = catalogue.sha256_of(ocu_path) if ocu_path and ocu_path.is_file() else None
    key = cache_mod.cache_key(records, config, ocu_hash)
    if config.cache:
        hit = cache_mod.load(key)
        if hit is not None:
            return AreaData(frame=hit["frame"], sources=hit["sources"], notes=hit["notes"],
                            flags=flag_table(hit["frame"]), config=hit["config"])
    data = build(config, root, records, ocu_path, ocu_hash)
    if config.cache:
        cache_mod.store(key, data)
    return data


def _ocu_path(config: DataConfig, root: Path) -> Path | None:
    from ..safe_files import resolve_input

    if config.ocu_file is None:
        return None
    if config.ocu_file == "auto":
        auto = root / DEFAULT_OCU_FILE
        return auto if auto.is_file() else None
    return resolve_input(config.ocu_file, root, "data.ocu_file")


def build(
    config: DataConfig,
    root: Path,
    records: list[dict[str, Any]],
    ocu_path: Path | None,
    ocu_hash: str | None,
) -> AreaData:
    """Cold build of :class:`AreaData` (no cache). See :func:`load_areas`."""
    path = {k: root / catalogue.source(k).path for k in source_keys(config)}
    notes: list[str] = [ATTRIBUTION]
    notes += [r["mismatch"] for r in records if "mismatch" in r]

    # ---- boundaries
    bfile = path["boundaries_ctyua_2021"]
    b = readers.read_boundaries(bfile)
    contracts.check_crs(b, BOUNDARY_CRS, file=bfile)
    contracts.check_codes(b["code"], file=bfile, column="utla21_code")
    b, repaired = contracts.repair_geometries(b, file=bfile)
    if repaired:
        notes.append(f"Boundaries: {len(repaired)} invalid geometries repaired with "
                     f"shapely.make_valid ({', '.join(repaired)}).")
    names = dict(zip(b["code"], b["name"], strict=True))

    # ---- regions
    changes = readers.read_changes(path["lad_changes"])
    regions = crosswalk.regions(names, readers.read_ltla14(path["lookup_ltla14"]), changes,
                                file=path["lookup_ltla14"])

    # ---- population
    pfile = path["population_mye_2020"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = pd.ExcelFile(pfile)
    with book:
        pop_all_areas = readers.read_population(pfile, book=book)
        pop_series = readers.read_population_series(pfile, book=book)
    pop = pop_all_areas[pop_all_areas["code"].str[:3].isin(readers.UTLA_PREFIXES)]
    contracts.check_codes(pop["code"], file=pfile, column="Code")
    contracts.check_joined(pop["code"], names, file=pfile, column="Code", indicator="population")
    contracts.check_values(pop, ["pop_all", "pop_15_64"], file=pfile, names=names)
    pop = pop[["code", "pop_all", "pop_15_64"]]

    # ---- drug deaths
    dfile = path["drug_deaths_table6"]
    deaths = deaths_for_period(readers.read_deaths(dfile), names, config, pop_series, file=dfile)
    contracts.check_joined(deaths["code"], names, file=dfile, column="area_code",
                           indicator=f"drug deaths {config.deaths_period}")
    contracts.check_values(deaths, ["drug_deaths_rate", "drug_deaths_lcl", "drug_deaths_ucl",
                                    "drug_deaths_count"], file=dfile, names=names)
    unknown = _unknown_utla_codes(readers.read_deaths(dfile)["code"], names)
    if unknown:
        raise DataError("upper-tier codes not among the May 2021 LAs", file=dfile,
                        column="area_code", codes=unknown)
    n_treated = int((deaths["drug_deaths_flag"] != "").sum())
    if n_treated:
        notes.append(
            f"Drug deaths {config.deaths_period}: ONS suppressed the rate for {n_treated} LAs "
            f"(fewer than 10 deaths); treated by rule '{config.suppressed_deaths}' and flagged "
            "in drug_deaths_flag.")

    # ---- IMD 2019 (and its Crime domain)
    ifile = path["imd2019_utla"]
    sheets = readers.read_imd_sheets(ifile)
    for sheet, df in sheets.items():
        contracts.check_codes(df["code"], file=ifile, column=f"{sheet}: {readers.IMD_CODE_COLUMN}")
    old = {c: n for c, n in zip(sheets["IMD"]["code"], sheets["IMD"]["name"], strict=True)
           if c not in names}
    succ = crosswalk.successors(old, readers.read_lookup(path["lookup_ltla19_utla19"], 19),
                                changes, names, file=ifile)
    base_pop = {c: float(pop_series.loc[c, 2015]) for s in succ for c in s.districts
                if c in pop_series.index}
    moved, imd_flags, imd_notes = crosswalk.imd_to_2021(
        sheets, readers.read_imd_districts(path["imd2019_ltla"]), succ, base_pop, file=ifile)
    notes += imd_notes
    for sheet in ("IMD", "Crime", "Income", "Employment"):
        contracts.check_codes(moved[sheet]["code"], file=ifile, column=readers.IMD_CODE_COLUMN)
        contracts.check_joined(moved[sheet]["code"], names, file=ifile,
                               column=readers.IMD_CODE_COLUMN, indicator=f"IMD 2019 {sheet}")
    imd = moved["IMD"].rename(columns={"score": "imd_score"})
    contracts.check_values(imd, ["imd_score"], file=ifile, names=names)
    imd["imd_rank"] = crosswalk.rank_descending(imd["imd_score"])
    imd["imd_flag"] = imd["code"].map(imd_flags).fillna("")
    notes.append("IMD 2019 ranks recomputed over the 152 May 2021 LAs (1 = most deprived).")
    domains = moved["Income"].rename(columns={"score": "income_score"})[["code", "income_score"]]
    domains = domains.merge(moved["Employment"].rename(columns={"score": "employment_score"})[
        ["code", "employment_score"]], on="code", validate="1:1")
    contracts.check_values(domains, ["income_score", "employment_score"], file=ifile, names=names)
    for col in ("income_flag", "employment_flag"):
        domains[col] = domains["code"].map(imd_flags).fillna("")

    # ---- crime
    if config.crime == "imd_crime":
        crime = moved["Crime"].rename(columns={"score": "crime_score"})
        contracts.check_values(crime, ["crime_score"], file=ifile, nonnegative=False, names=names)
        crime["crime_flag"] = crime["code"].map(imd_flags).fillna("")
        notes.append("Crime indicator: IMD 2019 Crime domain average score.")
    else:
        crime = _crime_severity(path, changes, pop_all_areas, regions, names, config, notes)

    # ---- OCU
    ocu = None
    if ocu_path is None:
        notes.append(NOT_SUPPLIED)
    else:
        ocu = read_ocu(ocu_path, names)
        rel = _relative(ocu_path, root)
        records = records + [{
            "key": "ocu_user", "path": rel, "sha256": ocu_hash or "", "publisher":
            "; ".join(sorted(set(ocu["source"]))), "title": "OCU prevalence",
            "period": "; ".join(sorted(set(ocu["year"]))), "licence": "as supplied",
            "url": "",
        }]
        n_flag = int((ocu["ocu_flag"] != "").sum())
        notes.append(
            f"OCU prevalence from {'; '.join(sorted(set(ocu['source'])))}, period "
            f"{'; '.join(sorted(set(ocu['year'])))} (file {rel}); "
            + (f"{n_flag} LAs derived by apportionment (flagged in ocu_flag)." if n_flag
               else "values as supplied."))

    # ---- assemble
    frame = b.merge(regions, on="code", validate="1:1")
    for part in (pop, deaths, imd[["code", "imd_score", "imd_rank", "imd_flag"]], domains,
                 crime[["code", "crime_score", "crime_flag"]]):
        frame = frame.merge(part, on="code", how="left", validate="1:1")
    cols = list(schema.REQUIRED_COLUMNS)
    if ocu is not None:
        frame = frame.merge(ocu[["code", "ocu_rate", "ocu_count", "ocu_flag"]], on="code", how="left",
                            validate="1:1")
        cols += schema.OCU_COLUMNS
    frame = gpd.GeoDataFrame(frame[cols + ["geometry"]], geometry="geometry", crs=b.crs)
    frame = frame.to_crs(schema.ANALYSIS_CRS).sort_values("code").reset_index(drop=True)
    for c in ["imd_rank"]:
        frame[c] = frame[c].astype(int)
    for c in ["code", "name", "region", "region_code", *[f for f in FLAG_COLUMNS if f in frame]]:
        frame[c] = frame[c].astype(str)
    contracts.check_frame(frame, with_ocu=ocu is not None)

    sources = [{k: str(r[k]) for k in ("key", "path", "sha256", "publisher", "title", "period",
                                       "licence", "url")} for r in records]
    return AreaData(frame=frame, sources=sources, notes=notes, flags=flag_table(frame),
                    config=config.model_dump(mode="json"))


def flag_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Long table ``code, name, column, flag`` of every non-empty flag."""
    rows = [
        {"code": r["code"], "name": r["name"], "column": col, "flag": r[col]}
        for col in FLAG_COLUMNS if col in frame
        for _, r in frame.iterrows() if r[col]
    ]
    return pd.DataFrame(rows, columns=["code", "name", "column", "flag"])


def _unknown_utla_codes(codes: pd.Series, names: dict[str, str]) -> list[str]:
    utla = set(codes[codes.str[:3].isin(readers.UTLA_PREFIXES)])
    return sorted(utla - set(names))


def _relative(p: Path, root: Path) -> str:
    try:
        return str(p.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(p)


def _crime_severity(
    path: dict[str, Path],
    changes: pd.DataFrame,
    pop_all_areas: pd.DataFrame,
    regions: pd.DataFrame,
    names: dict[str, str],
    config: DataConfig,
    notes: list[str],
) -> pd.DataFrame:
    cfile = path["crime_severity_2223"]
    rows = readers.read_crime_severity(cfile)
    bad = rows[~rows["code"].str.match(r"^E0[6-9]\d{6}$")]
    if len(bad):
        raise DataError("malformed district codes", file=cfile, column="ltla23_code",
                        codes=[f"row {r} {c!r}" for r, c in zip(bad["row"], bad["code"],
                                                                strict=True)])
    contracts.check_values(rows.dropna(subset=["value"]), ["value"], file=cfile)
    lookup21 = readers.read_lookup(path["lookup_ltla21_utla21"], 21)
    lookup21 = lookup21[lookup21["utla_code"].isin(names)]
    population = pop_all_areas.set_index("code")["pop_all"]
    scores, flags = crosswalk.crime_severity_to_2021(rows, lookup21, changes, population,
                                                     file=cfile)
    crime = pd.DataFrame({"code": list(names)})
    crime["crime_score"] = crime["code"].map(scores)
    crime["crime_flag"] = crime["code"].map(flags).fillna("")
    missing = crime[crime["crime_score"].isna()]["code"].tolist()
    if missing and config.crime_missing == "error":
        raise DataError(
            "crime severity: no value for these LAs (\":\" or absent) and data.crime_missing is "
            "'error'", file=cfile, column="crime_severity_score",
            codes=[f"{c} {names[c]}" for c in missing])
    if missing:
        reg = crime.merge(regions, on="code")
        med = reg[reg["crime_score"].notna() & (reg["crime_flag"] == "")].groupby(
            "region")["crime_score"].median()
        for c in missing:
            region = reg.loc[reg["code"] == c, "region"].iloc[0]
            if region not in med:
                raise DataError(f"crime severity: no LA in {region} has a value to fill from",
                                file=cfile, codes=[f"{c} {names[c]}"])
            crime.loc[crime["code"] == c, "crime_score"] = float(med[region])
            crime.loc[crime["code"] == c, "crime_flag"] = (
                f"region_median: no crime severity value in the file; median of fully covered "
                f"{region} LAs used")
        notes.append(f"Crime severity: {len(missing)} LAs had no value and were filled with "
                     "their region's median (flagged in crime_flag).")
    notes.append("Crime indicator: ONS Crime Severity Score, April 2022 to March 2023, "
                 "aggregated from districts by mid-2020 population.")
    return crime
