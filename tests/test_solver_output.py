"""Solver banners and logs never reach standard output (API; the CLI is in test_run_replay).

HiGHS writes its banner once per process, from C++, so each check runs in a fresh interpreter
and captures the real file descriptors.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

SOLVE = textwrap.dedent(
    """
    import sys
    import pandas as pd
    from allocator.allocate import AllocationProblem

    areas = pd.read_csv({areas!r}, dtype={{"code": str}})
    years = ["2022-23", "2023-24"]
    cfg = {{
        "streams": {{"main": {{"budget": dict.fromkeys(years, 10_000_000), "eligible": "all"}}}},
        "pace": {{"no_cash_cut": True}},
        "solver": {{"name": {name!r}, "cross_check": {other!r}, "msg": {msg!r}}},
    }}
    p = AllocationProblem.from_config(cfg, areas, explain_marginal=True).solve()
    sys.stderr.write("TOTAL %d\\n" % p.allocation_["total"].sum())
    """
)


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)


def test_a_plain_highspy_object_does_print_the_banner() -> None:
    # the control: without allocator's wrapper, HiGHS 1.16 prints to stdout on construction,
    # so the checks below would see it
    proc = python("import highspy; highspy.Highs()")
    assert proc.returncode == 0, proc.stderr
    assert "HiGHS" in proc.stdout


@pytest.mark.parametrize(("name", "other"), [("highs", "cbc"), ("cbc", "highs")])
def test_quiet_solve_prints_nothing(name: str, other: str) -> None:
    code = SOLVE.format(areas=str(DATA / "allocate_areas_synthetic.csv"), name=name,
                        other=other, msg=False)
    proc = python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert "HiGHS" not in proc.stderr and "Coin" not in proc.stderr
    assert "TOTAL 20000000" in proc.stderr


def test_solver_log_goes_to_stderr_when_asked() -> None:
    code = SOLVE.format(areas=str(DATA / "allocate_areas_synthetic.csv"), name="highs",
                        other="cbc", msg=True)
    proc = python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert "Objective value" in proc.stderr  # HiGHS's log
    assert "Coin" in proc.stderr  # CBC's log (the cross-check)


def test_version_lookup_prints_nothing() -> None:
    proc = python("from allocator.provenance import collect_versions; "
                  "import sys; sys.stderr.write(collect_versions()['HiGHS'])")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.count(".") == 2
