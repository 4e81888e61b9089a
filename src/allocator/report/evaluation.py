"""``evaluation.csv``: the table an evaluator needs to compare wave-1 LAs with the others.

The NAO recommended "more in-depth assessments of local authorities included in the first phase
of funding allocations, comparing their progress against other areas". The wave roll-out is a
natural experiment: LAs just above and just below a wave cut-off are alike in need but were
funded a year apart. This table gives, per LA, everything a regression-discontinuity or
difference-in-differences design needs from the allocation, and the baseline (pre-allocation)
indicators with their data years:

======================  ==========================================================================
column                  meaning
======================  ==========================================================================
code, name, region      the LA (May 2021)
wave                    wave the allocation uses (after any locks)
rank_wave               wave its rank alone gives (differs only for locked LAs)
rank, score             need rank (1 = highest need) and need score of the central index
rank_p05, rank_p95      5-95% rank interval under the Monte Carlo (when run)
p_wave_1, p_wave_le_2   probability of wave 1 / of wave 1 or 2 under the Monte Carlo (when run)
ranks_from_cut_A_B      rank - (A + 0.5) for the cut-off between ranks A and A + 1 (one column per
                        cut-off, from the configured wave sizes): negative = funded earlier
score_from_cut_A_B      score minus the mid-point of the scores ranked A and A + 1
<indicator>             baseline indicators (population, drug deaths, IMD, crime, OCU if supplied)
<indicator>_year        the data year or period of each baseline indicator
total_<year>            the LA's allocation in each year (whole pounds)
======================  ==========================================================================

Rows are sorted by rank; the text is deterministic (replay compares it byte for byte).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..pipeline import RunResult

#: Baseline indicators copied from the areas table (when present), with their data years.
BASELINE = ["pop_all", "pop_15_64", "drug_deaths_rate", "drug_deaths_count", "imd_score",
            "crime_score", "ocu_rate", "ocu_count"]


def cut_offs(sizes: list[int]) -> list[int]:
    """Ranks after which one wave ends and the next starts (e.g. ``[50, 100]`` for 50/50/rest)."""
    return [int(x) for x in np.cumsum(sizes)[:-1]]


def baseline_years(result: RunResult) -> dict[str, str]:
    """Plain-English data year of each baseline indicator of ``result``."""
    data = result.config.data
    ocu = next((s.get("period", "") for s in result.areas.sources if s.get("key") == "ocu_user"),
               "")
    crime = ("2019 (IoD 2019 Crime domain)" if data.crime == "imd_crime"
             else "April 2022 to March 2023 (ONS Crime Severity Score)")
    return {"pop": "mid-2020", "drug_deaths": data.deaths_period, "imd": "2019 (IoD 2019)",
            "crime": crime, "ocu": ocu}


def _year_key(col: str) -> str:
    for key in ("pop", "drug_deaths", "imd", "crime", "ocu"):
        if col.startswith(key):
            return key
    raise KeyError(col)


def evaluation_table(result: RunResult) -> pd.DataFrame:
    """Build ``evaluation.csv`` for a run (see the module docstring for the columns)."""
    idx = result.index
    frame = pd.DataFrame(result.areas.frame.drop(columns="geometry"))
    n = len(idx)
    sizes = result.config.waves.resolve_sizes(n)
    cols = [c for c in ["code", "name", "wave", "rank", "score", "rank_p05", "rank_p95",
                        "p_wave_1", "p_wave_le_2"] if c in idx.columns]
    out = idx[cols].merge(frame[["code", "region"]], on="code", validate="1:1")
    bounds = np.cumsum(sizes)
    out["rank_wave"] = np.searchsorted(bounds, out["rank"].to_numpy(), side="left") + 1
    by_rank = out.set_index("rank")["score"]
    for cut in cut_offs(sizes):
        tag = f"{cut}_{cut + 1}"
        out[f"ranks_from_cut_{tag}"] = out["rank"] - (cut + 0.5)
        mid = (float(by_rank.loc[cut]) + float(by_rank.loc[cut + 1])) / 2
        out[f"score_from_cut_{tag}"] = out["score"] - mid
    years = baseline_years(result)
    for col in BASELINE:
        if col in frame.columns:
            out = out.merge(frame[["code", col]], on="code", validate="1:1")
            out[f"{col}_year"] = years[_year_key(col)]
    totals = [c for c in result.allocation.columns if c.startswith("total_")]
    out = out.merge(result.allocation[["code", *totals]], on="code", validate="1:1")
    lead = ["code", "name", "region", "wave", "rank_wave", "rank", "score"]
    out = out[lead + [c for c in out.columns if c not in lead]]
    return out.sort_values("rank").reset_index(drop=True)
