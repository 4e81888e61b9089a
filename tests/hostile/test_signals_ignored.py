"""A command started with SIGTERM ignored (``trap '' TERM``, some supervisors) keeps ignoring
it, yet still stops its own helper processes, which it stops with SIGTERM
(``Process.terminate``, ``Pool.terminate``): a helper that inherited the ignored SIGTERM could
not be stopped, and the command waited for it for ever.

Real ``allocator`` processes (signal dispositions are inherited through fork and exec).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import DATA_DIR, REPO_ROOT, Baseline, child_pids, cli_args, cli_env, write_config

pytestmark = pytest.mark.skipif(DATA_DIR is None, reason="shared/geodata not present")


def _ignoring_sigterm(*args: object) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("allocator")
    argv = [str(exe), *map(str, args)] if exe.is_file() else cli_args(*args)
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env(None), cwd=REPO_ROOT,
                            preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))


def _finish(proc: subprocess.Popen, timeout: float = 120) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"still running after {timeout} s (waiting for a helper that ignores "
                    f"SIGTERM?)\nstdout:\n{out}\nstderr:\n{err}")


def test_a_bad_config_ends_the_run_when_sigterm_is_ignored(tmp_path: Path):
    """The drawer is forked before the config is read, and stopped when it fails."""
    proc = _ignoring_sigterm("run", tmp_path / "missing.yaml", "--out", tmp_path / "out")
    _, stderr = _finish(proc, timeout=60)
    assert proc.returncode == 2, stderr
    assert "config file not found" in stderr


def test_an_ignored_sigterm_stays_ignored_while_the_run_writes(tmp_path: Path):
    """SIGTERM again and again, from the start to the end of the run (while it writes its
    directory too): the run ignores every one and writes the same directory as ever."""
    out = tmp_path / "out"
    proc = _ignoring_sigterm("run", write_config(tmp_path / "c.yaml"), "--data-dir", DATA_DIR,
                             "--out", out)
    end = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < end:
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.05)
    _, stderr = _finish(proc)
    assert proc.returncode == 0, stderr
    [run] = list(out.iterdir())
    assert (run / "manifest.json").is_file() and (run / "map.html").is_file()


def test_uncertainty_workers_stop_on_an_interrupt_when_sigterm_is_ignored(
        tmp_path: Path, baseline: Baseline):
    """Ctrl-C while two local workers compute: the pool is ended with SIGTERM, which its
    workers (forked by a server the command started) must not ignore."""
    out = tmp_path / "out"
    proc = _ignoring_sigterm("uncertainty", baseline.run_dir, "--draws", 1000, "--workers", 2,
                             "--data-dir", DATA_DIR, "--out", out)
    end = time.monotonic() + 240
    server = None
    while time.monotonic() < end and proc.poll() is None:  # the fork server and its 2 workers
        server = next((c for c in child_pids(proc.pid) if len(child_pids(c)) >= 2), None)
        if server is not None:
            break
        time.sleep(0.02)
    assert server is not None, _finish(proc)
    time.sleep(0.5)  # the pool has started both (a few ms); they compute for many seconds
    proc.send_signal(signal.SIGINT)
    _, stderr = _finish(proc, timeout=60)
    assert proc.returncode == 130, stderr
    assert "error: interrupted; nothing was written" in stderr and "Traceback" not in stderr
    assert not out.exists() or list(out.iterdir()) == []
