"""Indicator weights: explicit, equal, or data-driven (principal components).

All methods return weights that are non-negative and sum to 1 (the nominal weights of an
``explicit`` config are rescaled by their sum; the rescaled values are what the score uses and
what ``NeedIndex.weights_`` reports next to the nominal ones).

PCA weighting follows the OECD/JRC *Handbook on Constructing Composite Indicators* (2008, §6.1):
the normalised indicators are standardised (so PCA runs on their correlation matrix), the first
principal component is taken, its loadings are signed so that they sum to a positive number,
and the weights are the squared loadings (which sum to 1 for a unit eigenvector). An indicator
that does not vary gets weight 0. With a single indicator the weight is 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from .normalise import zscore

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Weights:
    """Weights chosen for the indicators, with what the data-driven method saw.

    Attributes
    ----------
    weights : ndarray, shape (K,)
        Non-negative, summing to 1: what the score uses.
    loadings : ndarray, shape (K,) or None
        First-principal-component loadings (``pca`` only).
    explained_variance : float or None
        Share of the total variance the first component explains (``pca`` only).
    """

    weights: FloatArray
    loadings: FloatArray | None = None
    explained_variance: float | None = None


def normalise_weights(w: FloatArray) -> FloatArray:
    """Rescale non-negative weights along the last axis to sum to 1."""
    w = np.asarray(w, dtype=float)
    total = w.sum(axis=-1, keepdims=True)
    if np.any(total <= 0) or np.any(w < 0):
        raise ConfigError("weights must be non-negative and sum to a positive number")
    return w / total


def pca_weights(normalised: FloatArray) -> Weights:
    """Weights from the first principal component of the (K, L) normalised indicator matrix."""
    k = normalised.shape[0]
    if k == 1:
        return Weights(np.ones(1), np.ones(1), 1.0)
    z = zscore(normalised)
    cov = (z @ z.T) / z.shape[1]
    vals, vecs = np.linalg.eigh(cov)
    total = float(vals.sum())
    if total <= 0:
        raise ConfigError("PCA weighting needs at least one indicator that varies across LAs")
    v = vecs[:, -1].copy()
    s = v.sum()
    if s < 0 or (s == 0 and v[np.argmax(np.abs(v))] < 0):
        v = -v
    w = v**2
    return Weights(w / w.sum(), v, float(vals[-1] / total))


def resolve_weights(nominal: FloatArray, method: str, normalised: FloatArray) -> Weights:
    """Weights for the named method.

    Parameters
    ----------
    nominal : ndarray, shape (K,)
        Configured weights.
    method : {"explicit", "equal", "pca"}
    normalised : ndarray, shape (K, L)
        Normalised indicators (used by ``pca``).
    """
    if method == "explicit":
        return Weights(normalise_weights(nominal))
    if method == "equal":
        k = len(nominal)
        return Weights(np.full(k, 1.0 / k))
    if method == "pca":
        return pca_weights(normalised)
    raise ConfigError(f"unknown weighting {method!r}; known: explicit, equal, pca")
