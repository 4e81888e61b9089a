"""SYNTHETIC map inputs for the map tests (not a real allocation).

The boundaries are the real ONS May 2021 upper-tier LAs (read from ``../shared/geodata``, never
copied); every number attached to them (population, score, waves, pounds) is drawn from a seeded
random generator so the map code can be tested before the pipeline exists. Nothing here is a
real allocation, and the maps built from it say so in their notes.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from allocator.paths import default_data_dir
from allocator.report.map import MapMeta, money_column, year_key

BOUNDARIES = Path("ons_boundaries_buc") / "DERIVED_CTYUA_May2021_UK_BUC.geojson"
ENGLAND_PREFIXES = ("E06", "E08", "E09", "E10")
STREAMS = ["continuation", "place_based"]
YEARS = ["2022-23", "2023-24", "2024-25"]
YEAR_TOTALS = {"2022-23": 95.4e6, "2023-24": 154.6e6, "2024-25": 282.9e6}
SYNTHETIC_NOTE = "SYNTHETIC allocation for testing only: not a real allocation."


def boundaries_path() -> Path | None:
    d = default_data_dir()
    if d is None or not (d / BOUNDARIES).is_file():
        return None
    return d / BOUNDARIES


def synthetic_meta(**overrides: object) -> MapMeta:
    kw: dict[str, object] = {
        "config_name": "synthetic-test",
        "config_hash": "0123456789abcdef0123456789abcdef01234567",
        "streams": STREAMS,
        "years": YEARS,
        "sources": [
            "ONS Counties and Unitary Authorities boundaries (May 2021)",
            "SYNTHETIC population, need and pounds (test fixture)",
        ],
        "notes": [SYNTHETIC_NOTE, "Built without OCU prevalence: not supplied"],
    }
    kw.update(overrides)
    return MapMeta(**kw)  # type: ignore[arg-type]


def synthetic_frame(seed: int = 7, *, wave_size: int = 50) -> gpd.GeoDataFrame:
    """The 152 English UTLAs with a SYNTHETIC allocation drawn from ``seed``."""
    path = boundaries_path()
    if path is None:
        pytest.skip("real boundaries not found in ../shared/geodata")
    g = gpd.read_file(path)
    g = g[g["utla21_code"].str.startswith(ENGLAND_PREFIXES)].rename(
        columns={"utla21_code": "code", "utla21_name": "name"}
    )
    g = g.sort_values("code").reset_index(drop=True).to_crs("EPSG:27700")
    rng = np.random.default_rng(seed)
    n = len(g)
    regions = [
        "North East",
        "North West",
        "Yorkshire and The Humber",
        "East Midlands",
        "West Midlands",
        "East of England",
        "London",
        "South East",
        "South West",
    ]
    g["region"] = [regions[i % len(regions)] for i in range(n)]
    g.loc[g["code"].str.startswith("E09"), "region"] = "London"
    g["pop_all"] = rng.integers(60_000, 1_500_000, n).astype(float)
    g["score"] = rng.normal(0, 1, n).round(4)
    order = np.argsort(-g["score"].to_numpy(), kind="stable")
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(1, n + 1)
    g["rank"] = rank
    spread = rng.integers(1, 15, n)
    g["rank_p05"] = np.clip(rank - spread, 1, n)
    g["rank_p95"] = np.clip(rank + spread, 1, n)
    g["wave"] = (rank - 1) // wave_size + 1
    g["wave_label"] = [f"Wave {w} (from {YEARS[min(w, 3) - 1]})" for w in g["wave"]]
    g["p_wave_1"] = (1 / (1 + np.exp((rank - wave_size - 0.5) / 4))).round(3)
    g["borderline"] = (g["p_wave_1"] > 0.05) & (g["p_wave_1"] < 0.95)
    weight = g["pop_all"] * np.exp(g["score"] / 2)
    share = weight / weight.sum()
    for y in YEARS:
        total_y = 0.0
        for s, frac in zip(STREAMS, (0.6, 0.4), strict=True):
            col = money_column(s, y)
            g[col] = (share * YEAR_TOTALS[y] * frac).round(0)
            total_y = total_y + g[col]
        g[f"total_{year_key(y)}"] = total_y
    g["total"] = sum(g[f"total_{year_key(y)}"] for y in YEARS)
    g["per_head"] = g["total"] / g["pop_all"]
    g["target_total"] = (g["total"] * rng.uniform(0.9, 1.1, n)).round(0)
    return g


def test_synthetic_frame_is_a_consistent_fixture() -> None:
    g = synthetic_frame()
    assert len(g) == 152 and g["code"].is_unique
    assert sorted(g["wave"].unique()) == [1, 2, 3, 4]
    # every total is the sum of its parts (the map checks pounds against these columns)
    for y in YEARS:
        parts = sum(g[money_column(s, y)] for s in STREAMS)
        assert np.allclose(parts, g[f"total_{year_key(y)}"])
    assert np.isclose(g["total"].sum(), pd.Series(YEAR_TOTALS).sum(), rtol=1e-3)
