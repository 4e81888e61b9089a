"""End-to-end tests of the LP allocator on 152 synthetic LAs (waves 50/50/52)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.allocate import AllocationProblem
from allocator.errors import InfeasibleError, SolverError

DATA = Path(__file__).parent / "data"
YEARS = ["2022-23", "2023-24", "2024-25"]


def areas() -> pd.DataFrame:
    return pd.read_csv(DATA / "allocate_areas_synthetic.csv", dtype={"code": str})


def default_config(**extra: object) -> dict:
    cfg: dict = {
        "streams": {
            "continuation": {
                "budget": dict(zip(YEARS, [80_000_000] * 3, strict=True)),
                "eligible": "all",
                "source": "From harm to hope (2021) [001 L644-647]",
            },
            "place_based": {
                "budget": dict(zip(YEARS, [20_000_000, 81_000_000, 192_000_000], strict=True)),
                "eligible": "wave_started",
            },
        },
        "floors": [{"kind": "file", "path": str(DATA / "allocate_floor_previous_synthetic.csv"),
                    "streams": ["continuation"]}],
        "pace": {"no_cash_cut": True},
    }
    cfg.update(extra)
    return cfg


@pytest.fixture(scope="module")
def solved() -> AllocationProblem:
    return AllocationProblem.from_config(default_config(), areas()).solve()


def test_year_totals_are_the_strategy_profile(solved: AllocationProblem) -> None:
    a = solved.allocation_
    assert a["total_2022_23"].sum() == 100_000_000
    assert a["total_2023_24"].sum() == 161_000_000
    assert a["total_2024_25"].sum() == 272_000_000
    assert a["total"].sum() == 533_000_000
    assert all(a[c].dtype == np.int64 for c in a.columns if c.startswith(("total", "place", "cont")))


def test_continuation_to_every_la_every_year(solved: AllocationProblem) -> None:
    a = solved.allocation_
    assert len(a) == 152
    for y in ("2022_23", "2023_24", "2024_25"):
        assert a[f"continuation_{y}"].sum() == 80_000_000
        assert (a[f"continuation_{y}"] > 0).all()


def test_place_based_only_after_wave_starts(solved: AllocationProblem) -> None:
    a = solved.allocation_
    assert a["place_based_2022_23"].sum() == 20_000_000
    assert (a.loc[a["wave"] > 1, "place_based_2022_23"] == 0).all()
    assert (a.loc[a["wave"] > 2, "place_based_2023_24"] == 0).all()
    assert (a.loc[a["wave"] == 1, "place_based_2022_23"] > 0).all()
    assert (a.loc[a["wave"] <= 2, "place_based_2023_24"] > 0).all()
    assert (a["place_based_2024_25"] > 0).all()


def test_floors_and_pace_hold(solved: AllocationProblem) -> None:
    a = solved.allocation_.set_index("code")
    floor = pd.read_csv(DATA / "allocate_floor_previous_synthetic.csv",
                        dtype={"code": str}).set_index("code")["amount"]
    for y in ("2022_23", "2023_24", "2024_25"):
        assert (a[f"continuation_{y}"] >= floor.reindex(a.index)).all()
    assert (a["continuation_2023_24"] >= a["continuation_2022_23"]).all()
    assert (a["place_based_2024_25"][a["wave"] <= 2]
            >= a["place_based_2023_24"][a["wave"] <= 2]).all()
    solved.verify()


def test_same_input_same_pounds(solved: AllocationProblem) -> None:
    again = AllocationProblem.from_config(default_config(), areas(), explain_marginal=False).solve()
    pd.testing.assert_frame_equal(again.allocation_, solved.allocation_)


def test_input_row_order_does_not_matter(solved: AllocationProblem) -> None:
    shuffled = areas().sample(frac=1.0, random_state=7)
    again = AllocationProblem.from_config(default_config(), shuffled,
                                          explain_marginal=False).solve()
    pd.testing.assert_frame_equal(again.allocation_, solved.allocation_)


def test_highs_and_cbc_agree_after_tie_break() -> None:
    # the cross-check solver solves every stage itself: its cells agree within the stated
    # tolerance; each solver on its own (both proving the pro-rata stages) agrees to a pound
    cfg = default_config(solver={"name": "highs", "cross_check": "cbc"})
    p = AllocationProblem.from_config(cfg, areas(), explain_marginal=False).solve()
    assert p.cross_check_max_diff_ is not None
    assert p.cross_check_max_diff_ <= p.cross_check_cell_tolerance_
    cbc = AllocationProblem.from_config(default_config(solver={"name": "cbc"}), areas(),
                                        explain_marginal=False).solve()
    money = [c for c in p.allocation_.columns if c.startswith(("continuation", "place"))]
    diff = (p.allocation_[money] - cbc.allocation_[money]).abs().to_numpy()
    assert diff.max() <= 1


def test_explain_waterfall_adds_up(solved: AllocationProblem) -> None:
    e = solved.explain_
    assert len(e) == 152 * 2 * 3
    parts = (e["target"] + e["floor_uplift"] + e["cap_trim"] + e["lock_adjustment"]
             + e["rebalance"] + e["pace_adjustment"] + e["knock_on"] + e["rounding"])
    np.testing.assert_allclose(parts, e["final"], atol=1e-4)
    ineligible = e[~e["eligible"]]
    assert (ineligible["final"] == 0).all()
    assert set(ineligible["binding"]) == {"not eligible"}
    # need shares of each stream-year sum to one over eligible LAs
    shares = e[e["eligible"]].groupby(["stream", "year"])["need_share"].sum()
    np.testing.assert_allclose(shares.to_numpy(), 1.0)
    floored = e[e["binding"].str.contains("floor")]
    assert (floored["final"] >= floored["floor"]).all() and len(floored) > 0


def test_binding_and_shadow_prices(solved: AllocationProblem) -> None:
    b = solved.binding_
    assert set(b.loc[b["group"] == "budget", "constraint"]) == {
        f"budget_{s}_{y}" for s in ("continuation", "place_based")
        for y in ("2022_23", "2023_24", "2024_25")}
    assert {"floor", "budget"} <= set(b["group"])
    sp = solved.shadow_prices_
    assert len(sp) == 6 and sp["shadow_price"].notna().all()
    # the words come from a re-solve with £1m more and every target recomputed for it (the
    # budget dual, with targets held fixed, said "£1m more would go to one LA"): £1m more in
    # place_based 2022-23 spreads over all 50 wave-1 LAs by need
    row = sp[(sp["stream"] == "place_based") & (sp["year"] == "2022-23")].iloc[0]
    assert row["words"].startswith("£1m more in place_based 2022-23 (every target recomputed")
    assert "would go to 50 LAs; most to " in row["words"]
    assert "; the other 45 LAs share £" in row["words"]
    assert row["recipients"] == 50
    # flat continuation budgets with no cash cut: more money in 2022-23 cannot be honoured in
    # 2023-24, and the words say so instead of naming recipients
    row = sp[(sp["stream"] == "continuation") & (sp["year"] == "2022-23")].iloc[0]
    assert "could not be allocated at all" in row["words"] and row["recipients"] == 0


def test_verify_catches_a_broken_table(solved: AllocationProblem) -> None:
    p = AllocationProblem.from_config(default_config(), areas(), explain_marginal=False).solve()
    p.allocation_.loc[0, "place_based_2024_25"] += 1
    p.allocation_.loc[0, "total_2024_25"] += 1
    p.allocation_.loc[0, "total"] += 1
    with pytest.raises(SolverError, match="budget_place_based_2024_25"):
        p.verify()
    p.allocation_.loc[0, "place_based_2024_25"] -= 1
    p.allocation_.loc[0, "total_2024_25"] -= 1
    p.allocation_.loc[0, "total"] -= 1
    wave3 = int(np.flatnonzero(p.allocation_["wave"].to_numpy() == 3)[0])
    p.allocation_.loc[wave3, "place_based_2022_23"] = 5
    with pytest.raises(SolverError, match="not eligible"):
        p.verify()


def test_caps_hold_and_bind() -> None:
    cfg = default_config(caps=[{"share_of_stream": 0.02, "streams": ["place_based"]}])
    p = AllocationProblem.from_config(cfg, areas(), explain_marginal=False).solve()
    a = p.allocation_
    assert (a["place_based_2024_25"] <= 0.02 * 192_000_000).all()
    assert (a["place_based_2022_23"] <= 0.02 * 20_000_000).all()
    assert "cap" in set(p.binding_["group"])
    assert a["place_based_2022_23"].sum() == 20_000_000


def test_locks_are_exact() -> None:
    code = areas().sort_values("code")["code"].iloc[3]
    cfg = default_config(locks=[{"code": code, "stream": "place_based", "year": "2024-25",
                                 "amount": 1_234_567}])
    p = AllocationProblem.from_config(cfg, areas(), explain_marginal=False).solve()
    a = p.allocation_.set_index("code")
    assert a.at[code, "place_based_2024_25"] == 1_234_567
    assert a["place_based_2024_25"].sum() == 192_000_000


def test_relative_and_maxmin_objectives_solve_and_hold() -> None:
    cfg = default_config(objective={"deviation": "relative", "fairness": "maxmin"},
                         pace={"no_cash_cut": True, "max_growth": 1.5})
    p = AllocationProblem.from_config(cfg, areas(), explain_marginal=False).solve()
    assert list(p.objective_values_) == ["fairness", "policy", "pro_rata", "tie_break"]
    assert p.allocation_["total"].sum() == 533_000_000
    e = p.explain_[p.explain_["eligible"] & (p.explain_["target"] > 0)]
    ratio = (e["lp_value"] / e["target"]).min()
    assert ratio == pytest.approx(-p.objective_values_["fairness"], rel=1e-6)
    p.verify()


def test_min_uplift_holds_on_whole_pounds() -> None:
    cfg = default_config(pace={"min_uplift": 0.01})
    cfg["streams"]["continuation"]["budget"] = dict(
        zip(YEARS, [80_000_000, 81_200_000, 82_418_000], strict=True))
    p = AllocationProblem.from_config(cfg, areas(), explain_marginal=False).solve()
    a = p.allocation_
    assert (a["continuation_2023_24"] >= 1.01 * a["continuation_2022_23"]).all()
    assert (a["continuation_2024_25"] >= 1.01 * a["continuation_2023_24"]).all()
    assert a["continuation_2023_24"].sum() == 81_200_000
    assert "pace_min_uplift" in set(p.binding_["group"])


def test_pace_that_fits_only_in_fractions_of_a_pound_is_reported() -> None:
    # budget grows by exactly the 1% minimum uplift: every LA binds, and whole pounds
    # (each LA rounded up to at least +1%) cannot add up to the budget
    cfg = default_config(pace={"min_uplift": 0.01})
    cfg["streams"]["continuation"]["budget"] = dict(
        zip(YEARS, [80_000_000, 80_800_000, 81_608_000], strict=True))
    with pytest.raises(InfeasibleError, match="rounding continuation 2023-24 to whole pounds"):
        AllocationProblem.from_config(cfg, areas(), explain_marginal=False).solve()


def test_interior_point_gives_the_same_pounds(solved: AllocationProblem) -> None:
    cfg = default_config(solver={"highs_options": {"solver": "ipm"}})
    ipm = AllocationProblem.from_config(cfg, areas(), explain_marginal=False).solve()
    money = [c for c in solved.allocation_.columns if c.startswith(("continuation", "place"))]
    diff = (ipm.allocation_[money] - solved.allocation_[money]).abs().to_numpy()
    assert diff.max() <= 1
