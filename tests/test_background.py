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
