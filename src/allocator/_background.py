"""A function run in a daemon thread while the caller works; its result is collected later."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class BackgroundCall:
    """Start ``fn(*args)`` in a daemon thread at once; :meth:`result` waits for it.

    The thread is a daemon, so a caller that stops on an error or an interrupt does not wait for
    it: the process ends (and cleans up) as it would without it.

    Parameters
    ----------
    fn : callable
    *args
        Passed to ``fn``.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self._value: Any = None
        self._error: BaseException | None = None

        def target() -> None:
            try:
                self._value = fn(*args)
            except BaseException as exc:  # noqa: BLE001  (raised again by result())
                self._error = exc

        self.thread_ = threading.Thread(target=target, name=f"allocator-{fn.__name__}", daemon=True)
        self.thread_.start()

    def result(self) -> Any:
        """Wait for the call; return its value or raise its exception."""
        self.thread_.join()
        if self._error is not None:
            raise self._error
        return self._value

    def cancel(self) -> None:
        """Nothing to do: a thread cannot be stopped; it is a daemon, and its result is
        dropped with this object (the same interface as :class:`allocator._forking.ForkedCall`)."""
