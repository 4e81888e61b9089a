"""Checks of a wave assignment against what *From Harm to Hope* says about wave 1.

The strategy [001 L660]: "The level of deprivation in the local authorities with higher need is
twice that of those in those with lower levels of need, and there is a strong correlation with
local authorities in the North East and Yorkshire." These are reported, never forced.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError

NORTH_EAST_YORKSHIRE = ("North East", "Yorkshire and The Humber")


def strategy_checks(frame_with_waves: pd.DataFrame) -> dict[str, float | int]:
    """Headline properties of wave 1, for comparison with the strategy's claims.

    Parameters
    ----------
    frame_with_waves : DataFrame
        One row per LA with ``wave`` (1 = first), ``imd_score``, ``region``, ``pop_all`` and
        ``drug_deaths_count`` (e.g. the areas table joined with the index table).

    Returns
    -------
    dict
        ``imd_ratio_wave1_to_last``: mean IMD score of wave 1 / of the last wave (strategy:
        about 2); ``share_wave1_ne_yh``: share of wave-1 LAs in the North East or Yorkshire and
        The Humber, with ``share_all_ne_yh`` the same share among all LAs for comparison;
        ``pop_share_wave1``: wave 1's share of England's population (``pop_all``);
        ``deaths_share_wave1``: its share of drug-misuse deaths (``drug_deaths_count``, summed
        over LAs with a count; ``deaths_missing`` counts LAs without one); ``n_wave1``,
        ``last_wave``.

    Raises
    ------
    DataError
        A needed column is missing, or there is no wave 1.
    """
    need = ["wave", "imd_score", "region", "pop_all", "drug_deaths_count"]
    missing = [c for c in need if c not in frame_with_waves.columns]
    if missing:
        raise DataError(f"strategy_checks needs columns {', '.join(missing)}", column=missing[0])
    f = frame_with_waves
    wave = pd.to_numeric(f["wave"]).to_numpy()
    last = int(np.nanmax(wave))
    w1 = wave == 1
    if not w1.any():
        raise DataError("no LA is in wave 1", column="wave")
    imd = pd.to_numeric(f["imd_score"]).to_numpy(dtype=float, na_value=np.nan)
    pop = pd.to_numeric(f["pop_all"]).to_numpy(dtype=float, na_value=np.nan)
    deaths = pd.to_numeric(f["drug_deaths_count"]).to_numpy(dtype=float, na_value=np.nan)
    ne_yh = f["region"].astype(str).isin(NORTH_EAST_YORKSHIRE).to_numpy()
    imd_last = np.nanmean(imd[wave == last])
    return {
        "n_wave1": int(w1.sum()),
        "last_wave": last,
        "imd_ratio_wave1_to_last": float(np.nanmean(imd[w1]) / imd_last)
        if imd_last
        else float("nan"),
        "share_wave1_ne_yh": float(ne_yh[w1].mean()),
        "share_all_ne_yh": float(ne_yh.mean()),
        "pop_share_wave1": float(np.nansum(pop[w1]) / np.nansum(pop)),
        "deaths_share_wave1": float(np.nansum(deaths[w1]) / np.nansum(deaths)),
        "deaths_missing": int(np.isnan(deaths).sum()),
    }
