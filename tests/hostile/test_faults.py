"""Faults: runs killed half way, runs started together, outputs that exist or cannot be written,
a missing solver, a tampered published run.

Runs that must be killed or raced are real ``allocator run`` subprocesses. Every case checks that
no partial run directory is left visible, hidden temporary folders of dead processes are swept by
the next run, and the previous run is byte-for-byte intact.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pulp
import pytest

from allocator.allocate import AllocationProblem
from allocator.errors import SolverError
from allocator.rundir import LOCK_SUFFIX, STALE_AFTER_SECONDS

from .helpers import (
    DATA_DIR,
    REPO_ROOT,
    Outputs,
    assert_clean_error,
    cli_args,
    cli_env,
    run_cli,
    snapshot,
    temp_dirs,
    write_config,
)

pytestmark = pytest.mark.skipif(DATA_DIR is None, reason="shared/geodata not present")


class Background:
    """An ``allocator`` subprocess whose stdout/stderr go to files (no pipe can fill up)."""

    def __init__(self, tmp_path: Path, tag: str, *args: object) -> None:
        self.out = tmp_path / f"{tag}.stdout"
        self.err = tmp_path / f"{tag}.stderr"
        with open(self.out, "w") as o, open(self.err, "w") as e:
            self.proc = subprocess.Popen(cli_args(*args), stdout=o, stderr=e, env=cli_env(),
                                         cwd=REPO_ROOT)

    @property
    def stderr(self) -> str:
        return self.err.read_text()

    def wait(self, timeout: float = 300) -> int:
        return self.proc.wait(timeout=timeout)

    def wait_until(self, condition, what: str, timeout: float = 240) -> None:  # type: ignore[no-untyped-def]
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return
            if self.proc.poll() is not None:
                pytest.fail(f"the run ended (exit {self.proc.returncode}) before {what}:\n"
                            f"{self.stderr}")
            time.sleep(0.02)
        self.proc.kill()
        pytest.fail(f"timed out waiting for {what}")


def _writing(parent: Path) -> bool:
    """A hidden temp run directory exists and holds at least one file."""
    return any(any(d.iterdir()) for d in temp_dirs(parent))


@pytest.fixture
def slow_config(tmp_path: Path) -> Path:
    """Every output on (static maps included), so writing takes long enough to be interrupted."""
    return write_config(tmp_path / "slow.yaml", fast=False)


# ----------------------------------------------------------------------------- killed
def test_sigterm_while_writing_leaves_nothing_and_the_previous_run_intact(
        tmp_path, outputs: Outputs, slow_config):
    bg = Background(tmp_path, "run", "run", slow_config, "--data-dir", DATA_DIR,
                    "--out", outputs.path, "--quiet")
    bg.wait_until(lambda: _writing(outputs.path), "it started writing outputs")
    bg.proc.send_signal(signal.SIGTERM)
    code = bg.wait(60)
    seen = f"exit {code}; entries {outputs.entries()}; stderr:\n{bg.stderr}"
    assert code == 130, seen
    assert "Traceback" not in bg.stderr, seen
    assert "interrupted; nothing was written" in bg.stderr, seen
    outputs.assert_unchanged()


def test_sigterm_while_computing_leaves_nothing(tmp_path, outputs: Outputs, slow_config):
    bg = Background(tmp_path, "run", "run", slow_config, "--data-dir", DATA_DIR,
                    "--out", outputs.path)
    bg.wait_until(lambda: "building the need index" in bg.stderr, "it built the index")
    bg.proc.send_signal(signal.SIGTERM)
    assert bg.wait(60) != 0
    assert "Traceback" not in bg.stderr
    outputs.assert_unchanged()


def test_sigkill_leaves_only_a_hidden_temp_dir_that_the_next_run_sweeps(
        tmp_path, outputs: Outputs, slow_config):
    bg = Background(tmp_path, "run", "run", slow_config, "--data-dir", DATA_DIR,
                    "--out", outputs.path, "--quiet")
    bg.wait_until(lambda: _writing(outputs.path), "it started writing outputs")
    bg.proc.send_signal(signal.SIGKILL)
    assert bg.wait(60) == -signal.SIGKILL
    (stale,) = temp_dirs(outputs.path)
    assert stale.name.startswith(".")  # hidden: never mistaken for a run directory
    visible = [n for n in outputs.entries() if not n.startswith(".")]
    assert visible == [outputs.base.run_dir.name]
    before = {k: v for k, v in snapshot(outputs.path).items() if not k.startswith(stale.name)}
    assert before == outputs.before
    # a dead owner's folder is swept only once its lock is STALE_AFTER_SECONDS old
    lock = stale.with_name(stale.name + LOCK_SUFFIX)
    assert lock.is_file()
    old = time.time() - STALE_AFTER_SECONDS - 1
    os.utime(lock, (old, old))

    res = run_cli("run", outputs.base.config, "--data-dir", DATA_DIR, "--out", outputs.path,
                  "--quiet")
    assert res.returncode == 0, res.stderr
    assert temp_dirs(outputs.path) == []
    assert outputs.new_entries() == [outputs.base.run_dir.name + "-2"]
    assert {k: v for k, v in snapshot(outputs.path).items()
            if k.startswith(outputs.base.run_dir.name + "/")} == outputs.before


# ----------------------------------------------------------------------------- collisions
def test_existing_run_directory_is_never_overwritten(outputs: Outputs):
    res = run_cli("run", outputs.base.config, "--data-dir", DATA_DIR, "--out", outputs.path,
                  "--quiet")
    assert res.returncode == 0, res.stderr
    name = outputs.base.run_dir.name
    assert outputs.new_entries() == [f"{name}-2"]
    assert f"run directory: {outputs.path / (name + '-2')}" in res.stdout
    now = snapshot(outputs.path)
    assert {k: v for k, v in now.items() if k.startswith(name + "/")} == outputs.before
    # same inputs, same bytes: the second run is a byte-identical twin of the first
    twin = {k.replace(f"{name}-2/", f"{name}/", 1): v for k, v in now.items()
            if k.startswith(f"{name}-2/")}
    assert twin == {k: v for k, v in outputs.before.items() if k.startswith(name + "/")}


def test_two_runs_started_at_once_get_distinct_complete_directories(tmp_path, outputs: Outputs):
    runs = [Background(tmp_path, f"run{i}", "run", outputs.base.config, "--data-dir", DATA_DIR,
                       "--out", outputs.path, "--quiet") for i in (1, 2)]
    codes = [r.wait(300) for r in runs]
    assert codes == [0, 0], [r.stderr for r in runs]
    name = outputs.base.run_dir.name
    assert outputs.new_entries() == [f"{name}-2", f"{name}-3"]
    assert temp_dirs(outputs.path) == []
    printed = sorted(r.out.read_text().split("run directory: ")[1].strip() for r in runs)
    assert printed == [str(outputs.path / f"{name}-2"), str(outputs.path / f"{name}-3")]
    now = snapshot(outputs.path)
    prev = {k: v for k, v in outputs.before.items() if k.startswith(name + "/")}
    assert {k: v for k, v in now.items() if k.startswith(name + "/")} == prev
    for suffix in ("-2", "-3"):
        twin = {k.replace(f"{name}{suffix}/", f"{name}/", 1): v for k, v in now.items()
                if k.startswith(f"{name}{suffix}/")}
        assert twin == prev


# ----------------------------------------------------------------------------- read-only
def test_output_location_below_a_file(tmp_path):
    blocker = tmp_path / "outputs"
    blocker.write_text("a file where the folder should be")
    res = run_cli("run", write_config(tmp_path / "c.yaml"), "--data-dir", DATA_DIR,
                  "--out", blocker / "runs", "--quiet")
    assert_clean_error(res, "cannot create the output folder", str(blocker / "runs"))
    assert blocker.read_text() == "a file where the folder should be"


def test_output_location_is_a_file(tmp_path):
    blocker = tmp_path / "outputs"
    blocker.write_text("a file where the folder should be")
    res = run_cli("run", write_config(tmp_path / "c.yaml"), "--data-dir", DATA_DIR,
                  "--out", blocker, "--quiet")
    assert_clean_error(res, str(blocker), "exists and is not a folder", "--out DIR")
    assert blocker.read_text() == "a file where the folder should be"


@pytest.fixture
def immutable(outputs: Outputs):  # type: ignore[no-untyped-def]
    """The outputs folder made read-only even for root (``chattr +i``)."""
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("chattr not available; tests run as root, so permission bits cannot "
                    "make a folder read-only")
    done = subprocess.run([chattr, "+i", str(outputs.path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i not supported here: {done.stderr.decode().strip()}")
    try:
        probe = outputs.path / "probe"
        with pytest.raises(OSError):
            probe.mkdir()
        yield outputs
    finally:
        subprocess.run([chattr, "-i", str(outputs.path)], check=True)


def test_read_only_output_folder(tmp_path, immutable: Outputs):
    res = run_cli("run", immutable.base.config, "--data-dir", DATA_DIR, "--out", immutable.path,
                  "--quiet")
    assert_clean_error(res, str(immutable.path), "not writable", "--out DIR")
    immutable.assert_unchanged()


def test_unwritable_output_location_is_reported_before_computing(tmp_path):
    blocker = tmp_path / "outputs"
    blocker.write_text("a file where the folder should be")
    res = run_cli("run", write_config(tmp_path / "c.yaml"), "--data-dir", DATA_DIR,
                  "--out", blocker / "runs")
    assert_clean_error(res, "cannot create the output folder")
    assert "loading and checking the source data" not in res.stderr


# ----------------------------------------------------------------------------- solver
def _areas() -> pd.DataFrame:
    """SYNTHETIC: six invented LAs."""
    n = 6
    return pd.DataFrame({
        "code": [f"E06{i:06d}" for i in range(1, n + 1)],
        "name": [f"Synthetic LA {i}" for i in range(1, n + 1)],
        "region": "North East",
        "pop_all": np.arange(1, n + 1) * 10_000,
        "pop_15_64": np.arange(1, n + 1) * 6_400,
        "need_factor": 1.0,
        "wave": 1,
    })


@pytest.fixture
def no_cbc(monkeypatch):  # type: ignore[no-untyped-def]
    """PuLP's bundled CBC binary is gone (as after a broken install)."""
    from allocator.allocate import quiet

    monkeypatch.setattr(quiet, "bundled_cbc", lambda: "/nonexistent/cbc")
    assert not quiet.QuietCBC(msg=False).available()


