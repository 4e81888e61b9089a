"""How the upper-tier LAs of May 2021 map onto a later boundary vintage (April 2023).

Nothing here is a hard-coded list: the mapping is derived from ONS's files in the data folder,

1. each 2021 district's upper-tier LA (``DERIVED_lookup_ltla21_utla21.csv``);
2. what became of each 2021 district by the later vintage (``changes.csv``: a ``merger`` row
   with ``2021 < start <= vintage`` names the district it joined, e.g. Allerdale -> Cumberland
   E06000063 in 2023); a district without such a row is unchanged;
3. that later district's upper-tier LA (``DERIVED_lookup_ltla23_utla23.csv``);

and every 2021 district contributes a *piece* ``(old LA, new LA)`` weighing its mid-2020
population (``la_pop_estimates.csv``, 2021 districts, all ages). An old LA all of whose pieces
reach one new LA of the same code is *unchanged*; of another code, *recoded* (North Yorkshire
county E10000023 -> unitary E06000065, same districts); an old LA whose pieces reach several new
LAs is *split* (Cumbria E10000006 -> Cumberland E06000063 and Westmorland and Furness
E06000064); a new LA reached from several old LAs is *merged*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import pandas as pd

from ..errors import DataError
from . import catalogue, readers

#: Boundary vintages this module can reach from May 2021, with their lookup key.
LOOKUP_KEY = {2023: "lookup_ltla23_utla23"}

#: Mid-year of the district populations that weigh the pieces.
POPULATION_YEAR = 2020


@dataclass(frozen=True)
class BoundaryChanges:
    """The 2021 -> later mapping of upper-tier LAs, as weighted pieces.

    Attributes
    ----------
    vintage : int
        Year of the later boundaries (April of that year).
    pieces : pandas.DataFrame
        ``old``, ``new``, ``weight`` (mid-2020 people, int), ``districts`` (the 2021 district
        codes forming the piece, ``;``-separated); one row per (old, new) pair, sorted.
    old_names, new_names : dict
        ``{code: name}`` of the 2021 and the later upper-tier LAs.
    sources : list of dict
        Catalogue records (with SHA-256) of the files read.
    """

    vintage: int
    pieces: pd.DataFrame
    old_names: dict[str, str]
    new_names: dict[str, str]
    sources: list[dict[str, str]] = field(default_factory=list)

    def successors(self, old: str) -> list[str]:
        """New codes an old LA's districts now lie in, in code order."""
        return sorted(self.pieces.loc[self.pieces["old"] == old, "new"])

    def predecessors(self, new: str) -> list[str]:
        """Old codes whose districts form a new LA, in code order."""
        return sorted(self.pieces.loc[self.pieces["new"] == new, "old"])

    def kind(self, old: str) -> str:
        """``unchanged``, ``recoded``, ``split`` or ``merged`` (into a new LA with others)."""
        succ = self.successors(old)
        if len(succ) > 1:
            return "split"
        if len(self.predecessors(succ[0])) > 1:
            return "merged"
        return "unchanged" if succ[0] == old else "recoded"

    def population_shares(self) -> dict[str, list[tuple[str, Fraction]]]:
        """``{old: [(new, exact share), ...]}``: each piece's part of its old LA's people."""
        out: dict[str, list[tuple[str, Fraction]]] = {}
        for old, g in self.pieces.groupby("old", sort=True):
            total = int(g["weight"].sum())
            if total <= 0:
                raise DataError("no mid-2020 population in the districts of an LA to split by",
                                column="pop_all", codes=[f"{old} {self.old_names.get(old, '')}"])
            out[str(old)] = [(str(n), Fraction(int(w), total))
                             for n, w in zip(g["new"], g["weight"], strict=True)]
        return out


