"""allocator._background.BackgroundCall: a result or an exception collected later, in a daemon
thread that never holds up a caller that stops early."""

from __future__ import annotations

import threading

import pytest

from allocator._background import BackgroundCall


def test_result_and_arguments() -> None:
    call = BackgroundCall(lambda a, b: (a + b, threading.current_thread().name), 2, 3)
    value, name = call.result()
    assert value == 5 and name.startswith("allocator-")
    assert call.thread_.daemon


def test_the_exception_is_raised_by_result() -> None:
    def boom() -> None:
        raise KeyError("no such column")

    call = BackgroundCall(boom)
    with pytest.raises(KeyError, match="no such column"):
        call.result()


def test_runs_while_the_caller_works() -> None:
    started, release = threading.Event(), threading.Event()

    def wait() -> str:
        started.set()
        assert release.wait(10)
        return "done"

    call = BackgroundCall(wait)
    assert started.wait(10)  # running before result() is asked for
    assert call.thread_.is_alive()
    release.set()
    assert call.result() == "done"


# ---------------------------------------------------------------- allocator._forking.ForkedCall
needs_fork = pytest.mark.skipif(not __import__("allocator._forking")._forking.can_fork(),
                                reason="no fork on this platform")


@needs_fork
def test_forked_call_returns_the_value_computed_in_another_process() -> None:
    import os

    import numpy as np

    from allocator._forking import ForkedCall

    data = np.arange(1_000_000)  # seen by the child as it is, not pickled there
    call = ForkedCall(lambda a: (int(data.sum()) + a, os.getpid()), 5)
    value, pid = call.result()
    assert value == 499_999_500_005 and pid != os.getpid()
    assert not call.process_.is_alive()


@needs_fork
def test_forked_call_raises_the_childs_exception_with_its_type() -> None:
    from allocator._forking import ForkedCall
    from allocator.errors import ConfigError

    def boom() -> None:
        raise ConfigError("uncertainty.draws: must be at least 1")

    with pytest.raises(ConfigError, match="uncertainty.draws"):
        ForkedCall(boom).result()


@needs_fork
def test_forked_call_killed_child_is_an_error_not_a_hang() -> None:
    import os
    import signal

    from allocator._forking import ForkedCall
    from allocator.errors import OutputError

    # killed (the kernel's out-of-memory killer, a user): one error naming the process and the
    # signal; it was a RuntimeError, which the command line called a bug in allocator
    call = ForkedCall(lambda: __import__("time").sleep(30), what="the Monte Carlo process")
    os.kill(call.process_.pid, signal.SIGKILL)
    with pytest.raises(OutputError, match=r"the Monte Carlo process ended unexpectedly \(killed "
                       r"by SIGKILL.*out of memory"):
        call.result()


@needs_fork
def test_forked_call_answer_that_does_not_pickle_is_an_error() -> None:
    from allocator._forking import ForkedCall

    with pytest.raises(RuntimeError, match="cannot be sent"):
        ForkedCall(lambda: threading.Lock()).result()


def test_the_pipeline_forks_only_without_other_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    from allocator._forking import ForkedCall, beside, can_fork

    call = beside(lambda: 1)
    assert call.result() == 1
    assert isinstance(call, ForkedCall) == can_fork()
    release = threading.Event()
    other = threading.Thread(target=release.wait, daemon=True)  # as in a notebook kernel
    other.start()
    try:
        call = beside(lambda: 2)
        assert isinstance(call, BackgroundCall) and call.result() == 2
    finally:
        release.set()


@needs_fork
@pytest.mark.skipif(__import__("allocator.paths").paths.default_data_dir() is None,
                    reason="the official data (../shared/geodata) is not present")
