"""Fixtures of the hostile-input and fault catalogue (issue 10).

mirror
    A fresh mirror of the shared data directory in ``tmp_path`` (symlinks to every official
    file; a case replaces the one file it breaks by an edited copy, see
    :class:`tests.hostile.helpers.Mirror`).
baseline
    One real run (session scoped) that failing cases use as "the previous outputs".
outputs
    A private copy of the baseline's output folder; ``outputs.assert_unchanged()`` checks that a
    failed command left every byte, and the list of entries, as it was.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import (
    DATA_DIR,
    Baseline,
    Mirror,
    Outputs,
    make_mirror,
    run_cli,
    snapshot,
    write_config,
)


@pytest.fixture
def mirror(tmp_path: Path) -> Mirror:
    if DATA_DIR is None:
        pytest.skip("shared/geodata not present")
    return make_mirror(tmp_path / "geodata")


@pytest.fixture(scope="session")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    """One real run of the published config (200 draws, no static maps): 'the previous run'."""
    if DATA_DIR is None:
        pytest.skip("shared/geodata not present")
    root = tmp_path_factory.mktemp("baseline")
    cfg = write_config(root / "baseline.yaml")
    parent = root / "outputs"
    res = run_cli("run", cfg, "--data-dir", DATA_DIR, "--out", parent, "--quiet")
    assert res.returncode == 0, res.stderr
    (run_dir,) = [p for p in parent.iterdir() if not p.name.startswith(".")]
    return Baseline(cfg, parent, run_dir, snapshot(parent))


@pytest.fixture
def outputs(tmp_path: Path, baseline: Baseline) -> Outputs:
    return Outputs(tmp_path / "outputs", baseline)
