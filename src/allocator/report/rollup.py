"""Roll-ups: a run's pounds by region (built in) or by a user-supplied grouping of LAs.

Money goes to LAs, but accountability sits with Combating Drugs Partnerships (CDPs), and some
streams are planned by police force area (PFA). The project ships no CDP or PFA lookup (CDP
membership changes, and no official LA -> CDP table is in the data), so a user supplies one as a
UTF-8 CSV:

=========  ========================================================================================
column     meaning
=========  ========================================================================================
code       ONS code of a May 2021 upper-tier LA (every one of the run's LAs must appear)
group      name of the partnership, force area or other group
share      optional: the LA's share in this group, in (0, 1]. An LA listed once needs no share
           (it is 1); an LA split between groups is listed once per group with shares summing to 1
=========  ========================================================================================

Each group's row gives the number of LAs in it (a split LA counts once per group), its
population (mid-2020, shared like the money) and, for every money column of the run, whole
pounds. Where an LA is split, each money column is apportioned by largest remainder so the groups'
whole pounds sum exactly to the column's total. Errors name the LA and the row.

A run writes such a roll-up itself when its config lists the lookup under ``output.rollups``
(:class:`RollupConfig`): ``rollup_<name>.csv`` and a sheet ``By <label>`` in the workbook.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pandas as pd
from pydantic import Field, field_validator

from .._model import StrictModel
from ..allocate.exact import largest_remainder
from ..errors import DataError

LOOKUP_COLUMNS = ["code", "group"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
#: Characters Excel does not allow in a sheet name.
_SHEET_FORBIDDEN = set("[]:*?/\\")
#: Labels whose sheet the workbook already has (``By region``, ...); sheet names ignore case.
RESERVED_LABELS = frozenset({"region", "imd decile", "wave"})
#: Internal references (seed line numbers, digest sections) that must not reach readers.
_INTERNAL_REF = re.compile(r"\[\d{3} L\d+\]|§|seeds-digest")


class RollupConfig(StrictModel):
    """A roll-up every run writes (an item of ``output.rollups``).

    Parameters
    ----------
    name : str
        Lowercase identifier (``a-z``, ``0-9``, ``_``; up to 32 characters): the run writes
        ``rollup_<name>.csv``.
    label : str
        What one group is, in plain English, e.g. ``"Combating Drugs Partnership"`` or
        ``"Police force area"``: heads the group column and names the sheet ``By <label>``
        (so at most 28 characters, none of ``[]:*?/\\``).
    lookup : str
        The grouping CSV (schema in the module docstring), relative to the data folder.
    source : str
        Who published the grouping and when, in plain English (e.g. ``"Home Office list of
        Combating Drugs Partnerships, March 2024"``); printed on the sheet and in the CSV.
    """

    name: str
    label: str = Field(min_length=1, max_length=28)
    lookup: str = Field(min_length=1)
    source: str = Field(min_length=1, max_length=300)

    @field_validator("name")
    @classmethod
    def _name_shape(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("name must be a lowercase identifier (a-z, 0-9, _; up to 32 "
                             "characters, starting with a letter)")
        return v

    @field_validator("label")
    @classmethod
    def _sheet_name(cls, v: str) -> str:
        bad = sorted(set(v) & _SHEET_FORBIDDEN)
        if bad:
            raise ValueError(f"label cannot name a workbook sheet: it holds {' '.join(bad)}")
        if v != v.strip():
            raise ValueError("label has leading or trailing spaces")
        if v.lower() in RESERVED_LABELS:
            raise ValueError(f"the workbook already has a sheet 'By {v}'")
        return v

    @field_validator("source")
    @classmethod
    def _plain_source(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("source must say who published the grouping and when")
        if _INTERNAL_REF.search(v):
            raise ValueError("source holds an internal reference; outputs show it to readers, "
                             "so give the publisher and date in plain English")
        return v


@dataclass(frozen=True)
class GroupRollup:
    """A configured roll-up of a run: its config item, the table (:func:`rollup`) and whether
    any LA is split between groups."""

    config: RollupConfig
    table: pd.DataFrame
    split: bool


def read_lookup(path: Path, names: dict[str, str]) -> pd.DataFrame:
    """Read and validate a grouping of LAs.

    Parameters
    ----------
    path : pathlib.Path
        The CSV (schema in the module docstring).
    names : dict
        ``{code: name}`` of the LAs every one of which must be covered.

    Returns
    -------
    pandas.DataFrame
        ``code``, ``group``, ``share`` (:class:`fractions.Fraction`, exact).

    Raises
    ------
    DataError
        Missing columns, an unknown or missing LA, a repeated LA without shares, a share outside
        (0, 1] or shares of an LA that do not sum to 1.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("lookup file does not exist", file=path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"cannot be read as UTF-8 CSV: {exc}", file=path) from exc
    df.columns = [str(c).strip() for c in df.columns]
    for c in LOOKUP_COLUMNS:
        if c not in df.columns:
            raise DataError("expected column is missing (columns: code, group, optional share)",
                            file=path, column=c)
    df["code"] = df["code"].str.strip()
    df["group"] = df["group"].str.strip()
    df["row"] = range(2, len(df) + 2)  # line numbers in the file (header is line 1)
    empty = df[(df["code"] == "") | (df["group"] == "")]
    if len(empty):
        raise DataError("empty code or group", file=path, codes=[f"row {r}" for r in empty["row"]])
    unknown = df[~df["code"].isin(list(names))]
    if len(unknown):
        raise DataError("codes that are not LAs of the run (May 2021 upper-tier codes expected)",
                        file=path, column="code",
                        codes=[f"row {r} {c!r}" for r, c in zip(unknown["row"], unknown["code"],
                                                               strict=True)])
    missing = [f"{c} {n}" for c, n in names.items() if c not in set(df["code"])]
    if missing:
        raise DataError("LAs missing from the lookup (every LA must be in a group)", file=path,
                        column="code", codes=missing)
    has_share = "share" in df.columns
    shares = []
    for r in df.itertuples():
        text = str(r.share).strip() if has_share else ""
        if text == "":
            shares.append(None)
            continue
        try:
            f = Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise DataError(f"share {text!r} is not a number", file=path, column="share",
                            codes=[f"row {r.row} {r.code} {names[r.code]}"]) from None
        if not 0 < f <= 1:
            raise DataError(f"share {text} is not in (0, 1]", file=path, column="share",
                            codes=[f"row {r.row} {r.code} {names[r.code]}"])
        shares.append(f)
    df["share"] = shares
    bad = []
    for code, rows in df.groupby("code", sort=True):
        if len(rows) == 1 and rows["share"].iloc[0] is None:
            df.loc[rows.index, "share"] = Fraction(1)
            continue
        if rows["share"].isna().any():
            bad.append(f"{code} {names[code]} (listed {len(rows)} times without a share on "
                       "every row)")
            continue
        if rows["group"].duplicated().any():
            bad.append(f"{code} {names[code]} (same group twice)")
            continue
        total = sum(rows["share"], Fraction(0))
        if total != 1:
            bad.append(f"{code} {names[code]} (shares sum to {float(total):g})")
    if bad:
        raise DataError("LAs whose rows do not add up to exactly one LA", file=path,
                        column="share", codes=bad)
    return df[["code", "group", "share"]].reset_index(drop=True)


def rollup(allocation: pd.DataFrame, lookup: pd.DataFrame, *, money: list[str],
           population: pd.Series | None = None) -> pd.DataFrame:
    """Group a run's allocation by ``lookup`` (``code``, ``group``, ``share``).

    Parameters
    ----------
    allocation : pandas.DataFrame
        One row per LA with ``code`` and whole-pound ``money`` columns.
    lookup : pandas.DataFrame
        From :func:`read_lookup` (or ``code``, ``group`` with ``share`` 1 for each LA).
    money : list of str
        Money columns to sum (e.g. ``total_2022_23``, ``total``).
    population : pandas.Series, optional
        Population by code; adds ``population`` and ``per_head`` (of the last money column).

    Returns
    -------
    pandas.DataFrame
        One row per group, sorted by name: ``group``, ``las``, money columns (whole pounds summing
        exactly to the allocation's), ``population`` and ``per_head`` when given.
    """
    if "code" not in allocation.columns:
        raise ValueError("allocation must have column 'code'")
    for c in money:
        if c not in allocation.columns:
            raise ValueError(f"money column {c!r} is not in allocation")
    alloc = allocation.set_index("code")
    groups = sorted(lookup["group"].unique())
    pos = {g: i for i, g in enumerate(groups)}
    out = pd.DataFrame({"group": groups})
    out["las"] = [int((lookup["group"] == g).sum()) for g in groups]
    for col in money:
        parts = [Fraction(0)] * len(groups)
        for r in lookup.itertuples():
            parts[pos[r.group]] += Fraction(int(alloc.at[r.code, col])) * r.share
        out[col] = largest_remainder(parts, int(alloc[col].sum()))
    if population is not None:
        pop = [0.0] * len(groups)
        for r in lookup.itertuples():
            pop[pos[r.group]] += float(population[r.code]) * float(r.share)
        out["population"] = [round(p) for p in pop]
        last = money[-1]
        out["per_head"] = (out[last] / out["population"]).round(2)
    return out


def read_rollup_lookups(rollups: tuple[RollupConfig, ...] | list[RollupConfig], base: Path | None,
                        areas: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Read and check the lookup of every ``output.rollups`` item against the LAs of ``areas``
    (``code``, ``name``), by roll-up name; relative paths are taken from ``base``.

    Raises
    ------
    DataError
        Naming the config item, the file, and the row and column at fault.
    """
    from ..safe_files import resolve_input

    names = dict(zip(areas["code"].astype(str), areas["name"].astype(str), strict=True))
    out: dict[str, pd.DataFrame] = {}
    for i, item in enumerate(rollups):
        key = f"output.rollups[{i}] ({item.name}) lookup"
        try:
            out[item.name] = read_lookup(resolve_input(item.lookup, base, key), names)
        except DataError as exc:
            raise DataError(f"{key}: {exc}") from None
    return out


def run_rollups(rollups: tuple[RollupConfig, ...] | list[RollupConfig],
                lookups: dict[str, pd.DataFrame], table: pd.DataFrame,
                money: list[str]) -> list[GroupRollup]:
    """The configured roll-ups of a run's published allocation ``table`` (code, money, pop_all)."""
    from ..columns import POPULATION

    population = table.set_index("code")[POPULATION]
    return [GroupRollup(item, rollup(table, lookups[item.name], money=money,
                                     population=population),
                        split=bool((lookups[item.name]["share"] != 1).any()))
            for item in rollups]


def rollup_notes(group: GroupRollup, period: str) -> list[str]:
    """What a reader of a configured roll-up needs to know, in plain English: where the grouping
    comes from, how split LAs are shared, and the population's year."""
    from ..columns import POPULATION_BASE

    item = group.config
    lines = [f"Groups: {item.label} (grouping of local authorities from {item.source})."]
    if group.split:
        lines.append("An authority split between groups is counted in each of them; its money "
                     "and population are shared by the shares in the grouping, in whole pounds "
                     "by largest remainder, so every column still sums exactly to England's.")
    lines.append(f"Money: whole pounds, {period}. Population: {POPULATION_BASE}; £ per head "
                 f"divides the total for {period} by it.")
    return lines
