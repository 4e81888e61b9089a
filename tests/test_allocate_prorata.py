"""The published tie-break: what floors cost and caps free is shared pro rata, not by code order.

All areas here are SYNTHETIC (built in the tests), not official data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.allocate import AllocationProblem
from allocator.allocate.scaling import water_fill

YEARS = ["2022-23", "2023-24"]
BUDGET = 10_000_000


def areas(n: int = 12) -> pd.DataFrame:
    """SYNTHETIC: ``n`` LAs, populations 50k..(50k + 25k(n-1)), need factors cycling 0.6..1.4."""
    i = np.arange(n)
    return pd.DataFrame({
        "code": [f"E0600{k:04d}" for k in range(1, n + 1)],
        "name": [f"Synthetic {k}" for k in range(1, n + 1)],
        "region": "R",
        "pop_all": 50_000 + 25_000 * i,
        "pop_15_64": 30_000 + 15_000 * i,
        "need_factor": 0.6 + 0.2 * (i % 5),
        "wave": 1,
    })


def config(years: list[str] = YEARS[:1], budgets: list[int] | None = None, **extra: object
           ) -> dict:
    budgets = budgets or [BUDGET] * len(years)
    data: dict = {"years": years,
                  "streams": {"grant": {"budget": dict(zip(years, budgets, strict=True))}}}
    data.update(extra)
    return data


def solve(data: dict, frame: pd.DataFrame | None = None, **kw: object) -> AllocationProblem:
    kw.setdefault("explain_marginal", False)
    return AllocationProblem.from_config(data, areas() if frame is None else frame,
                                         **kw).solve()


def floor_file(tmp_path: Path, code: str, amount: int) -> str:
    path = tmp_path / "floor_synthetic.csv"
    path.write_text(f"code,amount\n{code},{amount}\n")
    return str(path)


def targets(frame: pd.DataFrame, budget: float = BUDGET) -> pd.Series:
    basis = (frame["need_factor"] * frame["pop_all"]).to_numpy(float)
    return pd.Series(basis / basis.sum() * budget, index=frame["code"])


def test_water_fill_is_exact_and_respects_bounds() -> None:
    t = np.array([100.0, 200.0, 300.0, 400.0, 0.0])
    lo = np.array([150.0, 0.0, 0.0, 0.0, 5.0])
    hi = np.array([np.inf, np.inf, np.inf, 350.0, np.inf])
    vals, lam = water_fill(t, lo, hi, 1000.0)
    # LA 1 held at its floor 150, LA 4 at its cap 350, LA 5 (no target) at its floor 5: the
    # other two share 1000 - 505 = 495 in proportion to 200 : 300
    assert lam == pytest.approx(495 / 500, rel=1e-12)
    np.testing.assert_allclose(vals, [150, 200 * lam, 300 * lam, 350, 5], rtol=1e-12)
    assert vals.sum() == pytest.approx(1000.0, rel=1e-13)
    # a lock (lo == hi) fixes the cell; budget met exactly by lower bounds gives lambda 0..
    vals, lam = water_fill(t[:2], np.array([50.0, 0.0]), np.array([50.0, np.inf]), 250.0)
    np.testing.assert_allclose(vals, [50.0, 200.0])
    assert lam == pytest.approx(1.0)
    # bounds that cannot reach the budget: as close as they allow, lambda inf
    vals, lam = water_fill(t[:2], np.zeros(2), np.array([10.0, 20.0]), 100.0)
    assert lam == np.inf and vals.tolist() == [10.0, 20.0]


def test_floor_cost_is_shared_pro_rata_by_every_other_la(tmp_path: Path) -> None:
    frame = areas()
    t = targets(frame)
    small = "E06000001"  # smallest target
    floor = int(t[small] * 3)  # the floor lifts it well above target
    p = solve(config(floors=[{"kind": "file", "path": floor_file(tmp_path, small, floor)}]),
              frame)
    final = p.allocation_.set_index("code")["grant_2022_23"]
    assert final[small] == floor
    others = t.drop(small)
    lam = (BUDGET - floor) / others.sum()
    # every other LA keeps the same fraction of its target (to the pound); under the old
    # code-order tie-break the last code absorbed the whole floor uplift alone
    np.testing.assert_array_less(np.abs(final[others.index] - lam * others), 1.0 + 1e-9)
    ratio = final[others.index] / others
    assert ratio.max() - ratio.min() < 1.0 / others.min()
    assert p.pro_rata_.scale[0, 0] == pytest.approx(lam, rel=1e-12)
    assert p.objective_values_["pro_rata"] == pytest.approx(0.0, abs=0.01)
    e = p.explain_.set_index("code")
    assert e.at[small, "held"] == "floor" and (e.drop(small)["held"] == "scaled").all()
    np.testing.assert_allclose(e.drop(small)["rebalance"], (lam - 1) * others, rtol=1e-9)
    np.testing.assert_allclose(e["knock_on"], 0.0, atol=0.01)
    assert (e["scale_factor"] == p.pro_rata_.scale[0, 0]).all()


def test_cap_surplus_is_shared_pro_rata(tmp_path: Path) -> None:
    frame = areas()
    t = targets(frame)
    big = t.idxmax()
    share = 0.9 * t[big] / BUDGET  # only the largest LA is held by this cap
    p = solve(config(caps=[{"share_of_stream": share}]), frame)
    final = p.allocation_.set_index("code")["grant_2022_23"]
    cap = int(np.floor(share * BUDGET + 1e-9))
    assert final[big] == cap
    others = t.drop(big)
    lam = (BUDGET - cap) / others.sum()
    assert lam > 1 and (lam * others < cap).all()
    np.testing.assert_array_less(np.abs(final[others.index] - lam * others), 1.0 + 1e-9)
    assert p.explain_.set_index("code").at[big, "held"] == "cap"


@pytest.mark.parametrize("kind", ["floor", "cap"])
def test_highs_and_cbc_agree(tmp_path: Path, kind: str) -> None:
    frame = areas()
    t = targets(frame)
    extra = ({"floors": [{"kind": "file", "path": floor_file(tmp_path, "E06000002",
                                                             int(2 * t["E06000002"]))}]}
             if kind == "floor" else {"caps": [{"share_of_stream": 0.9 * t.max() / BUDGET}]})
    p = solve(config(solver={"name": "highs", "cross_check": "cbc"}, **extra), frame)
    assert p.cross_check_max_diff_ is not None and p.cross_check_max_diff_ <= 1


def test_row_order_does_not_matter(tmp_path: Path) -> None:
    frame = areas()
    data = config(floors=[{"kind": "file", "path": floor_file(tmp_path, "E06000003", 400_000)}])
    a = solve(data, frame)
    b = solve(data, frame.sample(frac=1.0, random_state=11))
    pd.testing.assert_frame_equal(a.allocation_, b.allocation_)
    pd.testing.assert_frame_equal(a.explain_, b.explain_)


def test_pace_cost_is_shared_pro_rata_too(tmp_path: Path) -> None:
    # year 1: a floor lifts LA 1; year 2: no floor, but no cash cut holds LA 1 at its year-1
    # amount, and the rest of year 2 is scaled pro rata around it
    frame = areas()
    t = targets(frame)
    small = "E06000001"
    floor = int(t[small] * 3)
    data = config(years=YEARS, pace={"no_cash_cut": True},
                  floors=[{"kind": "file", "path": floor_file(tmp_path, small, floor),
                           "years": ["2022-23"]}])
    p = solve(data, frame)
    final = p.allocation_.set_index("code")
    assert final.at[small, "grant_2023_24"] == floor
    others = t.drop(small)
    lam = (BUDGET - floor) / others.sum()
    np.testing.assert_array_less(np.abs(final.loc[others.index, "grant_2023_24"] - lam * others),
                                 1.0 + 1e-9)
    e = p.explain_.set_index(["code", "year"])
    assert e.at[(small, "2023-24"), "held"] == "pace"
    assert e.at[(small, "2023-24"), "pace_adjustment"] == pytest.approx(floor - t[small])
    np.testing.assert_allclose(e["knock_on"], 0.0, atol=0.01)
    parts = e[["target", "floor_uplift", "cap_trim", "lock_adjustment", "rebalance",
               "pace_adjustment", "knock_on", "rounding"]].sum(axis=1)
    np.testing.assert_allclose(parts, e["final"], atol=1e-4)


def test_pace_holding_one_la_below_target_frees_money_for_the_rest() -> None:
    # year 1: a cap holds the largest LA at 90% of its target; year 2: the budget grows 40%,
    # but max growth of 50% holds that LA at 1.5 x its capped year-1 amount (below its new
    # target), and every other LA shares what it cannot take, pro rata
    frame = areas()
    t = targets(frame)
    big = t.idxmax()
    share = 0.9 * t[big] / BUDGET
    data = config(years=YEARS, budgets=[BUDGET, 14 * BUDGET // 10],
                  caps=[{"share_of_stream": share, "years": ["2022-23"]}],
                  pace={"max_growth": 0.5})
    p = solve(data, frame)
    a = p.allocation_.set_index("code")
    cap = int(np.floor(share * BUDGET + 1e-9))
    assert a.at[big, "grant_2022_23"] == cap
    assert a.at[big, "grant_2023_24"] == int(1.5 * cap)
    others = 1.4 * t.drop(big)
    lam = (14 * BUDGET // 10 - int(1.5 * cap)) / others.sum()
    np.testing.assert_array_less(np.abs(a.loc[others.index, "grant_2023_24"] - lam * others),
                                 1.0 + 1e-9)
    e = p.explain_.set_index(["code", "year"])
    assert e.at[(big, "2023-24"), "held"] == "pace"
    assert "pace_max_growth" in e.at[(big, "2023-24"), "binding"]
    assert e.at[(big, "2023-24"), "pace_adjustment"] == pytest.approx(1.5 * cap - 1.4 * t[big])
    parts = e[["target", "floor_uplift", "cap_trim", "lock_adjustment", "rebalance",
               "pace_adjustment", "knock_on", "rounding"]].sum(axis=1)
    np.testing.assert_allclose(parts, e["final"], atol=1e-4)
    assert p.solve_verified_ == ["pro_rata", "tie_break"]


def test_when_the_policy_prefers_otherwise_the_lp_decides(tmp_path: Path) -> None:
    # relative deviation charges a pound taken from a large LA less than one from a small LA,
    # so the scaled targets are not policy-optimal: the later stages are solved (not
    # verified), the largest LA absorbs the floor, and the waterfall shows that as knock_on
    frame = areas()
    t = targets(frame)
    small, big = "E06000001", t.idxmax()
    floor = int(3 * t[small])
    data = config(objective={"deviation": "relative"},
                  floors=[{"kind": "file", "path": floor_file(tmp_path, small, floor)}])
    p = solve(data, frame)
    assert p.solve_verified_ == []
    a = p.allocation_.set_index("code")["grant_2022_23"]
    assert abs(a[big] - (t[big] - (floor - t[small]))) <= 5
    e = p.explain_.set_index("code")
    assert e.at[big, "knock_on"] < -100_000
    parts = e[["target", "floor_uplift", "cap_trim", "lock_adjustment", "rebalance",
               "pace_adjustment", "knock_on", "rounding"]].sum(axis=1)
    np.testing.assert_allclose(parts, e["final"], atol=1e-4)
    p.verify()


def test_solved_stages_agree_across_solvers_and_stay_pro_rata(tmp_path: Path) -> None:
    # with a fairness stage the shortcut is not taken: every stage is solved by both solvers
    frame = areas()
    t = targets(frame)
    small = "E06000001"
    floor = int(3 * t[small])
    data = config(objective={"fairness": "maxmin"},
                  floors=[{"kind": "file", "path": floor_file(tmp_path, small, floor)}],
                  solver={"name": "highs", "cross_check": "cbc"})
    p = solve(data, frame)
    assert p.solve_verified_ == []
    assert p.cross_check_max_diff_ is not None and p.cross_check_max_diff_ <= 1
    others = t.drop(small)
    lam = (BUDGET - floor) / others.sum()
    a = p.allocation_.set_index("code")["grant_2022_23"]
    np.testing.assert_array_less(np.abs(a[others.index] - lam * others), 1.0 + 1e-9)


def test_one_million_more_spreads_by_need() -> None:
    frame = areas()
    p = solve(config(), frame, explain_marginal=True)
    row = p.shadow_prices_.iloc[0]
    gain = (targets(frame, BUDGET + 1_000_000) - targets(frame)).sort_values(ascending=False)
    assert row["recipients"] == len(frame)
    top = gain.index[0]
    assert row["words"].startswith("£1m more in grant 2022-23 (every target recomputed as its "
                                   "need share of the larger budget) would go to 12 LAs; most to "
                                   f"Synthetic {int(top[-4:])} ({top}) £{gain.iloc[0]:,.0f}")
    assert "; the other 7 LAs share £" in row["words"]
    assert "deviation" not in row["words"]
