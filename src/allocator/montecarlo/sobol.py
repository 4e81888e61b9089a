"""Saltelli's sampling design and Sobol' estimators for grouped inputs and vector outputs.

The numerical core of :class:`~allocator.montecarlo.sensitivity.WaveSensitivity`: the design of
:func:`SALib.sample.sobol.sample` (groups, ``calc_second_order=False``) built without its per-row
Python loop, and the first- and total-order estimators of :mod:`SALib.analyze.sobol`
(Saltelli et al. 2010; Jansen) aggregated over the components of a vector output (Gamboa et
al. 2013). Both are checked against SALib in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

#: Uniforms are kept this far from 0 and 1 before quantile functions (scrambled Sobol' points
#: can be exactly 0).
EPS = 1e-12


@dataclass(frozen=True)
class Factor:
    """One group of uncertain inputs.

    Attributes
    ----------
    name : str
        ``weights``, ``normaliser``, ``aggregator`` or ``noise: <indicator>``.
    width : int
        Number of uniform inputs (0 when the configuration fixes the factor).
    detail : str
        What is varied, for notes.
    """

    name: str
    width: int
    detail: str

    @property
    def varied(self) -> bool:
        """Whether the factor is sampled."""
        return self.width > 0


def saltelli_design(widths: list[int], n: int, rng: np.random.Generator) -> FloatArray:
    """Saltelli design for grouped inputs, shape ``(n, groups + 2, inputs)``.

    Row block ``i`` holds ``A_i``, then ``A_i`` with group ``j``'s columns from ``B_i`` for each
    group, then ``B_i``; ``A | B`` is ``n`` points of a scrambled Sobol' sequence in
    ``2 * inputs`` dimensions. Reshaped to ``(-1, inputs)`` it equals
    ``SALib.sample.sobol.sample(problem, n, calc_second_order=False, seed=rng)`` for a problem
    with unit bounds and these groups (in this order).
    """
    from scipy.stats import qmc

    d = int(sum(widths))
    base = qmc.Sobol(d=2 * d, scramble=True, seed=rng).random(n)
    a, b = base[:, :d], base[:, d:]
    out = np.empty((n, len(widths) + 2, d))
    out[:, 0] = a
    out[:, -1] = b
    lo = 0
    for j, w in enumerate(widths):
        out[:, j + 1] = a
        out[:, j + 1, lo : lo + w] = b[:, lo : lo + w]
        lo += w
    return out


def split_runs(y: FloatArray, g: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A (N, ...), B (N, ...) and AB (G, N, ...) from outputs shaped (N, G + 2, ...)."""
    return y[:, 0], y[:, -1], np.moveaxis(y[:, 1:-1], 1, 0)


def multivariate_indices(
    y: FloatArray, g: int, r: NDArray[np.int64], z: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, float]:
    """Sobol' indices of a vector output, aggregated over its components.

    Parameters
    ----------
    y : ndarray, shape (N, G + 2, L)
        Outputs in Saltelli order (see :func:`saltelli_design`).
    g : int
        Number of factors G.
    r : ndarray of int, shape (N, R)
        Bootstrap row indices (as :func:`SALib.analyze.sobol.analyze` draws them).
    z : float
        Normal quantile of the confidence level.

    Returns
    -------
    S1, S1_conf, ST, ST_conf : ndarray, shape (G,)
        ``sum_l numerator_l / sum_l V_l`` with SALib's estimators; with one component (L = 1)
        identical to :func:`SALib.analyze.sobol.analyze`. Zero when the output never varies.
    total : float
        ``sum_l V_l`` (population variances over the rows of A and B).
    """
    y = np.asarray(y, dtype=float)
    y = y - y.mean(axis=(0, 1))  # centre each component, as SALib centres its output
    a, b, ab = split_runs(y, g)
    n = a.shape[0]
    ab_rows = np.concatenate([a, b])
    total = float(ab_rows.var(axis=0).sum())
    # per-row sums over components: the estimators are means over rows, so a bootstrap
    # resample of rows needs only these (and, for the variance, per-component sums)
    s1_rows = np.einsum("nl,gnl->gn", b, ab - a)  # (G, N)
    st_rows = 0.5 * ((a - ab) ** 2).sum(axis=2)  # (G, N)
    counts = np.zeros((r.shape[1], n))
    for k in range(r.shape[1]):
        counts[k] = np.bincount(r[:, k], minlength=n)
    sq = (a**2).sum(axis=1) + (b**2).sum(axis=1)
    mean_r = counts @ (a + b) / (2 * n)  # (R, L)
    total_r = counts @ sq / (2 * n) - (mean_r**2).sum(axis=1)  # (R,)
    tiny = np.finfo(float).eps
    if total <= tiny:
        zeros = np.zeros(g)
        return zeros, zeros.copy(), zeros.copy(), zeros.copy(), 0.0
    s1 = s1_rows.mean(axis=1) / total
    st = st_rows.mean(axis=1) / total
    safe = np.where(total_r > tiny, total_r, np.inf)
    s1_b = (counts @ s1_rows.T) / n / safe[:, None]  # (R, G)
    st_b = (counts @ st_rows.T) / n / safe[:, None]
    return s1, z * s1_b.std(axis=0, ddof=1), st, z * st_b.std(axis=0, ddof=1), total
