"""The two-solver cross-check can fail: perturbed second-solver answers make the solve fail.

The second solver is wrapped (monkeypatch) so that its objectives, its cells or its feasibility
verdict are changed after it solved; each perturbation, in either direction, must raise
``cross-check failed`` naming what disagrees. Synthetic 152 LAs (tests/data).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.allocate import AllocationProblem
from allocator.allocate import crosscheck as crosscheck_mod
from allocator.allocate import problem as problem_mod
from allocator.allocate.crosscheck import describe
from allocator.allocate.solve import SolveResult, SolverInfeasible
from allocator.allocate.staged import staged_solve_matrix
from allocator.errors import SolverError
from allocator.pipeline import solver_summary

DATA = Path(__file__).parent / "data"
YEARS = ["2022-23", "2023-24", "2024-25"]


def areas() -> pd.DataFrame:
    return pd.read_csv(DATA / "allocate_areas_synthetic.csv", dtype={"code": str})


def config(primary: str = "highs", other: str = "cbc") -> dict:
    return {
        "streams": {
            "continuation": {"budget": dict.fromkeys(YEARS, 80_000_000), "eligible": "all"},
            "place_based": {"budget": dict(zip(YEARS, [20_000_000, 81_000_000, 192_000_000],
                                               strict=True)), "eligible": "wave_started"},
        },
        "floors": [{"kind": "file", "path": str(DATA / "allocate_floor_previous_synthetic.csv"),
                    "streams": ["continuation"]}],
        "pace": {"no_cash_cut": True},
        "solver": {"name": primary, "cross_check": other},
    }


def solve(marginal: bool = False, **kw: str) -> AllocationProblem:
    return AllocationProblem.from_config(config(**kw), areas(),
                                         explain_marginal=marginal).solve()


def patch_second(monkeypatch: pytest.MonkeyPatch, change, who: str = "cbc") -> list[dict]:
    """Wrap the staged solve so that ``who``'s result passes through ``change``; record calls."""
    calls: list[dict] = []

    def wrapped(lp, units, cfg, name=None, **kw) -> SolveResult:
        name = name or cfg.name
        calls.append({"name": name, "shortcut": kw.get("shortcut", True)})
        result = staged_solve_matrix(lp, units, cfg, name, **kw)
        return change(result) if name == who else result

    monkeypatch.setattr(problem_mod, "staged_solve_matrix", wrapped)
    return calls


def with_objective(stage: str, delta: float):
    def change(r: SolveResult) -> SolveResult:
        return dataclasses.replace(r, objectives={**r.objectives, stage: r.objectives[stage] + delta})
    return change


def test_second_solver_solves_every_stage_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = patch_second(monkeypatch, lambda r: r)
    p = solve()
    assert calls == [{"name": "highs", "shortcut": True}, {"name": "cbc", "shortcut": False}]
    recs = {r.stage: r for r in p.stages_}
    assert recs["pro_rata"].method == "proved" and recs["policy"].method == "solved"
    assert all(r.check_solver == "cbc" and r.check_objective is not None for r in recs.values())
    assert p.cross_check_max_diff_ is not None
    assert p.cross_check_max_diff_ <= p.cross_check_cell_tolerance_


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("stage", ["policy", "pro_rata", "tie_break"])
def test_either_solver_better_on_any_stage_fails(monkeypatch: pytest.MonkeyPatch, stage: str,
                                                 sign: float) -> None:
    patch_second(monkeypatch, with_objective(stage, sign * 1_000.0))
    with pytest.raises(SolverError, match=rf"cross-check failed: {stage} stage optimum HiGHS"):
        solve()