def derive(lookup21: pd.DataFrame, lookup_new: pd.DataFrame, changes: pd.DataFrame,
           population: pd.DataFrame, vintage: int, *, file: Path | str = "changes.csv"
           ) -> BoundaryChanges:
    """Derive the pieces from the tables (see the module docstring).

    Parameters
    ----------
    lookup21, lookup_new : pandas.DataFrame
        District -> upper-tier lookups (``ltla_code``, ``utla_code``, ``utla_name``) of April 2021
        and of ``vintage``, from :func:`~allocator.data.readers.read_lookup`.
    changes : pandas.DataFrame
        From :func:`~allocator.data.readers.read_changes`.
    population : pandas.DataFrame
        ``code`` and ``pop_all`` of the 2021 districts.
    vintage : int
        Year of the later boundaries.

    Returns
    -------
    BoundaryChanges

    Raises
    ------
    DataError
        A 2021 district with no population, or whose later district is not in the later
        lookup, or a later English upper-tier LA that no 2021 district reaches.
    """
    english = lookup21[lookup21["ltla_code"].str.startswith("E")]
    joined = {
        r["oldcd"]: r["newcd"]
        for _, r in changes.iterrows()
        if r["type"] == "merger" and r["newcd"] and 2021 < r["start"] <= vintage
    }
    to_new = dict(zip(lookup_new["ltla_code"], lookup_new["utla_code"], strict=True))
    pop = dict(zip(population["code"], population["pop_all"], strict=True))
    rows, lost, no_pop = [], [], []
    for d, old in zip(english["ltla_code"], english["utla_code"], strict=True):
        later = joined.get(d, d)
        new = to_new.get(later)
        if new is None:
            lost.append(f"{d} (as {later})")
            continue
        if d not in pop:
            no_pop.append(d)
            continue
        rows.append({"old": old, "new": new, "weight": int(pop[d]), "district": d})
    if lost:
        raise DataError(f"2021 districts not found in the {vintage} lookup, directly or through "
                        "a recorded merger", file=file, column="oldcd", codes=lost)
    if no_pop:
        raise DataError(f"2021 districts with no mid-{POPULATION_YEAR} population", file=file,
                        column="code", codes=no_pop)
    df = pd.DataFrame(rows)
    new_english = set(lookup_new.loc[lookup_new["utla_code"].str[:3].isin(
        readers.UTLA_PREFIXES), "utla_code"])
    unreached = sorted(new_english - set(df["new"]))
    if unreached:
        raise DataError(f"{vintage} upper-tier LAs that no 2021 district reaches", file=file,
                        column="utla_code", codes=unreached)
    pieces = (df.groupby(["old", "new"], sort=True)
              .agg(weight=("weight", "sum"), districts=("district", lambda s: ";".join(sorted(s))))
              .reset_index())
    pieces["weight"] = pieces["weight"].astype("int64")
    old_names = dict(zip(english["utla_code"], english["utla_name"], strict=False))
    new_names = dict(zip(lookup_new["utla_code"], lookup_new["utla_name"], strict=False))
    return BoundaryChanges(vintage, pieces, old_names,
                           {c: new_names[c] for c in sorted(set(pieces["new"]))})


def load_changes(data_dir: Path, vintage: int = 2023, *, verify_hashes: bool = True
                 ) -> BoundaryChanges:
    """Read the ONS files in ``data_dir`` (hash-checked) and derive the mapping to ``vintage``.

    Raises
    ------
    ValueError
        ``vintage`` is not one the data folder has a lookup for.
    DataError
        A file is missing, altered or inconsistent (see :func:`derive`).
    """
    if vintage not in LOOKUP_KEY:
        raise ValueError(f"vintage: boundaries of {vintage} are not available; "
                         f"choose one of {sorted(LOOKUP_KEY)}")
    keys = ["lookup_ltla21_utla21", LOOKUP_KEY[vintage], "lad_changes", "population_sya_districts"]
    records = [catalogue.verify(k, data_dir, strict=verify_hashes) for k in keys]
    path = {k: data_dir / catalogue.source(k).path for k in keys}
    out = derive(
        readers.read_lookup(path["lookup_ltla21_utla21"], 21),
        readers.read_lookup(path[LOOKUP_KEY[vintage]], vintage % 100),
        readers.read_changes(path["lad_changes"]),
        readers.read_district_population(path["population_sya_districts"], POPULATION_YEAR),
        vintage,
        file=path["lad_changes"],
    )
    return BoundaryChanges(out.vintage, out.pieces, out.old_names, out.new_names, records)
