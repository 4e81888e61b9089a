"""Target bases on four SYNTHETIC LAs, shares worked by hand.

A, B, C, D: populations 100k, 200k, 300k, 400k; need factors 1.5, 1.0, 0.5, 1.0; OCU users
400, 300, 200, 100; drug-misuse deaths 10, 20, 30, 40; one stream of £1,000 for every LA.
"""

from __future__ import annotations

import pandas as pd
import pytest

from allocator.allocate.cells import build_layout
from allocator.allocate.config import validate_allocation_config
from allocator.errors import ConfigError, DataError


def areas(**extra: object) -> pd.DataFrame:
    df = pd.DataFrame({  # SYNTHETIC
        "code": ["E06000001", "E06000002", "E06000003", "E06000004"],
        "name": ["A", "B", "C", "D"],
        "region": ["R"] * 4,
        "pop_all": [100_000, 200_000, 300_000, 400_000],
        "pop_15_64": [60_000, 120_000, 180_000, 240_000],
        "need_factor": [1.5, 1.0, 0.5, 1.0],
        "wave": [1, 1, 2, 3],
        "ocu_count": [400.0, 300.0, 200.0, 100.0],
        "drug_deaths_count": [10.0, 20.0, 30.0, 40.0],
        "drug_deaths_rate": [10.0, 5.0, 2.0, 1.0],
    })
    for k, v in extra.items():
        df[k] = v
    return df


def shares(target: dict, frame: pd.DataFrame | None = None) -> list[float]:
    cfg = validate_allocation_config({
        "streams": {"s": {"budget": {"2022-23": 1000}, "eligible": "all"}},
        "target": target,
    })
    return [round(x, 6) for x in build_layout(cfg, areas() if frame is None else frame).share]


def test_default_and_simple_bases():
    # need x population: 150k, 200k, 150k, 400k of 900k
    assert shares({"basis": "need_x_population"}) == [round(x / 900, 6) for x in (150, 200, 150, 400)]
    assert shares({"basis": "population"}) == [0.1, 0.2, 0.3, 0.4]
    assert shares({"basis": "equal"}) == [0.25] * 4


def test_need_weighted_population_elasticity():
    # elasticity 1 is the default basis; 0 is population
    assert shares({"basis": "need_weighted_population", "elasticity": 1}) == shares(
        {"basis": "need_x_population"})
    assert shares({"basis": "need_weighted_population", "elasticity": 0}) == [0.1, 0.2, 0.3, 0.4]
    # elasticity 2: 100k x 2.25 = 225k, 200k, 300k x 0.25 = 75k, 400k: total 900k
    assert shares({"basis": "need_weighted_population", "elasticity": 2}) == [
        0.25, round(200 / 900, 6), round(75 / 900, 6), round(400 / 900, 6)]
    # population aged 15-64: the same shares (every LA is 60% aged 15-64)
    assert shares({"basis": "need_weighted_population", "elasticity": 2,
                   "population": "pop_15_64"})[0] == 0.25


def test_estimated_counts():
    assert shares({"basis": "estimated_count", "count": "ocu_count"}) == [0.4, 0.3, 0.2, 0.1]
    assert shares({"basis": "estimated_count", "count": "drug_deaths_count"}) == [
        0.1, 0.2, 0.3, 0.4]
    # rate x population / 100,000: 10, 10, 6, 4 of 30
    assert shares({"basis": "estimated_count", "count": "drug_deaths_rate_x_population"}) == [
        round(10 / 30, 6), round(10 / 30, 6), 0.2, round(4 / 30, 6)]


def test_weighted_combination():
    # 0.5 x OCU shares (0.4, 0.3, 0.2, 0.1) + 0.5 x population shares (0.1, 0.2, 0.3, 0.4)
    got = shares({"basis": "combination", "components": [
        {"basis": "estimated_count", "count": "ocu_count", "weight": 0.5},
        {"basis": "population", "weight": 0.5}]})
    assert got == [0.25, 0.25, 0.25, 0.25]
    got = shares({"basis": "combination", "components": [
        {"basis": "estimated_count", "count": "ocu_count", "weight": 0.75},
        {"basis": "population", "weight": 0.25}]})
    assert got == [0.325, 0.275, 0.225, 0.175]


@pytest.mark.parametrize("target, message", [
    ({"basis": "combination", "components": [{"basis": "population", "weight": 1.0}]},
     "at least two components"),
    ({"basis": "combination", "components": [{"basis": "population", "weight": 0.5},
                                             {"basis": "equal", "weight": 0.4}]}, "sum to 1"),
    ({"basis": "population", "components": [{"basis": "equal", "weight": 1.0}]},
     "only used with basis 'combination'"),
    ({"basis": "need_weighted_population", "elasticity": -1}, "elasticity"),
    ({"basis": "estimated_count", "count": "heroin"}, "count"),
])
def test_bad_target_configs(target, message):
    with pytest.raises(ConfigError, match=message):
        shares(target)


def test_count_without_ocu_data_is_a_clear_error():
    with pytest.raises(DataError, match="OCU estimates were not supplied"):
        shares({"basis": "estimated_count"}, areas().drop(columns="ocu_count"))
    with pytest.raises(DataError, match="E06000002"):
        shares({"basis": "estimated_count"}, areas(ocu_count=[1.0, None, 1.0, 1.0]))
