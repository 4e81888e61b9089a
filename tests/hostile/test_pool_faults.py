"""``allocator uncertainty --workers 2``: a local worker killed (by hand, or by the out-of-memory
killer) is an error saying so, not a wait that never ends; an interrupt while the workers are
being started, or the command killed outright, leaves no worker (nor their fork server)
running after it.

Real ``allocator`` processes: the workers are forked by multiprocessing's fork server, itself a
child of the command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import DATA_DIR, REPO_ROOT, Baseline, child_pids, cli_args, cli_env

pytestmark = pytest.mark.skipif(DATA_DIR is None, reason="shared/geodata not present")


def _session(sid: int) -> list[str]:
    """Processes still running in session ``sid`` (not zombies)."""
    ps = subprocess.run(["ps", "-e", "-o", "pid=,sid=,stat=,args="], capture_output=True,
                        text=True, check=True).stdout
    return [line for line in ps.splitlines()
            if int(line.split()[1]) == sid and not line.split()[2].startswith("Z")]


class _Uncertainty:
    """``allocator uncertainty RUN --workers 2`` in its own session (to find its processes)."""

    def __init__(self, tmp_path: Path, run_dir: Path) -> None:
        exe = Path(sys.executable).with_name("allocator")
        args = ["uncertainty", run_dir, "--draws", 1000, "--workers", 2, "--data-dir", DATA_DIR,
                "--out", tmp_path / "out"]
        argv = [str(exe), *map(str, args)] if exe.is_file() else cli_args(*args)
        self.out = tmp_path / "out"
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=cli_env(None), cwd=REPO_ROOT,
                                     start_new_session=True)

    def server_with(self, n: int) -> int:
        """The fork server's PID once it has forked ``n`` workers."""
        end = time.monotonic() + 240
        while time.monotonic() < end and self.proc.poll() is None:
            server = next((c for c in child_pids(self.proc.pid) if len(child_pids(c)) >= n), None)
            if server is not None:
                return server
            time.sleep(0.002)
        pytest.fail(f"no fork server with {n} workers: {self.finish()}")

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            _, err = self.proc.communicate()
            pytest.fail(f"still running after {timeout} s\nstderr:\n{err}")
        return self.proc.returncode, err

    def left(self) -> list[str]:
        """Processes of the command still running a moment after it ended (killed here)."""
        end = time.monotonic() + 5
        while (left := _session(self.proc.pid)) and time.monotonic() < end:
            time.sleep(0.1)
        for line in left:
            os.kill(int(line.split()[0]), signal.SIGKILL)
        return left


def test_a_killed_worker_is_an_error_not_a_wait_for_ever(tmp_path: Path, baseline: Baseline):
    unc = _Uncertainty(tmp_path, baseline.run_dir)
    server = unc.server_with(2)
    time.sleep(0.5)  # both compute (1,000 draws take them many seconds)
    os.kill(child_pids(server)[0], signal.SIGKILL)
    code, err = unc.finish()
    assert code == 2, err
    assert "error: a worker process of the Monte Carlo ended unexpectedly (killed by SIGKILL" in err
    assert "Traceback" not in err
    assert not unc.out.exists() or list(unc.out.iterdir()) == []
    assert unc.left() == []


def test_an_interrupt_while_the_workers_start_leaves_none_running(tmp_path: Path,
                                                                  baseline: Baseline):
    """The moment the first worker exists, before the pool has it in its list: it used to be
    left to fail with a traceback on the command's stderr (or to wait for ever for work)."""
    unc = _Uncertainty(tmp_path, baseline.run_dir)
    unc.server_with(1)
    unc.proc.send_signal(signal.SIGINT)
    code, err = unc.finish()
    assert code == 130, err
    assert "error: interrupted; nothing was written" in err and "Traceback" not in err
    assert unc.left() == []


def test_a_killed_command_leaves_no_worker_running(tmp_path: Path, baseline: Baseline):
    unc = _Uncertainty(tmp_path, baseline.run_dir)
    unc.server_with(2)
    time.sleep(0.5)
    unc.proc.kill()
    unc.finish()
    assert unc.left() == []
