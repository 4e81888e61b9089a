"""Every impossible set-up is explained before solving, in pounds and names."""

from __future__ import annotations

import pandas as pd
import pytest

from allocator.allocate import AllocationProblem
from allocator.errors import ConfigError, InfeasibleError

YEARS = ["2022-23", "2023-24", "2024-25"]


def areas() -> pd.DataFrame:
    # synthetic: six LAs, waves 1,1,2,2,3,3
    return pd.DataFrame({
        "code": [f"E0600000{i}" for i in range(1, 7)],
        "name": [f"Town {c}" for c in "ABCDEF"],
        "region": ["R"] * 6,
        "pop_all": [100_000, 200_000, 300_000, 400_000, 500_000, 600_000],
        "pop_15_64": [60_000, 120_000, 180_000, 240_000, 300_000, 360_000],
        "need_factor": [3.0, 2.5, 2.0, 1.5, 1.0, 0.5],
        "wave": [1, 1, 2, 2, 3, 3],
    })


def cfg(**extra: object) -> dict:
    data: dict = {"streams": {
        "continuation": {"budget": dict.fromkeys(YEARS, 1_000_000)},
        "place_based": {"budget": dict(zip(YEARS, [200_000, 600_000, 1_500_000], strict=True)),
                        "eligible": "wave_started"},
    }}
    data.update(extra)
    return data


def presolve(data: dict) -> None:
    AllocationProblem.from_config(data, areas()).presolve()


def test_clean_setup_passes() -> None:
    p = AllocationProblem.from_config(cfg(), areas()).presolve()
    assert p.presolve_issues_ == []


def test_floors_above_budget() -> None:
    with pytest.raises(InfeasibleError) as err:
        presolve(cfg(floors=[{"kind": "fixed", "amount": 200_000,
                              "streams": ["continuation"], "years": ["2023-24"]}]))
    msg = str(err.value)
    assert "[floors_above_budget]" in msg
    assert "continuation 2023-24 total £1,200,000 across 6 LAs" in msg
    assert "above its budget £1,000,000 by £200,000" in msg


def test_floor_above_cap_names_the_la() -> None:
    with pytest.raises(InfeasibleError) as err:
        presolve(cfg(floors=[{"kind": "fixed", "amount": 150_000, "streams": ["continuation"]}],
                     caps=[{"per_head": 1.0, "streams": ["continuation"]}]))
    msg = str(err.value)
    assert "[floor_above_cap]" in msg
    assert "Town A (E06000001) continuation 2022-23: floor £150,000 above cap £100,000 by " \
           "£50,000" in msg


def test_eligibility_leaves_a_floored_la_no_money(tmp_path) -> None:
    f = tmp_path / "prev.csv"
    f.write_text("code,place_based_2022_23\nE06000005,50000\n")
    with pytest.raises(ConfigError) as err:
        presolve(cfg(floors=[{"kind": "file", "path": str(f), "streams": ["place_based"],
                              "years": ["2022-23"]}]))
    msg = str(err.value)
    assert "[floor_not_eligible]" in msg
    assert "Town E (E06000005) place_based 2022-23: floor of £50,000 but its wave 3 has not " \
           "started" in msg


def test_locks_exceed_budget_and_lock_on_ineligible() -> None:
    locks = [{"code": "E06000001", "stream": "place_based", "year": "2022-23",
              "amount": 150_000},
             {"code": "E06000002", "stream": "place_based", "year": "2022-23",
              "amount": 100_000}]
    with pytest.raises(InfeasibleError) as err:
        presolve(cfg(locks=locks))
    msg = str(err.value)
    assert "[locks_above_budget] locks in place_based 2022-23 total £250,000, exceeding its " \
           "budget £200,000 by £50,000" in msg
    assert "Town A (E06000001)" in msg and "Town B (E06000002)" in msg
    with pytest.raises(ConfigError, match=r"lock_not_eligible.*Town C \(E06000003\) "
                       r"place_based 2022-23: lock at £1"):
        presolve(cfg(locks=[{"code": "E06000003", "stream": "place_based", "year": "2022-23",
                             "amount": 1}]))


def test_caps_below_budget() -> None:
    with pytest.raises(InfeasibleError, match=r"\[caps_below_budget\] caps \(and locks\) in "
                       r"place_based 2022-23 allow at most £30,000 across 2 eligible LAs, "
                       r"£170,000 short of its budget £200,000"):
        presolve(cfg(caps=[{"per_head": 0.1, "streams": ["place_based"]}]))


def test_stream_with_no_eligible_la() -> None:
    a = areas()
    a["wave"] = [2, 2, 2, 2, 3, 3]
    with pytest.raises(ConfigError, match=r"place_based 2022-23 has a budget of £200,000 but no "
                       r"LA is eligible \(eligible: wave_started and no LA is in wave 1"):
        AllocationProblem.from_config(cfg(), a).presolve()


def test_pace_max_growth_conflicts_with_new_wave_from_zero() -> None:
    with pytest.raises(InfeasibleError) as err:
        presolve(cfg(pace={"max_growth": 0.1, "entrants": "from_zero",
                           "streams": ["place_based"]}))
    msg = str(err.value)
    assert "[pace_wave_entry] pace of change (max_growth +10.0%) in place_based" in msg
    assert "so at most £220,000 in 2023-24; the 2 LAs entering in 2023-24 (wave 2) can " \
           "receive at most £0 (max growth applies from £0 to entrants)" in msg
    assert "short of the 2023-24 budget £600,000 by £380,000" in msg


def test_pace_no_cash_cut_conflicts_with_entrants_floors() -> None:
    data = cfg(pace={"no_cash_cut": True},
               floors=[{"kind": "fixed", "amount": 150_000, "streams": ["place_based"]}])
    data["streams"]["place_based"]["budget"] = dict(zip(YEARS, [300_000, 400_000, 900_000],
                                                       strict=True))
    with pytest.raises(InfeasibleError) as err:
        presolve(data)
    msg = str(err.value)
    assert "[pace_wave_entry] pace of change (no_cash_cut) in place_based: the 2 LAs funded in " \
           "both 2022-23 and 2023-24 share at least £300,000 in 2022-23" in msg
    assert "the 2 LAs entering in 2023-24 (wave 2) and their floors of £300,000 that is " \
           "£600,000, above the 2023-24 budget £400,000 by £200,000" in msg


def test_pace_from_zero_with_entrant_floor() -> None:
    data = cfg(pace={"max_growth": 10.0, "entrants": "from_zero", "streams": ["place_based"]},
               floors=[{"kind": "fixed", "amount": 1_000, "streams": ["place_based"]}])
    with pytest.raises(InfeasibleError) as err:
        presolve(data)
    assert "[pace_from_zero]" in str(err.value)
    assert "Town C (E06000003) place_based 2023-24 (wave 2) has a floor of £1,000" in str(err.value)


def test_pace_against_one_las_floor_and_cap() -> None:
    data = cfg(pace={"no_cash_cut": True, "streams": ["continuation"]},
               floors=[{"kind": "fixed", "amount": 120_000, "streams": ["continuation"],
                        "years": ["2022-23"]}],
               caps=[{"per_head": 1.0, "streams": ["continuation"], "years": ["2023-24"]}])
    with pytest.raises(InfeasibleError) as err:
        presolve(data)
    assert ("[pace_la]" in str(err.value) and "Town A (E06000001) continuation 2023-24: "
            "pace_no_cash_cut needs at least £120,000" in str(err.value))
