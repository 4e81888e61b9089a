"""Transforms and normalisers, vectorised along the last axis (local authorities).

Every function takes an array whose LAST axis runs over local authorities (any leading axes:
indicators, Monte Carlo draws) and returns an array of the same shape. Inputs are already
oriented so that higher = more need; outputs keep that orientation.

Normalisers
-----------
zscore
    ``(x - mean) / sd`` with the population standard deviation (``ddof=0``). A constant
    indicator normalises to 0 everywhere (it cannot separate LAs).
minmax
    ``(x - min) / (max - min)`` in [0, 1]; a constant indicator gives 0.
rank
    Average rank (ties share the mean of their ranks; 1 = least need) divided by the number of
    LAs, so values lie in (0, 1] and the LA with the most need gets 1.
exponential
    The exponential transformation of the English Indices of Deprivation (McLennan et al.,
    *The English Indices of Deprivation 2019: Technical report*, MHCLG 2019, the step combining
    domains; first set out in the Scottish Indices of Deprivation 2003, Appendix 5):
    ``X = -23 * ln(1 - R * (1 - exp(-100/23)))`` where ``R`` is the rank scaled to (0, 1]
    (``R = 1/N`` for the least deprived, ``R = 1`` for the most deprived; ties take their average
    rank). ``X`` runs from about 0 to exactly 100, and about 10% of areas score above 50, which
    limits how far a low value on one indicator cancels a high value on another.

Monotonicity: under ``minmax``, ``rank`` and ``exponential`` raising one LA's value never lowers
its rank (tested as a property). ``zscore`` does not guarantee this in extreme cases: raising an
outlier also inflates the indicator's standard deviation, which can shrink its lead over an LA it
was already ahead of on that indicator, so an LA behind on other indicators can overtake it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from .sorting import argsort_distinct

FloatArray = NDArray[np.float64]

EXP_CONSTANT = 23.0


def average_rank(x: FloatArray) -> FloatArray:
    """Average ranks (1-based, ties share the mean rank) along the last axis.

    Equivalent to ``scipy.stats.rankdata(x, method="average", axis=-1)`` but several times faster
    on (draws x LAs) arrays. NaN is not allowed.

    Rows of distinct values (the usual case) take their rank from the position in the sort
    (:func:`allocator.index.sorting.argsort_distinct`, which says which rows those are); in the
    other rows ties are handled explicitly (every member of a run of equal sorted values gets the
    run's mean position).
    """
    x = np.asarray(x, dtype=float)
    n = x.shape[-1]
    order, distinct = argsort_distinct(x)
    out = np.empty(x.shape)
    np.put_along_axis(out, order, np.broadcast_to(np.arange(1.0, n + 1.0), x.shape), axis=-1)
    if not distinct.all():
        tied = ~distinct
        out[tied] = tied_ranks(x[tied], order[tied])
    return out


def tied_ranks(x: FloatArray, order: NDArray[np.intp]) -> FloatArray:
    """Average ranks of rows ``x`` (2-D) sorted by ``order``, ties sharing their mean position."""
    n = x.shape[-1]
    s = np.take_along_axis(x, order, axis=-1)
    same = s[..., 1:] == s[..., :-1]  # ties: equal neighbours once sorted
    pos = np.broadcast_to(np.arange(n), s.shape)
    new_group = np.ones(s.shape, dtype=bool)
    new_group[..., 1:] = ~same
    start = np.maximum.accumulate(np.where(new_group, pos, 0), axis=-1)
    end_group = np.ones(s.shape, dtype=bool)
    end_group[..., :-1] = ~same
    end = np.flip(
        np.minimum.accumulate(np.flip(np.where(end_group, pos, n - 1), axis=-1), axis=-1), axis=-1
    )
    avg = (start + end) / 2.0 + 1.0
    out = np.empty(x.shape)
    np.put_along_axis(out, order, avg, axis=-1)
    return out


def transform(x: FloatArray, kind: str) -> FloatArray:
    """Apply an indicator transform (``"none"``, ``"log"`` or ``"rank"``) along the last axis.

    ``log`` requires strictly positive values; callers check (and report) that beforehand.
    """
    if kind == "none":
        return np.asarray(x, dtype=float)
    if kind == "log":
        return np.log(x)
    if kind == "rank":
        return average_rank(x)
    raise ConfigError(f"unknown transform {kind!r}; known: none, log, rank")


def zscore(x: FloatArray) -> FloatArray:
    """``(x - mean) / sd`` along the last axis (``ddof=0``); constant rows give 0."""
    mean = x.mean(axis=-1, keepdims=True)
    sd = x.std(axis=-1, keepdims=True)
    safe = np.where(sd > 0, sd, 1.0)
    return np.where(sd > 0, (x - mean) / safe, 0.0)


def minmax(x: FloatArray) -> FloatArray:
    """``(x - min) / (max - min)`` along the last axis; constant rows give 0."""
    lo = x.min(axis=-1, keepdims=True)
    span = x.max(axis=-1, keepdims=True) - lo
    safe = np.where(span > 0, span, 1.0)
    return np.where(span > 0, (x - lo) / safe, 0.0)


def rank(x: FloatArray) -> FloatArray:
    """Average rank divided by the number of LAs: values in (0, 1], 1 = most need."""
    return from_average_rank(average_rank(x), x.shape[-1], "rank")


def exponential(x: FloatArray) -> FloatArray:
    """IoD 2019 exponential transformation of the scaled rank; 100 = most need (see module doc)."""
    return from_average_rank(average_rank(x), x.shape[-1], "exponential")


def from_average_rank(avg: FloatArray, n: int, method: str) -> FloatArray:
    """The ``rank`` or ``exponential`` normalised value of average ranks ``avg`` among ``n``.

    The one formula of both normalisers: :func:`rank` and :func:`exponential` apply it to
    :func:`average_rank`, and the Monte Carlo (:mod:`allocator.montecarlo.kernel`) to a table of
    the ``n`` ranks of a row without ties, so both give the same numbers bit for bit.

    Raises
    ------
    ValueError
        If ``method`` is neither ``"rank"`` nor ``"exponential"``.
    """
    r = avg / n
    if method == "rank":
        return r
    if method == "exponential":
        return -EXP_CONSTANT * np.log(1.0 - r * (1.0 - np.exp(-100.0 / EXP_CONSTANT)))
    raise ValueError(f"method: {method!r} is not a rank-based normaliser (rank, exponential)")


NORMALISE = {"zscore": zscore, "minmax": minmax, "rank": rank, "exponential": exponential}


def normalise(x: FloatArray, method: str) -> FloatArray:
    """Normalise along the last axis with the named method (see the module docstring)."""
    try:
        fn = NORMALISE[method]
    except KeyError:
        raise ConfigError(f"unknown normaliser {method!r}; known: {', '.join(NORMALISE)}") from None
    return fn(np.asarray(x, dtype=float))