def test_objective_just_outside_the_stated_tolerance_fails(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    p = solve()
    tol = next(r.tolerance for r in p.stages_ if r.stage == "policy")
    gap = p.objective_values_["policy"] - next(r.check_objective for r in p.stages_
                                               if r.stage == "policy")
    patch_second(monkeypatch, with_objective("policy", gap + 1.01 * tol))
    with pytest.raises(SolverError, match="policy stage optimum"):
        solve()


def test_zero_values_and_a_far_worse_objective_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    def zero(r: SolveResult) -> SolveResult:
        objs = {k: v + 1e9 for k, v in r.objectives.items()}
        return dataclasses.replace(r, x=np.zeros_like(r.x), objectives=objs)

    patch_second(monkeypatch, zero)
    with pytest.raises(SolverError, match="cross-check failed"):
        solve()


def test_cells_moved_within_the_budget_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    # same objectives, same budgets; £1,000 moved between two LAs of place-based 2024-25 (the
    # last cells; no floors, caps or pace rules there)
    def move(r: SolveResult) -> SolveResult:
        x = r.x.copy()
        x[-1] += 1_000.0
        x[-2] -= 1_000.0
        return dataclasses.replace(r, x=x)

    patch_second(monkeypatch, move)
    with pytest.raises(SolverError, match=r"HiGHS and CBC differ by more than £\d+ in 2 LA"):
        solve()


def test_second_solver_breaking_a_rule_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # rounding keeps every rule, so break the second solver's whole pounds after it
    rounded = crosscheck_mod.round_allocation

    def over(layout, groups, x):
        out = rounded(layout, groups, x).copy()
        out[0] += 1
        return out

    monkeypatch.setattr(crosscheck_mod, "round_allocation", over)
    with pytest.raises(SolverError, match=r"CBC's allocation breaks 2 rule\(s\): budget_continuation_2022_23"):
        solve()


@pytest.mark.parametrize(("who", "says", "solves"), [("cbc", "CBC", "HiGHS"),
                                                      ("highs", "HiGHS", "CBC")])
def test_one_solver_infeasible_the_other_not_is_an_error(monkeypatch: pytest.MonkeyPatch,
                                                         who: str, says: str, solves: str) -> None:
    def infeasible(r: SolveResult) -> SolveResult:
        raise SolverInfeasible("policy")

    patch_second(monkeypatch, infeasible, who=who)
    with pytest.raises(SolverError, match=rf"cross-check failed: {says} reports the policy "
                                          rf"stage infeasible but {solves} solves it"):
        solve()


def test_marginal_re_solves_are_cross_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {"n": 0}

    def later(r: SolveResult) -> SolveResult:
        seen["n"] += 1  # the first CBC solve is the main one; perturb the re-solves only
        return r if seen["n"] == 1 else with_objective("policy", 500.0)(r)

    patch_second(monkeypatch, later)
    with pytest.raises(SolverError, match=r"cross-check failed \(re-solve with £1m more in "
                                          r"continuation \d{4}-\d{2}\): policy stage optimum"):
        solve(marginal=True)


def test_marginal_infeasible_for_one_solver_only_is_an_error(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    seen = {"n": 0}

    def later(r: SolveResult) -> SolveResult:
        seen["n"] += 1
        if seen["n"] > 1:
            raise SolverInfeasible("policy")
        return r

    patch_second(monkeypatch, later)
    with pytest.raises(SolverError, match=r"re-solve with £1m more .* CBC reports the policy "
                                          "stage infeasible but HiGHS solves it"):
        solve(marginal=True)


def test_summary_records_each_stage_in_words() -> None:
    p = solve()
    s = solver_summary(p)
    assert list(s["stages"]) == ["policy", "pro_rata", "tie_break"]
    assert s["stages"]["pro_rata"]["method"] == "proved"
    assert s["stages"]["policy"]["cross_check_solver"] == "cbc"
    assert s["cross_check"]["max_cell_diff_pounds"] == p.cross_check_max_diff_
    words = describe(s)
    assert any("CBC solved it independently" in w for w in words)
    assert words[-1].startswith("Cross-check: CBC solved every stage itself")
    assert not any("{" in w for w in words)


def test_cbc_runs_the_bundled_binary_without_the_deprecated_pulp_class() -> None:
    """PuLP 3.3 deprecates PULP_CBC_CMD (gone in PuLP 4): CBC runs through COIN_CMD on the
    very binary PULP_CBC_CMD used, and constructing it warns about nothing."""
    import warnings

    import pulp

    from allocator.allocate.quiet import QuietCBC

    def deprecations(make) -> list[str]:  # type: ignore[no-untyped-def]
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            make()
        return [str(w.message) for w in seen if issubclass(w.category, DeprecationWarning)]

    assert deprecations(lambda: QuietCBC(msg=False)) == []
    solver = QuietCBC(msg=False)
    assert isinstance(solver, pulp.COIN_CMD) and not isinstance(solver, pulp.PULP_CBC_CMD)
    assert solver.path == pulp.PULP_CBC_CMD.pulp_cbc_path and solver.available()
    major, minor = (int(x) for x in pulp.__version__.split(".")[:2])
    if (major, minor) >= (3, 3):  # the same check catches the deprecated class
        assert any("PULP_CBC_CMD is deprecated" in m
                   for m in deprecations(lambda: pulp.PULP_CBC_CMD(msg=False)))
