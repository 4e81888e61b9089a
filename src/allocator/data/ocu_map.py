"""Map published upper-tier OCU estimates onto the 152 LAs of May 2021 (documented, flagged).

OCU estimates (rate per 1,000 aged 15-64 and estimated users) are published per upper-tier LA,
sometimes for two LAs together, and on whichever boundary vintage the publisher used. Every
value that is not the LA's own published figure carries a flag saying how it was derived:

Combined areas (:data:`COMBINED`)
    City of London is published with Hackney, Isles of Scilly with Cornwall. When the smaller
    LA has no value of its own, the larger LA's figures are taken to be those of the pair: both
    LAs get the pair's rate, and the pair's count is split between them by ONS mid-2020
    population aged 15-64. (Same rate for both is what splitting the count by the rate's own
    denominator means.)
Same area, another code (:data:`RECODED`)
    North Yorkshire and Somerset (April 2023 unitary codes E06000065/E06000066 for the 2021
    counties E10000023/E10000027), Buckinghamshire (county code E10000002 before April 2020 for
    the unitary E06000060): value unchanged.
Later splits of a 2021 LA (:data:`MERGED_LATER`)
    Cumbria (E10000006) was replaced in April 2023 by Cumberland and Westmorland and Furness:
    count = sum of the two counts; rate = that count over the sum of the two implied 15-64
    denominators (count / rate x 1,000). Needs both counts.
Earlier areas split since (:data:`SPLIT_EARLIER`)
    Northamptonshire county (E10000021) became North and West Northamptonshire in April 2021:
    both get the county rate; the county count is split by mid-2020 population aged 15-64.
Pre-April 2019 Dorset (:data:`PRE_2019`)
    Bournemouth, Christchurch and Poole (E06000058) takes the denominator-weighted rate of
    Bournemouth and Poole (Christchurch, then a Dorset district, is not in it); Dorset (E06000059)
    takes the old county's rate (which included Christchurch). Counts are rate x 15-64
    population. Both flagged as approximations.

A count the publisher did not give is rate x mid-2020 population aged 15-64 / 1,000 (flagged).
An LA none of these rules reaches is an error naming it: values are never invented. A published
upper-tier code that no rule uses is an error too, so nothing is dropped silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from ..errors import DataError

#: smaller LA -> the LA it is published with
COMBINED = {"E09000001": "E09000012", "E06000053": "E06000052"}
#: published code -> May 2021 code of the same area
RECODED = {"E06000065": "E10000023", "E06000066": "E10000027", "E10000002": "E06000060"}
#: May 2021 LA -> the LAs it was split into later (published on newer boundaries)
MERGED_LATER = {"E10000006": ("E06000063", "E06000064")}
#: published earlier area -> the May 2021 LAs it was split into
SPLIT_EARLIER = {"E10000021": ("E06000061", "E06000062")}
#: May 2021 LA -> pre-April 2019 areas its rate is taken from
PRE_2019 = {"E06000058": ("E06000028", "E06000029"), "E06000059": ("E10000009",)}


@dataclass(frozen=True)
class Published:
    """One published area's figures (``rate`` None where the publisher left it blank)."""

    name: str
    rate: float | None
    count: float | None = None
    note: str = ""
    count_source: str = ""


def _ok(p: Published | None) -> bool:
    return p is not None and p.rate is not None


