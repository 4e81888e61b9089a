"""Issue 14, faults: SIGTERM and SIGINT at any moment give exit 130 and the message (also in the
first second and a half, while the command is still importing); replay's temporary folders are
removed on every exit path, and those of a killed replay are swept like run folders.

These are real ``allocator`` processes (signals cannot be tested in-process).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from allocator.rundir import LOCK_SUFFIX, REPLAY_PREFIX, STALE_AFTER_SECONDS, owner

from .helpers import DATA_DIR, REPO_ROOT, Baseline, cli_args, cli_env, write_config

pytestmark = pytest.mark.skipif(DATA_DIR is None, reason="shared/geodata not present")

MESSAGE = "error: interrupted; nothing was written"


def _catches(pid: int, sig: int) -> bool:
    """True once process ``pid`` has a handler for ``sig`` (SigCgt in /proc/PID/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    line = next((x for x in status.splitlines() if x.startswith("SigCgt:")), "SigCgt: 0")
    return bool(int(line.split()[1], 16) >> (sig - 1) & 1)


def _start(tmp_path: Path, *args: object, env: dict[str, str] | None = None) -> subprocess.Popen:
    """The ``allocator`` console script, as a user starts it (``python -m`` if not installed)."""
    exe = Path(sys.executable).with_name("allocator")
    argv = [str(exe), *[str(a) for a in args]] if exe.is_file() else cli_args(*args)
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env(env), cwd=REPO_ROOT)


def _wait_for_handlers(proc: subprocess.Popen) -> None:
    """Until the run can catch signals (while it is still importing)."""
    end = time.monotonic() + 60
    # the engine installs SIGINT, SIGTERM then SIGHUP; Python's own SIGINT handler is there earlier
    while not _catches(proc.pid, signal.SIGTERM) and proc.poll() is None and time.monotonic() < end:
        time.sleep(0.002)


@pytest.fixture(scope="module")
def run_seconds(tmp_path_factory: pytest.TempPathFactory) -> float:
    """How long an uninterrupted run of the test config lasts on this machine, from the moment
    it can catch signals (the second of two runs: the first builds the session's cache). The
    delays below are fractions of it, so the latest still lands inside the run on a machine
    faster than the one the test was written on (a fixed 2.5 s did not, once the run got
    faster)."""
    tmp = tmp_path_factory.mktemp("timed")
    cfg = write_config(tmp / "c.yaml", fast=False)
    took = 0.0
    for i in range(2):
        proc = _start(tmp, "run", cfg, "--data-dir", DATA_DIR, "--out", tmp / f"out{i}")
        _wait_for_handlers(proc)
        start = time.monotonic()
        _, stderr = proc.communicate(timeout=300)
        took = time.monotonic() - start
        assert proc.returncode == 0, stderr
    return took


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("fraction", [0.0, 0.08, 0.3, 0.7])
def test_signal_at_any_moment_of_a_run_is_exit_130(tmp_path: Path, sig: int, fraction: float,
                                                   run_seconds: float):
    """The signal comes ``fraction`` of a whole run's time after the process can first catch
    it (0: while it is still importing; 0.7: while it draws and writes its outputs); the run is
    interrupted at whatever it is doing then.

    A run that ends before the signal (this run faster than the timed one, on a busy machine)
    proves nothing either way: it is tried again with the signal a fifth sooner, up to 4 times.
    """
    # every output on (static maps too): the figures are drawn by forked processes
    cfg = write_config(tmp_path / "c.yaml", fast=False)
    ended: list[int] = []
    for attempt in range(4):
        out = tmp_path / f"out{attempt}"
        proc = _start(tmp_path, "run", cfg, "--data-dir", DATA_DIR, "--out", out)
        _wait_for_handlers(proc)
        time.sleep(fraction * run_seconds * 0.8**attempt)
        if proc.poll() is None:
            break
        proc.communicate()
        ended.append(proc.returncode)
    else:
        pytest.fail(f"every run ended before the signal: {ended}")
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    seen = f"exit {proc.returncode}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    assert proc.returncode == 130, seen
    assert MESSAGE in stderr, seen
    assert "Traceback" not in stderr, seen
    assert not out.exists() or [p.name for p in out.iterdir()] == [], seen


def test_sigterm_during_replay_removes_its_temp_folder(tmp_path: Path, baseline: Baseline):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    proc = _start(tmp_path, "replay", baseline.run_dir / "manifest.json", "--data-dir", DATA_DIR,
                  env={"TMPDIR": str(tmpdir)})
    end = time.monotonic() + 240
    while not list(tmpdir.glob(REPLAY_PREFIX + "*")) and time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert MESSAGE in stderr and "Traceback" not in stderr
    assert list(tmpdir.iterdir()) == []


