"""Atomic run directories: nothing half-written, nothing overwritten."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from allocator.errors import OutputError
from allocator.rundir import (
    LOCK_SUFFIX,
    STALE_AFTER_SECONDS,
    TMP_PREFIX,
    atomic_run_dir,
    owner,
    safe_name,
    sweep_stale,
)


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


def _dead_pid() -> int:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(dead.stdout)


def _locked(parent: Path, name: str, age: float = 3600, **record: object) -> Path:
    """A temp folder with a lock naming this host/boot/namespace, changed by ``record``."""
    folder = parent / name
    folder.mkdir()
    lock = parent / (name + LOCK_SUFFIX)
    lock.write_text(json.dumps({**owner(), **record}))
    old = time.time() - age
    os.utime(lock, (old, old))
    return folder


def test_stale_temp_dirs_of_dead_processes_are_swept(tmp_path: Path) -> None:
    stale = _locked(tmp_path, f"{TMP_PREFIX}1-abcd", pid=_dead_pid())
    mine = _locked(tmp_path, f"{TMP_PREFIX}2-live")  # this process: alive
    removed = sweep_stale(tmp_path)
    assert removed == [stale]
    assert not stale.exists() and not (tmp_path / (stale.name + LOCK_SUFFIX)).exists()
    assert mine.exists()


@pytest.mark.parametrize("record", [
    {"host": "another-machine"},
    {"boot_id": "00000000-0000-0000-0000-000000000000"},
    {"pid_ns": "pid:[1]"},  # another container on this machine: its PIDs are not ours to check
])
def test_temp_dirs_of_other_hosts_boots_or_containers_are_never_swept(tmp_path: Path, record) -> None:
    other = _locked(tmp_path, f"{TMP_PREFIX}3-other", pid=_dead_pid(), **record)
    assert sweep_stale(tmp_path) == []
    assert other.exists()


def test_a_recent_lock_or_no_lock_is_never_swept(tmp_path: Path) -> None:
    young = _locked(tmp_path, f"{TMP_PREFIX}4-young", age=STALE_AFTER_SECONDS / 2, pid=_dead_pid())
    bare = tmp_path / f"{TMP_PREFIX}5-nolock"
    bare.mkdir()
    garbled = _locked(tmp_path, f"{TMP_PREFIX}6-garbled")
    (tmp_path / (garbled.name + LOCK_SUFFIX)).write_text("{not json")
    os.utime(tmp_path / (garbled.name + LOCK_SUFFIX), (0, 0))
    assert sweep_stale(tmp_path) == []
    assert young.exists() and bare.exists() and garbled.exists()


def test_a_reused_pid_is_recognised_by_its_start_time(tmp_path: Path) -> None:
    reused = _locked(tmp_path, f"{TMP_PREFIX}7-reused", start="1")  # our PID, another start time
    assert sweep_stale(tmp_path) == [reused]


def test_dangling_symlink_at_the_run_name_takes_the_next_suffix(tmp_path: Path) -> None:
    (tmp_path / "run").symlink_to(tmp_path / "nowhere")
    with atomic_run_dir(tmp_path, "run") as (tmp, final):
        (tmp / "a.txt").write_text("x")
    assert final == [tmp_path / "run-2"]
    assert (tmp_path / "run-2" / "a.txt").read_text() == "x"
    assert (tmp_path / "run").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "run-2"]


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


def test_a_swallowed_interrupt_still_leaves_nothing(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A signal arrived but a library swallowed its KeyboardInterrupt, so the body ended
    normally: the run directory is not committed (the command then exits 130)."""
    from allocator import _signals

    monkeypatch.setitem(_signals._state, "received", 15)
    with pytest.raises(KeyboardInterrupt), atomic_run_dir(tmp_path, "run") as (tmp, final):
        (tmp / "a.csv").write_text("x", encoding="utf-8")
    assert list(tmp_path.iterdir()) == [] and final == []


@pytest.mark.parametrize("code", ["ENOSPC", "EDQUOT", "EROFS"])
def test_a_full_or_read_only_disk_while_writing_is_one_clear_error(tmp_path: Path, code: str) -> None:
    # a full disk while the tables were written was "unexpected internal error ... This is a bug"
    import errno

    num = getattr(errno, code)
    with pytest.raises(OutputError) as info, atomic_run_dir(tmp_path, "run") as (tmp, _):
        (tmp / "half.csv").write_text("code\n")
        raise OSError(num, os.strerror(num), str(tmp / "model_policy.lp"))
    text = str(info.value)
    assert str(tmp_path) in text and os.strerror(num) in text and "model_policy.lp" in text
    assert "nothing was written" in text
    assert list(tmp_path.iterdir()) == []


def test_other_os_errors_while_writing_are_not_relabelled(tmp_path: Path) -> None:
    import errno

    with pytest.raises(FileNotFoundError), atomic_run_dir(tmp_path, "run"):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "x")
    assert list(tmp_path.iterdir()) == []