def map_to_2021(published: dict[str, Published], las: pd.DataFrame, *,
                vintage: str = "") -> pd.DataFrame:
    """Apportion published upper-tier figures onto the May 2021 LAs.

    Parameters
    ----------
    published : dict
        ``{area code: Published}`` as downloaded (any boundary vintage).
    las : pandas.DataFrame
        ``code``, ``name``, ``pop_15_64`` of the May 2021 LAs.
    vintage : str
        Name of the publisher's geography, quoted in flags.

    Returns
    -------
    pandas.DataFrame
        ``code``, ``name``, ``rate``, ``count``, ``flag`` (``""`` = the LA's own published
        figures), one row per LA in ``las`` order.

    Raises
    ------
    DataError
        An LA no rule reaches, or a published code no rule uses.
    """
    for col in ("code", "name", "pop_15_64"):
        if col not in las.columns:
            raise ValueError(f"las must have column {col!r}")
    pop = dict(zip(las["code"], las["pop_15_64"].astype(float), strict=True))
    names = dict(zip(las["code"], las["name"], strict=True))
    used: set[str] = set()
    out: dict[str, tuple[float, float | None, str]] = {}
    where = f" ({vintage})" if vintage else ""

    for minor, major in COMBINED.items():
        if minor in pop and major in pop and _ok(published.get(major)) \
                and not _ok(published.get(minor)):
            p = published[major]
            share = {c: pop[c] / (pop[minor] + pop[major]) for c in (minor, major)}
            for c in (minor, major):
                cnt = None if p.count is None else p.count * share[c]
                out[c] = (float(p.rate), cnt,  # type: ignore[arg-type]
                          f"published combined: {names[minor]} with {names[major]}{where}; "
                          "pair's rate applied to both, count split by mid-2020 population 15-64")
            used |= {minor, major}
    for code in pop:
        if code in out:
            continue
        p = published.get(code)
        if _ok(p):
            out[code] = (float(p.rate), p.count, "")  # type: ignore[union-attr,arg-type]
            used.add(code)
    for old, new in RECODED.items():
        if new in pop and new not in out and _ok(published.get(old)):
            p = published[old]
            out[new] = (float(p.rate), p.count,  # type: ignore[arg-type]
                        f"published under code {old} ({p.name}){where}, same area")
            used.add(old)
    for new, parts in MERGED_LATER.items():
        if new in pop and new not in out and all(_ok(published.get(c)) for c in parts):
            ps = [published[c] for c in parts]
            if any(p.count is None or not p.rate for p in ps):
                continue  # cannot weight the rates: left for the missing-LA error
            total = sum(p.count for p in ps)  # type: ignore[misc]
            denom = sum(p.count / p.rate * 1000 for p in ps)  # type: ignore[operator]
            out[new] = (total / denom * 1000, total,
                        "combined from " + " and ".join(f"{c} {published[c].name}" for c in parts)
                        + f"{where}: counts summed, rate = count over implied 15-64 population")
            used |= set(parts)
    for old, parts in SPLIT_EARLIER.items():
        p = published.get(old)
        if _ok(p) and all(c in pop and c not in out for c in parts):
            tot = sum(pop[c] for c in parts)
            for c in parts:
                out[c] = (float(p.rate),  # type: ignore[union-attr,arg-type]
                          None if p.count is None else p.count * pop[c] / tot,  # type: ignore[union-attr]
                          f"from {old} {p.name}{where} (split April 2021): county rate applied, "  # type: ignore[union-attr]
                          "count split by mid-2020 population 15-64")
            used.add(old)
    for new, parts in PRE_2019.items():
        if new in pop and new not in out and all(_ok(published.get(c)) for c in parts):
            ps = [published[c] for c in parts]
            if len(ps) == 1:
                r = float(ps[0].rate)  # type: ignore[arg-type]
            elif any(p.count is None or not p.rate for p in ps):
                continue
            else:
                r = sum(p.count for p in ps) / sum(  # type: ignore[misc]
                    p.count / p.rate * 1000 for p in ps) * 1000  # type: ignore[operator]
            out[new] = (r, None, "pre-April 2019 areas " + " + ".join(
                f"{c} {published[c].name}" for c in parts) + f"{where}: rate taken from them "
                "(approximation: Christchurch moved from Dorset to BCP in 2019)")
            used |= set(parts)
    for c in COMBINED:
        if c in published and not _ok(published[c]):
            used.add(c)  # blank row of a combined LA: its pair carries the value

    missing = [f"{c} {names[c]}" for c in pop if c not in out]
    if missing:
        raise DataError("OCU estimates: no published figure reaches these LAs (nothing is "
                        "invented; supply the file by hand, see allocator.data.ocu)",
                        column="Area Code", codes=missing)
    unused = sorted(c for c in published if c not in used and c not in pop)
    if unused:
        raise DataError("OCU estimates: published areas that map to no May 2021 LA",
                        column="Area Code", codes=[f"{c} {published[c].name}" for c in unused])
    rows = []
    for code in las["code"]:
        rate, cnt, flag = out[code]
        if cnt is None or (isinstance(cnt, float) and math.isnan(cnt)):
            cnt = rate * pop[code] / 1000
            flag = (flag + "; " if flag else "") + \
                "count = rate x mid-2020 population 15-64 (no published count)"
        rows.append({"code": code, "name": names[code], "rate": rate, "count": cnt,
                     "flag": flag})
    return pd.DataFrame(rows, columns=["code", "name", "rate", "count", "flag"])
