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


def test_elastic_solves_the_scaled_arrays_without_pulp(monkeypatch: pytest.MonkeyPatch) -> None:
    """The explanation is solved like the allocation: sparse arrays in scaled units, passed to
    HiGHS directly (no PuLP model is built), and CBC finds the same total relaxation."""
    import pulp

    data = cfg(floors=[{"kind": "per_head", "amount": 0.6333, "streams": ["continuation"],
                        "years": ["2022-23"]}])

    def no_pulp(*args: object, **kwargs: object) -> None:
        raise AssertionError("the elastic re-solve built a PuLP model")

    monkeypatch.setattr(pulp, "LpProblem", no_pulp)
    with pytest.raises(InfeasibleError) as highs:
        solve(data, check=False)
    monkeypatch.undo()
    with pytest.raises(InfeasibleError) as cbc:
        solve({**data, "solver": {"name": "cbc"}}, check=False)
    for err in (highs, cbc):
        rel = err.value.relaxations
        assert set(rel["group"]) == {"floor"}
        # 0.6333 x 2.1m people = £1,329,930 of floors on a £1m budget: £329,930 to relax
        assert rel["pounds"].sum() == 329_930
        assert "by £329,930 in total" in str(err.value)


def test_relaxations_are_whole_pounds_rounded_up_beyond_the_solver_accuracy() -> None:
    from allocator.allocate.elastic import whole_pounds

    assert whole_pounds(200_000.00002, 100_000_000.0) == 200_000  # solver noise on £100m
    assert whole_pounds(199_999.99998, 100_000_000.0) == 200_000
    assert whole_pounds(63_329.4, 100_000.0) == 63_330  # a true fraction: rounded up
    assert whole_pounds(63_329.002, 100_000.0) == 63_330  # beyond 1e-8 of £100k (£0.001): up
    assert whole_pounds(63_329.0000004, 100_000.0) == 63_329