def test_missing_cbc_is_a_solver_error_that_says_what_to_do(no_cbc):
    cfg = {"streams": {"c": {"budget": {"2022-23": 1_000_000}}}, "solver": {"name": "cbc"}}
    with pytest.raises(SolverError) as exc:
        AllocationProblem.from_config(cfg, _areas(), explain_marginal=False).solve()
    msg = str(exc.value)
    assert "'cbc' is not available" in msg and "solver.name: highs" in msg


def test_missing_highs_is_a_solver_error_that_says_what_to_do(monkeypatch):
    # HiGHS is called directly through highspy (and through PuLP for model files): neither
    monkeypatch.setattr(pulp.HiGHS, "available", lambda self: False)
    monkeypatch.setitem(sys.modules, "highspy", None)
    cfg = {"streams": {"c": {"budget": {"2022-23": 1_000_000}}}}
    with pytest.raises(SolverError) as exc:
        AllocationProblem.from_config(cfg, _areas(), explain_marginal=False).solve()
    msg = str(exc.value)
    assert "'highs' is not available" in msg and "highspy" in msg and "solver.name: cbc" in msg


def test_missing_cross_check_solver_fails_the_run_cleanly(no_cbc, outputs: Outputs):
    """The published config cross-checks HiGHS with CBC: without CBC the run stops, cleanly."""
    res = run_cli("run", outputs.base.config, "--data-dir", DATA_DIR, "--out", outputs.path)
    assert_clean_error(res, "'cbc' is not available", "solver.name")
    outputs.assert_unchanged()


