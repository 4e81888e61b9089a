"""Tables assembled from a run for people: the publication table and the map's frame."""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..pipeline import RunResult


def target_totals(explain: pd.DataFrame) -> pd.Series:
    """Sum of each LA's unrounded targets over streams and years, by code."""
    return explain.groupby("code")["target"].sum()


def map_frame(result: RunResult) -> gpd.GeoDataFrame:
    """One row per LA with geometry, wave, need, uncertainty and pounds (EPSG:27700)."""
    geo = result.areas.frame[["code", "pop_all", "geometry"]]
    idx_cols = [
        c
        for c in ("code", "score", "rank", "rank_p05", "rank_p95", "p_wave_1", "p_wave_le_2", "borderline", "wave_label")
        if c in result.index.columns
    ]
    frame = geo.merge(result.allocation, on="code").merge(result.index[idx_cols], on="code")
    frame["target_total"] = frame["code"].map(target_totals(result.explain)).astype(float)
    if "borderline" in frame:
        frame["borderline"] = frame["borderline"].fillna(False).astype(bool)
    frame["per_head"] = np.round(frame["total"] / frame["pop_all"], 2)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=result.areas.frame.crs)


def published_allocation(result: RunResult) -> pd.DataFrame:
    """The allocation table with ``pop_all`` and ``per_head`` (all-ages population, whole period)
    appended: what allocation.csv and the workbook publish."""
    from ..columns import PER_HEAD, POPULATION, TOTAL

    pop = result.areas.frame.set_index("code")[POPULATION]
    out = result.allocation.copy()
    # appended last: every earlier column keeps its place (derived columns come after the money)
    out[POPULATION] = out["code"].map(pop).astype("int64")
    out[PER_HEAD] = np.round(out[TOTAL] / out[POPULATION], 2)
    return out


def imd_deciles(result: RunResult) -> pd.Series:
    """IMD 2019 decile of each LA among the LAs of the run (1 = the most deprived tenth), by code."""
    frame = result.areas.frame
    if "imd_rank" not in frame:
        return pd.Series(dtype="int64")
    rank = frame.set_index("code")["imd_rank"].rank(method="first")
    n = len(rank)
    return ((rank - 1) * 10 // n + 1).astype("int64")


def rollup(table: pd.DataFrame, by: str, money: list[str]) -> pd.DataFrame:
    """Sum ``money`` and population by ``by``; LAs counted; pounds per head of the group; a last
    row "England" with the totals. ``table`` is :func:`published_allocation`'s frame."""
    from ..columns import PER_HEAD, POPULATION, TOTAL

    g = table.groupby(by, sort=True)
    out = g[[*money, POPULATION]].sum().astype("int64")
    out.insert(0, "las", g.size().astype("int64"))
    out = out.reset_index()
    total = {by: "England", "las": len(table), **{c: int(table[c].sum()) for c in [*money, POPULATION]}}
    out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    out[PER_HEAD] = np.round(out[TOTAL] / out[POPULATION], 2)
    return out


def region_rollup(result: RunResult) -> pd.DataFrame:
    """Totals, population and pounds per head by region (then England)."""
    from ..columns import total_columns

    return rollup(published_allocation(result), "region", total_columns(result.years))


def decile_rollup(result: RunResult) -> pd.DataFrame:
    """Totals, population and pounds per head by IMD 2019 decile (1 = most deprived), then England."""
    from ..columns import total_columns

    table = published_allocation(result)
    table["imd_decile"] = table["code"].map(imd_deciles(result))
    if table["imd_decile"].isna().any():
        return pd.DataFrame()
    out = rollup(table, "imd_decile", total_columns(result.years))
    return out


def wave_rollup(result: RunResult) -> pd.DataFrame:
    """Totals, population and pounds per head by delivery wave, then England."""
    from ..columns import total_columns

    return rollup(published_allocation(result), "wave", total_columns(result.years))
