"""The direct sparse build is the same LP as the PuLP reference builder (SYNTHETIC set-ups).

Random set-ups of the budget sweep (:mod:`test_allocate_numerics`) are built both ways:
:func:`allocator.allocate.lp.build_matrix` (arrays passed straight to HiGHS) and
:func:`allocator.allocate.model.build_model` (PuLP, the CBC reference and the model file). Same
columns, same bounds, same rows in the same order with the same coefficients and right-hand
sides, the same objective of every stage — compared exactly. And the scaled model of
:meth:`~allocator.allocate.lp.MatrixLP.scaled` is the same LP in other units.
"""

from __future__ import annotations

import math

import numpy as np
import pulp
from hypothesis import HealthCheck, given, settings

from allocator.allocate import AllocationProblem
from allocator.allocate.lp import PARTS, build_matrix, cell_units
from allocator.allocate.model import build_model, build_model_loop
from allocator.allocate.scaling import pro_rata_targets
from test_allocate_numerics import setups

SENSE = {pulp.LpConstraintEQ: "==", pulp.LpConstraintGE: ">=", pulp.LpConstraintLE: "<="}


def column_names(model) -> list[str]:
    names = [v.name for part in model.parts for v in part]
    return names + ([model.z.name] if model.z is not None else [])


def built(setup):
    areas, cfg = setup
    problem = AllocationProblem.from_config(cfg, areas, explain_marginal=False)
    conf, layout, groups = problem._prepare(None)
    scaled = pro_rata_targets(layout, groups).value
    return layout, build_matrix(layout, groups, conf.objective, scaled), \
        build_model(layout, groups, conf.objective, scaled), scaled


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(setup=setups())
def test_direct_build_is_the_pulp_model(setup) -> None:
    layout, lp, model, _ = built(setup)
    names = column_names(model)
    assert len(names) == lp.n_cols
    where = {n: j for j, n in enumerate(names)}
    variables = [v for part in model.parts for v in part] + ([model.z] if model.z is not None else [])
    lower = [-math.inf if v.lowBound is None else v.lowBound for v in variables]
    upper = [math.inf if v.upBound is None else v.upBound for v in variables]
    assert lower == lp.col_lower.tolist()
    assert upper == lp.col_upper.tolist()
    assert list(model.constraints) == lp.row_names
    for r, (name, con) in enumerate(model.constraints.items()):
        sl = slice(lp.a.indptr[r], lp.a.indptr[r + 1])
        mine = dict(zip(lp.a.indices[sl].tolist(), lp.a.data[sl].tolist(), strict=True))
        theirs = {where[v.name]: c for v, c in con.items()}
        assert mine == theirs, name
        rhs = -con.constant
        sense = SENSE[con.sense]
        lo, up = lp.row_lower[r], lp.row_upper[r]
        assert (lo, up) == {"==": (rhs, rhs), ">=": (rhs, math.inf), "<=": (-math.inf, rhs)}[sense]
    assert list(model.objectives) == lp.stages
    for stage, expr in model.objectives.items():
        c, c0 = lp.costs[stage]
        theirs = np.zeros(lp.n_cols)
        for v, coef in expr.items():
            theirs[where[v.name]] += coef
        assert c.tolist() == theirs.tolist(), stage
        assert c0 == expr.constant


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(setup=setups())
def test_loop_builder_is_the_same_model_and_scaling_is_the_same_lp(setup) -> None:
    layout, lp, model, scaled = built(setup)
    areas, cfg = setup
    problem = AllocationProblem.from_config(cfg, areas, explain_marginal=False)
    conf, layout2, groups = problem._prepare(None)
    loop = build_model_loop(layout2, groups, conf.objective, scaled)
    assert column_names(loop) == column_names(model)
    assert list(loop.constraints) == list(model.constraints)
    # the scaled LP: x = col * x'; rows times row; each stage's cost over its own factor
    units = cell_units(layout, scaled)
    work, scale = lp.scaled(units)
    assert np.allclose(scale.col[: PARTS * lp.n_cells], np.tile(units, PARTS))
    lo = np.where(np.isfinite(lp.col_lower), lp.col_lower, 0.0)
    up = np.where(np.isfinite(lp.col_upper), lp.col_upper, lo + 2.0)
    x = (lo + up) / 2
    xs = x / scale.col
    assert np.allclose(work.a @ xs, scale.row * (lp.a @ x), rtol=1e-12, atol=1e-9)
    for stage in lp.stages:
        assert math.isclose(work.objective(stage, xs) * scale.objective[stage],
                            lp.objective(stage, x), rel_tol=1e-12, abs_tol=1e-6)
    big = np.abs(work.a).max(axis=1).toarray().ravel() if work.a.nnz else np.zeros(0)
    assert np.allclose(big[big > 0], 1.0)


