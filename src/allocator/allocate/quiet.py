"""Solver instances whose banner and log never reach standard output.

Standard output belongs to the command's results (a pipe into another program must not receive a
solver's chatter). HiGHS prints its banner ("Running HiGHS ...") from C++ as soon as a new
``highspy.Highs`` object enables its callbacks, *before* any option can be set (highspy 1.16:
``Highs.__init__`` calls :meth:`enableCallbacks`, and the banner is written once per process),
and PuLP's ``HiGHS`` wrapper creates exactly such an object. CBC runs as a subprocess that
inherits standard output when ``msg`` is on.

Here:

* :func:`new_highs` returns a ``highspy.Highs`` whose ``output_flag`` is switched off before
  anything can log, so with ``msg=False`` HiGHS writes nothing at all; with ``msg=True`` its
  log goes to standard error through HiGHS's logging callback (``log_to_console`` off).
* :class:`QuietHiGHS` is ``pulp.HiGHS`` using :func:`new_highs`.
* :class:`QuietCBC` is PuLP's bundled CBC (run through ``COIN_CMD``, not the deprecated
  ``PULP_CBC_CMD``) with its log sent to standard error (``msg=True``) or discarded
  (``msg=False``).
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

import pulp


def _stderr_write(text: str) -> None:
    if sys.stderr is None:  # closed (`2>&-`): nowhere to write
        return
    sys.stderr.write(text)
    sys.stderr.flush()


@functools.cache
def _highs_class() -> type:
    import highspy

    class _Highs(highspy.Highs):
        """``highspy.Highs`` silenced before its constructor enables callbacks."""

        def enableCallbacks(self) -> None:  # noqa: N802 - highspy's name
            if not getattr(self, "_allocator_silenced", False):
                self._allocator_silenced = True
                self.setOptionValue("output_flag", False)
            super().enableCallbacks()

    return _Highs


def new_highs(msg: bool = False) -> Any:
    """A ``highspy.Highs`` that logs to standard error when ``msg``, else not at all.

    Parameters
    ----------
    msg : bool
        Show the solver log (on standard error).

    Returns
    -------
    highspy.Highs
    """
    h = _highs_class()()
    if msg:
        h.setOptionValue("log_to_console", False)
        h.setOptionValue("output_flag", True)
        h.cbLogging.subscribe(lambda event: _stderr_write(event.message))
    return h


class QuietHiGHS(pulp.HiGHS):
    """``pulp.HiGHS`` (in-process highspy) whose log never reaches standard output."""

    def createAndConfigureSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802 - PuLP's name
        """Same as PuLP's, but on a :func:`new_highs` instance."""
        lp.solverModel = new_highs(bool(self.msg))
        if self.threads is not None:
            lp.solverModel.setOptionValue("threads", self.threads)
        if self.timeLimit is not None:
            lp.solverModel.setOptionValue("time_limit", float(self.timeLimit))
        for key, value in self.optionsDict.items():
            lp.solverModel.setOptionValue(key, value)


def bundled_cbc() -> str:
    """Path of the CBC binary that ships inside PuLP (3.3.1 to 3.x, the versions we allow).

    PuLP 3.3 deprecates ``PULP_CBC_CMD`` (removed in PuLP 4) and recommends ``COIN_CMD``, which
    runs whichever CBC binary it is given. Giving it this one keeps the cross-check solver exactly
    the CBC build the cross-check was calibrated with (the ``cbcbox`` build PuLP suggests picks
    an AVX2 or generic binary by CPU, so its results could depend on the machine).
    """
    from pulp.apis import coin_api

    return pulp.COIN_CMD.executableExtension(coin_api.pulp_cbc_path)


class QuietCBC(pulp.COIN_CMD):
    """PuLP's bundled CBC through ``COIN_CMD``; its log goes to standard error, never stdout."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(path=bundled_cbc(), **kwargs)

    def get_pipe(self) -> Any:
        """Standard error (a duplicate PuLP may close) when ``msg``, else the null device."""
        if self.msg:
            return os.fdopen(os.dup(2), "w")
        return open(os.devnull, "w")  # noqa: SIM115 - PuLP closes it


__all__ = ["QuietCBC", "QuietHiGHS", "bundled_cbc", "new_highs"]
