"""Progress lines on stderr: the console's one progress channel (``--quiet`` turns it off)."""

from __future__ import annotations

import sys
from typing import Any


def stderr_is_terminal() -> bool:
    """Whether stderr is a terminal (``False`` when it is closed: ``sys.stderr`` is ``None``)."""
    return sys.stderr is not None and sys.stderr.isatty()


def progress_line(enabled: bool, message: str) -> None:
    """Print ``message`` as one indented line on stderr when ``enabled`` (nowhere when stderr is
    closed: ``print`` would write it into stdout, the results channel)."""
    if enabled and sys.stderr is not None:
        print(f"  {message}", file=sys.stderr, flush=True)


class _NoBar:
    """The no-op stand-in for a tqdm bar (same context-manager and ``update`` interface)."""

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        return None


def progress_bar(show: bool | None, total: int, desc: str) -> Any:
    """A tqdm bar of ``total`` draws on stderr when ``show`` (``None``: when stderr is a
    terminal), else a no-op; tqdm is imported only when a bar is shown."""
    if sys.stderr is None or not (stderr_is_terminal() if show is None else show):
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, delay=0.5, desc=desc, unit="draw")
