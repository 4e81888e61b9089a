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