def test_solvers_that_disagree_fail_the_run_cleanly(monkeypatch, outputs: Outputs):
    """CBC (the cross-check) reports a policy optimum £1,000 below HiGHS's: the run stops."""
    import dataclasses

    from allocator.allocate import problem as problem_mod
    from allocator.allocate.staged import staged_solve_matrix

    def lower(lp, units, cfg, name=None, **kw):  # type: ignore[no-untyped-def]
        r = staged_solve_matrix(lp, units, cfg, name, **kw)
        if (name or cfg.name) != "cbc":
            return r
        return dataclasses.replace(r, objectives={**r.objectives,
                                                  "policy": r.objectives["policy"] - 1_000})

    monkeypatch.setattr(problem_mod, "staged_solve_matrix", lower)
    res = run_cli("run", outputs.base.config, "--data-dir", DATA_DIR, "--out", outputs.path)
    assert_clean_error(res, "cross-check failed", "policy stage optimum HiGHS", "CBC's is lower")
    outputs.assert_unchanged()


# ----------------------------------------------------------------------------- published runs
def test_tampered_published_run_fails_replay_with_exit_3(outputs: Outputs):
    table = outputs.previous / "allocation.csv"
    text = table.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("E06000001,"))
    header = next(line for line in text.splitlines() if not line.startswith("#")).split(",")
    cells = row.split(",")
    j = header.index("total")
    cells[j] = str(int(cells[j]) + 1000)
    table.write_text(text.replace(row, ",".join(cells)), encoding="utf-8")
    edited = snapshot(outputs.path)
    res = run_cli("replay", outputs.previous / "manifest.json", "--data-dir", DATA_DIR)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert "allocation.csv" in res.stdout and "edited after the run" in res.stdout
    assert snapshot(outputs.path) == edited  # replay wrote nothing into the published folder


def test_replay_of_a_missing_manifest(tmp_path):
    res = run_cli("replay", tmp_path / "run" / "manifest.json")
    assert_clean_error(res, "manifest not found", str(tmp_path / "run" / "manifest.json"))


def test_explain_an_la_that_is_not_in_the_run(outputs: Outputs):
    res = run_cli("explain", outputs.previous, "Gotham")
    assert_clean_error(res, "no LA with code or name 'Gotham'")
    outputs.assert_unchanged()


def test_compare_map_never_overwrites(tmp_path, outputs: Outputs):
    target = tmp_path / "compare.html"
    target.write_text("the minister's copy")
    res = run_cli("map", "--compare", outputs.previous, outputs.previous, "--out", target)
    assert_clean_error(res, str(target), "already exists", "never overwritten")
    assert target.read_text() == "the minister's copy"
    outputs.assert_unchanged()


def test_process_level_error_has_no_traceback(tmp_path):
    """The same friendly error from a real process (not the in-process test runner)."""
    from .helpers import run_cli_process

    res = run_cli_process("run", tmp_path / "typo.yaml", "--data-dir", DATA_DIR)
    assert_clean_error(res, "config file not found")
    assert os.listdir(tmp_path) == []
