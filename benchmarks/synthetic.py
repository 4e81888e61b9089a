"""SYNTHETIC areas for the scale benchmarks: more, smaller areas drawn from the 152 real LAs.

Nothing here is official data. :func:`synthetic_areas` returns a table shaped like the areas
table of :mod:`allocator.data.schema` with ``n`` rows:

* rows 1-152 carry the indicator values of the 152 real upper-tier LAs;
* every row beyond 152 is SYNTHETIC: a real LA drawn at random (with replacement, seeded), its
  indicators jittered (death rate and IMD score x lognormal(0, ``jitter``), the death-rate
  interval scaled with the rate; the crime score, which is centred on 0, + normal noise of
  ``jitter`` x its standard deviation across LAs). Codes are ``SYN00000153`` ...,
  names ``SYNTHETIC area 153`` ..., and the ``synthetic`` column is ``True``;
* populations of all ``n`` rows are multiplied by ``152 / n`` (and synthetic ones jittered), so
  England's total population is unchanged, as when England is cut into ``n`` smaller areas
  (33,755 is the number of 2021 LSOAs). Per-head floors and share-of-stream caps of the default
  config then stay feasible at every size.

:func:`scale_config` scales the parts of a run config that count areas: the wave sizes
(proportionally, ``50 -> round(50 n / 152)``) and fixed per-area floors (``x 152 / n``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.config import RunConfig
from allocator.data.schema import N_UTLA_2021

SEED = 20220413
SYNTHETIC_PREFIX = "SYN"

#: Columns carried from the real table (geometry is dropped: the scale benchmarks draw no map).
COLUMNS = [
    "code",
    "name",
    "region",
    "region_code",
    "pop_all",
    "pop_15_64",
    "drug_deaths_rate",
    "drug_deaths_lcl",
    "drug_deaths_ucl",
    "drug_deaths_count",
    "drug_deaths_flag",
    "imd_score",
    "imd_flag",
    "crime_score",
    "crime_flag",
]


def synthetic_areas(
    real: pd.DataFrame, n: int, *, seed: int = SEED, jitter: float = 0.1
) -> pd.DataFrame:
    """Return ``n`` areas: the real LAs' indicators, then SYNTHETIC draws (see module doc).

    Parameters
    ----------
    real : DataFrame
        The real areas table (``allocator.data.load_areas().frame``), 152 rows.
    n : int
        Number of areas wanted (>= the number of real rows).
    seed : int
        Seed of the draws; same seed, same table.
    jitter : float
        Relative spread of the noise added to each synthetic row.

    Returns
    -------
    DataFrame
        ``COLUMNS`` plus ``synthetic`` (bool), sorted by code; ``n == len(real)`` gives the real
        table unchanged apart from the added ``synthetic`` column.
    """
    base = pd.DataFrame(real[COLUMNS]).reset_index(drop=True).copy()
    n_real = len(base)
    if n < n_real:
        raise ValueError(f"n={n} is below the {n_real} real areas")
    base["synthetic"] = False
    if n == n_real:
        return base
    rng = np.random.default_rng(seed)
    m = n - n_real
    pick = rng.integers(0, n_real, size=m)
    syn = base.iloc[pick].reset_index(drop=True).copy()
    number = np.arange(n_real + 1, n + 1)
    syn["code"] = [f"{SYNTHETIC_PREFIX}{i:08d}" for i in number]
    syn["name"] = [f"SYNTHETIC area {i}" for i in number]
    syn["synthetic"] = True
    for col in ("drug_deaths_flag", "imd_flag", "crime_flag"):
        syn[col] = ""
    rate_factor = rng.lognormal(0.0, jitter, size=m)
    for col in ("drug_deaths_rate", "drug_deaths_lcl", "drug_deaths_ucl"):
        syn[col] = syn[col].to_numpy() * rate_factor
    syn["drug_deaths_count"] = np.round(syn["drug_deaths_count"].to_numpy() * rate_factor)
    syn["imd_score"] = syn["imd_score"].to_numpy() * rng.lognormal(0.0, jitter, size=m)
    crime_sd = float(base["crime_score"].std())
    syn["crime_score"] = syn["crime_score"].to_numpy() + rng.normal(0.0, jitter * crime_sd, size=m)
    pop_factor = rng.lognormal(0.0, jitter, size=m)
    for col in ("pop_all", "pop_15_64"):
        syn[col] = syn[col].to_numpy() * pop_factor
    out = pd.concat([base, syn], ignore_index=True)
    shrink = n_real / n
    for col in ("pop_all", "pop_15_64"):
        out[col] = np.maximum(np.round(out[col].to_numpy() * shrink), 1.0)
    return out.sort_values("code", kind="stable").reset_index(drop=True)


def scaled_wave_sizes(sizes: list[int | str], n: int, n_real: int = N_UTLA_2021) -> list[int | str]:
    """Wave sizes scaled from ``n_real`` to ``n`` areas (``"rest"`` stays ``"rest"``)."""
    return [s if s == "rest" else max(1, round(int(s) * n / n_real)) for s in sizes]


def scale_config(config: RunConfig, n: int, n_real: int = N_UTLA_2021) -> RunConfig:
    """Copy of ``config`` for ``n`` areas: wave sizes x n/152, fixed floors x 152/n."""
    waves = config.waves.model_copy(update={"sizes": scaled_wave_sizes(config.waves.sizes, n, n_real)})
    alloc = config.allocation
    floors = [
        f.model_copy(update={"amount": f.amount * n_real / n})
        if f.kind == "fixed" and f.amount is not None
        else f
        for f in alloc.floors
    ]
    alloc = alloc.model_copy(update={"floors": floors})
    return config.model_copy(update={"waves": waves, "allocation": alloc})


def allocation_areas(frame: pd.DataFrame, config: RunConfig) -> pd.DataFrame:
    """Areas table for the LP (``code, name, region, pop_all, pop_15_64, need_factor, wave``).

    Fits the need index and the waves of ``config`` on ``frame`` (as the pipeline does).
    """
    from allocator.index import NeedIndex
    from allocator.waves import Waves

    need = NeedIndex(config.index, tie_break=config.waves.tie_break).fit(frame)
    waves = Waves(config.waves).fit(need)
    out = need.areas_[["code", "name", "region", "pop_all", "pop_15_64"]].copy()
    out["need_factor"] = need.need_factor_.to_numpy()
    out["wave"] = waves.wave_.reindex(out["code"]).to_numpy()
    return out
