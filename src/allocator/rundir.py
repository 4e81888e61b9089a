"""Atomic run directories, and temporary folders that are swept only when provably abandoned.

A run is written into a hidden temporary directory beside its final place and renamed into place
only when every file is complete, so a run killed half way leaves no run directory behind and an
earlier run is never touched. Two runs that would take the same name get distinct names (``-2``,
``-3``...; a dangling symlink counts as taken); nothing is ever overwritten.

Every temporary folder (a run's ``.allocator-tmp-*``, a replay's ``allocator-replay-*``) has a
lock file beside it, ``<folder>.lock``, naming the host, the boot id, the PID namespace, the PID
and the process start time of its owner. A later process removes the folder only when it is
*provably abandoned*: same host, same boot, same PID namespace, the owner process gone (or its
PID reused by a process that started at another time), and the lock older than
:data:`STALE_AFTER_SECONDS`. A folder of a process on another machine or in another container
(another PID namespace), or one without a readable lock, is never removed automatically.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import OutputError

TMP_PREFIX = ".allocator-tmp-"
REPLAY_PREFIX = "allocator-replay-"
LOCK_SUFFIX = ".lock"
#: A dead owner's temporary folder is removed only once its lock is at least this old (seconds).
STALE_AFTER_SECONDS = 60.0
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str) -> str:
    """Make ``text`` safe as one path component (letters, digits, ``.``, ``_``, ``-``)."""
    cleaned = _SAFE.sub("-", text).strip(".-")
    return cleaned[:80] or "run"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):  # another user's process / nonsense
        return True
    return True


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read(200).strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _start_time(pid: int) -> str:
    """Start time of ``pid`` in clock ticks since boot (field 22 of /proc/PID/stat), or ''."""
    stat = _read(f"/proc/{pid}/stat")
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


def owner() -> dict[str, Any]:
    """Who this process is, as recorded in a lock file."""
    try:
        pid_ns = os.readlink("/proc/self/ns/pid")
    except OSError:
        pid_ns = ""
    return {
        "host": socket.gethostname(),
        "boot_id": _read("/proc/sys/kernel/random/boot_id"),
        "pid_ns": pid_ns,
        "pid": os.getpid(),
        "start": _start_time(os.getpid()),
    }


def make_locked_dir(parent: Path, prefix: str) -> Path:
    """Make a temporary folder under ``parent`` and its lock file ``<folder>.lock`` beside it."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    lock = tmp.with_name(tmp.name + LOCK_SUFFIX)
    part = tmp.with_name(tmp.name + LOCK_SUFFIX + ".part")
    try:
        part.write_text(json.dumps(owner()), encoding="ascii")
        os.replace(part, lock)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        part.unlink(missing_ok=True)
        raise
    return tmp


@contextlib.contextmanager
def temporary_folder(prefix: str) -> Iterator[Path]:
    """A private temporary folder (in ``$TMPDIR``), removed when the block ends, as
    :class:`tempfile.TemporaryDirectory`; but its making and its removal are each one step
    that an interrupt cannot cut in two (held back until done), so an interrupted command
    leaves no half-removed folder behind."""
    from . import _signals

    with _signals.held_back():
        tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield tmp
    finally:
        with _signals.held_back():
            shutil.rmtree(tmp, ignore_errors=True)


def remove_locked_dir(tmp: Path, *, tries: int = 10) -> None:
    """Remove a temporary folder (if still there), then its lock.

    A helper process killed a moment ago (a drawer's figure process, ended by the kernel once
    the drawer was killed) can still create a file while the folder is removed; the removal is
    then tried again, a few times, 20 ms apart. A folder that cannot be removed keeps its lock
    and is left for a later run's sweep. An interrupt during the removal is acted on once it is
    done (it used to stop it half way, leaving the folder).
    """
    from . import _signals

    with _signals.held_back():  # an interrupt is acted on once the folder is gone
        for attempt in range(tries):
            if not tmp.exists():
                break
            if attempt:
                time.sleep(0.02)
            shutil.rmtree(tmp, ignore_errors=True)
        if not tmp.exists():  # (without its lock, a left folder would never be swept)
            tmp.with_name(tmp.name + LOCK_SUFFIX).unlink(missing_ok=True)


def abandoned(lock: Path) -> bool:
    """True only if the lock's owner provably no longer exists (see the module docstring)."""
    try:
        if time.time() - lock.stat().st_mtime < STALE_AFTER_SECONDS:
            return False
        rec = json.loads(lock.read_text(encoding="ascii"))
        pid = int(rec["pid"])
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return False
    me = owner()
    for key in ("host", "boot_id", "pid_ns"):
        if not me[key] or rec.get(key) != me[key]:
            return False  # another machine, boot or container: its processes are not visible
    if pid <= 0:
        return False
    if not _pid_alive(pid):
        return True
    recorded = str(rec.get("start", ""))
    return bool(recorded) and recorded != _start_time(pid)  # the PID now belongs to another process


def sweep_stale(parent: Path, prefix: str = TMP_PREFIX) -> list[Path]:
    """Remove the temporary folders under ``parent`` (named ``prefix*``) that are abandoned."""
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    for lock in sorted(parent.glob(prefix + "*" + LOCK_SUFFIX)):
        folder = lock.with_name(lock.name[: -len(LOCK_SUFFIX)])
        if abandoned(lock):
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
            lock.unlink(missing_ok=True)
    return removed