def test_a_killed_replays_temp_folder_is_swept_by_the_next_replay(tmp_path: Path):
    """SIGKILL cannot be caught: the folder stays, with its lock, until a later replay finds its
    owner provably gone (same host, boot and PID namespace, PID dead, lock old enough)."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    killed = tmpdir / f"{REPLAY_PREFIX}killed"
    (killed / "run").mkdir(parents=True)
    lock = tmpdir / (killed.name + LOCK_SUFFIX)
    record = {**owner(), "pid": 2**22 + 12345}  # above pid_max's default: no such process
    lock.write_text(json.dumps(record))
    foreign = tmpdir / f"{REPLAY_PREFIX}foreign"
    foreign.mkdir()
    (tmpdir / (foreign.name + LOCK_SUFFIX)).write_text(json.dumps({**record, "pid_ns": "pid:[1]"}))
    old = time.time() - STALE_AFTER_SECONDS - 1
    for p in tmpdir.glob("*" + LOCK_SUFFIX):
        os.utime(p, (old, old))
    not_a_manifest = tmp_path / "manifest.json"
    not_a_manifest.write_text("42")
    proc = _start(tmp_path, "replay", not_a_manifest, env={"TMPDIR": str(tmpdir)})
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2, stderr
    assert not killed.exists() and not lock.exists()
    assert foreign.exists()  # another container's folder is never removed


def test_sigkill_during_replay_leaves_a_locked_folder_that_a_later_replay_sweeps(
        tmp_path: Path, baseline: Baseline):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {"TMPDIR": str(tmpdir)}
    proc = _start(tmp_path, "replay", baseline.run_dir / "manifest.json", "--data-dir", DATA_DIR,
                  env=env)
    end = time.monotonic() + 240
    while not list(tmpdir.glob(REPLAY_PREFIX + "*" + LOCK_SUFFIX)) and time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    proc.kill()
    proc.communicate(timeout=60)
    (lock,) = tmpdir.glob(REPLAY_PREFIX + "*" + LOCK_SUFFIX)
    folder = lock.with_name(lock.name[: -len(LOCK_SUFFIX)])
    assert folder.is_dir()
    not_a_manifest = tmp_path / "manifest.json"
    not_a_manifest.write_text("42")
    again = _start(tmp_path, "replay", not_a_manifest, env=env)
    again.communicate(timeout=120)
    assert folder.is_dir()  # the lock is younger than STALE_AFTER_SECONDS: kept
    old = time.time() - STALE_AFTER_SECONDS - 1
    os.utime(lock, (old, old))
    again = _start(tmp_path, "replay", not_a_manifest, env=env)
    again.communicate(timeout=120)
    assert again.returncode == 2
    assert list(tmpdir.iterdir()) == []


def _after_start(proc: subprocess.Popen, delay: float) -> None:
    _wait_for_handlers(proc)
    time.sleep(delay)
    assert proc.poll() is None, f"the run ended (exit {proc.returncode}) before the signal"


def test_the_terminal_closing_is_an_interrupt_too(tmp_path: Path, run_seconds: float):
    """SIGHUP (the terminal or the SSH session closed) cleans up like Ctrl-C; it used to end the
    run at once and leave its hidden temporary folder for a later run to sweep."""
    out = tmp_path / "out"
    proc = _start(tmp_path, "run", write_config(tmp_path / "c.yaml", fast=False),
                  "--data-dir", DATA_DIR, "--out", out)
    _after_start(proc, 0.5 * run_seconds)
    proc.send_signal(signal.SIGHUP)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert MESSAGE in stderr and "Traceback" not in stderr
    assert not out.exists() or list(out.iterdir()) == []


def test_a_run_started_with_nohup_goes_on_when_the_terminal_closes(tmp_path: Path,
                                                                   run_seconds: float):
    """A signal ignored when the run starts (``nohup``: SIGHUP) stays ignored, by the run and by
    every process it forks (the figures are drawn by one)."""
    out = tmp_path / "out"
    exe = Path(sys.executable).with_name("allocator")
    args = ["run", write_config(tmp_path / "c.yaml", fast=False), "--data-dir", DATA_DIR,
            "--out", out]
    argv = [str(exe), *map(str, args)] if exe.is_file() else cli_args(*args)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env(None), cwd=REPO_ROOT,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    _after_start(proc, 0.0)
    for _ in range(5):  # while it imports, computes, and draws
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.18 * run_seconds)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    [run] = list(out.iterdir())
    assert (run / "manifest.json").is_file() and (run / "map_wave.png").is_file()
