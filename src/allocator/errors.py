"""User-facing errors.

Every error a user can cause (bad data, bad config, an impossible allocation problem) is an
:class:`AllocatorError`. The command line prints its message as one paragraph and exits non-zero
with no traceback; library users can catch it (or the ``ValueError`` it also is, where the fault
lies in an argument or an input).
"""

from __future__ import annotations

from collections.abc import Iterable


def excerpt(value: object, limit: int = 40) -> str:
    """A short, printable-only quote of ``value`` for an error message.

    Control characters become ``?`` and anything beyond ``limit`` characters is cut with ``...``,
    so an error about a hostile file never reproduces more than a fragment of it.
    """
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: GDAL's advice, appended to "not recognized as being in a supported file format", to prefix
#: the path with a driver name ("e.g. 'CSV:path'"): it names a format the file is not meant to
#: be, and is not something a user of allocator can pass.
_GDAL_DRIVER_HINT = "; It might help to specify the correct driver explicitly"


def library_message(exc: BaseException) -> str:
    """``exc``'s message for an error about an input file, without advice from the library
    that does not apply (GDAL's driver prefix)."""
    text = str(exc)
    cut = text.find(_GDAL_DRIVER_HINT)
    return (text[:cut].rstrip(" .;") if cut >= 0 else text) or type(exc).__name__


def _codes(codes: Iterable[object], limit: int = 20) -> str:
    items = [excerpt(c, 80) for c in codes]
    shown = ", ".join(items[:limit])
    more = f" (and {len(items) - limit} more)" if len(items) > limit else ""
    return shown + more


class AllocatorError(Exception):
    """Base class for every error the command line reports without a traceback."""

    exit_code: int = 2


class ConfigError(AllocatorError, ValueError):
    """The configuration is malformed or asks for something impossible."""


class DataError(AllocatorError, ValueError):
    """An input file breaks its data contract.

    Parameters
    ----------
    message : str
        What is wrong.
    file : str, optional
        The file at fault.
    column : str, optional
        The column at fault.
    codes : iterable of str, optional
        The area codes (or row numbers) at fault; listed in the message.
    """

    def __init__(
        self,
        message: str,
        *,
        file: object | None = None,
        column: str | None = None,
        codes: Iterable[object] | None = None,
    ) -> None:
        self.file = None if file is None else str(file)
        self.column = column
        self.codes = [] if codes is None else [str(c) for c in codes]
        parts = []
        if self.file:
            parts.append(f"{self.file}")
        if column:
            parts.append(f"column '{column}'")
        where = (": ".join([", ".join(parts), ""]) if parts else "")
        text = f"{where}{message}"
        if self.codes:
            text += f" [{_codes(self.codes)}]"
        super().__init__(text)


class InfeasibleError(AllocatorError):
    """The allocation problem has no solution; the message says what to relax."""


class SolverError(AllocatorError):
    """A solver is missing or ended with a status other than optimal."""


class OutputError(AllocatorError):
    """Outputs cannot be written where asked (exists already, read-only, outside the project)."""


class ReplayMismatch(AllocatorError):
    """A replay did not reproduce the published run; the message lists every difference."""

    exit_code = 3
