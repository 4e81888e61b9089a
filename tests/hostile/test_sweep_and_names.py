"""Issue 14, faults, through the command line: a live run's temp folder in a shared output folder
is never swept by a run from another container, a dead one of this machine is, and a dangling
symlink at the run directory's name costs nothing but the ``-2`` suffix.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from allocator.rundir import LOCK_SUFFIX, STALE_AFTER_SECONDS, TMP_PREFIX, owner

from .helpers import DATA_DIR, Outputs, run_cli

pytestmark = pytest.mark.skipif(DATA_DIR is None, reason="shared/geodata not present")


def _temp_folder(parent: Path, name: str, **record: object) -> Path:
    """A temp run folder with a lock as another process would leave it, 10 minutes old."""
    folder = parent / f"{TMP_PREFIX}{name}"
    folder.mkdir()
    (folder / "allocation.csv").write_text("half written")
    lock = parent / (folder.name + LOCK_SUFFIX)
    lock.write_text(json.dumps({**owner(), **record}))
    old = time.time() - max(600, STALE_AFTER_SECONDS + 1)
    os.utime(lock, (old, old))
    return folder


def test_a_run_from_another_container_keeps_its_temp_folder(outputs: Outputs):
    """Same host name and boot (containers share the kernel), another PID namespace: its PID
    means nothing here, so the folder is not provably abandoned and must survive."""
    live = _temp_folder(outputs.path, "other-container", pid=2**22 + 7, pid_ns="pid:[4026599999]")
    other_host = _temp_folder(outputs.path, "other-host", pid=2**22 + 8, host="another-machine")
    dead = _temp_folder(outputs.path, "dead", pid=2**22 + 9)  # this namespace, no such process
    res = run_cli("run", outputs.base.config, "--data-dir", DATA_DIR, "--out", outputs.path,
                  "--quiet")
    assert res.returncode == 0, res.stderr
    assert (live / "allocation.csv").read_text() == "half written"
    assert other_host.is_dir()
    assert not dead.exists() and not (outputs.path / (dead.name + LOCK_SUFFIX)).exists()


def test_dangling_symlink_at_the_run_name_takes_the_next_suffix(outputs: Outputs, tmp_path: Path):
    out = tmp_path / "fresh"
    out.mkdir()
    name = outputs.base.run_dir.name  # what the same config on the same day is called
    (out / name).symlink_to(tmp_path / "nowhere")
    res = run_cli("run", outputs.base.config, "--data-dir", DATA_DIR, "--out", out, "--quiet")
    assert res.returncode == 0, res.stderr
    assert f"run directory: {out / (name + '-2')}" in res.stdout
    assert (out / f"{name}-2" / "manifest.json").is_file()
    assert (out / name).is_symlink() and not (out / name).exists()
    assert sorted(p.name for p in out.iterdir()) == [name, f"{name}-2"]
