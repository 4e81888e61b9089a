"""Strict reading of a floor file (``allocation.floors[i]`` with ``kind: file``).

A floor file decides money, so nothing in it may be silently ignored. It is a UTF-8 CSV with

* ``code``: the ONS code of an LA in the areas table (unique);
* optionally ``name``: a label for people, not read;
* either ``amount`` (the floor for every stream-year in the floor's scope) or one column
  ``<stream>_<year>`` (e.g. ``continuation_2024_25``) for *every* stream-year in the scope.

Any other column is an error (a misspelt year would otherwise leave that year without a floor),
as is a stream-year column outside the floor's scope, a scope stream-year without a column, a
ragged row, and any amount that is not a finite number of pounds between 0 and
:data:`allocator._model.MAX_POUNDS`. LAs the file does not list get no floor from it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._model import MAX_POUNDS
from ..columns import money_column
from ..errors import DataError
from ..safe_files import excerpt, read_rows

#: Columns a floor file may hold besides its amounts.
ID_COLUMNS = ("code", "name")


def _amount(text: str, file: Path, column: str, code: str) -> float:
    s = text.replace("\xa0", " ").strip()
    try:
        v = float(s)
    except ValueError:
        raise DataError(f"amount {excerpt(text)!r} for {excerpt(code)} is not a number",
                        file=file, column=column) from None
    if not math.isfinite(v) or v < 0 or v > MAX_POUNDS:
        raise DataError(f"amount {excerpt(text)!r} for {excerpt(code)} must be a finite number of "
                        f"pounds from 0 to {MAX_POUNDS:,}", file=file, column=column)
    return v


def read_floor_table(
    path: Path,
    *,
    codes: Sequence[str],
    streams: Sequence[str],
    years: Sequence[str],
    scope_streams: Sequence[str] | None = None,
    scope_years: Sequence[str] | None = None,
    what: str = "floor file",
) -> np.ndarray:
    """Read a floor file into ``(n_streams, n_years, n_areas)`` pounds (NaN: no floor).

    Parameters
    ----------
    path : pathlib.Path
        The CSV (already resolved and checked, see :mod:`allocator.safe_files`).
    codes : sequence of str
        LA codes in the areas table's order.
    streams, years : sequence of str
        Every stream and year of the allocation.
    scope_streams, scope_years : sequence of str, optional
        The floor's scope (all streams / years when None).
    what : str
        The config key, for messages.

    Raises
    ------
    DataError
        Naming the file, the column and the offending rows, for every rule in the module
        docstring.
    """
    header, rows = read_rows(path, what)
    scope_s = list(scope_streams or streams)
    scope_y = list(scope_years or years)
    if "code" not in header:
        raise DataError(f"{what}: needs a 'code' column (file has: "
                        f"{', '.join(excerpt(h, 30) for h in header[:8])})", file=path, column="code")
    dup_cols = sorted({h for h in header if header.count(h) > 1})
    if dup_cols:
        raise DataError(f"{what}: repeated column names {[excerpt(h, 30) for h in dup_cols]}",
                        file=path)
    all_cols = {money_column(s, y): (s, y) for s in streams for y in years}
    in_scope = [money_column(s, y) for s in scope_s for y in scope_y]
    unknown = [h for h in header if h not in ID_COLUMNS and h != "amount" and h not in all_cols]
    if unknown:
        raise DataError(
            f"{what}: unknown column(s) {[excerpt(h, 30) for h in unknown[:10]]}; a floor file holds "
            f"'code', optionally 'name', and either 'amount' or one column per stream-year: "
            f"{', '.join(in_scope)}", file=path)
    per_cell = [h for h in header if h in all_cols]
    if "amount" in header and per_cell:
        raise DataError(f"{what}: has both 'amount' and stream-year columns {per_cell}; use one "
                        "or the other", file=path)
    outside = [h for h in per_cell if h not in in_scope]
    if outside:
        raise DataError(f"{what}: column(s) {outside} are outside this floor's scope (streams "
                        f"{scope_s}, years {scope_y}); widen 'streams'/'years' or drop them",
                        file=path)
    if "amount" not in header:
        missing = [c for c in in_scope if c not in per_cell]
        if missing:
            raise DataError(f"{what}: no column for {missing}: every stream-year the floor "
                            f"applies to (streams {scope_s}, years {scope_y}) needs one, or "
                            "give a single 'amount' column", file=path)
    where = {c: i for i, c in enumerate(codes)}
    ci = header.index("code")
    file_codes = [r[ci].replace("\xa0", " ").strip() for r in rows]
    seen: set[str] = set()
    dup = sorted({c for c in file_codes if c in seen or seen.add(c)})  # type: ignore[func-returns-value]
    if dup:
        raise DataError("duplicate codes in floor file", file=path, column="code",
                        codes=[excerpt(c) for c in dup])
    unknown_codes = [c for c in file_codes if c not in where]
    if unknown_codes:
        raise DataError("floor file names codes not in the areas table", file=path,
                        column="code", codes=[excerpt(c) for c in unknown_codes])
    out = np.full((len(streams), len(years), len(codes)), np.nan)
    cols = {h: header.index(h) for h in header}
    idx = np.array([where[c] for c in file_codes], dtype=int)
    for s, stream in enumerate(streams):
        for y, year in enumerate(years):
            col = money_column(stream, year)
            if col not in in_scope:
                continue
            use = "amount" if "amount" in header else col
            vals = [_amount(r[cols[use]], path, use, c) for r, c in zip(rows, file_codes, strict=True)]
            out[s, y, idx] = vals
    return out
