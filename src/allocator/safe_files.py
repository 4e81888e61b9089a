"""Safe, confined access to the files a config names (OCU file, floor files, rasters, extends).

A config is data someone else may have written (a published run's ``config.yaml`` is replayed
by an auditor), so every path it names is treated with suspicion:

* relative paths resolve against one base folder (the data folder for data files, the config's
  own folder for ``extends``) and may not climb out of it with ``..``;
* the target must be a regular file: not a folder, FIFO, socket or device, and not inside the
  kernel's pseudo file systems (``/proc``, ``/sys``, ``/dev``), whose "files" look regular but
  hold process secrets such as the environment;
* a file above :data:`MAX_INPUT_BYTES` is refused before it is read;
* an error never echoes file content beyond :func:`excerpt` (a short, printable-only quote).
"""

from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path

from .errors import DataError, excerpt

#: Largest user-supplied CSV (OCU or floor file) the engine reads, in bytes (50 MB).
MAX_INPUT_BYTES = 50_000_000
#: Largest raster (GeoTIFF) read, in bytes (10 GB).
MAX_RASTER_BYTES = 10_000_000_000
#: Folders whose entries are never read as inputs, even through a symlink.
FORBIDDEN_ROOTS = ("/proc", "/sys", "/dev", "/run")
#: Longest path string a config may give.
MAX_PATH_CHARS = 1024


def check_path_text(text: object, what: str) -> str:
    """Check a path string from a config: a non-empty string without NUL or control characters."""
    if not isinstance(text, str | os.PathLike):
        raise DataError(f"{what} must be a file path (got {type(text).__name__})")
    s = os.fspath(text)
    if not isinstance(s, str) or not s.strip():
        raise DataError(f"{what} must be a non-empty file path")
    if len(s) > MAX_PATH_CHARS:
        raise DataError(f"{what} is longer than {MAX_PATH_CHARS} characters")
    if any(not ch.isprintable() for ch in s):
        raise DataError(f"{what} contains a NUL or control character ({excerpt(s)!r})")
    return s


def resolve_input(
    path: str | os.PathLike[str], base: Path | None, what: str, max_bytes: int = MAX_INPUT_BYTES
) -> Path:
    """Resolve a config's file path and check it is a readable regular file.

    Parameters
    ----------
    path : path-like
        As written in the config.
    base : pathlib.Path, optional
        Folder relative paths resolve against (and may not leave); None keeps them relative to
        the working directory (Python API use without a data folder).
    what : str
        The config key, for messages (e.g. ``"data.ocu_file"``).
    max_bytes : int
        Largest file accepted.

    Raises
    ------
    DataError
        Control characters, ``..`` leaving ``base``, missing file, not a regular file, a system
        pseudo file, or larger than :data:`MAX_INPUT_BYTES`.
    """
    s = check_path_text(path, what)
    p = Path(s).expanduser()
    if not p.is_absolute() and base is not None:
        joined = Path(os.path.normpath(base / p))
        if os.path.normpath(base) not in (str(joined), *map(str, joined.parents)):
            raise DataError(f"{what} {excerpt(s, 80)!r} leaves its folder {base} (a relative path "
                            "may not climb out with '..')")
        p = joined
    return check_regular_file(p, what, max_bytes)


def check_regular_file(p: Path, what: str, max_bytes: int = MAX_INPUT_BYTES) -> Path:
    """Return ``p`` if it is an existing regular file outside ``/proc``, ``/sys``, ``/dev``."""
    real = os.path.realpath(p)
    if any(real == r or real.startswith(r + "/") for r in FORBIDDEN_ROOTS):
        raise DataError(f"{what} points into a system folder ({excerpt(real, 60)}); only ordinary "
                        "files can be inputs", file=p)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise DataError(f"{what}: file not found", file=p) from None
    except OSError as exc:
        raise DataError(f"{what}: cannot be opened ({exc.strerror})", file=p) from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (FIFO, socket or device)"
        raise DataError(f"{what} is {kind}; give an ordinary file", file=p)
    if st.st_size > max_bytes:
        raise DataError(f"{what} is {st.st_size:,} bytes, above the limit of {max_bytes:,}", file=p)
    return p


def read_text(p: Path, what: str, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """Read a checked file as UTF-8 text (a BOM is dropped); errors name the line."""
    check_regular_file(p, what, max_bytes)
    with open(p, "rb") as fh:
        raw = fh.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise DataError(f"{what} is above the limit of {max_bytes:,} bytes", file=p)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - raw.rfind(b"\n", 0, exc.start)
        raise DataError(f"{what}: not valid UTF-8 text at line {line}, byte {col} "
                        f"(0x{raw[exc.start]:02x}); save the file as UTF-8", file=p) from None


def read_rows(p: Path, what: str) -> tuple[list[str], list[list[str]]]:
    """Read a UTF-8 CSV strictly: header and rows of exactly the header's width.

    Blank lines are skipped; an empty file, a header without rows, a NUL byte or a row with more
    or fewer cells than the header is a :class:`DataError` naming the line.
    """
    text = read_text(p, what)
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise DataError(f"{what}: holds a NUL byte (line {line}); not a text CSV", file=p)
    try:
        rows = [(n, r) for n, r in enumerate(csv.reader(io.StringIO(text, newline="")), start=1)
                if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise DataError(f"{what}: cannot be read as CSV ({excerpt(exc, 80)})", file=p) from None
    if not rows:
        raise DataError(f"{what}: the file is empty (no header row, no data)", file=p)
    (_, header), body = rows[0], rows[1:]
    header = [h.replace("\xa0", " ").strip() for h in header]
    if not body:
        raise DataError(f"{what}: the file has a header but no data rows", file=p)
    for n, r in body:
        if len(r) != len(header):
            raise DataError(f"{what}: line {n} has {len(r)} cells but the header has "
                            f"{len(header)} (a ragged CSV)", file=p)
    return header, [r for _, r in body]


__all__ = ["excerpt", "check_path_text", "resolve_input", "check_regular_file", "read_text", "read_rows"]
