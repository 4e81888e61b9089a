"""SYNTHETIC fixtures shared by the eligibility and total-rule tests: four invented LAs.

A and B are in wave 1, C in wave 2, D in wave 3; populations 100k-400k, need factor 1 each, so
hand-worked pounds stay simple.
"""

from __future__ import annotations

import pandas as pd


def four_las() -> pd.DataFrame:
    """The four SYNTHETIC LAs as an areas table (``code, name, region, pop_*, need_factor, wave``)."""
    return pd.DataFrame({
        "code": ["E06000001", "E06000002", "E06000003", "E06000004"],
        "name": ["A", "B", "C", "D"],
        "region": ["R"] * 4,
        "pop_all": [100_000, 200_000, 300_000, 400_000],
        "pop_15_64": [60_000, 120_000, 180_000, 240_000],
        "need_factor": [1.0, 1.0, 1.0, 1.0],
        "wave": [1, 1, 2, 3],
    })


YEARS = ["2022-23", "2023-24", "2024-25"]


def nao_streams() -> dict:
    """SYNTHETIC NAO-shaped streams in pounds: awaiting roll-out (waves not started) and targeted."""
    return {
        "awaiting": {"budget": {"2022-23": 300, "2023-24": 100}, "eligible": "wave_not_started"},
        "targeted": {"budget": dict(zip(YEARS, [200, 600, 900], strict=True)),
                     "eligible": "wave_started"},
    }
