"""Calibration: what the published strategy and the NAO say about the real allocation, checked.

Each :class:`Check` quotes one public statement about the real 2022-25 allocation, states the
value the engine reads it as (with a tolerance, since the statements are rounded or loose), the
run's own value and a plain verdict: ``consistent``, ``NOT consistent`` or ``not checked: <why>``.
Nothing is forced: a run that does not match says so. The checks (sources: *From harm to hope*,
December 2021, and NAO *Reducing the harm from illegal drugs*, October 2023):

1. deprivation: mean IMD 2019 score of wave 1 / of the last wave ("the lower levels of need")
   within [1.75, 2.25] ("twice");
2. North East and Yorkshire: their share of wave-1 LAs at least 1.5 times their share of all LAs
   ("a strong correlation");
3. OCU users: wave 1's share of estimated OCU users in [0.45, 0.50) ("just under half"); not
   checked without OCU data;
4. offenders: "half of offenders whose crimes are drug-related": not checked, no LA data;
5. NAO's £1.1m: mean first-year grant (every stream: continuation plus place-based) per wave-1 LA,
   rounding to £1.1m (i.e. within [£1.05m, £1.15m)); the place-based-only mean is shown beside it;
6. yearly totals: £100m, £161m, £272m for 2022-23, 2023-24, 2024-25, exactly.

:func:`calibration_table` computes them from one frame (one row per LA: ``code``, ``region``,
``wave``, ``imd_score``, optional ``ocu_count``, money columns);
:func:`allocator.runreport.calibrate_run` does it for a written run directory
(``allocator calibrate RUN``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import pandas as pd

from ..columns import money_column
from ..errors import DataError

NORTH_EAST_YORKSHIRE = ("North East", "Yorkshire and The Humber")
HARM_TO_HOPE = "From harm to hope (HM Government, December 2021)"
NAO = "NAO, Reducing the harm from illegal drugs (October 2023)"
#: Yearly totals of the treatment grant as published (continuation + place-based).
PUBLISHED_TOTALS = {"2022-23": 100_000_000, "2023-24": 161_000_000, "2024-25": 272_000_000}
DEPRIVATION_RANGE = (1.75, 2.25)
OVER_REPRESENTATION = 1.5
OCU_RANGE = (0.45, 0.50)
NAO_AVERAGE = (1_050_000, 1_150_000)
COLUMNS = ["check", "statement", "source", "expected", "run_value", "verdict"]


@dataclass(frozen=True)
class Check:
    """One calibration check, as a row of ``calibration.csv``."""

    check: str
    statement: str
    source: str
    expected: str
    run_value: str
    verdict: str


def _verdict(ok: bool) -> str:
    return "consistent" if ok else "NOT consistent"


def _col(year: str, stream: str = "total") -> str:
    return money_column(stream, year)


def calibration_table(frame: pd.DataFrame, *, years: Sequence[str],
                      wave_streams: Sequence[str] = (), ocu_note: str = "") -> pd.DataFrame:
    """Every calibration check for one run.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per LA: ``region``, ``wave`` (1 = first), ``imd_score``, ``total_<year>`` and
        ``<stream>_<year>`` money columns, and ``ocu_count`` when OCU was supplied.
    years : sequence of str
        The run's years, first = the year of wave 1.
    wave_streams : sequence of str
        Streams paid only once an LA's wave has started (the "uplift").
    ocu_note : str
        Where the OCU counts come from (source and period), quoted in the check.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`, one row per check.
    """
    for c in ("region", "wave", "imd_score"):
        if c not in frame.columns:
            raise ValueError(f"frame must have column {c!r}")
    if not years:
        raise ValueError("years must name at least one year")
    wave = pd.to_numeric(frame["wave"])
    w1, last = wave == 1, wave == wave.max()
    if not w1.any():
        raise DataError("no LA is in wave 1", column="wave")
    checks: list[Check] = []

    imd = pd.to_numeric(frame["imd_score"])
    ratio = float(imd[w1].mean() / imd[last].mean())
    lo, hi = DEPRIVATION_RANGE
    checks.append(Check(
        "deprivation wave 1 vs lower need",
        "The level of deprivation in the local authorities with higher need is twice that of "
        "those with lower levels of need", HARM_TO_HOPE,
        f"mean IMD 2019 score of wave 1 / of the last wave in [{lo}, {hi}]",
        f"{ratio:.2f} (wave 1 {imd[w1].mean():.1f}, last wave {imd[last].mean():.1f}; "
        f"wave 1 / all others {imd[w1].mean() / imd[~w1].mean():.2f})",
        _verdict(lo <= ratio <= hi)))

    ne = frame["region"].astype(str).isin(NORTH_EAST_YORKSHIRE)
    share_w1, share_all = float(ne[w1].mean()), float(ne.mean())
    over = share_w1 / share_all if share_all else float("nan")
    checks.append(Check(
        "North East and Yorkshire",
        "there is a strong correlation with local authorities in the North East and Yorkshire",
        HARM_TO_HOPE,
        f"share of wave-1 LAs in these regions at least {OVER_REPRESENTATION} x their share of "
        "all LAs",
        f"{share_w1:.0%} of wave 1 vs {share_all:.0%} of all LAs ({over:.2f} x; "
        f"{int(ne[w1].sum())} of {int(w1.sum())})",
        _verdict(over >= OVER_REPRESENTATION)))

    statement = ("just under half of opiate and crack cocaine users ... will be offered support "
                 "in 2022/23")
    lo, hi = OCU_RANGE
    expected = f"wave 1's share of estimated OCU users in [{lo:.2f}, {hi:.2f})"
    if "ocu_count" in frame.columns and pd.to_numeric(frame["ocu_count"]).notna().all():
        users = pd.to_numeric(frame["ocu_count"])
        share = float(users[w1].sum() / users.sum())
        where = f"; {ocu_note}" if ocu_note else ""
        checks.append(Check("OCU users in wave 1", statement, HARM_TO_HOPE, expected,
                            f"{share:.3f} ({users[w1].sum():,.0f} of {users.sum():,.0f}{where})",
                            _verdict(lo <= share < hi)))
    else:
        checks.append(Check("OCU users in wave 1", statement, HARM_TO_HOPE, expected, "",
                            "not checked: OCU not supplied"))
    checks.append(Check(
        "drug-related offenders in wave 1",
        "and half of offenders whose crimes are drug-related", HARM_TO_HOPE,
        "wave 1's share of drug-related offenders about 0.5", "",
        "not checked: no LA-level data on drug-related offenders in the data"))

    first = years[0]
    lo, hi = NAO_AVERAGE
    statement = ("In 2022-23, the first 50 local authorities each received an average of £1.1 "
                 "million of additional funding")
    expected = ("mean first-year grant per wave-1 LA, all streams (continuation + place-based), "
                f"rounding to £1.1m: [£{lo:,}, £{hi:,})")
    if first == "2022-23" and _col(first) in frame.columns:
        avg = float(pd.to_numeric(frame.loc[w1, _col(first)]).mean())
        uplift_cols = [_col(first, s) for s in wave_streams if _col(first, s) in frame.columns]
        uplift = (float(frame.loc[w1, uplift_cols].apply(pd.to_numeric).sum(axis=1).mean())
                  if uplift_cols else float("nan"))
        checks.append(Check(
            "NAO average for wave 1", statement, NAO, expected,
            f"£{avg:,.0f} in {first} (place-based only: £{uplift:,.0f})",
            _verdict(lo <= avg < hi)))
    else:
        checks.append(Check("NAO average for wave 1", statement, NAO, expected, "",
                            f"not checked: the run's first year is {first}, not 2022-23"))

    for y, published in PUBLISHED_TOTALS.items():
        col = _col(y)
        expected = f"£{published:,} (continuation £80m + place-based)"
        if y not in years or col not in frame.columns:
            checks.append(Check(f"total {y}", f"grant total {y}", HARM_TO_HOPE, expected, "",
                                f"not checked: the run has no year {y}"))
            continue
        got = int(pd.to_numeric(frame[col]).sum())
        checks.append(Check(f"total {y}", f"grant total {y}", HARM_TO_HOPE, expected,
                            f"£{got:,}", _verdict(got == published)))
    return pd.DataFrame([asdict(c) for c in checks], columns=COLUMNS)


def per_head_by_decile(frame: pd.DataFrame) -> pd.DataFrame:
    """Pounds per head over the whole period by need decile (1 = the 10% of LAs most in need).

    ``frame`` has ``rank`` (1 = highest need), ``pop_all`` and ``total``. Deciles are by rank:
    decile ``ceil(10 x rank / n)``. Returns ``decile``, ``las``, ``population``, ``total`` and
    ``per_head`` (total / population, pounds to 2 decimals).
    """
    for c in ("rank", "pop_all", "total"):
        if c not in frame.columns:
            raise ValueError(f"frame must have column {c!r}")
    n = len(frame)
    rank = pd.to_numeric(frame["rank"]).astype(int)
    dec = (10 * rank + n - 1) // n
    g = pd.DataFrame({"decile": dec, "pop": pd.to_numeric(frame["pop_all"]),
                      "total": pd.to_numeric(frame["total"])}).groupby("decile")
    out = pd.DataFrame({"las": g.size(), "population": g["pop"].sum().round().astype(int),
                        "total": g["total"].sum().astype(int)}).reset_index()
    out["per_head"] = (out["total"] / out["population"]).round(2)
    return out


def markdown(table: pd.DataFrame, deciles: pd.DataFrame | None = None) -> list[str]:
    """The calibration report as summary.md lines (with £ per head by need decile if given)."""

    def esc(s: object) -> str:
        return str(s).replace("|", "\\|")

    lines = ["## Calibration: what the strategy and the NAO say about the real allocation", "",
             "Each public statement, the value the engine reads it as, this run's value and a "
             "verdict (reported, never forced).", "",
             "| check | statement | expected | this run | verdict |", "|---|---|---|---|---|"]
    for r in table.itertuples():
        lines.append(f"| {esc(r.check)} | \"{esc(r.statement)}\" ({esc(r.source)}) | "
                     f"{esc(r.expected)} | {esc(r.run_value) or '-'} | {esc(r.verdict)} |")
    lines.append("")
    if deciles is not None and len(deciles):
        top, bottom = deciles.iloc[0], deciles.iloc[-1]
        ratio = top["per_head"] / bottom["per_head"] if bottom["per_head"] else float("nan")
        lines += ["### Pounds per head by need decile (whole period)", "",
                  "Decile 1 is the tenth of LAs with the highest need. How steeply money follows "
                  "need is set by the target basis (allocation.target).", "",
                  "| need decile | LAs | population | total | £ per head |", "|---|---|---|---|---|"]
        lines += [f"| {int(r.decile)} | {int(r.las)} | {int(r.population):,} | "
                  f"£{int(r.total):,} | £{r.per_head:.2f} |" for r in deciles.itertuples()]
        lines += ["", f"Decile 1 receives {ratio:.2f} times the pounds per head of decile "
                  f"{int(bottom['decile'])}.", ""]
    return lines


def to_text(table: pd.DataFrame) -> str:
    """Plain text for the terminal: one paragraph per check."""
    out = []
    for r in table.itertuples():
        out.append(f"{r.check}: {r.verdict}\n  \"{r.statement}\" ({r.source})\n"
                   f"  expected: {r.expected}\n  this run: {r.run_value or '-'}")
    return "\n".join(out)


def deciles_for_result(result: object) -> pd.DataFrame:
    """:func:`per_head_by_decile` of an in-memory run."""
    areas = pd.DataFrame(result.areas.frame[["code", "pop_all"]])  # type: ignore[attr-defined]
    frame = result.allocation[["code", "total"]].merge(  # type: ignore[attr-defined]
        result.index[["code", "rank"]], on="code", validate="1:1")  # type: ignore[attr-defined]
    return per_head_by_decile(frame.merge(areas, on="code", validate="1:1"))


def for_result(result: object) -> pd.DataFrame:
    """Calibration of an in-memory :class:`~allocator.pipeline.RunResult`."""
    from .evaluation import baseline_years

    areas = pd.DataFrame(result.areas.frame.drop(columns="geometry"))  # type: ignore[attr-defined]
    base = [c for c in ("imd_score", "ocu_count") if c in areas.columns]
    frame = result.allocation.merge(areas[["code", *base]], on="code",  # type: ignore[attr-defined]
                                    validate="1:1")
    cfg = result.config  # type: ignore[attr-defined]
    wave_streams = [s for s, sc in cfg.allocation.streams.items() if sc.eligible != "all"]
    note = f"OCU period {baseline_years(result)['ocu']}" if "ocu_count" in base else ""  # type: ignore[arg-type]
    return calibration_table(frame, years=result.years, wave_streams=wave_streams,  # type: ignore[attr-defined]
                             ocu_note=note)