def check_writable(parent: Path) -> None:
    """Raise :class:`OutputError` unless ``parent`` exists (or can be made) and is writable."""
    if parent.exists() and not parent.is_dir():
        raise OutputError(f"output location {parent} exists and is not a folder; choose another with --out DIR")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {parent}: {exc.strerror}") from None
    if not parent.is_dir():
        raise OutputError(f"output location {parent} exists and is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {parent} is not writable; choose another with --out DIR")


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so cleanup runs when a run is killed politely, where
    nothing handles it yet (the command line's handler, :mod:`allocator._signals`, does the same
    and more; a process started with SIGTERM ignored keeps ignoring it)."""
    previous = signal.getsignal(signal.SIGTERM)
    if previous != signal.SIG_DFL:
        yield
        return
    try:
        def handler(signum: int, frame: Any) -> None:
            from . import _signals

            _signals.interrupt(signum, frame)

        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not in the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


#: Errors of a full, over-quota or read-only disk while a run is written: the user's to fix,
#: not a bug (also raised in a figure process and sent back). Writers pass these on as they are,
#: so that :func:`atomic_run_dir` says so in one message.
NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


def naming(exc: OSError, path: str | Path) -> OSError:
    """A copy of ``exc`` that names the file it is about (``path`` unless it names one): a
    write through an open file (PuLP's, matplotlib's) raises an OSError without a file name,
    and :func:`atomic_run_dir` names the file in its message. Raise it ``from exc``."""
    return OSError(exc.errno, exc.strerror, exc.filename or str(path))


@contextlib.contextmanager
def atomic_run_dir(parent: str | Path, name: str) -> Iterator[tuple[Path, list[Path]]]:
    """Yield a temporary directory; on success rename it to ``parent/name`` (or ``name-2``...).

    The final path is appended to the yielded list once the rename has happened. On any error or
    interruption the temporary directory is removed and nothing appears under ``parent``.

    Parameters
    ----------
    parent : path-like
        Folder that holds run directories.
    name : str
        Desired run directory name (made path-safe).
    """
    parent = Path(parent)
    check_writable(parent)
    sweep_stale(parent)
    name = safe_name(name)
    try:
        tmp = make_locked_dir(parent, f"{TMP_PREFIX}{os.getpid()}-")
    except OSError as exc:
        raise OutputError(f"cannot write in the output folder {parent}: {exc.strerror}") from None
    final: list[Path] = []
    try:
        with _terminate_as_interrupt():
            try:
                yield tmp, final
            except OSError as exc:
                if exc.errno not in NO_ROOM:
                    raise
                what = f" ({Path(exc.filename).name})" if exc.filename else ""
                raise OutputError(f"cannot write the run directory in {parent}: {exc.strerror}"
                                  f"{what}; nothing was written (partial outputs were removed)"
                                  ) from None
            from . import _signals

            if _signals.received():  # a library swallowed the signal's KeyboardInterrupt
                raise KeyboardInterrupt(f"signal {_signals.received()}")
            os.chmod(tmp, 0o755)
            for i in range(1, 1000):
                target = parent / (name if i == 1 else f"{name}-{i}")
                if os.path.lexists(target):  # a dangling symlink is taken too
                    continue
                with _signals.held_back():  # the rename and its record: one step
                    try:
                        os.rename(tmp, target)
                    except OSError as exc:
                        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR,
                                         errno.EISDIR):
                            continue  # another run took this name between the check and now
                        raise OutputError(f"cannot move the run into {target}: {exc.strerror}"
                                          ) from None
                    final.append(target)
                    _signals.written()
                break
            else:  # pragma: no cover - 999 runs with one name
                raise OutputError(f"too many runs named {name} in {parent}")
    finally:
        remove_locked_dir(tmp)


def check_new_file(path: str | Path) -> None:
    """Raise :class:`OutputError` if ``path`` exists (as a file, folder or link): allocator never
    overwrites an output. (Checked before a command's work, to fail at once, and again by
    :func:`publish_file` as the file lands.)"""
    if os.path.lexists(path):
        raise OutputError(f"{path} already exists; choose another file name (an output is "
                          "never overwritten)")


def publish_file(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Write one output file at ``path`` whole or not at all, never over an existing one.

    ``write(tmp)`` writes the content to a private temporary file beside ``path``; it is then
    linked into place, which fails if a file of that name appeared meanwhile (another command
    writing the same name: it is kept, and this is an error). The temporary file is removed on
    every exit, also an interrupt.

    Raises
    ------
    OutputError
        ``path`` exists, or appeared while the file was written.
    """
    from . import _signals

    path = Path(path)
    check_new_file(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with _signals.held_back():  # the link and its record: one step
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise OutputError(f"{path} appeared while it was being written (another "
                                  "command writing the same file?); it was kept, and nothing "
                                  "was written over it") from None
            except OSError:  # a file system without hard links: the name was free just now
                if os.path.lexists(path):
                    raise OutputError(f"{path} appeared while it was being written; it "
                                      "was kept (an output is never overwritten)") from None
                os.rename(tmp, path)
            _signals.written()
    finally:
        tmp.unlink(missing_ok=True)
    return path
