"""Model inputs of a Saltelli design: uniforms mapped to one Monte Carlo draw each.

:func:`factor_inputs` maps rows of uniforms (one column group per factor) to the inputs of
:func:`allocator.montecarlo.kernel.evaluate_block`, through the quantile functions of the Monte
Carlo's distributions (see :mod:`allocator.montecarlo.sensitivity`). Every factor's inputs
depend on that factor's columns alone, element by element or row by row, and in a Saltelli
design every row takes each factor's columns from ``A`` or from ``B`` of its sample: so
:func:`design_inputs` maps only the ``A`` and ``B`` rows and copies each factor's inputs into
the ``AB_j`` rows, the same numbers as mapping every row (tested) with ``2 / (G + 2)`` of the
quantile-function work (the inverse normal of every noise input is most of it).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .draws import MonteCarloSetup
from .sobol import EPS, Factor

FloatArray = NDArray[np.float64]
Inputs = tuple[FloatArray, FloatArray, NDArray[np.int64], NDArray[np.int64]]


def factor_inputs(
    s: MonteCarloSetup, factors: list[Factor], u: FloatArray
) -> Inputs:
    """Map uniforms (m, inputs) to noisy values, weights, normaliser and aggregator indices."""
    from scipy import special

    m = u.shape[0]
    k, n = s.raw.shape
    u = np.clip(u, EPS, 1.0 - EPS)
    cols: dict[str, FloatArray] = {}
    lo = 0
    for f in factors:
        if f.varied:
            cols[f.name] = u[:, lo : lo + f.width]
            lo += f.width
    if "weights" in cols:
        uw = cols["weights"]
        gam = special.gammaincinv(s.alpha, uw)
        total = gam.sum(axis=1, keepdims=True)
        # every gamma quantile can underflow to 0 for tiny concentrations: Dirichlet's limit
        # there puts all weight on one indicator (the one with the largest uniform)
        onehot = (uw == uw.max(axis=1, keepdims=True)).astype(float)
        w = np.zeros((m, k))
        w[:, s.positive] = np.where(total > 0, gam / np.where(total > 0, total, 1.0), onehot)
    else:
        w = np.broadcast_to(s.weights, (m, k)).copy()

    def choice(name: str, options: list[str]) -> NDArray[np.int64]:
        if name not in cols:
            return np.zeros(m, dtype=np.int64)
        idx = (cols[name][:, 0] * len(options)).astype(np.int64)
        return np.minimum(idx, len(options) - 1)

    ni = choice("normaliser", s.normalisers)
    ai = choice("aggregator", s.aggregators)
    noisy = np.empty((m, k, n))
    for j, spec in enumerate(s.specs):
        zj = special.ndtri(cols[f"noise: {spec.name}"])
        noisy[:, j] = np.maximum(s.raw[j] + s.sd[j] * zj, s.floor[j])
    return noisy, w, ni, ai


def design_inputs(
    s: MonteCarloSetup, factors: list[Factor], a: FloatArray, b: FloatArray
) -> Inputs:
    """Inputs of every run of whole samples of a Saltelli design, from their ``A`` and ``B`` rows.

    Parameters
    ----------
    s : MonteCarloSetup
    factors : list of Factor
        Every factor, varied or not, in design column order (as :func:`factor_inputs`).
    a, b : ndarray, shape (m, inputs)
        The samples' ``A`` and ``B`` rows (:func:`allocator.montecarlo.sobol.saltelli_ab`).

    Returns
    -------
    noisy, weights, normaliser, aggregator
        For the ``m * (G + 2)`` runs ``A``, ``AB_1`` ... ``AB_G``, ``B`` of each sample in turn:
        :func:`factor_inputs` of :func:`allocator.montecarlo.sobol.saltelli_design`'s rows
        ``design.reshape(-1, inputs)``, bit for bit.
    """
    varied = [f.name for f in factors if f.varied]
    m, rows = a.shape[0], len(varied) + 2
    k, n = s.raw.shape
    noisy2, w2, ni2, ai2 = factor_inputs(s, factors, np.concatenate([a, b]))

    def assemble(both: NDArray[np.generic], name: str) -> NDArray[np.generic]:
        a, b = both[:m], both[m:]
        out = np.empty((m, rows, *a.shape[1:]), dtype=both.dtype)
        out[:] = a[:, None]
        out[:, -1] = b
        if name in varied:
            out[:, varied.index(name) + 1] = b
        return out.reshape(m * rows, *a.shape[1:])

    noisy = np.empty((m, rows, k, n))
    for j, spec in enumerate(s.specs):
        noisy[:, :, j] = assemble(noisy2[:, j], f"noise: {spec.name}").reshape(m, rows, n)
    return (
        noisy.reshape(m * rows, k, n),
        assemble(w2, "weights"),
        assemble(ni2, "normaliser"),
        assemble(ai2, "aggregator"),
    )
