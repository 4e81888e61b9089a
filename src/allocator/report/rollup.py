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
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pandas as pd

from ..allocate.exact import largest_remainder
from ..errors import DataError

LOOKUP_COLUMNS = ["code", "group"]


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


def rollup_run(run_dir: Path, lookup: Path | None = None) -> pd.DataFrame:
    """Roll up a written run by region (``lookup`` None) or by a lookup file."""
    run_dir = Path(run_dir)
    for name in ("allocation.csv", "evaluation.csv"):
        if not (run_dir / name).is_file():
            raise DataError(f"run directory has no {name}", file=run_dir / name)
    alloc = pd.read_csv(run_dir / "allocation.csv", comment="#", dtype={"code": str})
    ev = pd.read_csv(run_dir / "evaluation.csv", comment="#", dtype={"code": str})
    names = dict(zip(alloc["code"], alloc["name"], strict=True))
    if lookup is None:
        table = pd.DataFrame({"code": alloc["code"], "group": alloc["region"],
                              "share": [Fraction(1)] * len(alloc)})
    else:
        table = read_lookup(lookup, names)
    money = [c for c in alloc.columns if c.startswith("total_")] + ["total"]
    return rollup(alloc, table, money=money, population=ev.set_index("code")["pop_all"])
