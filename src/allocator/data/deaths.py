"""Drug-misuse death rates for one three-year period, with suppressed rates treated openly.

ONS publishes no rate (":") where fewer than 10 deaths were registered in the period: for
2018-20 that is Rutland, Thurrock, City of London, Harrow, Merton, Bracknell Forest, Slough,
Windsor and Maidenhead and the Isles of Scilly. The count of deaths is still published. The
treatment is chosen by ``DataConfig.suppressed_deaths``; every treated row gets a
``drug_deaths_flag`` naming the rule, and none is ever silently zeroed or dropped.

``crude_from_counts`` (default)
    Crude rate = deaths in the period / person-years x 100,000, where person-years are the
    sum of ONS mid-year populations for the three years (MYE4, 2021 geography; a year after the
    last published estimate uses the latest one, and the flag says so). The 95% interval is
    the exact (Garwood) Poisson interval for the count, divided by the person-years. It is the
    same period as every other LA, uses only published numbers, and its interval is honest about
    how little a count below 10 says. It is *not* age-standardised: the flag says so. Chosen as
    the default because it works for every suppressed LA (Rutland and the Isles of Scilly have
    no published rate in any period) and does not borrow another period's deaths.
``nearest_published``
    The published rate (and its interval) of the nearest period with one for that LA (by
    start year; ties go to the later period). LAs with no published rate in any period fall
    back to ``crude_from_counts``, flagged as such.
``error``
    A :class:`~allocator.errors.DataError` listing the LAs.

A count of zero (the Isles of Scilly in 2018-20) gives a crude rate of 0 with an upper limit
well above the national rate; the flag names it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import DataError
from .config import DataConfig

RATE_SCALE = 100_000.0


def poisson_interval(count: float, level: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) two-sided Poisson confidence interval for an observed count."""
    from scipy.stats import chi2  # only for counts without a published interval

    a = (1.0 - level) / 2.0
    lo = 0.0 if count <= 0 else float(chi2.ppf(a, 2.0 * count) / 2.0)
    hi = float(chi2.ppf(1.0 - a, 2.0 * (count + 1.0)) / 2.0)
    return lo, hi


def person_years(
    code: str, years: list[int], series: pd.DataFrame
) -> tuple[float, list[int]]:
    """Sum of mid-year populations of ``code`` over ``years``; second item: years substituted."""
    have = [int(c) for c in series.columns]
    latest, earliest = max(have), min(have)
    total, substituted = 0.0, []
    for y in years:
        use = min(max(y, earliest), latest)
        if use != y:
            substituted.append(y)
        total += float(series.loc[code, use])
    return total, substituted


def deaths_for_period(
    deaths: pd.DataFrame,
    boundaries: dict[str, str],
    config: DataConfig,
    pop_series: pd.DataFrame,
    *,
    file: Path | str,
) -> pd.DataFrame:
    """Rate, interval, count and flag for each LA in ``boundaries``.

    Parameters
    ----------
    deaths : DataFrame
        From :func:`~allocator.data.readers.read_deaths` (all areas and periods).
    boundaries : dict
        ``{code: name}`` of the LAs.
    config : DataConfig
        ``deaths_period`` and ``suppressed_deaths``.
    pop_series : DataFrame
        Mid-year populations by code (from ``read_population_series``).

    Returns
    -------
    pandas.DataFrame
        ``code`` and the :data:`~allocator.data.schema.DEATHS_COLUMNS`.
    """
    period = config.deaths_period
    periods = sorted(deaths["period"].unique())
    if period not in periods:
        raise DataError(
            f"deaths_period {period!r} is not in the file; periods available: "
            f"{', '.join(periods)}", file=file, column="period")
    utla = deaths[deaths["code"].isin(boundaries)]
    cur = utla[utla["period"] == period]
    dup = cur[cur["code"].duplicated(keep=False)]
    if len(dup):
        raise DataError(f"duplicate rows for period {period}", file=file, column="area_code",
                        codes=sorted(set(dup["code"])))
    cur = cur.set_index("code")
    suppressed = [c for c in cur.index if cur.at[c, "suppressed"]]
    if suppressed and config.suppressed_deaths == "error":
        raise DataError(
            f"ONS suppressed the {period} rate (fewer than 10 deaths) for these LAs and "
            "data.suppressed_deaths is 'error'; choose 'crude_from_counts' or "
            "'nearest_published'", file=file, column="asmr_per_100k",
            codes=[f"{c} {boundaries[c]}" for c in suppressed])

    rows = []
    for code in cur.index:
        r = cur.loc[code]
        rec = {"code": code, "drug_deaths_count": float(r["deaths"])}
        if not r["suppressed"]:
            rec.update(drug_deaths_rate=r["rate"], drug_deaths_lcl=r["lcl"],
                       drug_deaths_ucl=r["ucl"], drug_deaths_flag="")
        elif config.suppressed_deaths == "nearest_published":
            rec.update(_nearest(code, period, utla) or _crude(code, r["deaths"], config,
                                                                pop_series, fallback=True))
        else:
            rec.update(_crude(code, r["deaths"], config, pop_series, fallback=False))
        rows.append(rec)
    return pd.DataFrame(rows)


def _nearest(code: str, period: str, utla: pd.DataFrame) -> dict[str, object] | None:
    own = utla[(utla["code"] == code) & ~utla["suppressed"]]
    if own.empty:
        return None
    start = int(period[:4])
    own = own.assign(
        dist=(own["period"].str[:4].astype(int) - start).abs(),
        start=own["period"].str[:4].astype(int),
    ).sort_values(["dist", "start"], ascending=[True, False])
    best = own.iloc[0]
    return {
        "drug_deaths_rate": best["rate"],
        "drug_deaths_lcl": best["lcl"],
        "drug_deaths_ucl": best["ucl"],
        "drug_deaths_flag": (
            f"nearest_published: ONS suppressed the {period} rate (<10 deaths); published "
            f"age-standardised rate and 95% CI of {best['period']} used"
        ),
    }


def _crude(
    code: str, count: float, config: DataConfig, pop_series: pd.DataFrame, *, fallback: bool
) -> dict[str, object]:
    if code not in pop_series.index:
        raise DataError("no mid-year population to compute a crude death rate",
                        file="population (MYE4)", codes=[code])
    py, substituted = person_years(code, config.period_years(), pop_series)
    lo, hi = poisson_interval(count)
    sub = (f"; mid-{max(pop_series.columns)} population used for "
           f"{', '.join(map(str, substituted))}" if substituted else "")
    lead = ("nearest_published found no published rate in any period, fell back to "
            "crude_from_counts" if fallback else "crude_from_counts")
    return {
        "drug_deaths_rate": RATE_SCALE * count / py,
        "drug_deaths_lcl": RATE_SCALE * lo / py,
        "drug_deaths_ucl": RATE_SCALE * hi / py,
        "drug_deaths_flag": (
            f"{lead}: ONS suppressed the {config.deaths_period} rate (<10 deaths); crude rate "
            f"{int(count)} deaths / {py:,.0f} person-years, not age-standardised; exact Poisson "
            f"95% CI{sub}"
        ),
    }

