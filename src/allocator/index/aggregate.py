"""Aggregation of weighted, normalised indicators into one score, with exact contributions.

Arrays have indicators on axis -2 and local authorities on the last axis; weights have
indicators on their last axis and already sum to 1. Leading axes (Monte Carlo draws) broadcast.

arithmetic
    ``score = sum_k w_k n_k`` (fully compensatory); ``contribution_k = w_k n_k`` sums to the score.
geometric
    Partially compensatory weighted geometric mean. Normalised values can be zero or negative, so
    each indicator is first put on a positive scale by a min-max rescale onto [1, 100] across LAs
    (the convention of the JRC COIN tool / COINr for geometric aggregation):
    ``g_k = 1 + 99 * (n_k - min n_k) / (max n_k - min n_k)`` (a constant indicator gives 1), and
    ``score = prod_k g_k ** w_k`` in [1, 100]. Contributions are the score split in proportion to
    each indicator's share of the log-score: ``contribution_k = score * w_k ln g_k / sum_j w_j ln
    g_j`` (split by weight when every ``g_k`` is 1). They are non-negative and sum to the score,
    but unlike the arithmetic case they are not additive across LAs' changes.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from .normalise import minmax

FloatArray = NDArray[np.float64]


def arithmetic(norm: FloatArray, weights: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Weighted sum; returns ``(score, contributions)``."""
    contrib = weights[..., :, None] * norm
    return contrib.sum(axis=-2), contrib


def positive_rescale(norm: FloatArray) -> FloatArray:
    """Min-max rescale each indicator onto [1, 100] across LAs (the geometric mean's input)."""
    return 1.0 + 99.0 * minmax(norm)


def geometric(norm: FloatArray, weights: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Weighted geometric mean of the [1, 100] rescale; returns ``(score, contributions)``."""
    w = weights[..., :, None]
    logs = w * np.log(positive_rescale(norm))
    total = logs.sum(axis=-2)
    score = np.exp(total)
    safe = np.where(total > 0, total, 1.0)
    share = np.where(
        total[..., None, :] > 0, logs / safe[..., None, :], np.broadcast_to(w, logs.shape)
    )
    return score, share * score[..., None, :]


AGGREGATE = {"arithmetic": arithmetic, "geometric": geometric}


def aggregate(norm: FloatArray, weights: FloatArray, method: str) -> tuple[FloatArray, FloatArray]:
    """Aggregate with the named method; returns ``(score, contributions)``."""
    try:
        fn = AGGREGATE[method]
    except KeyError:
        raise ConfigError(f"unknown aggregator {method!r}; known: {', '.join(AGGREGATE)}") from None
    return fn(np.asarray(norm, dtype=float), np.asarray(weights, dtype=float))
