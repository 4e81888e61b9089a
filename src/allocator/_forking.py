"""Work done in forked processes: the pieces every forked helper of a run shares.

A forked child inherits the run's imports and data as they are (nothing is copied up front),
runs on another core without the parent's interpreter lock, and sends back one picklable
answer. :class:`ForkedCall` runs one function so; :func:`die_with` ends a child when the run is
killed; :func:`forking` guards the fork itself (interrupts held back, garbage collector frozen).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ._signals import SIGNALS as _INTERRUPTS

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

_PR_SET_PDEATHSIG = 1


def can_fork() -> bool:
    """Whether this platform can fork (not Windows)."""
    return "fork" in multiprocessing.get_all_start_methods()


def die_with(parent: int) -> None:
    """End this process when ``parent`` dies (Linux), so that a run killed with SIGKILL leaves no
    process behind it (writing into a folder the next run sweeps away, or computing for
    nobody)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the children end with their jobs
        return
    if os.getppid() != parent:  # it died before prctl
        os._exit(1)


def _keeps_ignored(sig: int) -> bool:
    """Whether a forked child keeps ``sig`` ignored because the run ignores it (``nohup``).

    Never SIGTERM: it is how the run stops its helpers (``Process.terminate``, ``Pool.terminate``),
    and a helper that ignored it could not be stopped: the run waited for it for ever (a run
    started with SIGTERM ignored hung on its first error, or when its config drew nothing).
    """
    return sig != signal.SIGTERM and signal.getsignal(sig) == signal.SIG_IGN


def child_start(parent: int) -> None:
    """First steps of a forked child: die with ``parent``, leave interrupts to it (the parent
    handles them and cleans up)."""
    die_with(parent)
    for sig in _INTERRUPTS:
        if not _keeps_ignored(sig):  # ignored by the run (nohup): by us too
            signal.signal(sig, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):  # blocked by forking() in the parent
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)


def end_own_children_first() -> None:
    """For a forked child that forks children of its own (the drawer): on SIGINT, SIGTERM or
    SIGHUP, kill its children and wait for them to end, then end by the signal itself.

    :func:`die_with` ends them too, but only once this process has gone, a moment after its
    parent has already seen it end and gone on (to remove the folder they write into). Its
    children are forked with interrupts held back (:func:`forking`), so each one is known to
    ``multiprocessing`` by the time the handler can run.
    """
    def _end(signum: int, _frame: Any) -> None:
        for child in multiprocessing.active_children():
            child.kill()
            child.join()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        os._exit(128 + signum)  # pragma: no cover - the signal has ended the process

    for sig in _INTERRUPTS:
        if not _keeps_ignored(sig):
            signal.signal(sig, _end)


def end_process(process: Any) -> None:
    """End a child ``multiprocessing`` process at once if it is still running (SIGTERM), and
    wait for it."""
    if process.is_alive():
        process.terminate()
    process.join()


