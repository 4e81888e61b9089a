"""Vintage crosswalks onto the 152 upper-tier LAs of May 2021.

IMD 2019 (2019 codes -> 2021)
    Between the two vintages two upper-tier changes happened (ONS ``changes.csv``):
    Buckinghamshire county E10000002 became the unitary E06000060 (April 2020, same area), and
    Northamptonshire county E10000021 was replaced by North (E06000061) and West (E06000062)
    Northamptonshire (April 2021, each a union of whole 2019 districts). The loader discovers
    these from the lookup and change files, not from a hard-coded list:

    * a terminated county whose districts all became one new LA of the same area is *recoded*
      (value unchanged, flag ``"recoded from E10000002 ..."``);
    * a terminated county whose districts became several new LAs is *split*: each new LA gets
      the population-weighted mean of its 2019 districts' scores (File 10 district summaries),
      the way IoD itself summarises areas.

    The data directory has no population for the abolished Northamptonshire districts. The
    weights are therefore recovered from IoD 2019 itself: every domain's county average score
    is the population-weighted mean of its districts' scores with the *same* (mid-2015) weights,
    which gives eight equations (IMD and seven domains) for seven district weights; the
    weights are further tied to ONS mid-2015 populations of the two new unitaries (MYE4, 2021
    geography) and solved by bounded least squares. On the shipped files the recovered weights
    reproduce the county's published IMD score to within 0.01, and are close to ONS mid-2015
    district estimates (Northampton ~219k, Corby ~67k). The flag on the derived rows says so.
    Ranks are recomputed over the 152 LAs (1 = most deprived).

    Any other code that appears on one side only is a :class:`DataError` listing codes and names.

Crime Severity Score 2022/23 (2023 districts -> 2021)
    Rows of one district code repeated for several Community Safety Partnerships are averaged
    (the file gives no CSP populations); 2023 unitaries formed in April 2023 (Cumberland,
    Westmorland and Furness, North Yorkshire, Somerset) map back to their 2021 counties through
    ``changes.csv``; district values are combined into upper-tier values weighted by mid-2020
    population. Districts with ":" are left out and the LA is flagged as partially covered.

Regions
    ONS's 2014 district lookup gives each district and county its region (E12); LAs created
    later inherit the region of the districts they were formed from (``changes.csv``), which
    must agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .readers import IMD_DOMAINS

#: Tolerance on the county IMD score re-computed from recovered district weights.
SPLIT_TOLERANCE = 0.05


# --------------------------------------------------------------------------- regions
def regions(
    codes: dict[str, str], ltla14: pd.DataFrame, changes: pd.DataFrame, *, file: Path | str
) -> pd.DataFrame:
    """Region of each LA.

    Parameters
    ----------
    codes : dict
        ``{code: name}`` of the 2021 LAs.
    ltla14, changes : DataFrame
        From :func:`~allocator.data.readers.read_ltla14` and
        :func:`~allocator.data.readers.read_changes`.

    Returns
    -------
    pandas.DataFrame
        ``code``, ``region``, ``region_code``.
    """
    by_code: dict[str, set[tuple[str, str]]] = {}
    for _, r in ltla14.iterrows():
        for key in (r["ltlacd"], r["ctycd"]):
            if key:
                by_code.setdefault(key, set()).add((r["rgncd"], r["rgnnm"]))
    predecessors: dict[str, list[str]] = {}
    for _, r in changes.iterrows():
        if r["newcd"]:
            predecessors.setdefault(r["newcd"], []).append(r["oldcd"])

    def lookup(code: str, depth: int = 0) -> set[tuple[str, str]]:
        if code in by_code:
            return by_code[code]
        found: set[tuple[str, str]] = set()
        if depth < 4:
            for old in predecessors.get(code, []):
                found |= lookup(old, depth + 1)
        return found

    rows, missing, ambiguous = [], [], []
    for code, name in codes.items():
        found = {f for f in lookup(code) if f[0].startswith("E12")}
        if not found:
            missing.append(f"{code} {name}")
        elif len(found) > 1:
            ambiguous.append(f"{code} {name}")
        else:
            rc, rn = next(iter(found))
            rows.append({"code": code, "region": rn, "region_code": rc})
    if missing:
        raise DataError("no region found for these LAs (not in the 2014 lookup nor formed from "
                        "districts that are)", file=file, column="rgncd", codes=missing)
    if ambiguous:
        raise DataError("LAs formed from districts in different regions", file=file,
                        column="rgncd", codes=ambiguous)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- IMD
@dataclass
class Successor:
    """What became of a 2019 upper-tier code absent from the 2021 boundaries."""

    old: str
    old_name: str
    districts: dict[str, list[str]]  # new 2021 code -> 2019 district codes forming it


def successors(
    old_codes: dict[str, str],
    lookup19: pd.DataFrame,
    changes: pd.DataFrame,
    new_codes: dict[str, str],
    *,
    file: Path | str,
) -> list[Successor]:
    """Find how each 2019 code not in the 2021 set maps to 2021 codes, via districts."""
    by_district = {
        r["oldcd"]: r["newcd"]
        for _, r in changes.iterrows()
        if r["type"] == "merger" and r["start"] <= 2021 and r["newcd"]
    }
    out, unresolved = [], []
    for old, name in old_codes.items():
        districts = lookup19.loc[lookup19["utla_code"] == old, "ltla_code"].tolist()
        mapped: dict[str, list[str]] = {}
        ok = bool(districts)
        for d in districts:
            new = by_district.get(d)
            if new is None or new not in new_codes:
                ok = False
                break
            mapped.setdefault(new, []).append(d)
        if not ok:
            unresolved.append(f"{old} {name}")
            continue
        out.append(Successor(old, name, mapped))
    if unresolved:
        raise DataError(
            "2019 codes with no known successor among the May 2021 LAs (not a recorded merger "
            "or split)",
            file=file,
            column="Upper Tier Local Authority District code (2019)",
            codes=unresolved,
        )
    return out


def recover_district_weights(
    county: dict[str, float],
    districts: pd.DataFrame,
    groups: dict[str, list[str]],
    group_population: dict[str, float],
) -> pd.Series:
    """Recover the population weights IoD used for a county's districts.

    Solves ``min sum_k ((sum_d w_d s_dk - S_k sum_d w_d) / sd_k)^2`` over ``w >= 0`` subject to
    ``sum_{d in g} w_d = P_g`` for each new LA ``g`` (enforced as heavily weighted rows), where
    ``s_dk`` is district ``d``'s average score on domain ``k`` and ``S_k`` the county's.

    Parameters
    ----------
    county : dict
        ``{domain: county average score}`` for the domains of :data:`IMD_DOMAINS`.
    districts : DataFrame
        District scores, index district code, columns as in :data:`IMD_DOMAINS`.
    groups : dict
        ``{new code: [district codes]}``.
    group_population : dict
        ``{new code: population}`` in the IoD base year.

    Returns
    -------
    pandas.Series
        District weight (people), indexed by district code.
    """
    from scipy.optimize import lsq_linear  # needed only when the cache is built

    order = [d for g in groups.values() for d in g]
    total = float(sum(group_population.values()))
    rows, rhs = [], []
    for domain, col in IMD_DOMAINS.items():
        s = districts.loc[order, col].to_numpy(dtype=float)
        scale = float(np.std(s)) or 1.0
        rows.append((s - county[domain]) / scale / total)
        rhs.append(0.0)
    big = 100.0
    for g, members in groups.items():
        rows.append(big * np.array([1.0 if d in members else 0.0 for d in order])
                    / group_population[g])
        rhs.append(big)
    res = lsq_linear(np.vstack(rows), np.array(rhs), bounds=(0, np.inf), method="bvls")
    return pd.Series(res.x, index=order, name="weight")


def imd_to_2021(
    sheets: dict[str, pd.DataFrame],
    districts: pd.DataFrame,
    successors_: list[Successor],
    base_population: dict[str, float],
    *,
    file: Path | str,
) -> tuple[dict[str, pd.DataFrame], dict[str, str], list[str]]:
    """Move File 11 sheets onto 2021 codes.

    Parameters
    ----------
    sheets : dict
        ``{sheet: DataFrame(code, name, score, rank)}`` for every domain in :data:`IMD_DOMAINS`.
    districts : DataFrame
        District scores (2019 districts).
    successors_ : list of Successor
        From :func:`successors`.
    base_population : dict
        Populations of the new LAs in the IoD base year (mid-2015), for splits.

    Returns
    -------
    (dict, dict, list)
        The sheets on 2021 codes (``code``, ``score``), ``{code: flag}`` for derived rows, and
        notes describing each derivation.
    """
    flags: dict[str, str] = {}
    notes: list[str] = []
    replace: dict[str, dict[str, float]] = {s: {} for s in sheets}
    drop = {s.old for s in successors_}
    for s in successors_:
        if len(s.districts) == 1:
            new = next(iter(s.districts))
            for sheet, df in sheets.items():
                replace[sheet][new] = float(df.loc[df["code"] == s.old, "score"].iloc[0])
            flags[new] = f"recoded from {s.old} {s.old_name} (2019 county, same area)"
            notes.append(f"IMD 2019: {s.old} {s.old_name} recoded to {new} (same area).")
            continue
        missing = [d for ds in s.districts.values() for d in ds if d not in districts.index]
        if missing:
            raise DataError(f"districts of {s.old} {s.old_name} missing from the district file",
                            file=file, column="ltla19_code", codes=missing)
        absent = [g for g in s.districts if g not in base_population]
        if absent:
            raise DataError("no mid-2015 population for new LAs needed to split "
                            f"{s.old} {s.old_name}", file=file, codes=absent)
        county = {
            d: float(sheets[d].loc[sheets[d]["code"] == s.old, "score"].iloc[0])
            for d in IMD_DOMAINS
        }
        w = recover_district_weights(county, districts, s.districts,
                                     {g: base_population[g] for g in s.districts})
        recon = float((districts.loc[w.index, "Score"] * w).sum() / w.sum())
        if abs(recon - county["IMD"]) > SPLIT_TOLERANCE:
            raise DataError(
                f"district weights recovered for {s.old} {s.old_name} reproduce its IMD score as "
                f"{recon:.3f}, published {county['IMD']:.3f}: the district and county files do "
                "not agree", file=file, column="IMD - Average score", codes=list(w.index))
        for new, members in s.districts.items():
            ww = w[members]
            for sheet in sheets:
                col = IMD_DOMAINS[sheet]
                replace[sheet][new] = float((districts.loc[members, col] * ww).sum() / ww.sum())
            shown = ", ".join(f"{d} {ww[d]:,.0f}" for d in members)
            flags[new] = (
                f"derived: population-weighted mean of 2019 districts of {s.old} {s.old_name} "
                f"({shown}; weights recovered from IoD 2019 domain scores and ONS mid-2015 "
                "population)"
            )
        notes.append(
            f"IMD 2019: {s.old} {s.old_name} split into {', '.join(s.districts)} by population-"
            f"weighted district scores (weights recovered; county IMD score reproduced as "
            f"{recon:.3f} vs published {county['IMD']:.3f})."
        )
    out = {}
    for sheet, df in sheets.items():
        keep = df.loc[~df["code"].isin(drop), ["code", "score"]]
        extra = pd.DataFrame({"code": list(replace[sheet]), "score": list(replace[sheet].values())})
        out[sheet] = pd.concat([keep, extra], ignore_index=True)
    return out, flags, notes


def rank_descending(scores: pd.Series) -> pd.Series:
    """Rank with 1 = highest score (most deprived); ties share the lowest rank."""
    return scores.rank(ascending=False, method="min").astype(int)


# --------------------------------------------------------------------------- crime severity
def crime_severity_to_2021(
    rows: pd.DataFrame,
    lookup21: pd.DataFrame,
    changes: pd.DataFrame,
    population: pd.Series,
    *,
    file: Path | str,
) -> tuple[pd.Series, dict[str, str]]:
    """Aggregate Crime Severity Scores of 2023 districts to 2021 upper-tier LAs.

    Parameters
    ----------
    rows : DataFrame
        From :func:`~allocator.data.readers.read_crime_severity`.
    lookup21 : DataFrame
        2021 district -> upper-tier lookup.
    changes : DataFrame
        ONS code changes (maps 2023 unitaries back to their 2021 districts).
    population : Series
        Mid-2020 population by 2021 district code.

    Returns
    -------
    (Series, dict)
        Score by 2021 LA code (only LAs with at least one district value), and
        ``{code: flag}`` for LAs computed from part of their districts.
    """
    to_utla = dict(zip(lookup21["ltla_code"], lookup21["utla_code"], strict=True))
    olds: dict[str, list[str]] = {}
    for _, r in changes.iterrows():
        if r["type"] == "merger" and r["newcd"] and 2021 < r["start"] <= 2023:
            olds.setdefault(r["newcd"], []).append(r["oldcd"])

    # one value per 2023 district code: mean of its non-missing CSP rows
    per_code = rows.groupby("code", sort=True)["value"].mean()
    records, unknown, no_pop = [], [], []
    for code, value in per_code.items():
        members = olds.get(code, [code])
        utlas = {to_utla.get(m) for m in members}
        if None in utlas or len(utlas) != 1:
            unknown.append(code)
            continue
        pop = sum(float(population.get(m, np.nan)) for m in members)
        if not np.isfinite(pop):
            no_pop.append(code)
            continue
        records.append({"ltla": code, "utla": utlas.pop(), "value": value, "pop": pop})
    if unknown:
        raise DataError("district codes not in the 2021 lookup nor formed from 2021 districts",
                        file=file, column="ltla23_code", codes=unknown)
    if no_pop:
        raise DataError("no mid-2020 population for these districts", file=file,
                        column="ltla23_code", codes=no_pop)
    df = pd.DataFrame(records)
    scores, flags = {}, {}
    expected = lookup21.groupby("utla_code")["ltla_code"].apply(set).to_dict()
    for utla, g in df.groupby("utla"):
        have = g[g["value"].notna()]
        if have.empty:
            continue
        scores[utla] = float((have["value"] * have["pop"]).sum() / have["pop"].sum())
        covered = {m for c in have["ltla"] for m in olds.get(c, [c])}
        lacking = sorted(expected.get(utla, set()) - covered)
        if lacking:
            flags[utla] = ("partial: crime severity averaged over the districts with a value; "
                           f"none for {', '.join(lacking)}")
    return pd.Series(scores, name="crime_score"), flags
