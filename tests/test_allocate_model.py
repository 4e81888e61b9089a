"""Model building: vectorised and loop builders agree; the written model is deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from allocator.allocate import AllocationProblem
from allocator.allocate.cells import build_layout
from allocator.allocate.config import SolverConfig, validate_allocation_config
from allocator.allocate.constraints import build_groups
from allocator.allocate.model import build_model, tie_break_weights
from allocator.allocate.rounding import round_allocation
from allocator.allocate.solve import check_status, make_solver, staged_solve
from allocator.errors import SolverError
from test_allocate_problem import areas, default_config


@pytest.mark.parametrize(("objective", "stage"), [
    ({"deviation": "absolute"}, "policy"),
    ({"deviation": "relative", "fairness": "maxmin"}, "fairness"),
])
def test_vectorised_and_loop_builders_write_the_same_model(tmp_path: Path, objective: dict,
                                                           stage: str) -> None:
    cfg = default_config(objective=objective, pace={"no_cash_cut": True, "max_growth": 2.0},
                         caps=[{"share_of_stream": 0.05}])
    texts = []
    for builder in ("vectorised", "loop"):
        p = AllocationProblem.from_config(cfg, areas(), builder=builder)
        path = p.write_model(tmp_path / f"{builder}_{stage}.lp", stage=stage)
        texts.append(path.read_text())
    assert texts[0] == texts[1]
    assert "budget_place_based_2024_25:" in texts[0]
    assert "pace_max_growth_continuation_2023_24_E06000001:" in texts[0]


def test_written_model_is_deterministic_and_includes_holds(tmp_path: Path) -> None:
    p = AllocationProblem.from_config(default_config(), areas(), explain_marginal=False).solve()
    a = p.write_model(tmp_path / "a.mps", stage="tie_break").read_bytes()
    q = AllocationProblem.from_config(default_config(), areas(), explain_marginal=False).solve()
    b = q.write_model(tmp_path / "b.mps", stage="tie_break").read_bytes()
    assert a == b
    assert b"hold_policy" in a
    with pytest.raises(Exception, match="solve"):
        AllocationProblem.from_config(default_config(), areas()).write_model(
            tmp_path / "c.lp", stage="tie_break")


@pytest.mark.parametrize("suffix", [".lp", ".mps"])
def test_a_full_disk_while_writing_a_model_names_the_file(tmp_path: Path, suffix: str) -> None:
    # PuLP's write raised "[Errno 28] No space left on device" naming no file, so a run said
    # only "cannot write the run directory in OUT: No space left on device"
    import errno

    p = AllocationProblem.from_config(default_config(), areas(), explain_marginal=False).solve()
    full = tmp_path / f"model_policy{suffix}"
    full.symlink_to("/dev/full")
    with pytest.raises(OSError) as info:
        p.write_model(full, stage="policy")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(full)


def test_tie_break_weights_are_distinct_and_follow_code_order() -> None:
    cfg = validate_allocation_config(default_config())
    layout = build_layout(cfg, areas())
    w = tie_break_weights(layout)
    assert len(np.unique(w)) == layout.n_cells
    first = layout.position[:, :, 0]
    last = layout.position[:, :, -1]
    assert w[first[first >= 0]].max() < w[last[last >= 0]].min()
    # exchanges between pairs of cells all cost different amounts
    d = np.diff(np.sort(w))
    assert len(np.unique(np.round(d, 15))) > 0.9 * d.size


def test_solver_status_is_checked() -> None:
    import pulp

    prob = pulp.LpProblem("t", pulp.LpMinimize)
    x = prob.add_variable("x", 0, 1)
    prob.setObjective(pulp.LpAffineExpression([(x, 1.0)]))
    prob.extend({"c": pulp.LpConstraint(pulp.LpAffineExpression([(x, 1.0)]),
                                        pulp.LpConstraintGE, "c", 2.0)})
    prob.solve(make_solver("highs"))
    from allocator.allocate.solve import SolverInfeasible

    with pytest.raises(SolverInfeasible):
        check_status(prob, "highs", "policy")
    prob.status = pulp.LpStatusNotSolved
    with pytest.raises(SolverError, match="not a proven optimum"):
        check_status(prob, "highs", "policy")
    with pytest.raises(SolverError, match="unknown solver"):
        make_solver("gurobi")
    assert SolverConfig().name == "highs"


def test_rounding_keeps_budgets_and_bounds() -> None:
    cfg = validate_allocation_config(default_config(caps=[{"per_head": 9.5}]))
    layout = build_layout(cfg, areas())
    groups = build_groups(layout, cfg)
    lo, hi = groups.lower(layout.n_cells), groups.upper(layout.n_cells)
    x = staged_solve(build_model(layout, groups, cfg.objective), cfg.solver).x
    assert (np.abs(x - np.round(x)) > 1e-3).sum() > 100  # genuinely fractional LP pounds
    out = round_allocation(layout, groups, x)
    assert out.dtype == np.int64
    assert (np.abs(out - x) < 1.0 + 1e-9).all()
    for s in range(2):
        for y in range(3):
            assert out[layout.block(s, y)].sum() == layout.budget[s, y]
    assert (out >= lo).all() and (out <= hi).all()
    pace_rows = groups.pace_rows[0]
    assert (pace_rows.activity(out.astype(float)) >= 0).all()


def test_largest_remainders_get_the_pounds() -> None:
    from allocator.allocate.rounding import _apportion

    v = np.array([1.2, 2.7, 3.5, 0.6])  # sum 8.0
    lo, hi = np.zeros(4), np.full(4, np.inf)
    assert _apportion(v, lo, hi, 8).tolist() == [1, 3, 3, 1]
    # a cap at the floor of the largest remainder sends the pound to the next one
    hi = np.array([np.inf, 2.0, np.inf, np.inf])
    assert _apportion(np.array([1.2, 2.0, 3.5, 1.3]), lo, hi, 8).tolist() == [1, 2, 4, 1]
