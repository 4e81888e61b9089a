"""Shared assertion for solver tests: whole pounds summing exactly to every budget, every rule."""

from __future__ import annotations

from allocator.allocate import AllocationProblem
from allocator.columns import money_column


def assert_budgets_exact(problem: AllocationProblem, cfg: dict) -> None:
    """Every stream-year of ``cfg`` is integer pounds summing exactly to its budget, and
    ``verify()`` (every rule, exact integer arithmetic) passes."""
    table = problem.allocation_
    for stream, scfg in cfg["streams"].items():
        for year, budget in scfg["budget"].items():
            col = table[money_column(stream, year)]
            assert col.dtype.kind == "i"
            assert int(col.sum()) == budget
    problem.verify()