def test_the_runs_monte_carlo_is_the_same_forked_or_in_a_thread() -> None:
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from allocator import pipeline
    from allocator._forking import ForkedCall
    from allocator.config import load_config

    config = load_config(Path(__file__).resolve().parents[1] / "configs" / "ssmtrg-2022-25.yaml")
    config = config.model_copy(update={"uncertainty": config.uncertainty.model_copy(
        update={"draws": 300})})
    _, areas = pipeline.prepare(config)
    forked = ForkedCall(pipeline._uncertainty, config, areas.frame, False).result()
    threaded = BackgroundCall(pipeline._uncertainty, config, areas.frame, False).result()
    assert np.array_equal(forked[0].ranks_, threaded[0].ranks_)
    assert np.array_equal(forked[0].waves_, threaded[0].waves_)
    pd.testing.assert_frame_equal(forked[0].results_, threaded[0].results_)
    pd.testing.assert_frame_equal(forked[1].indices_, threaded[1].indices_)


@needs_fork
def test_forked_call_keeps_the_childs_traceback_as_a_note() -> None:
    from allocator._forking import ForkedCall

    def deep_failure() -> None:
        raise KeyError("imd_score")

    with pytest.raises(KeyError) as info:
        ForkedCall(deep_failure).result()
    assert "deep_failure" in "".join(getattr(info.value, "__notes__", []))


class Unrebuildable(Exception):
    """Pickles, but cannot be rebuilt (as C-extension errors once tblib is installed)."""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_cannot_rebuild, (str(self),))


def _cannot_rebuild(message: str) -> None:
    raise AttributeError("property 'args' of 'CPLE_OpenFailedError' object has no setter")


@needs_fork
def test_forked_call_error_that_cannot_be_rebuilt_arrives_as_a_readable_error() -> None:
    from allocator._forking import ForkedCall
    from allocator.errors import OutputError

    def fail() -> None:
        raise Unrebuildable("no such file: hexes.gpkg")

    with pytest.raises(OutputError,
                       match="a forked computation failed: Unrebuildable: no such file: hexes.gpkg"):
        ForkedCall(fail).result()


@needs_fork
def test_an_interrupt_during_the_fork_is_raised_in_the_caller_not_dropped() -> None:
    import subprocess
    import sys

    # the interrupt arrives while fork runs its at-fork handlers (as when a user presses
    # Ctrl-C at that moment); it must reach the caller, not be printed as ignored and lost
    code = ("import os, signal\n"
            "from allocator._forking import ForkedCall\n"
            "os.register_at_fork(after_in_parent=lambda: os.kill(os.getpid(), signal.SIGINT))\n"
            "try:\n"
            "    ForkedCall(lambda: 1)\n"
            "except KeyboardInterrupt:\n"
            "    print('interrupt raised in the caller')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "interrupt raised in the caller", out
    assert "Exception ignored" not in out.stderr, out.stderr


def _big_answer() -> bytes:
    return b"x" * 2_000_000  # more than a pipe holds: the child waits for a reader


@needs_fork
def test_a_forked_call_never_asked_for_its_result_ends_on_cancel() -> None:
    from allocator._forking import ForkedCall

    call = ForkedCall(_big_answer)
    call.cancel()
    assert not call.process_.is_alive() and call.process_.exitcode is not None
    call.cancel()  # twice is harmless


@needs_fork
@pytest.mark.skipif(__import__("allocator.paths").paths.default_data_dir() is None,
                    reason="the official data (../shared/geodata) is not present")
def test_a_run_that_fails_beside_its_monte_carlo_leaves_no_process(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # from Python (a script trying configs, no other thread), a solve that failed left the
    # Monte Carlo process behind, blocked for ever writing an answer nobody would read
    import multiprocessing
    import time
    from pathlib import Path

    from allocator import pipeline
    from allocator.allocate.problem import AllocationProblem
    from allocator.config import load_config

    if threading.active_count() != 1:
        pytest.skip("another thread runs here: the Monte Carlo would run in a thread")

    def solve(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the solver failed")

    monkeypatch.setattr(pipeline, "_uncertainty", lambda *args: time.sleep(120))
    monkeypatch.setattr(AllocationProblem, "solve", solve)
    config = load_config(Path(__file__).resolve().parents[1] / "configs" / "ssmtrg-2022-25.yaml")
    before = set(multiprocessing.active_children())
    with pytest.raises(RuntimeError, match="the solver failed"):
        pipeline.run(config)
    assert set(multiprocessing.active_children()) - before == set()