def test_a_file_written_during_the_removal_is_removed_too(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A helper process that was killed a moment ago can still create a file while the folder
    is being removed (the interrupted run then said "partial outputs were removed" and left a
    hidden folder without a lock, which no sweep would ever remove)."""
    import shutil

    from allocator import rundir

    real, late = shutil.rmtree, []

    def rmtree_with_a_late_writer(path, ignore_errors=False):  # type: ignore[no-untyped-def]
        real(path, ignore_errors=ignore_errors)
        if not late:  # the late file lands after the removal's pass
            late.append(Path(path) / "map_wave.png")
            Path(path).mkdir()
            late[0].write_bytes(b"x")

    monkeypatch.setattr(rundir.shutil, "rmtree", rmtree_with_a_late_writer)
    with pytest.raises(RuntimeError), atomic_run_dir(tmp_path, "run") as (tmp, _):
        (tmp / "half.csv").write_text("code\n")
        raise RuntimeError("boom")
    assert late and list(tmp_path.iterdir()) == []


def test_a_folder_that_cannot_be_removed_keeps_its_lock_for_the_sweep(tmp_path: Path,
                                                                      monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from allocator import rundir

    monkeypatch.setattr(rundir.shutil, "rmtree", lambda path, ignore_errors=False: None)
    with pytest.raises(RuntimeError), atomic_run_dir(tmp_path, "run") as (tmp, _):
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == [tmp.name, tmp.name + LOCK_SUFFIX]


def test_sigterm_while_a_finalizer_runs_is_raised_after_it(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A SIGTERM handled while a ``__del__`` runs (zipfile.ZipFile's, as the workbook is
    written) was raised inside it: Python printed 'Exception ignored ... KeyboardInterrupt' with
    a traceback on stderr and dropped it. It is raised once the finalizer has returned."""
    import signal

    from allocator import _signals

    monkeypatch.setitem(_signals._state, "received", 0)
    ignored: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", ignored.append)

    class Finalized:
        def __del__(self) -> None:
            os.kill(os.getpid(), signal.SIGTERM)
            while not _signals.received():  # the handler runs here, inside __del__
                pass

    with pytest.raises(KeyboardInterrupt), atomic_run_dir(tmp_path, "run") as (tmp, final):
        (tmp / "a.csv").write_text("x", encoding="utf-8")
        obj = Finalized()
        del obj
        time.sleep(10)  # the interrupt, sent again once the finalizer has returned, ends this
    assert ignored == []
    assert list(tmp_path.iterdir()) == [] and final == []


def test_publish_file_never_writes_over_a_file(tmp_path: Path) -> None:
    from allocator.rundir import publish_file

    out = tmp_path / "rollup.csv"
    assert publish_file(out, lambda tmp: tmp.write_text("a\n")) == out
    assert out.read_text() == "a\n"
    with pytest.raises(OutputError, match="exists"):
        publish_file(out, lambda tmp: tmp.write_text("b\n"))
    assert out.read_text() == "a\n" and list(tmp_path.iterdir()) == [out]


def test_publish_file_keeps_a_file_that_appears_while_it_writes(tmp_path: Path) -> None:
    # (the compare map was renamed over it, and two commands writing the same --out shared
    # one temporary file)
    from allocator.rundir import publish_file

    out = tmp_path / "compare.html"

    def meanwhile(tmp: Path) -> None:
        tmp.write_text("mine\n")
        out.write_text("another command's\n")

    with pytest.raises(OutputError, match="appeared while it was being written"):
        publish_file(out, meanwhile)
    assert out.read_text() == "another command's\n" and list(tmp_path.iterdir()) == [out]


def test_publish_file_leaves_nothing_when_the_writer_fails(tmp_path: Path) -> None:
    from allocator.rundir import publish_file

    def half(tmp: Path) -> None:
        tmp.write_text("code,gr")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        publish_file(tmp_path / "r.csv", half)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["run directory", "temporary folder"])
def test_an_interrupt_while_a_folder_is_removed_is_acted_on_once_it_is_gone(
        tmp_path: Path, monkeypatch, where: str) -> None:  # type: ignore[no-untyped-def]
    """A signal that arrived while a temporary folder was being removed stopped the removal
    half way (KeyboardInterrupt raised inside it): the command said 'nothing was written' and
    left the folder (seen with CBC's folder in $TMPDIR when an amend was interrupted)."""
    import shutil
    import signal

    from allocator import _signals, rundir

    for key, value in _signals._state.items():  # a fresh command's state, as the CLI has it
        monkeypatch.setitem(_signals._state, key, type(value)())
    previous = signal.getsignal(signal.SIGTERM)
    _signals.install()
    real = shutil.rmtree

    def interrupted_half_way(path, ignore_errors=False):  # type: ignore[no-untyped-def]
        files = sorted(Path(path).iterdir())
        files[0].unlink()
        os.kill(os.getpid(), signal.SIGTERM)  # its handler runs at the next line of Python
        for _ in range(1000):
            pass
        real(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(rundir.shutil, "rmtree", interrupted_half_way)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    try:
        with pytest.raises(KeyboardInterrupt), _signals.interruptible():
            if where == "run directory":
                with atomic_run_dir(tmp_path, "run") as (tmp, _):
                    for name in ("a.csv", "b.csv"):
                        (tmp / name).write_text("x")
                    raise RuntimeError("a failed write")
            else:
                with rundir.temporary_folder("allocator-cbc-") as tmp:
                    for name in ("model.mps", "model.sol"):
                        (tmp / name).write_text("x")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert list(tmp_path.iterdir()) == []