def child_end() -> None:
    """Last step of a forked child: flush, then end without the parent's exit handlers."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)


def send_answer(conn: Connection, answer: Any, fallback: Callable[[], Any]) -> None:
    """Send ``answer`` (a child's result or exception) so that the other side can read it.

    An object that pickles but cannot be rebuilt (some C-extension exceptions once
    ``dask.distributed`` has installed tblib's pickling of exceptions; their ``args`` cannot be
    set) would fail in the receiver, so the round trip is tried here first; if it fails, or
    ``answer`` does not pickle at all, ``fallback()`` is sent instead, with the notes of the
    exception it stands in for (where it was raised: :func:`keep_traceback`).
    """
    from multiprocessing.reduction import ForkingPickler

    try:
        data = bytes(ForkingPickler.dumps(answer))
        ForkingPickler.loads(data)
    except Exception:  # noqa: BLE001  (any failure to pickle or rebuild)
        stand_in = fallback()
        old, new = _exception_in(answer), _exception_in(stand_in)
        if old is not None and new is not None:
            for note in getattr(old, "__notes__", ()):
                new.add_note(str(note))
        data = bytes(ForkingPickler.dumps(stand_in))
    conn.send_bytes(data)


def _exception_in(answer: Any) -> BaseException | None:
    """The exception an answer carries: itself, or the second item of ``(ok, value)``."""
    if isinstance(answer, BaseException):
        return answer
    if isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[1], BaseException):
        return answer[1]
    return None


def receive_answer(conn: Connection, what: str) -> Any:
    """The answer :func:`send_answer` sent; :class:`EOFError` if the child ended without one
    (or was killed with the pipe's other end).

    Raises
    ------
    OutputError
        If the answer cannot be read (which :func:`send_answer` is there to prevent).
    """
    from .errors import OutputError

    try:
        return conn.recv()
    except EOFError:
        raise
    except ConnectionResetError:  # a two-way pipe's child killed: the same as no answer
        raise EOFError from None
    except Exception as exc:  # noqa: BLE001
        raise OutputError(f"{what} failed, and its error could not be read here: {exc!r}") from None


def ended(what: str, exitcode: int | None) -> Exception:
    """The error for a child that ended without an answer: how it ended, in words (a killed
    helper is not a bug in allocator, and SIGKILL is most often the out-of-memory killer)."""
    from .errors import OutputError

    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        how = f"killed by {name}" + (": the machine may have run out of memory, or it was "
                                     "killed by hand" if -exitcode == signal.SIGKILL else "")
    else:
        how = f"exit code {exitcode}"
    return OutputError(f"{what} ended unexpectedly ({how})")


def stand_in(what: str, exc: BaseException | None) -> Exception:
    """What a child sends instead of an error that cannot be rebuilt on the other side
    (:func:`send_answer`): its type and message, as an :class:`~allocator.errors.OutputError`."""
    from .errors import OutputError

    return OutputError(f"{what} failed: {type(exc).__name__}: {exc}")


_NOTE = "In a forked process:\n"


def keep_traceback(exc: BaseException) -> BaseException:
    """``exc`` with the traceback of the child that raised it as a note, unless it has one.

    The traceback does not travel with a pickled exception; the note does, and ``--debug``
    shows it (the one-paragraph error message does not). An error passed on by a second
    process (a figure process's, through the drawer) keeps the first, where it was raised.
    """
    import traceback

    if not any(str(n).startswith(_NOTE) for n in getattr(exc, "__notes__", ())):
        exc.add_note(_NOTE + "".join(traceback.format_tb(exc.__traceback__)))
    return exc


@contextmanager
def forking() -> Iterator[None]:
    """Fork inside this block.

    - SIGINT, SIGTERM and SIGHUP are held back (blocked) until it ends: an interrupt that
      arrived while ``fork`` runs its at-fork handlers would be raised inside one of them,
      where Python prints it as an ignored exception with a traceback and drops it. Held back,
      it is raised just after, in the caller's own code. (Only while no other thread runs:
      the kernel may hand the signal to another thread, which does not block it;
      :func:`allocator._signals.held_back` holds it back either way.) A child starts with
      them blocked too, and :func:`child_start` lets them through once it has its own handlers.
    - The objects that exist now are moved out of the garbage collector's reach
      (:func:`gc.freeze`), so a forked child's collections do not touch (and copy) every page
      it shares with its parent.
    """
    blocked = hasattr(signal, "pthread_sigmask")
    if blocked:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        if blocked:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class ForkedCall:
    """Start ``fn(*args)`` in a forked process at once; :meth:`result` waits for its answer.

    The child sees the caller's memory as it was at the fork, so ``fn`` and its arguments are
    not pickled; its return value (or exception) is, and must pickle. The process is a daemon
    that also dies with the caller, so a caller that stops on an error or an interrupt does not
    wait for it.

    Parameters
    ----------
    fn : callable
    *args
        Passed to ``fn``.
    what : str
        Names the process in the error if it ends without an answer.

    Raises
    ------
    OutputError
        From :meth:`result`, if the child ended without an answer (killed).
    """

    def __init__(self, fn: Callable[..., Any], *args: Any, what: str = "a forked computation"
                 ) -> None:
        self.what = what
        ctx = multiprocessing.get_context("fork")
        receive, send = ctx.Pipe(duplex=False)
        self.process_ = ctx.Process(target=_call, args=(send, os.getpid(), what, fn, args),
                                    daemon=True, name=f"allocator-{getattr(fn, '__name__', 'call')}")
        with forking():
            self.process_.start()
        send.close()
        self._receive = receive

    def result(self) -> Any:
        """Wait for the call; return its value or raise its exception."""
        try:
            ok, value = receive_answer(self._receive, self.what)
        except EOFError:
            self.process_.join()
            raise ended(self.what, self.process_.exitcode) from None
        finally:
            self._receive.close()
        self.process_.join()
        if not ok:
            raise value
        return value

    def cancel(self) -> None:
        """End the child if it is still running and close the pipe: for a caller that stopped
        before asking for the result (a child with a large answer would otherwise wait for
        ever for a reader, as long as the caller's process lives)."""
        end_process(self.process_)
        self._receive.close()


def _call(send: Connection, parent: int, what: str, fn: Callable[..., Any],
          args: tuple[Any, ...]) -> None:
    child_start(parent)
    try:
        answer: tuple[bool, Any] = (True, fn(*args))
    except BaseException as exc:  # noqa: BLE001  (raised again by result())
        answer = (False, keep_traceback(exc))
    ok, value = answer
    send_answer(send, answer, lambda: (False, stand_in(what, value) if not ok else RuntimeError(
        f"the answer of {what} cannot be sent ({type(value)})")))
    send.close()
    child_end()


def beside(fn: Callable[..., Any], *args: Any, what: str = "a forked computation") -> Any:
    """Start ``fn(*args)`` beside the caller: a :class:`ForkedCall` (its own core, no shared
    interpreter lock) when this process can fork and runs no other thread (forking a process
    with threads, as in a notebook kernel, can copy a lock another thread holds), else a
    :class:`~allocator._background.BackgroundCall` (a daemon thread). Both have ``result()`` and
    ``cancel()``."""
    import threading

    from ._background import BackgroundCall

    if can_fork() and threading.active_count() == 1:
        return ForkedCall(fn, *args, what=what)
    return BackgroundCall(fn, *args)
