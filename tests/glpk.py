"""Re-solve a model file with GLPK (``glpsol``, Debian's ``glpk-utils``): a solver the engine
does not use, so the stage models in a run directory are checked independently.

Skipped when ``glpsol`` is not installed, unless ``CI`` is set (then it must run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def glpsol() -> str:
    """Path of ``glpsol``; skip (or fail under CI) when it is missing."""
    exe = shutil.which("glpsol")
    if exe is None:
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail("CI is set but glpsol is not installed (apt-get install glpk-utils)")
        pytest.skip("glpsol not installed (apt-get install glpk-utils)")
    return exe


def glpk_objective(model: Path, tmp: Path) -> float:
    """GLPK's optimum of an LP (``.lp``, CPLEX format) or free MPS (``.mps``) file."""
    sol = tmp / (model.name + ".glpk.sol")
    fmt = "--lp" if model.suffix == ".lp" else "--freemps"
    proc = subprocess.run([glpsol(), fmt, str(model), "-w", str(sol)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OPTIMAL LP SOLUTION FOUND" in proc.stdout, proc.stdout
    for line in sol.read_text().splitlines():
        if line.startswith("s bas "):
            *_, primal, dual, value = line.split()
            assert (primal, dual) == ("f", "f"), line
            return float(value)
    raise AssertionError(f"no solution line in {sol}")
