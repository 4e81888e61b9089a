"""Exact whole-pound arithmetic for the rules: decimals as written, integer comparisons.

A rule's numbers come from a config or a CSV as decimals (``0.03``, ``£1.50`` per head); their
binary floats are not those decimals (``1 + 0.03 != 1.03`` exactly). Every whole-pound bound and
every check here works on the decimal the user wrote (``Fraction(repr(value))``) and Python
integers, so a rule is never passed by a rounding error and never failed by one:

* floors are ``ceil`` of the exact amount, caps ``floor``;
* a pace rule ``x[y] >= r * x[y-1]`` with ``r = num / den`` is checked as
  ``den * x[y] >= num * x[y-1]`` on the integers.

The float product is used where it cannot be wrong (the exact value is more than ``1e-9`` of its
size away from an integer; float error is about ``1e-16`` of it); only values that sit on or next
to a whole pound are recomputed as fractions.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

_NEAR = 1e-9


def decimal(value: float | int | Fraction) -> Fraction:
    """The decimal a number was written as (``0.03`` -> ``3/100``), exactly."""
    if isinstance(value, Fraction | int):
        return Fraction(value)
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"value must be finite, got {value!r}")
    return Fraction(repr(value))


def ratio(rate: float) -> Fraction:
    """``1 + rate`` exactly (a pace factor, e.g. ``0.03`` -> ``103/100``)."""
    return 1 + decimal(rate)


def _rounded_product(scalar: float | Fraction, values: np.ndarray, up: bool) -> np.ndarray:
    vals = np.asarray(values, dtype=float)
    approx = float(scalar) * vals
    out = np.ceil(approx) if up else np.floor(approx)
    near = np.abs(approx - np.round(approx)) <= _NEAR * np.maximum(1.0, np.abs(approx))
    s = decimal(scalar)
    for i in np.flatnonzero(near).tolist():
        exact = s * decimal(vals[i])
        out[i] = math.ceil(exact) if up else math.floor(exact)
    return out.astype(np.int64)


def ceil_product(scalar: float | Fraction, values: np.ndarray) -> np.ndarray:
    """``ceil(scalar * v)`` per value, exactly on the written decimals (int64)."""
    return _rounded_product(scalar, values, up=True)


def floor_product(scalar: float | Fraction, values: np.ndarray) -> np.ndarray:
    """``floor(scalar * v)`` per value, exactly on the written decimals (int64)."""
    return _rounded_product(scalar, values, up=False)


def _ints(values: np.ndarray, scale: int) -> np.ndarray:
    """``values`` as int64 when ``values * scale`` cannot overflow it, else as Python ints."""
    v = np.asarray(values, dtype=np.int64)
    biggest = int(np.abs(v).max()) if v.size else 0
    return v if biggest * abs(scale) < 2**62 else v.astype(object)


def pace_bound(prev: np.ndarray, factor: Fraction, sense: str) -> np.ndarray:
    """Whole-pound bound on ``x[y]`` from the whole pounds ``prev`` of ``x[y-1]``.

    ``ceil(factor * prev)`` for ``">="`` rules, ``floor(factor * prev)`` for ``"<="`` (int64).
    """
    num, den = factor.numerator, factor.denominator
    p = _ints(prev, num)
    if sense == ">=":
        out = -((-num * p) // den)
    elif sense == "<=":
        out = (num * p) // den
    else:
        raise ValueError(f"sense must be '>=' or '<=', got {sense!r}")
    return np.asarray(out, dtype=np.int64)


def pace_gaps(now: np.ndarray, prev: np.ndarray, factor: Fraction, sense: str
              ) -> tuple[np.ndarray, list[Fraction]]:
    """Rows where ``now <sense> factor * prev`` fails on whole pounds, and by how much.

    Compared as ``den * now`` against ``num * prev`` on integers: no tolerance, no overflow.

    Returns
    -------
    rows : ndarray of int
        Positions of the failing rows.
    amounts : list of Fraction
        Pounds by which each fails.
    """
    if sense not in (">=", "<="):
        raise ValueError(f"sense must be '>=' or '<=', got {sense!r}")
    num, den = factor.numerator, factor.denominator
    scale = max(num, den)
    a = _ints(now, scale) * den
    b = _ints(prev, scale) * num
    gap = (b - a) if sense == ">=" else (a - b)
    rows = np.flatnonzero(np.asarray(gap > 0, dtype=bool))
    return rows, [Fraction(int(gap[r]), den) for r in rows.tolist()]


def largest_remainder(parts: list[Fraction], total: int) -> list[int]:
    """Whole numbers summing exactly to ``total``, each ``floor(part)`` or one more.

    The ``total - sum(floor(part))`` units left over go one each to the parts with the largest
    fractional remainders; equal remainders go in list order (the caller orders the parts, e.g.
    by ONS code, so the tie-break is documented and deterministic). Exact: ``Fraction`` parts,
    integer results.

    Parameters
    ----------
    parts : list of Fraction
        Non-negative exact parts whose sum is ``total`` (or within one unit per part of it).
    total : int
        The whole number the results must add up to.

    Raises
    ------
    ValueError
        ``parts`` holds a negative value, or ``total`` cannot be reached by rounding each part
        down or up.
    """
    if any(p < 0 for p in parts):
        raise ValueError("parts: must be >= 0")
    floors = [math.floor(p) for p in parts]
    left = total - sum(floors)
    if not 0 <= left <= len(parts):
        raise ValueError(f"total: {total} cannot be reached by rounding the parts (sum "
                         f"{float(sum(parts, Fraction(0))):,.2f})")
    order = sorted(range(len(parts)), key=lambda i: (-(parts[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return floors


__all__ = ["ceil_product", "decimal", "floor_product", "largest_remainder", "pace_bound",
           "pace_gaps", "ratio"]
