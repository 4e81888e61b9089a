"""Reading a published run's CSV tables defensively (replay, diff, explain).

A run directory may have been edited by anyone, so its tables are read as untrusted input: a
file that is not UTF-8, not CSV, lacks a column, or has text where whole pounds belong is a
:class:`~allocator.errors.DataError` naming the file and column, never a crash.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError

#: Largest run table read (bytes): far above a real one (about 300 kB), far below memory trouble.
MAX_TABLE_BYTES = 200_000_000


def header_lines(path: Path) -> list[str]:
    """The leading ``#`` provenance lines of a run's CSV table."""
    lines = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if not line.startswith("#"):
                    break
                lines.append(line.rstrip("\n"))
    except UnicodeDecodeError:
        raise DataError("not UTF-8 text: not a table this engine wrote", file=path) from None
    return lines


def header_values(lines: Sequence[str], label: str) -> list[str]:
    """The values of the ``# <label>: ...`` lines among ``lines`` (:func:`header_lines`, with or
    without their ``# ``), in order: ``header_values(lines, "Source")``."""
    prefix = f"{label}: "
    texts = (line.removeprefix("# ") for line in lines)
    return [t[len(prefix):].strip() for t in texts if t.startswith(prefix)]


def read_table(
    path: Path, required: Sequence[str] = (), integers: Sequence[str] = (), *,
    unique_codes: bool = True,
) -> pd.DataFrame:
    """Read a run's CSV table, skipping the leading ``#`` provenance lines.

    Parameters
    ----------
    path : pathlib.Path
        The table.
    required : sequence of str
        Columns that must be present.
    integers : sequence of str
        Columns that must hold whole numbers in every row (returned as int64); a name with
        ``*`` or ``[`` is a shell pattern (:func:`fnmatch.fnmatchcase`) over the columns.
    unique_codes : bool
        Each ``code`` appears once (``explain.csv`` has a row per LA x stream x year).
    """
    from .safe_files import check_regular_file, excerpt

    if not path.is_file():
        raise DataError("file not found in the run directory", file=path)
    check_regular_file(path, "run table", MAX_TABLE_BYTES)
    skip = len(header_lines(path))
    try:
        frame = pd.read_csv(path, skiprows=skip, dtype={"code": str}, keep_default_na=False,
                            na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"cannot be read as a run table ({excerpt(exc, 120)})", file=path) from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(f"not a table this engine wrote: missing columns {missing}", file=path)
    cols = [c for pat in integers for c in
            ([c for c in frame.columns if fnmatch.fnmatchcase(str(c), pat)]
             if "*" in pat or "[" in pat else [pat])]
    for col in cols:
        values = pd.to_numeric(frame[col], errors="coerce").astype(float)
        bad = ~np.isfinite(values) | (values.abs() > 2**53) | (values != values.round())
        if bad.any():
            shown = [excerpt(v) for v in frame.loc[bad, col].head(5)]
            raise DataError(f"values are not whole numbers: {shown}", file=path, column=col)
        frame[col] = values.astype("int64")
    if "code" in frame.columns and frame["code"].isna().any():
        rows = [int(i) + skip + 2 for i in frame.index[frame["code"].isna()][:10]]
        raise DataError(f"empty codes on lines {rows}", file=path, column="code")
    for col in ("name", "region"):
        if col in frame.columns:
            frame[col] = frame[col].fillna("").astype(str)
    if unique_codes and "code" in frame.columns and frame["code"].duplicated().any():
        dup = sorted({excerpt(c) for c in frame.loc[frame["code"].duplicated(), "code"]})[:10]
        raise DataError("duplicate codes", file=path, column="code", codes=dup)
    return frame


def find_la(table: pd.DataFrame, la: str) -> pd.Series:
    """Find one LA by ONS code or (case-insensitive) name; errors suggest close matches."""
    key = la.strip()
    hit = table[table["code"].str.upper() == key.upper()]
    if hit.empty:
        hit = table[table["name"].str.casefold() == key.casefold()]
    if hit.empty:
        hit = table[table["name"].str.casefold().str.contains(key.casefold(), regex=False)]
    if len(hit) == 1:
        return hit.iloc[0]
    if len(hit) > 1:
        names = ", ".join(f"{r.name} ({r.code})" for r in hit.itertuples())
        raise DataError(f"'{la}' matches several LAs: {names}; give the ONS code")
    close = difflib.get_close_matches(key, table["name"].tolist(), n=3, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise DataError(f"no LA with code or name '{la}' in this run.{hint}")
