"""Atomic run directories: nothing half-written, nothing overwritten."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from allocator.errors import OutputError
from allocator.rundir import TMP_PREFIX, atomic_run_dir, safe_name, sweep_stale


def test_success_renames_into_place(tmp_path: Path) -> None:
    with atomic_run_dir(tmp_path, "2026-01-01-cfg-abc") as (tmp, final):
        (tmp / "a.txt").write_text("x")
        assert not (tmp_path / "2026-01-01-cfg-abc").exists()
    assert final == [tmp_path / "2026-01-01-cfg-abc"]
    assert (final[0] / "a.txt").read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["2026-01-01-cfg-abc"]


def test_error_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_run_dir(tmp_path, "run") as (tmp, _):
        (tmp / "half.csv").write_text("code\n")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_existing_run_is_never_overwritten(tmp_path: Path) -> None:
    earlier = tmp_path / "run"
    earlier.mkdir()
    (earlier / "allocation.csv").write_text("published")
    with atomic_run_dir(tmp_path, "run") as (tmp, final):
        (tmp / "allocation.csv").write_text("new")
    assert final[0].name == "run-2"
    assert (earlier / "allocation.csv").read_text() == "published"
    assert (final[0] / "allocation.csv").read_text() == "new"


def test_read_only_location_is_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root ignores permission bits; a file where the folder should be is refused for everyone
        blocker = tmp_path / "outputs"
        blocker.write_text("not a folder")
        with pytest.raises(OutputError, match="not a folder|cannot create"), atomic_run_dir(blocker, "run"):
            pass
        return
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="not writable"), atomic_run_dir(ro, "run"):
            pass
    finally:
        ro.chmod(0o700)


def test_stale_temp_dirs_of_dead_processes_are_swept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    stale = tmp_path / f"{TMP_PREFIX}{pid}-abcd"
    stale.mkdir()
    mine = tmp_path / f"{TMP_PREFIX}{os.getpid()}-live"
    mine.mkdir()
    removed = sweep_stale(tmp_path)
    assert removed == [stale]
    assert mine.exists()


def test_killed_run_leaves_no_run_directory(tmp_path: Path) -> None:
    """SIGTERM mid-write: the temporary folder is removed and no run directory appears."""
    script = textwrap.dedent(
        f"""
        import time, sys
        from allocator.rundir import atomic_run_dir
        with atomic_run_dir({str(tmp_path)!r}, "run") as (tmp, final):
            (tmp / "allocation.csv").write_text("half")
            print("writing", flush=True)
            time.sleep(30)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    proc.terminate()
    proc.wait(timeout=20)
    assert proc.returncode != 0
    assert list(tmp_path.iterdir()) == []


def test_safe_name() -> None:
    assert safe_name("2026-11-23-ssmtrg-2022-25-ab12") == "2026-11-23-ssmtrg-2022-25-ab12"
    assert safe_name("../../etc/passwd") == "etc-passwd"
    assert "/" not in safe_name("a/b\\c")
