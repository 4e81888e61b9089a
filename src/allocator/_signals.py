"""SIGINT, SIGTERM and SIGHUP give exit 130 and one ``error:`` line at any moment of a command.

:func:`install` is called first thing by the command line (before click or any heavy library is
imported). Outside a command's body (while importing, parsing arguments, or printing at the end)
there is nothing to clean up, so the handler writes the message and ends the process at once
with 130. Inside a command (:func:`interruptible`, entered by the CLI's error wrapper) it raises
:class:`KeyboardInterrupt`, so ``finally`` blocks remove temporary folders before the wrapper
prints the same message and exits 130.

Only the ``allocator`` process installs these handlers: importing the package as a library
never changes a program's signal handling.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from typing import Any

#: What an interrupted command says (after ``error: ``), wherever it is caught.
INTERRUPTED = "interrupted; nothing was written (partial outputs were removed)"
MESSAGE = f"error: {INTERRUPTED}\n"
_state: dict[str, int | bool] = {"raise": False, "received": 0, "hold": False, "held": 0,
                                 "final": False, "done": False}


def note(signum: int) -> None:
    """Record that ``signum`` arrived (a library may swallow the KeyboardInterrupt it raises:
    PuLP's bare ``except:`` around ``import highspy`` then reports HiGHS as missing)."""
    _state["received"] = signum


def received() -> int:
    """The signal received during this process (0 if none)."""
    return int(_state["received"])


def interrupt(signum: int, frame: Any) -> None:
    """Raise :class:`KeyboardInterrupt` for ``signum`` (from a handler running in ``frame``),
    unless a finalizer (``__del__``, e.g. ``zipfile.ZipFile``'s) is running: Python would print
    the exception there as ignored, with a traceback, and drop it. The signal is then sent
    again 20 ms later (not at once: the handler would run again within itself)."""
    import threading

    note(signum)
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            again = threading.Timer(0.02, os.kill, (os.getpid(), signum))
            again.daemon = True
            again.start()
            return
        frame = frame.f_back
    raise KeyboardInterrupt(f"signal {signum}")


def _handler(signum: int, frame: Any) -> None:
    note(signum)
    if _state["hold"]:  # acted on when held_back() ends
        _state["held"] = signum
        return
    if _state["done"]:  # the command's result is in place (see final_output)
        return
    if _state["raise"]:
        interrupt(signum, frame)
        return
    try:
        os.write(2, MESSAGE.encode())
    finally:
        os._exit(130)


#: The signals handled: Ctrl-C, a polite kill, and the terminal closing (where there is one).
SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                if hasattr(signal, name))


def install() -> None:
    """Handle :data:`SIGNALS` as described in the module docstring (main thread only).

    A signal the process was started with ignored stays ignored, as Python leaves it: a run
    started with ``nohup`` (SIGHUP ignored), or in the background by a shell without job
    control (SIGINT ignored), goes on when the terminal closes or Ctrl-C is pressed there.
    """
    with contextlib.suppress(ValueError):  # not the main thread: leave the defaults
        for sig in SIGNALS:
            if signal.getsignal(sig) != signal.SIG_IGN:
                signal.signal(sig, _handler)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within this block a signal raises KeyboardInterrupt (so cleanup code runs)."""
    previous = _state["raise"]
    _state["raise"], _state["done"] = True, False
    try:
        yield
    finally:
        _state["raise"] = previous


@contextlib.contextmanager
def held_back() -> Iterator[None]:
    """Within this block a signal is only noted; it takes effect (KeyboardInterrupt, or exit
    130) as the block ends, also when the block raised (the interrupt then replaces its error).

    For steps that must not be cut in two, such as starting worker processes that are not yet
    known to whoever would end them. Unlike blocking the signals (``pthread_sigmask``), this
    works when other threads exist (numpy's, a pool's): the kernel hands the signal to one of
    them, and Python still runs its handler here, in the main thread.
    """
    previous = _state["hold"]
    _state["hold"] = True
    try:
        yield
    finally:  # also when the block raised: the interrupt may be why (a worker it killed)
        _state["hold"] = previous
        if not previous and _state["held"]:
            signum, _state["held"] = int(_state["held"]), 0
            _handler(signum, None)


@contextlib.contextmanager
def final_output() -> Iterator[None]:
    """Within this block, the output that :func:`written` reports is the command's result.

    Once it is in its final place, an interrupt is noted but no longer acted on, to the end of
    the process: nothing is left to stop or remove, and 'nothing was written' would be false
    (the command used to say it, and exit 130, with its complete run directory in place). The
    command ends as if the signal had come a moment later, after it.
    """
    previous = _state["final"]
    _state["final"] = True
    try:
        yield
    finally:
        _state["final"] = previous


def written() -> None:
    """An output has been renamed into its final place (call within :func:`held_back`, with
    the rename): the command's result, if inside :func:`final_output`."""
    if _state["final"]:
        _state["done"] = True
