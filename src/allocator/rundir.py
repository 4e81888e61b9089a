"""Atomic run directories.

A run is written into a hidden temporary directory beside its final place and renamed into place
only when every file is complete, so a run killed half way leaves no run directory behind and an
earlier run is never touched. Two runs that would take the same name get distinct names (``-2``,
``-3``...); nothing is ever overwritten.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import OutputError

TMP_PREFIX = ".allocator-tmp-"
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
    except PermissionError:  # pragma: no cover - another user's process
        return True
    return True


def sweep_stale(parent: Path) -> list[Path]:
    """Remove temporary run directories left by processes that no longer exist."""
    removed = []
    if not parent.is_dir():
        return removed
    for p in parent.glob(TMP_PREFIX + "*"):
        m = re.match(re.escape(TMP_PREFIX) + r"(\d+)-", p.name)
        if m and not _pid_alive(int(m.group(1))):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
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
    """Turn SIGTERM into KeyboardInterrupt so cleanup runs when a run is killed politely."""
    try:
        previous = signal.getsignal(signal.SIGTERM)

        def handler(signum: int, frame: object) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not in the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
        tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=parent))
    except OSError as exc:
        raise OutputError(f"cannot write in the output folder {parent}: {exc.strerror}") from None
    final: list[Path] = []
    try:
        with _terminate_as_interrupt():
            yield tmp, final
            os.chmod(tmp, 0o755)
            for i in range(1, 1000):
                target = parent / (name if i == 1 else f"{name}-{i}")
                if target.exists():
                    continue
                try:
                    os.rename(tmp, target)
                except OSError as exc:
                    if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                        continue  # another run took this name between the check and the rename
                    raise OutputError(f"cannot move the run into {target}: {exc.strerror}") from None
                final.append(target)
                break
            else:  # pragma: no cover - 999 runs with one name
                raise OutputError(f"too many runs named {name} in {parent}")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
