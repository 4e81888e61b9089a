"""The re-boundary amendment: a published allocation carried onto new boundaries from a year.

An amendment of this kind is written as::

    kind: reboundary
    from_year: "2023-24"        # first year on the new boundaries; earlier years are untouched
    boundaries: 2023            # April 2023 upper-tier LAs (the vintage the data folder has)
    basis: population           # or: file
    file: shares.csv            # with basis: file (schema: allocator.reboundary.shares)
    reason: "Local government reorganisation, 1 April 2023"

:func:`reboundary` returns the amended allocation, the ledger rows and the plain-English notes.
The amended table has one row per code that holds money in some year: old codes keep the years
before ``from_year`` (the published pounds, unchanged), new codes hold the years from it; a code
that does not exist in a year has no value there (not £0). Unchanged LAs, in force on both
boundaries, hold every year.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..columns import money_column
from ..data.vintage import LOOKUP_KEY, BoundaryChanges
from ..errors import ConfigError
from ..report.caveats import REBOUNDARY_APPORTIONMENT
from .carry import Shares, carry_pounds

KEYS = {"kind", "from_year", "boundaries", "basis", "file", "reason"}

#: Names a share file may not have: it is copied beside the version's own files.
RESERVED = {"amendment.yaml", "manifest.json", "config.yaml", "allocation.csv", "ledger.csv",
            "summary.md", "allocation.xlsx", "allocation_new_boundaries.csv",
            "allocation_new_boundaries.xlsx", "map.html"}

#: What every output on the new boundaries says about the pounds of a split LA.
APPORTIONMENT_NOTE = REBOUNDARY_APPORTIONMENT


@dataclass(frozen=True)
class ReboundarySpec:
    """One re-boundary change, as written in an amendment file (see the module docstring)."""

    from_year: str
    boundaries: int = 2023
    basis: str = "population"
    file: Path | None = None
    reason: str = ""


def parse_spec(raw: Mapping[str, Any], years: Sequence[str], *, base_dir: Path,
               where: str = "reboundary") -> ReboundarySpec:
    """Validate one change of an amendment file.

    Parameters
    ----------
    raw : mapping
        The change as read from YAML.
    years : sequence of str
        The parent run's years; ``from_year`` must be one of them.
    base_dir : pathlib.Path
        Folder a relative ``file`` is taken from (the amendment file's).
    where : str
        Key path for messages (e.g. ``changes[0]``).

    Raises
    ------
    ConfigError
        Unknown key, ``from_year`` not a year of the run, a wrong ``basis``, ``file`` missing or
        not allowed, or ``boundaries`` not a whole year.
    """
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise ConfigError(f"unknown key '{where}.{unknown[0]}' (allowed: {', '.join(sorted(KEYS))})")
    from_year = str(raw.get("from_year", ""))
    if from_year not in years:
        raise ConfigError(f"'{where}.from_year': must be one of the run's years "
                          f"{', '.join(years)} (got {from_year!r})")
    if from_year == years[0]:
        raise ConfigError(f"'{where}.from_year': {from_year} is the run's first year; a "
                          "re-boundary from it is a new run on the new boundaries, not an "
                          "amendment")
    basis = raw.get("basis", "population")
    if basis not in ("population", "file"):
        raise ConfigError(f"'{where}.basis': must be population or file (got {basis!r})")
    file = raw.get("file")
    if (basis == "file") != (file is not None):
        raise ConfigError(f"'{where}.file': required with basis: file, and only then")
    vintage = raw.get("boundaries", 2023)
    if isinstance(vintage, bool) or not isinstance(vintage, int):
        raise ConfigError(f"'{where}.boundaries': a year such as 2023 (got {vintage!r})")
    if vintage not in LOOKUP_KEY:
        raise ConfigError(f"'{where}.boundaries': boundaries of {vintage} are not available; "
                          f"choose one of {', '.join(map(str, sorted(LOOKUP_KEY)))}")
    if file is not None and (Path(str(file)).is_absolute() or ".." in Path(str(file)).parts
                             or Path(str(file)).name in RESERVED):
        raise ConfigError(f"'{where}.file': a file name beside the amendment file (it is "
                          f"copied into the new version), not {file!r}")
    path = None if file is None else (Path(base_dir) / str(file))
    reason = str(raw.get("reason", "")).strip()
    return ReboundarySpec(from_year, vintage, str(basis), path, reason)


@dataclass
class Reboundaried:
    """What a re-boundary produced.

    Attributes
    ----------
    allocation : pandas.DataFrame
        ``code``, ``name`` and every ``<stream>_<year>`` column (nullable whole pounds, see the
        module docstring), sorted by code.
    new_boundaries : pandas.DataFrame
        ``code``, ``name`` and the money columns of the years from ``from_year``, one row per
        new LA (what the map and the new-boundary tables show).
    ledger : pandas.DataFrame
        One row per affected LA x stream x year (:func:`ledger_rows`).
    notes : list of str
        Plain-English statements every output must carry.
    """

    allocation: pd.DataFrame
    new_boundaries: pd.DataFrame
    ledger: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def reboundary(table: pd.DataFrame, streams: Sequence[str], years: Sequence[str],
               spec: ReboundarySpec, changes: BoundaryChanges, shares: Shares) -> Reboundaried:
    """Carry ``table`` (the published allocation on old codes) onto new codes from a year.

    Parameters
    ----------
    table : pandas.DataFrame
        ``code``, ``name`` and every ``<stream>_<year>`` money column (whole pounds).
    streams, years : sequence of str
        The run's streams and years.
    spec : ReboundarySpec
        The change.
    changes : BoundaryChanges
        The derived old -> new mapping.
    shares : mapping
        Every old code's successors and exact shares (:mod:`allocator.reboundary.shares`).

    Returns
    -------
    Reboundaried
    """
    later = list(years)[list(years).index(spec.from_year):]
    earlier = [y for y in years if y not in later]
    before = [money_column(s, y) for s in streams for y in earlier]
    after = [money_column(s, y) for s in streams for y in later]
    carried = carry_pounds(table, after, shares)
    carried.insert(1, "name", [changes.new_names[c] for c in carried["code"]])
    old = table[["code", "name", *before]].copy()
    merged = old.merge(carried, on="code", how="outer", suffixes=("", "_new"), sort=True)
    merged["name"] = merged["name_new"].fillna(merged["name"])
    merged = merged.drop(columns=["name_new"])
    for c in before + after:
        merged[c] = merged[c].astype("Int64")
    cols = [money_column(s, y) for s in streams for y in years]
    allocation = merged[["code", "name", *cols]].reset_index(drop=True)
    ledger = ledger_rows(table, carried, streams, later, changes, shares, spec)
    n_split = sum(1 for o in shares if len(shares[o]) > 1)
    notes = [
        f"Boundaries from {spec.from_year}: ONS upper-tier local authorities of April "
        f"{spec.boundaries} ({len(carried)} LAs); earlier years on May 2021 boundaries "
        "(boundaries: ONS).",
        APPORTIONMENT_NOTE,
        f"{n_split} LA(s) split by {basis_words(spec)}; LAs merged are summed; LAs with a new "
        "code only keep their pounds.",
    ]
    return Reboundaried(allocation, carried, ledger, notes)


def basis_words(spec: ReboundarySpec) -> str:
    """The split basis in plain English."""
    if spec.basis == "population":
        return ("mid-2020 population of the 2021 districts forming each new LA (ONS mid-year "
                "estimates)")
    return f"the shares in {spec.file.name if spec.file else 'the share file'}"


def ledger_rows(table: pd.DataFrame, carried: pd.DataFrame, streams: Sequence[str],
                years: Sequence[str], changes: BoundaryChanges, shares: Shares,
                spec: ReboundarySpec) -> pd.DataFrame:
    """Ledger rows for every LA whose code or area changes, per stream and amended year.

    The columns of :data:`allocator.columns.LEDGER_COLUMNS` plus ``old_code`` and ``new_code``.
    An old LA that leaves closes with ``published`` its pounds, ``amendment`` minus them and
    ``new_amount`` £0; a new LA opens with ``published`` £0 and ``amendment`` = ``new_amount``
    = its carried pounds. ``old_code`` and ``new_code`` say where the money goes; each stream-year's
    amendments sum to £0.
    """
    moved = sorted(o for o, parts in shares.items() if [n for n, _ in parts] != [o])
    affected = sorted(set(moved) | {n for o in moved for n, _ in shares[o]})
    pub = table.set_index(table["code"].astype(str))
    new = carried.set_index("code")
    reason = spec.reason or f"boundary change of April {spec.boundaries}"
    rows = []
    for s in streams:
        for y in years:
            col = money_column(s, y)
            for code in affected:
                before = int(pub.at[code, col]) if code in pub.index else 0
                after = int(new.at[code, col]) if code in new.index else 0
                preds = [o for o in moved if code in dict(shares[o])]
                succ = [n for n, _ in shares[code]] if code in shares else [code]
                if code in new.index:
                    name = changes.new_names[code]
                    how = "; ".join(_part(o, code, shares, changes, spec) for o in preds)
                    text = f"{' + '.join(preds)} -> {code}: {how}"
                else:
                    name = changes.old_names.get(code, str(pub.at[code, "name"]))
                    text = f"{code} -> {' + '.join(succ)}: {name} replaced from {years[0]}"
                rows.append({"code": code, "name": name, "stream": s, "year": y,
                             "published": before, "amendment": after - before, "new_amount": after,
                             "old_code": " + ".join(preds) if preds else code,
                             "new_code": " + ".join(succ), "reason": f"{reason} ({text})"})
    return pd.DataFrame(rows)


def _part(old: str, new: str, shares: Shares, changes: BoundaryChanges,
          spec: ReboundarySpec) -> str:
    """How much of ``old`` a new LA takes, in words."""
    name = changes.old_names.get(old, old)
    if len(shares[old]) == 1:
        return f"all of {name}"
    share = dict(shares[old])[new]
    if spec.basis == "population":
        piece = changes.pieces[(changes.pieces["old"] == old) & (changes.pieces["new"] == new)]
        people = int(piece["weight"].iloc[0])
        total = int(changes.pieces.loc[changes.pieces["old"] == old, "weight"].sum())
        return (f"{float(share):.2%} of {name} ({people:,} of its {total:,} people, "
                "mid-2020)")
    return f"{float(share):.2%} of {name} (share {share} from {spec.file.name if spec.file else 'the file'})"
