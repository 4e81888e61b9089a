"""verify() checks every rule exactly on whole pounds: a £1 perturbation of one cell fails it.

Each test starts from a solved, verified allocation (synthetic 152 LAs) and breaks one rule by
the smallest amount whole pounds allow.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.allocate import AllocationProblem
from allocator.allocate.constraints import BoundGroup
from allocator.allocate.exact import ceil_product, floor_product, pace_bound, pace_gaps, ratio
from allocator.allocate.rules import Built
from allocator.allocate.verify import check_cells
from allocator.errors import SolverError

DATA = Path(__file__).parent / "data"
YEARS = ["2022-23", "2023-24", "2024-25"]


def areas() -> pd.DataFrame:
    return pd.read_csv(DATA / "allocate_areas_synthetic.csv", dtype={"code": str})


@pytest.fixture(scope="module")
def solved() -> AllocationProblem:
    code = areas().sort_values("code")["code"].iloc[7]
    cfg = {
        "streams": {
            "continuation": {"budget": dict(zip(YEARS, [80_000_000, 84_000_000, 88_200_000],
                                                strict=True)), "eligible": "all"},
            "place_based": {"budget": dict(zip(YEARS, [20_000_000, 81_000_000, 192_000_000],
                                               strict=True)), "eligible": "wave_started"},
        },
        "floors": [{"kind": "per_head", "amount": 0.25, "population": "pop_all",
                    "streams": ["continuation"]}],
        "caps": [{"share_of_stream": 0.05, "streams": ["place_based"]}],
        "locks": [{"code": code, "stream": "place_based", "year": "2024-25",
                   "amount": 1_234_567}],
        "pace": {"min_uplift": 0.03, "max_growth": 0.10, "streams": ["continuation"]},
    }
    p = AllocationProblem.from_config(cfg, areas(), explain_marginal=False).solve()
    assert check_cells(p._layout, p._groups, p._x_int) == []
    return p


def broken(p: AllocationProblem, change: dict[int, int]) -> list[str]:
    x = p._x_int.copy()
    for k, v in change.items():
        x[k] = v
    return check_cells(p._layout, p._groups, x)


def test_one_pound_more_breaks_the_budget(solved: AllocationProblem) -> None:
    k = int(solved._layout.block(1, 2)[0])
    out = broken(solved, {k: solved._x_int[k] + 1})
    assert out == ["budget_place_based_2024_25: £192,000,001 != budget £192,000,000"]


def test_one_pound_under_a_floor(solved: AllocationProblem) -> None:
    fl = solved._groups.floor
    k, v = int(fl.cells[0]), int(fl.values[0])
    out = broken(solved, {k: v - 1})
    assert any(m.startswith("floor_") and f"< floor £{v:,}" in m for m in out), out
    assert not any(m.startswith("floor_") for m in broken(solved, {k: v}))


def test_one_pound_over_a_cap(solved: AllocationProblem) -> None:
    cp = solved._groups.cap
    assert int(cp.values[cp.cells.tolist().index(int(solved._layout.block(1, 2)[0]))]) \
        == 9_600_000
    k, v = int(cp.cells[-1]), int(cp.values[-1])
    out = broken(solved, {k: v + 1})
    assert any(m.startswith("cap_") and f"> cap £{v:,}" in m for m in out), out
    assert not any(m.startswith("cap_") for m in broken(solved, {k: v}))


def test_one_pound_off_a_lock(solved: AllocationProblem) -> None:
    k = int(solved._groups.lock.cells[0])
    for v in (1_234_566, 1_234_568):
        out = broken(solved, {k: v})
        assert any(m.startswith("lock_") and "!= lock £1,234,567" in m for m in out), out


def _pace_row(p: AllocationProblem, group: str) -> tuple[int, int]:
    g = next(g for g in p._groups.pace_rows if g.name == group)
    return int(g.owner[0]), int(np.asarray(g.meta["prev"])[0])


def _row(p: AllocationProblem, group: str, out: list[str]) -> list[str]:
    """Messages about the first row of ``group`` (not the rows of the year after)."""
    g = next(g for g in p._groups.pace_rows if g.name == group)
    return [m for m in out if m.startswith(g.names[0] + ":")]


def test_min_uplift_is_exact_on_whole_pounds(solved: AllocationProblem) -> None:
    now, prev = _pace_row(solved, "pace_min_uplift")
    # at least +3%: on £100 exactly £103 holds and £102 fails; on £1 even £1.03 needs £2
    g = "pace_min_uplift"
    assert not _row(solved, g, broken(solved, {prev: 100, now: 103}))
    out = _row(solved, g, broken(solved, {prev: 100, now: 102}))
    assert len(out) == 1 and "broken by £1.00" in out[0]
    out = _row(solved, g, broken(solved, {prev: 1, now: 1}))
    assert len(out) == 1 and "broken by £0.03" in out[0]


def test_a_five_pound_cash_cut_on_a_large_cell_fails(solved: AllocationProblem) -> None:
    # the old relative tolerance (1e-6 of the cell) let £5 through on £11.7m
    now, prev = _pace_row(solved, "pace_min_uplift")
    out = [m for m in broken(solved, {prev: 11_700_000, now: 11_699_995}) if "pace_" in m]
    assert any("broken by £351,005.00" in m for m in out), out  # 3% uplift missed
    big = 10_000_000_000
    out = _row(solved, "pace_min_uplift", broken(solved, {prev: big, now: 10_300_000_000 - 1}))
    assert len(out) == 1 and "broken by £1.00" in out[0]


def test_max_growth_is_exact_on_whole_pounds(solved: AllocationProblem) -> None:
    now, prev = _pace_row(solved, "pace_max_growth")
    g = "pace_max_growth"
    assert not _row(solved, g, broken(solved, {prev: 1_000, now: 1_100}))
    out = _row(solved, g, broken(solved, {prev: 1_000, now: 1_101}))
    assert len(out) == 1 and "broken by £1.00" in out[0]


def test_no_cash_cut_of_one_pound_fails() -> None:
    cfg = {"streams": {"main": {"budget": dict.fromkeys(YEARS[:2], 50_000_000),
                                "eligible": "all"}},
           "pace": {"no_cash_cut": True}}
    p = AllocationProblem.from_config(cfg, areas(), explain_marginal=False).solve()
    assert check_cells(p._layout, p._groups, p._x_int) == []
    now, prev = _pace_row(p, "pace_no_cash_cut")
    out = broken(p, {prev: 11_700_000, now: 11_699_999})
    assert any(m.startswith("pace_no_cash_cut_") and "broken by £1.00" in m for m in out), out


def test_entrant_held_at_zero_and_negative_and_fractional_pounds(
        solved: AllocationProblem) -> None:
    k = int(solved._layout.block(1, 2)[5])
    z = np.array([k], dtype=np.int64)
    entry = BoundGroup("pace_entry", "upper", z, z * 0, z * 0.0, "from zero")
    pace_part = solved._groups.part("pace")
    groups = solved._groups.with_part("pace", Built(bounds=(entry,), rows=pace_part.rows))
    x = solved._x_int.copy()
    assert any(m.startswith("pace_entry_") for m in check_cells(solved._layout, groups, x))
    x[k] = -x[k]
    assert any(m.startswith("negative:") for m in check_cells(solved._layout, groups, x))
    frac = solved._x_int.astype(float)
    assert check_cells(solved._layout, solved._groups, frac) == [
        "allocation is not in whole pounds"]


def test_verify_raises_on_the_published_table(solved: AllocationProblem) -> None:
    cp = solved._groups.cap
    k = int(cp.cells[0])
    i, s, y = (int(solved._layout.area[k]), int(solved._layout.stream[k]),
               int(solved._layout.year[k]))
    col = f"{solved._layout.streams[s]}_{solved._layout.years[y].replace('-', '_')}"
    table = solved.allocation_.copy()
    solved.allocation_.loc[i, col] = int(cp.values[0]) + 1
    try:
        with pytest.raises(SolverError, match=r"verification of the final allocation failed"):
            solved.verify()
    finally:
        solved.allocation_ = table


def test_exact_bounds_use_the_decimals_as_written() -> None:
    # binary floats: 1.15 * 100 = 114.999..., 0.07 * 100 = 7.000...1
    assert floor_product(1.15, np.array([100.0])).tolist() == [115]
    assert ceil_product(0.07, np.array([100.0])).tolist() == [7]
    assert ceil_product(0.25, np.array([123_761.0])).tolist() == [30_941]
    assert ratio(0.03) == Fraction(103, 100)
    assert pace_bound(np.array([1, 100, 101]), ratio(0.03), ">=").tolist() == [2, 103, 105]
    assert pace_bound(np.array([1, 100, 101]), ratio(0.03), "<=").tolist() == [1, 103, 104]
    rows, gaps = pace_gaps(np.array([2**62]), np.array([2**62 - 1]), ratio(0.5), ">=")
    assert rows.tolist() == [0] and gaps == [Fraction(2**62 - 3, 2)]
