"""Stable row-wise argsort of float arrays through numpy's fast (SIMD) sort of packed keys.

``np.argsort(kind="stable")`` is several times slower than ``np.sort`` on the rows of a Monte
Carlo block (152 LAs, or tens of thousands of areas). Here each value is mapped to an unsigned
64-bit key with the same order (its IEEE 754 bits, negatives flipped), the key's lowest ``b``
bits (``2**b`` >= the row length) are replaced by the column index, and the keys are sorted with
``np.sort``; the column index is read back from the low bits. Keys that agree above those bits
(equal values, or values within ``2**b`` units in the last place of each other) come out in
column order: right for equal values (a stable sort keeps them in column order), not always for
distinct ones. So every row where two keys agree above the low bits is checked: if the packed
order leaves it sorted, that order is the stable one; if not (values a few units in the last
place apart, or a NaN), the row is sorted again with ``np.argsort(kind="stable")``. The result
is therefore exactly ``np.argsort(x, axis=-1, kind="stable")`` (tested on ties, signed zeros,
infinities, NaN and values one unit in the last place apart); rows of distinct values and rows
of exact ties never need the slow sort. Rows are processed a cache-sized piece at a time.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

SIGN = np.uint64(1 << 63)

#: Below this many elements plain ``np.argsort(kind="stable")`` is used (a single row: the
#: per-draw loop), since packing keys only pays on whole blocks.
SMALL = 2048

#: Elements packed and sorted at a time (fits the CPU's L2 cache).
PIECE = 1 << 17


def stable_argsort(x: NDArray[np.floating]) -> NDArray[np.intp]:
    """``np.argsort(x, axis=-1, kind="stable")`` (see the module docstring)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size < SMALL or x.shape[-1] < 2:
        return np.argsort(x, axis=-1, kind="stable")
    return argsort_distinct(x)[0]


def argsort_distinct(x: NDArray[np.floating]) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
    """``np.argsort(x, axis=-1, kind="stable")``, and which rows hold pairwise distinct values.

    Parameters
    ----------
    x : ndarray of float, shape (..., n)

    Returns
    -------
    order : ndarray of intp, shape (..., n)
        Identical to ``np.argsort(x, axis=-1, kind="stable")``.
    distinct : ndarray of bool, shape (...)
        ``True`` where the row's values are known to be pairwise distinct (no ties, no NaN);
        ``False`` where the row may hold ties.
    """
    x = np.asarray(x, dtype=np.float64)
    shape = x.shape
    n = shape[-1] if x.ndim else 1
    if x.size < SMALL or n < 2:
        order = np.argsort(x, axis=-1, kind="stable")
        if n < 2:
            return order, np.ones(shape[:-1], dtype=bool)
        s = np.take_along_axis(x, order, axis=-1)
        return order, (s[..., 1:] > s[..., :-1]).all(axis=-1)
    flat = x.reshape(-1, n)
    rows = flat.shape[0]
    b = (n - 1).bit_length()
    shift = np.uint64(b)
    low = np.uint64((1 << b) - 1)
    high = ~low
    # keys of -inf and +inf above the low bits; a NaN's key lies outside them (or collides)
    lowest, highest = _keys(np.array([-np.inf, np.inf])) >> shift
    columns = np.arange(n, dtype=np.uint64)
    order = np.empty((rows, n), dtype=np.intp)
    distinct = np.empty(rows, dtype=bool)
    step = max(1, PIECE // n)
    for r0 in range(0, rows, step):
        keys = _keys(flat[r0 : r0 + step])
        keys &= high
        keys |= columns
        keys.sort(axis=-1)
        order[r0 : r0 + step] = keys & low
        keys >>= shift
        distinct[r0 : r0 + step] = (
            (keys[:, 1:] != keys[:, :-1]).all(axis=-1)
            & (keys[:, 0] > lowest)
            & (keys[:, -1] < highest)
        )
    if not distinct.all():
        # Rows where two keys agree above the low bits (or a NaN may hide): the packed order is
        # the stable order exactly when it leaves the row sorted (equal values then share their
        # whole key and follow column order); otherwise (values a few units in the last place
        # apart, or NaN) sort the row again.
        check = np.flatnonzero(~distinct)
        s = np.take_along_axis(flat[check], order[check], axis=-1)
        redo = check[~(s[:, 1:] >= s[:, :-1]).all(axis=-1)]
        if redo.size:
            order[redo] = np.argsort(flat[redo], axis=-1, kind="stable")
    return order.reshape(shape), distinct.reshape(shape[:-1])


def _keys(x: NDArray[np.float64]) -> NDArray[np.uint64]:
    """Unsigned 64-bit keys in the order of the values (a new array; -0.0 and 0.0 share one)."""
    keys = np.add(x, 0.0).view(np.uint64)  # -0.0 + 0.0 is 0.0
    flip = (keys.view(np.int64) >> 63).view(np.uint64)  # all ones for negatives
    flip |= SIGN
    keys ^= flip  # negatives: every bit flipped; the rest: the sign bit set
    return keys
