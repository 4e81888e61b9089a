"""Each stage's model file reproduces the stage's optimum in a solver the engine does not use.

The policy stage alone, then each later stage with the earlier optima held as constraints
(``hold_*`` rows), written as LP and MPS files and re-solved by GLPK (``glpsol``). The run
directory's files are checked the same way in ``test_run_replay``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from allocator.allocate import AllocationProblem
from glpk import glpk_objective

DATA = Path(__file__).parent / "data"
YEARS = ["2022-23", "2023-24", "2024-25"]


def solved(**objective: str) -> AllocationProblem:
    cfg = {
        "streams": {
            "continuation": {"budget": dict.fromkeys(YEARS, 80_000_000), "eligible": "all"},
            "place_based": {"budget": dict(zip(YEARS, [20_000_000, 81_000_000, 192_000_000],
                                               strict=True)), "eligible": "wave_started"},
        },
        "floors": [{"kind": "file", "path": str(DATA / "allocate_floor_previous_synthetic.csv"),
                    "streams": ["continuation"]}],
        "pace": {"no_cash_cut": True},
        "objective": objective,
        "solver": {"name": "highs", "cross_check": "cbc"},
    }
    areas = pd.read_csv(DATA / "allocate_areas_synthetic.csv", dtype={"code": str})
    return AllocationProblem.from_config(cfg, areas, explain_marginal=False).solve()


@pytest.mark.parametrize("objective", [{}, {"deviation": "relative", "fairness": "maxmin"}],
                         ids=["absolute", "relative_maxmin"])
@pytest.mark.parametrize("fmt", ["lp", "mps"])
def test_glpk_reproduces_every_stage_optimum(tmp_path: Path, fmt: str, objective: dict) -> None:
    p = solved(**objective)
    records = {r.stage: r for r in p.stages_}
    assert list(records) == list(p.objective_values_)
    for stage, value in p.objective_values_.items():
        path = p.write_model(tmp_path / f"model_{stage}.{fmt}", stage)
        got = glpk_objective(path, tmp_path)
        assert abs(got - value) <= records[stage].tolerance, (stage, got, value)


def test_the_comparison_notices_a_changed_model(tmp_path: Path) -> None:
    p = solved()
    path = p.write_model(tmp_path / "model_policy.lp", "policy")
    text = path.read_text()
    assert "OBJ: 533000000 objective_constant" in text
    tol = next(r.tolerance for r in p.stages_ if r.stage == "policy")
    edited = tmp_path / "edited_policy.lp"
    edited.write_text(text.replace("OBJ: 533000000 objective_constant",
                                   "OBJ: 533001000 objective_constant", 1))
    got = glpk_objective(edited, tmp_path)
    assert abs(got - p.objective_values_["policy"]) > tol
    assert got == pytest.approx(p.objective_values_["policy"] + 1000, abs=tol)
