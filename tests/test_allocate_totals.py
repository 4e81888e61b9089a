"""Floors, caps and pace on an LA's total over a group of streams, on SYNTHETIC LAs, pounds by hand.

Four made-up LAs: A (100k people) and B (200k) in wave 1, C (300k) in wave 2, D (400k) in wave 3;
targets follow population. ``awaiting`` pays LAs whose wave has not started (£300, £100, none),
``targeted`` those whose wave has (£200, £600, £900) - the shape of NAO Figure 8.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from allocator.allocate import AllocationProblem
from allocator.allocate.totals import TotalRows, round_bounds
from allocator.allocate.verify import verify_cells
from allocator.errors import ConfigError, InfeasibleError, SolverError
from four_las import four_las as areas
from four_las import nao_streams

GROUP = ["awaiting", "targeted"]


def nao_like(**extra: object) -> dict:
    data: dict = {
        "streams": nao_streams(),
        "target": {"basis": "population"},
    }
    data.update(extra)
    return data


def floor_total(amount: int, **extra: object) -> dict:
    return {"kind": "fixed", "amount": amount, "streams": GROUP, "applies_to": "total", **extra}


def solve(data: dict, frame: pd.DataFrame | None = None) -> AllocationProblem:
    return AllocationProblem.from_config(data, areas() if frame is None else frame,
                                         explain_marginal=False).solve()


def test_floor_on_the_total_follows_the_open_stream() -> None:
    p = solve(nao_like(floors=[floor_total(90)]))
    got = p.allocation_.set_index("name")
    # targeted 2022-23: targets £66.67 / £133.33; A's floor of £90 on its total lifts it
    assert got["targeted_2022_23"].tolist() == [90, 110, 0, 0]
    # awaiting 2022-23: £300 x 3/7, 4/7 = £128.57 / £171.43 (largest remainder: C gets the £1)
    assert got["awaiting_2022_23"].tolist() == [0, 0, 129, 171]
    assert got["awaiting_2023_24"].tolist() == [0, 0, 0, 100]
    assert got["targeted_2024_25"].tolist() == [90, 180, 270, 360]
    for y in ("2022_23", "2023_24", "2024_25"):
        assert (got[f"awaiting_{y}"] + got[f"targeted_{y}"] >= 90).all()
    # the waterfall shows the floor money on the stream that carried it
    ex = p.explain_.set_index(["name", "stream", "year"])
    assert ex.loc[("A", "targeted", "2022-23"), "floor_uplift"] == pytest.approx(90 - 200 / 3)
    assert ex.loc[("A", "targeted", "2022-23"), "floor"] == 90
    assert ex.loc[("D", "awaiting", "2023-24"), "floor"] == 90
    assert ex.loc[("D", "awaiting", "2023-24"), "floor_uplift"] == 0


def test_pace_on_the_total_keeps_awaiting_areas_level() -> None:
    pace = {"no_cash_cut": True, "streams": GROUP, "applies_to": "total"}
    p = solve(nao_like(floors=[floor_total(90)], pace=pace))
    got = p.allocation_.set_index("name")
    # the waterfall puts D's 2022-23 cut (target £171.43 -> £100) down to the rule on its total
    ex = p.explain_.set_index(["name", "stream", "year"])
    d1 = ex.loc[("D", "awaiting", "2022-23")]
    assert "pace_total_no_cash_cut" in d1["binding"]
    assert d1["pace_adjustment"] == pytest.approx(100 - 300 * 4 / 7)
    # D's total cannot fall from 2022-23 (awaiting) to 2023-24 (awaiting, £100 all to D): D gets
    # at most £100 in 2022-23 and C the other £200
    assert got["awaiting_2022_23"].tolist() == [0, 0, 200, 100]
    assert got["targeted_2022_23"].tolist() == [90, 110, 0, 0]
    assert got["targeted_2023_24"].tolist() == [100, 200, 300, 0]
    # 2024-25 targets £90/£180/£270/£360: A, B, C are held at their 2023-24 totals, D takes the rest
    assert got["targeted_2024_25"].tolist() == [100, 200, 300, 300]
    totals = got[[f"total_{y}" for y in ("2022_23", "2023_24", "2024_25")]].to_numpy()
    assert (np.diff(totals, axis=1) >= 0).all()


def test_without_the_total_rule_the_total_falls() -> None:
    # pace on each stream alone does not link C's awaiting money (2022-23) to its targeted money
    # (2023-24): with £330 targeted in 2023-24, A and B held at their 2022-23 amounts (£66.67,
    # £133.33), C's total falls from £200 to £130
    pace = {"no_cash_cut": True, "streams": GROUP}
    data = nao_like(pace=pace)
    data["streams"]["targeted"]["budget"]["2023-24"] = 330
    got = solve(data).allocation_.set_index("name")
    assert got.loc["C", "total_2022_23"] == 200
    assert got.loc["C", "total_2023_24"] == 130


def two_streams(**extra: object) -> dict:
    # SYNTHETIC: both streams open to both LAs, one year
    data: dict = {
        "streams": {"base": {"budget": {"2022-23": 100}},
                    "extra": {"budget": {"2022-23": 20}, "target": {"basis": "equal"}}},
        "target": {"basis": "population"},
        "floors": [{"kind": "fixed", "amount": 50, "streams": ["base", "extra"],
                    "applies_to": "total"}],
        "caps": [{"per_head": 0.0001, "streams": ["extra"]}],
    }
    data.update(extra)
    return data


def two_areas() -> pd.DataFrame:
    return areas().iloc[[0, 1]].assign(pop_all=[300_000, 100_000], wave=1)


def test_floor_row_over_two_open_streams() -> None:
    p = solve(two_streams(), two_areas())
    got = p.allocation_.set_index("name")
    # targets: base £75 / £25, extra £10 / £10; B's total must reach £50 and its extra is capped
    # at £10 (£0.0001 x 100k), so B's base rises to £40 and A's falls to £60
    assert got["base_2022_23"].tolist() == [60, 40]
    assert got["extra_2022_23"].tolist() == [10, 10]
    ex = p.explain_.set_index(["name", "stream"])
    assert ex.loc[("B", "base"), "floor_total"] == 50
    assert "floor_total" in ex.loc[("B", "extra"), "binding"]


def test_verify_catches_a_pound_off_a_total() -> None:
    p = solve(two_streams(), two_areas())
    layout, groups, x = p._layout, p._groups, p._x_int.copy()
    base_a, base_b = layout.block(0, 0).tolist()
    x[base_a] += 1
    x[base_b] -= 1  # budget still exact, B's total now £49
    with pytest.raises(SolverError, match=r"floor_total_base_extra_2022_23_E06000002: B "
                       r"\(E06000002\) base\+extra 2022-23 total £49 < floor £50"):
        verify_cells(layout, groups, x)


def test_verify_catches_a_total_that_falls_by_a_pound() -> None:
    pace = {"no_cash_cut": True, "streams": GROUP, "applies_to": "total"}
    p = solve(nao_like(pace=pace))
    layout, groups, x = p._layout, p._groups, p._x_int.copy()
    c1, d1 = layout.block(0, 0).tolist()  # awaiting 2022-23: C, D
    x[c1] -= 1
    x[d1] += 1  # D: £101 in 2022-23, £100 in 2023-24
    with pytest.raises(SolverError, match=r"pace_total_no_cash_cut_awaiting_targeted_2023_24_"
                       r"E06000004: D \(E06000004\) awaiting\+targeted 2023-24: the total does "
                       r"not fall once funded broken by £1.00 \(£101 -> £100\)"):
        verify_cells(layout, groups, x)


def test_presolve_names_an_impossible_floor_on_the_total() -> None:
    with pytest.raises(InfeasibleError) as err:
        AllocationProblem.from_config(nao_like(floors=[floor_total(120)]), areas()).presolve()
    msg = str(err.value)
    assert ("[floors_total_above_budget] 2023-24: the 1 LAs that can only be paid from awaiting "
            "need at least £120 to meet their floors on awaiting+targeted in 2023-24, but "
            "awaiting 2023-24 has £100: £20 short (largest: D £120)") in msg
    assert ("2022-23: the 2 LAs that can only be paid from targeted need at least £240") in msg


def test_presolve_floor_on_the_total_above_its_caps() -> None:
    caps = [{"per_head": 0.0001, "streams": ["extra"]}, {"per_head": 0.0002, "streams": ["base"]}]
    with pytest.raises(InfeasibleError, match=r"\[floor_total_above_cap\] B \(E06000002\) "
                       r"base\+extra 2022-23: floor on the total £50 but its caps allow at most "
                       r"£30"):
        AllocationProblem.from_config(two_streams(caps=caps), two_areas()).presolve()


def test_presolve_total_pace_against_the_budget() -> None:
    # D must keep its £150 floor-level total into 2023-24, where only £100 awaits it
    floors = [{"kind": "fixed", "amount": 150, "streams": ["awaiting"], "years": ["2022-23"]}]
    pace = {"no_cash_cut": True, "streams": GROUP, "applies_to": "total"}
    with pytest.raises(InfeasibleError, match=r"\[pace_total_above_budget\] 2023-24: the 1 LAs "
                       r"that can only be paid from awaiting need at least £150"):
        AllocationProblem.from_config(nao_like(floors=floors, pace=pace), areas()).presolve()


def test_file_floor_on_the_total(tmp_path) -> None:
    (tmp_path / "base.csv").write_text("code,amount\nE06000001,95\nE06000004,98\n")
    f = {"kind": "file", "path": "base.csv", "streams": GROUP, "applies_to": "total"}
    got = AllocationProblem.from_config(nao_like(floors=[f]), areas(), base_dir=tmp_path,
                                        explain_marginal=False).solve().allocation_
    got = got.set_index("name")
    assert got.loc["A", "targeted_2022_23"] == 95 and got.loc["A", "targeted_2024_25"] == 95
    assert got.loc["D", "awaiting_2023_24"] == 100  # >= 98


def test_file_floor_on_the_total_with_nowhere_to_go(tmp_path) -> None:
    (tmp_path / "base.csv").write_text("code,amount\nE06000004,50\n")
    f = {"kind": "file", "path": "base.csv", "streams": ["targeted"], "applies_to": "total"}
    with pytest.raises(ConfigError, match=r"\[floor_total_not_eligible\].*D \(E06000004\) "
                       r"targeted 2022-23: floor of £50 on the total but none of these streams"):
        AllocationProblem.from_config(nao_like(floors=[f]), areas(), base_dir=tmp_path).presolve()


def test_cap_on_the_total() -> None:
    # each LA's base+extra at most 60% of the streams' combined £120 = £72: A's targets (£75 + £10)
    # are trimmed to £72 in total; B's extra is capped at £10, so B's base takes the £13
    caps = [{"per_head": 0.0001, "streams": ["extra"]},
            {"share_of_stream": 0.6, "streams": ["base", "extra"], "applies_to": "total"}]
    p = solve(two_streams(floors=[], caps=caps), two_areas())
    got = p.allocation_.set_index("name")
    assert got["base_2022_23"].tolist() == [62, 38]
    assert got["extra_2022_23"].tolist() == [10, 10]
    layout, groups, x = p._layout, p._groups, p._x_int.copy()
    base_a, base_b = layout.block(0, 0).tolist()
    x[base_a] += 1
    x[base_b] -= 1
    with pytest.raises(SolverError, match=r"cap_total_base_extra_2022_23_E06000001: A "
                       r"\(E06000001\) base\+extra 2022-23 total £73 > cap £72"):
        verify_cells(layout, groups, x)


def test_round_bounds_gives_the_last_cell_what_the_row_needs() -> None:
    # SYNTHETIC row: cells 0 (rounded already, £40) + 1 >= £51
    row = TotalRows("floor_total", ["r"], [np.array([0, 1])], [np.zeros(0, np.int64)], ">=",
                    np.array([51]), Fraction(1), np.array([51.0]), np.array([0]), np.array([0]),
                    ["a", "b"], "test")
    out = np.array([40, 0])
    lo, hi = np.array([0.0]), np.array([np.inf])
    round_bounds([row], out, np.array([1]), lo, hi)
    assert lo.tolist() == [11.0]
    # pace row now=[0], prev=[1] (prev rounded last): x1 <= £100 / 1.03 -> £97
    pace = TotalRows("pace_total_min_uplift", ["p"], [np.array([0])], [np.array([1])], ">=",
                     np.array([0]), Fraction(103, 100), np.zeros(1), np.array([0]), np.array([1]),
                     ["a"], "test")
    out = np.array([100, 0])
    lo, hi = np.array([0.0]), np.array([np.inf])
    round_bounds([pace], out, np.array([1]), lo, hi)
    assert hi.tolist() == [97.0]