def test_polish_restores_the_vertex_from_8_digits_and_refuses_a_non_vertex() -> None:
    import scipy.sparse as sp

    from allocator.allocate.polish import polish

    # x0 + x1 + x2 == 1, x0 - 3 x1 >= 0, x2 <= 0.25: vertex (9/16, 3/16, 1/4)
    a = sp.csr_matrix(np.array([[1.0, 1.0, 1.0], [1.0, -3.0, 0.0]]))
    lo_r, up_r = np.array([1.0, 0.0]), np.array([1.0, math.inf])
    lo_c, up_c = np.zeros(3), np.array([math.inf, math.inf, 0.25])
    read = np.array([float(f"{v:.8g}") for v in (9 / 16 + 3e-9, 3 / 16 - 2e-9, 0.25)])
    x, ok = polish(a, lo_r, up_r, lo_c, up_c, read)
    assert ok and x.tolist() == [9 / 16, 3 / 16, 0.25]
    # off the vertex (x2 strictly inside its bounds, row 2 slack): two free values, one row
    inside = np.array([0.5, 0.1, 0.4])
    x, ok = polish(a, lo_r, up_r, lo_c, np.array([math.inf, math.inf, 1.0]), inside)
    assert not ok and x.tolist() == inside.tolist()


def test_polish_refuses_a_point_that_breaks_a_row() -> None:
    """Values snapped onto bounds within NEAR must not break a row: with tiny budgets (£1 over
    18 LAs) CBC's optimum was "polished" into a point 2.3e-6 off its budget row that looked
    better than the optimum, so the next stage, holding it, was reported infeasible (a false
    'infeasible': the run's cross-check then failed on a feasible set-up)."""
    import scipy.sparse as sp

    from allocator.allocate.polish import polish

    a = sp.csr_matrix(np.array([[1.0, 1.0]]))  # x0 + x1 == 1
    one = np.array([1.0])
    lo_c, up_c = np.zeros(2), np.array([0.5, 0.5 + 5e-7])
    read = np.array([0.5, 0.5])  # both within NEAR of their upper bounds: nothing left free
    x, ok = polish(a, one, one, lo_c, up_c, read)
    assert not ok and x.tolist() == read.tolist()
    # a point the snapping keeps on the row is still polished
    x, ok = polish(a, one, one, lo_c, np.array([0.5, 0.5]), np.array([0.5 - 1e-9, 0.5]))
    assert ok and x.tolist() == [0.5, 0.5]


def test_a_pound_budget_that_cbc_solved_into_a_false_infeasible() -> None:
    # the example hypothesis found (tests/test_allocate_numerics.py): budgets of £1 per
    # stream-year, 18 LAs, one LA's continuation 2023-24 locked at £0
    import pandas as pd

    from allocator.allocate import AllocationProblem

    n = 18
    areas = pd.DataFrame({
        "code": [f"E060000{i:02d}" for i in range(1, n + 1)],
        "name": [f"Synthetic LA {i}" for i in range(1, n + 1)],
        "region": "North East",
        "pop_all": [4623, 6914, 7325, 147222, 3594, 2000, 10066, 2248, 32374, 1487223, 1500000,
            15184, 2015, 265503, 229446, 6646, 109638, 111975],
        "pop_15_64": [2959, 4425, 4688, 94222, 2300, 1280, 6442, 1439, 20719, 951823, 960000, 9718,
            1290, 169922, 146845, 4253, 70168, 71664],
        "need_factor": [0.6878864085117244, 1.4007833197214792, 1.5, 0.9389047713346109,
            0.6020658896784117, 0.7496272144422418, 0.5743711889589831, 1.1711501771443302,
            0.8688154699706758, 0.5, 0.7786656703122283, 1.257753447482337,
            0.9549784318057973, 0.9609323798351924, 0.5542728470685421, 0.99999,
            0.9198002816727743, 1.3059331885645908],
        "wave": [1, 1, 3, 1, 3, 1, 2, 1, 2, 2, 2, 3, 2, 3, 1, 3, 2, 3],
    })
    pounds = {"2022-23": 1, "2023-24": 1, "2024-25": 1}
    cfg = {"streams": {"continuation": {"budget": pounds},
                       "place_based": {"budget": pounds, "eligible": "wave_started"}},
           "floors": [], "caps": [],
           "locks": [{"code": "E06000001", "stream": "continuation", "year": "2023-24",
                      "amount": 0}],
           "objective": {"deviation": "absolute", "fairness": "none"},
           "solver": {"name": "highs", "cross_check": "cbc"}}
    problem = AllocationProblem.from_config(cfg, areas, explain_marginal=False).solve()
    assert int(problem.allocation_["total"].sum()) == 6
