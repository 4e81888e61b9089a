"""A mergeable, exact-integer summary of many draws' whole pounds, bounded in memory.

Each cell's amounts are counted in integer bins with fixed edges (:func:`bin_edges`): every
pound its own bin up to £1,000, then bins at most 0.1% wide (edge ``e`` to
``e + max(1, e // 1000)``). Per occupied (cell, bin) the sketch keeps the number of draws and
the smallest and largest amount seen; per cell the number of draws below the stated share of
the published amount (exact: ``amount * den < published * num``) and the sum of the amounts.
All of these merge by integer addition, minimum and maximum, so merging chunk sketches in any
order gives the same sketch, and its size is bounded by cells x bins whatever the number of
draws.

Quantiles (:meth:`PoundsSketch.quantiles`) follow numpy's ``inverted_cdf`` definition: the
order statistic is located exactly, and its value is reported as the smallest amount in its bin
(or the largest when it is the bin's last draw). So a reported quantile is an amount some draw
actually received, exact below £1,000 and whenever its bin holds one distinct amount, and
otherwise at most 0.1% below the true sample quantile.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]

#: Relative bin width above £1,000 (1 / RESOLUTION).
RESOLUTION = 1000


def bin_edges(top: int) -> IntArray:
    """Lower edges of the bins covering ``0 .. top`` (integer arithmetic only)."""
    edges = [0]
    e = 0
    while e <= top:
        e += max(1, e // RESOLUTION)
        edges.append(e)
    return np.asarray(edges, dtype=np.int64)


class PoundsSketch:
    """Counts of whole-pound amounts per cell (see the module docstring).

    Parameters
    ----------
    published : ndarray of int64, shape (C,)
        The run's amount per cell.
    share : Fraction
        The stated share of the published amount.
    edges : ndarray of int64
        Bin lower edges (:func:`bin_edges`).
    """

    def __init__(self, published: IntArray, share: Fraction, edges: IntArray) -> None:
        self.published = np.asarray(published, dtype=np.int64)
        self.share = Fraction(share)
        self.edges = edges
        c = self.published.size
        self.keys = np.zeros(0, dtype=np.int64)
        self.counts = np.zeros(0, dtype=np.int64)
        self.lo = np.zeros(0, dtype=np.int64)
        self.hi = np.zeros(0, dtype=np.int64)
        self.below = np.zeros(c, dtype=np.int64)
        self.total = np.zeros(c, dtype=np.int64)
        self.n = 0

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return int(self.published.size)

    def add(self, values: IntArray) -> PoundsSketch:
        """Count the draws ``values`` (shape (m, C), whole pounds >= 0)."""
        v = np.asarray(values, dtype=np.int64)
        if v.ndim != 2 or v.shape[1] != self.n_cells:
            raise ValueError(f"values must have shape (m, {self.n_cells}), got {v.shape}")
        if v.size and (v.min() < 0 or v.max() >= self.edges[-1]):
            raise ValueError("values outside the sketch's bins (negative or above the budget)")
        m = v.shape[0]
        if m == 0:
            return self
        nb = self.edges.size
        b = np.searchsorted(self.edges, v, side="right") - 1
        keys = (np.arange(self.n_cells, dtype=np.int64) * nb + b).ravel()
        flat = v.ravel()
        order = np.lexsort((flat, keys))
        keys, flat = keys[order], flat[order]
        start = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        end = np.r_[start[1:], keys.size]
        self._merge(keys[start], end - start, flat[start], flat[end - 1])
        num, den = self.share.numerator, self.share.denominator
        self.below += (v * den < self.published * num).sum(axis=0)
        self.total += v.sum(axis=0)
        self.n += m
        return self

    def merge(self, *others: PoundsSketch) -> PoundsSketch:
        """Add the counts of ``others`` (same cells, share and edges) to this sketch.

        Merging several at once costs one sort of all their entries (cheaper than one merge
        each when this sketch is large).
        """
        for other in others:
            if other.n_cells != self.n_cells or other.share != self.share or \
                    not np.array_equal(other.edges, self.edges):
                raise ValueError("sketches of different cells, shares or bins cannot be merged")
        if not others:
            return self
        self._merge(np.concatenate([o.keys for o in others]),
                    np.concatenate([o.counts for o in others]),
                    np.concatenate([o.lo for o in others]),
                    np.concatenate([o.hi for o in others]))
        for other in others:
            self.below += other.below
            self.total += other.total
            self.n += other.n
        return self

    def _merge(self, keys: IntArray, counts: IntArray, lo: IntArray, hi: IntArray) -> None:
        k = np.concatenate([self.keys, keys])
        order = np.argsort(k, kind="stable")
        k = k[order]
        start = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        c = np.concatenate([self.counts, counts])[order]
        mn = np.concatenate([self.lo, lo])[order]
        mx = np.concatenate([self.hi, hi])[order]
        self.keys = k[start]
        self.counts = np.add.reduceat(c, start) if k.size else c
        self.lo = np.minimum.reduceat(mn, start) if k.size else mn
        self.hi = np.maximum.reduceat(mx, start) if k.size else mx

    def quantiles(self, q: list[float]) -> IntArray:
        """Per cell, the ``inverted_cdf`` quantiles ``q`` (shape (len(q), C)).

        Raises
        ------
        ValueError
            If the sketch has no draws.
        """
        if self.n == 0:
            raise ValueError("no draws to take quantiles of")
        order = np.quantile(np.arange(self.n), q, method="inverted_cdf").astype(np.int64)
        cell = self.keys // self.edges.size
        first = np.searchsorted(cell, np.arange(self.n_cells))  # first entry of each cell
        cum = np.cumsum(self.counts)
        before = np.r_[0, cum[:-1]] - np.r_[0, cum][first][np.minimum(cell, self.n_cells - 1)]
        out = np.empty((len(q), self.n_cells), dtype=np.int64)
        base = np.r_[0, cum][first]
        for j, k in enumerate(order.tolist()):
            # entry holding order statistic k of each cell: first with cumulative count > k
            at = np.searchsorted(cum, base + k, side="right")
            last = (before[at] + self.counts[at] - 1) == k
            out[j] = np.where(last, self.hi[at], self.lo[at])
        return out

    def mean(self) -> NDArray[np.float64]:
        """Per cell, the mean amount over the draws."""
        return self.total / max(self.n, 1)

    def p_below(self) -> NDArray[np.float64]:
        """Per cell, the share of draws below ``share`` x the published amount."""
        return self.below / max(self.n, 1)

    def nbytes(self) -> int:
        """Memory held by the sketch's arrays."""
        return int(sum(a.nbytes for a in (self.keys, self.counts, self.lo, self.hi,
                                          self.below, self.total)))


__all__ = ["PoundsSketch", "bin_edges", "RESOLUTION"]
