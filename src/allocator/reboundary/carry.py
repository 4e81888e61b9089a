"""Carry whole pounds from old LA codes onto new ones: splits, merges and code changes.

Each old LA's pounds in a stream-year go to its successors by exact shares
(:class:`fractions.Fraction`): an LA that keeps its code, or only changes it, hands on every
pound; a split LA's ``A`` pounds become ``A x share`` for each successor, rounded by largest
remainder (:func:`allocator.allocate.exact.largest_remainder`) so the successors' whole pounds
add up to exactly ``A``. **Tie-break**: equal remainders go to the successor with the lower ONS
code. A new LA formed from several old LAs (a merger) is the sum of what it receives. Because
every old LA's pounds are conserved exactly, every stream-year still sums exactly to its budget.

This is an apportionment of the published allocation, not a re-run of the need index on the new
boundaries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

import pandas as pd

from ..allocate.exact import largest_remainder

#: ``{old code: [(new code, exact share), ...]}``; shares of one old code sum to exactly 1.
Shares = Mapping[str, Sequence[tuple[str, Fraction]]]


def check_shares(shares: Shares) -> None:
    """Raise ``ValueError`` unless every old code's shares are positive and sum to exactly 1."""
    for old, parts in shares.items():
        if not parts:
            raise ValueError(f"shares: {old} has no successor")
        news = [n for n, _ in parts]
        if len(set(news)) != len(news):
            raise ValueError(f"shares: {old} lists a successor twice")
        if any(s <= 0 for _, s in parts):
            raise ValueError(f"shares: {old} has a share that is not positive")
        total = sum((s for _, s in parts), Fraction(0))
        if total != 1:
            raise ValueError(f"shares: the shares of {old} sum to {total}, not exactly 1")


def split_pounds(amount: int, parts: Sequence[tuple[str, Fraction]]) -> dict[str, int]:
    """Split ``amount`` whole pounds by ``parts`` (largest remainder, ties to the lower code).

    Returns
    -------
    dict
        ``{new code: pounds}``, summing exactly to ``amount``.
    """
    ordered = sorted(parts, key=lambda p: p[0])
    pounds = largest_remainder([Fraction(amount) * s for _, s in ordered], amount)
    return {n: p for (n, _), p in zip(ordered, pounds, strict=True)}


def carry_pounds(table: pd.DataFrame, columns: Sequence[str], shares: Shares) -> pd.DataFrame:
    """Move whole-pound ``columns`` of ``table`` (one row per old ``code``) onto new codes.

    Parameters
    ----------
    table : pandas.DataFrame
        ``code`` and the money ``columns`` (whole, non-negative pounds).
    columns : sequence of str
        Money columns to carry.
    shares : mapping
        ``{old: [(new, share), ...]}`` for every old code of ``table`` (an unchanged LA is
        ``[(code, 1)]``).

    Returns
    -------
    pandas.DataFrame
        ``code`` (every new code reached, sorted) and the ``columns`` as int64; each column sums
        exactly to the same column of ``table``.

    Raises
    ------
    ValueError
        A code of ``table`` has no shares, shares do not sum to 1, or a value is not a whole
        non-negative number of pounds.
    """
    check_shares(shares)
    codes = table["code"].astype(str).tolist()
    missing = sorted(set(codes) - set(shares))
    if missing:
        raise ValueError(f"shares: no successor given for {', '.join(missing)}")
    new_codes = sorted({n for c in codes for n, _ in shares[c]})
    out = pd.DataFrame({"code": new_codes})
    for col in columns:
        acc = dict.fromkeys(new_codes, 0)
        for code, value in zip(codes, table[col].tolist(), strict=True):
            amount = int(value)
            if amount != value or amount < 0:
                raise ValueError(f"table: {col} of {code} is not a whole number of pounds >= 0 "
                                 f"({value!r})")
            for new, pounds in split_pounds(amount, shares[code]).items():
                acc[new] += pounds
        out[col] = pd.array([acc[n] for n in new_codes], dtype="int64")
    return out


def identity_shares(codes: Sequence[str]) -> dict[str, list[tuple[str, Fraction]]]:
    """``{code: [(code, 1)]}``: every code keeps its pounds."""
    return {str(c): [(str(c), Fraction(1))] for c in codes}
