"""Reading a published run's files defensively (diff, explain, map, calibrate, rollup,
uncertainty, amend).

A run directory may have been edited by anyone, so its tables are read as untrusted input: a
file that is not UTF-8, not CSV, lacks a column, or has text where whole pounds belong is a
:class:`~allocator.errors.DataError` naming the file and column, never a crash. And a file that
reads well may still not be the one the run wrote: :func:`check_run_files` compares the files a
command reads with the SHA-256 its ``manifest.json`` records, so figures from an edited run are
refused rather than reported as if the run had published them.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .errors import DataError

if TYPE_CHECKING:
    from .provenance import Manifest

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
    unique_codes: bool = True, numbers: Sequence[str] = (),
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
    numbers : sequence of str
        Columns whose cells must be finite numbers or empty (returned as float, empty as NaN),
        when present: a score or a count a report computes with.
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
    for col in (c for c in numbers if c in frame.columns):
        values = pd.to_numeric(frame[col], errors="coerce").astype(float)
        bad = (frame[col].notna() & values.isna()) | np.isinf(values)
        if bad.any():
            shown = [excerpt(v) for v in frame.loc[bad, col].head(5)]
            raise DataError(f"values are not numbers: {shown}", file=path, column=col)
        frame[col] = values
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


def check_run_files(
    run_dir: str | os.PathLike[str], names: Iterable[str], *, manifest: Manifest | None = None,
) -> Manifest | None:
    """Check that the files ``names`` of a published run directory are the ones it wrote.

    Each file's SHA-256 is compared with the one the directory's ``manifest.json`` records in
    ``outputs``; a run (``allocator run``) and an amended version (``allocator amend``) record
    every file they write. This is the check every command that reads a published run's files
    makes before it reports figures from them; ``allocator replay`` goes further and re-creates
    the whole directory (a manifest edited to match an edited file passes this check, not a
    replay).

    A folder with no ``manifest.json`` (tables put together by hand, or a run whose manifest was
    removed) has nothing to check against: nothing is checked and None is returned, so the
    caller can say that its files were read as they are.

    Parameters
    ----------
    run_dir : path-like
        The run directory.
    names : iterable of str
        The files the caller reads, relative to ``run_dir``. A name the manifest does not record
        and that is not on disk is skipped: the caller reports a missing file in its own words.
    manifest : Manifest, optional
        The directory's manifest when the caller has read it already.

    Returns
    -------
    Manifest or None
        The manifest the files were checked against; None when there is none.

    Raises
    ------
    DataError
        A file's SHA-256 differs from the recorded one (edited after the run), a recorded file
        is missing, or a file the manifest does not record is there; or ``manifest.json`` is not
        a manifest.
    """
    from .provenance import MANIFEST_NAME, Manifest, sha256_file

    run_dir = Path(run_dir)
    if manifest is None:
        if not (run_dir / MANIFEST_NAME).exists():
            return None
        manifest = Manifest.read(run_dir / MANIFEST_NAME)
    led = manifest.ledger
    writer = "the run" if led is None else f"`allocator amend` (version {led.get('version', '?')})"
    after = "the run" if led is None else "this version was written"
    remedy = "re-run its config" if led is None else "re-apply its amendment.yaml"
    replay = f"`allocator replay {run_dir / MANIFEST_NAME}` names every difference"
    for name in names:
        path = run_dir / name
        want = manifest.outputs.get(name)
        got = sha256_file(path) if path.is_file() else None
        if want == got:
            continue
        if want is None:
            problem = (f"not a file {writer} wrote: manifest.json does not list it, so it was "
                       f"added (or the manifest edited) after {after}")
        elif got is None:
            problem = (f"missing: manifest.json records it as written by {writer}, so it was "
                       f"removed after {after}")
        else:
            problem = (f"not the file {writer} wrote: its SHA-256 ({got[:12]}...) differs from "
                       f"the one manifest.json records ({want[:12]}...), so it was edited after "
                       f"{after}, and its figures are not the ones published")
        raise DataError(f"{problem}. Restore the published file or {remedy}; {replay}", file=path)
    return manifest


def unchecked_note(run_dir: str | os.PathLike[str]) -> str:
    """What to tell a reader about ``run_dir`` when it has no ``manifest.json`` (its files were
    read as they are, :func:`check_run_files` having nothing to check them against); empty
    when it has one."""
    from .provenance import MANIFEST_NAME

    if (Path(run_dir) / MANIFEST_NAME).exists():
        return ""
    return (f"note: {run_dir} has no manifest.json, so its files were read as they are, not "
            "checked against the files a run wrote (a run directory of `allocator run` or "
            "`allocator amend` always has one)")


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
