"""The declared basis of a split: mid-2020 population, or a user's file of shares or weights.

``basis: population``
    Each successor's share is the mid-2020 population (all ages) of the 2021 districts that
    form it over the population of all the old LA's districts (ONS mid-year estimates on 2021
    districts; :meth:`allocator.data.vintage.BoundaryChanges.population_shares`).
``basis: file``
    A UTF-8 CSV, one row per (split LA, successor):

    ============  ================================================================================
    column        meaning
    ============  ================================================================================
    old_code      ONS code of a May 2021 LA that the boundary change splits
    new_code      ONS code of one of its successors
    share         its share, an exact decimal or fraction (``0.55``, ``11/20``) in (0, 1]; the
                  shares of one old LA sum to exactly 1
    weight        instead of ``share``: any number > 0 (e.g. a head count); shares are the
                  weights over their old LA's sum
    ============  ================================================================================

    Exactly one of ``share`` and ``weight``; no other column. Every split LA appears with every
    successor exactly once; LAs that are not split (unchanged, recoded or merged whole) may not
    appear, since their pounds pass whole. Any fault is a :class:`~allocator.errors.DataError`
    naming the file, the row and the code.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

from ..data.vintage import BoundaryChanges
from ..errors import DataError
from ..safe_files import read_rows
from .carry import Shares, identity_shares

FILE_COLUMNS = ("old_code", "new_code")


def _number(text: str, *, path: Path, column: str, where: str) -> Fraction:
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise DataError(f"{column} {text.strip()!r} is not a number", file=path, column=column,
                        codes=[where]) from None
    if not math.isfinite(float(value)):
        raise DataError(f"{column} is not finite", file=path, column=column, codes=[where])
    return value


def read_share_file(path: Path, changes: BoundaryChanges) -> dict[str, list[tuple[str, Fraction]]]:
    """Read and strictly validate a user's split shares (schema in the module docstring).

    Returns
    -------
    dict
        ``{old: [(new, exact share), ...]}`` for every split LA.

    Raises
    ------
    DataError
        Unreadable file, missing or extra columns, empty or unknown codes, a code that is not
        split, a successor that is not the old LA's, a repeated row, a share outside (0, 1] or a
        weight not > 0, shares not summing to 1, or a split LA or successor left out.
    """
    path = Path(path)
    header, rows = read_rows(path, "share file")
    header = [h.strip() for h in header]
    value_cols = [c for c in ("share", "weight") if c in header]
    for c in FILE_COLUMNS:
        if c not in header:
            raise DataError("expected column is missing (columns: old_code, new_code and share "
                            "or weight)", file=path, column=c)
    if len(value_cols) != 1:
        raise DataError("give exactly one of the columns 'share' and 'weight'", file=path,
                        column="share")
    extra = [h for h in header if h not in (*FILE_COLUMNS, value_cols[0])]
    if extra:
        raise DataError("unknown column (columns: old_code, new_code and share or weight)",
                        file=path, column=extra[0])
    kind = value_cols[0]
    pos = {h: i for i, h in enumerate(header)}
    split = {o for o in changes.old_names if changes.kind(o) == "split"}
    got: dict[str, dict[str, Fraction]] = {}
    for n, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise DataError(f"row has {len(row)} fields, the header {len(header)}", file=path,
                            codes=[f"row {n}"])
        old, new = row[pos["old_code"]].strip(), row[pos["new_code"]].strip()
        where = f"row {n} {old} -> {new}"
        if not old or not new:
            raise DataError("empty code", file=path, column="old_code" if not old else "new_code",
                            codes=[f"row {n}"])
        if old not in changes.old_names:
            raise DataError("unknown code (not a May 2021 upper-tier LA)", file=path,
                            column="old_code", codes=[where])
        if old not in split:
            raise DataError(f"{old} {changes.old_names[old]} is not split by the "
                            f"{changes.vintage} boundaries (its pounds pass whole to "
                            f"{', '.join(changes.successors(old))}); remove the row", file=path,
                            column="old_code", codes=[where])
        if new not in changes.successors(old):
            raise DataError(f"{new} is not a successor of {old} {changes.old_names[old]} "
                            f"(successors: {', '.join(changes.successors(old))})", file=path,
                            column="new_code", codes=[where])
        if new in got.get(old, {}):
            raise DataError("repeated row", file=path, column="new_code", codes=[where])
        value = _number(row[pos[kind]], path=path, column=kind, where=where)
        if kind == "share" and not 0 < value <= 1:
            raise DataError(f"share {row[pos[kind]].strip()} is not in (0, 1]", file=path,
                            column=kind, codes=[where])
        if kind == "weight" and not value > 0:
            raise DataError(f"weight {row[pos[kind]].strip()} is not > 0", file=path,
                            column=kind, codes=[where])
        got.setdefault(old, {})[new] = value
    uncovered = [f"{o} {changes.old_names[o]}" for o in sorted(split) if o not in got]
    if uncovered:
        raise DataError("split LAs with no shares in the file", file=path, column="old_code",
                        codes=uncovered)
    out: dict[str, list[tuple[str, Fraction]]] = {}
    for old, parts in sorted(got.items()):
        lacking = sorted(set(changes.successors(old)) - set(parts))
        if lacking:
            raise DataError(f"shares of {old} {changes.old_names[old]} do not cover its "
                            "successors", file=path, column="new_code", codes=lacking)
        total = sum(parts.values(), Fraction(0))
        if kind == "share" and total != 1:
            raise DataError(f"shares of {old} {changes.old_names[old]} sum to {float(total):g}, "
                            "not exactly 1", file=path, column="share", codes=sorted(parts))
        out[old] = [(n, v / total) for n, v in sorted(parts.items())]
    return out


def successor_shares(changes: BoundaryChanges, basis: str, file: Path | None = None) -> Shares:
    """Shares of every old LA: whole for unsplit ones, by ``basis`` for split ones.

    Parameters
    ----------
    changes : BoundaryChanges
        The derived mapping.
    basis : {"population", "file"}
        How split LAs are apportioned.
    file : pathlib.Path, optional
        The share file, required for ``basis="file"``.

    Raises
    ------
    ValueError
        Unknown ``basis``, or ``file`` missing for ``"file"`` / given for ``"population"``.
    """
    if basis not in ("population", "file"):
        raise ValueError(f"basis: must be 'population' or 'file', got {basis!r}")
    if (basis == "file") != (file is not None):
        raise ValueError("file: required with basis 'file' and only then")
    by_population = changes.population_shares()
    split = read_share_file(file, changes) if file is not None else {}
    out = {}
    for old in sorted(changes.old_names):
        if old in split:
            out[old] = split[old]
        elif len(by_population[old]) == 1:
            out[old] = identity_shares([by_population[old][0][0]])[by_population[old][0][0]]
        else:
            out[old] = by_population[old]
    return out
