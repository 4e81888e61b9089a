"""When the solver proves infeasibility, the elastic re-solve names what to relax and by how much."""

from __future__ import annotations

import pytest

from allocator.allocate import AllocationProblem
from allocator.errors import InfeasibleError
from test_allocate_presolve import areas, cfg


def solve(data: dict, check: bool = True) -> AllocationProblem:
    return AllocationProblem.from_config(data, areas(), explain_marginal=False).solve(check=check)


def test_floors_above_budget_without_presolve_names_floors() -> None:
    data = cfg(floors=[{"kind": "fixed", "amount": 200_000, "streams": ["continuation"],
                        "years": ["2023-24"]}])
    with pytest.raises(InfeasibleError) as err:
        solve(data, check=False)
    msg = str(err.value)
    assert "infeasible (policy stage)" in msg
    assert "floor: relax" in msg and "by £200,000 in total" in msg
    assert "lower the floor of Town" in msg and "continuation 2023-24" in msg
    rel = err.value.relaxations
    assert set(rel["group"]) == {"floor"} and rel["pounds"].sum() == 200_000


def test_two_year_pace_chain_passes_presolve_and_is_explained() -> None:
    # Town A: floor £120k in 2022-23, no cash cut, cap £100k in 2024-25 (two years later):
    # presolve's pair-wise check cannot see it, the elastic re-solve can.
    data = cfg(pace={"no_cash_cut": True, "streams": ["continuation"]},
               floors=[{"kind": "fixed", "amount": 120_000, "streams": ["continuation"],
                        "years": ["2022-23"]}],
               caps=[{"per_head": 1.0, "streams": ["continuation"], "years": ["2024-25"]}])
    with pytest.raises(InfeasibleError) as err:
        solve(data)
    msg = str(err.value)
    assert "presolve" not in msg
    rel = err.value.relaxations
    assert rel["pounds"].sum() == 20_000
    assert len(rel) == 1
    row = rel.iloc[0]
    assert row["group"] in {"floor", "cap", "pace_no_cash_cut"}
    assert "Town A (E06000001) continuation" in row["label"]
    assert "by £20,000" in msg


def test_caps_short_of_budget_names_caps() -> None:
    data = cfg(caps=[{"per_head": 0.1, "streams": ["place_based"], "years": ["2022-23"]}])
    with pytest.raises(InfeasibleError) as err:
        solve(data, check=False)
    rel = err.value.relaxations
    assert set(rel["group"]) == {"cap"}
    assert rel["pounds"].sum() == 170_000
    assert "raise the cap of Town" in str(err.value)
