"""Saltelli's sampling design and Sobol' estimators for grouped inputs and vector outputs.

The numerical core of :class:`~allocator.montecarlo.sensitivity.WaveSensitivity`: the design of
:func:`SALib.sample.sobol.sample` (groups, ``calc_second_order=False``) built without its per-row
Python loop, and the first- and total-order estimators of :mod:`SALib.analyze.sobol`
(Saltelli et al. 2010; Jansen) aggregated over the components of a vector output (Gamboa et
al. 2013). Both are checked against SALib in the tests.
"""

from __future__ import annotations

import importlib.resources
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

#: Columns of an index table: one row per factor.
INDEX_COLUMNS = ["factor", "varied", "S1", "S1_conf", "ST", "ST_conf"]

#: Bits of the Sobol' integers (as scipy.stats.qmc.Sobol's default).
SOBOL_BITS = 30

#: Uniforms are kept this far from 0 and 1 before quantile functions (scrambled Sobol' points
#: can be exactly 0).
EPS = 1e-12


_BLAS: dict[str, Any] = {}
_BLAS_LOCK = threading.Lock()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with BLAS (OpenBLAS, MKL ...) on one thread.

    The estimators' matrix products are small (100 bootstrap resamples x 1,024 samples by 1,024
    x 152 LAs); on OpenBLAS's own threads they cost tens of times the CPU of one thread on a
    busy 2-core machine (measured: 32 ms against 0.7 ms a product), and the run already
    computes them beside other work. Each output element is computed whole by one thread
    either way, so the numbers are the same (tested). The limit is process-wide while the
    block runs (threadpoolctl); the previous limits are restored after it.
    """
    from threadpoolctl import ThreadpoolController

    with _BLAS_LOCK:
        if "controller" not in _BLAS:
            _BLAS["controller"] = ThreadpoolController()
        controller = _BLAS["controller"]
    with controller.limit(limits=1, user_api="blas"):
        yield


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
    a, b = saltelli_ab(int(sum(widths)), n, rng)
    d = a.shape[1]
    out = np.empty((n, len(widths) + 2, d))
    out[:, 0] = a
    out[:, -1] = b
    lo = 0
    for j, w in enumerate(widths):
        out[:, j + 1] = a
        out[:, j + 1, lo : lo + w] = b[:, lo : lo + w]
        lo += w
    return out


def saltelli_ab(d: int, n: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """The ``A`` and ``B`` rows of :func:`saltelli_design` (each ``(n, d)``), which determine
    every other row: ``AB_j`` is ``A`` with group ``j``'s columns from ``B``."""
    base = scrambled_sobol(2 * d, n, rng)
    return base[:, :d], base[:, d:]


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


def _direction_numbers(d: int) -> tuple[NDArray[np.int64], NDArray[np.uint64]] | None:
    """Joe and Kuo's direction numbers as scipy ships them (``poly``, ``vinit``), or None."""
    path = importlib.resources.files("scipy").joinpath("stats/_sobol_direction_numbers.npz")
    if not path.is_file():
        return None
    with importlib.resources.as_file(path) as f, np.load(f) as dns:
        return dns["poly"][:d].astype(np.int64), dns["vinit"][:d].astype(np.uint64)


def _direction_matrix(poly: NDArray[np.int64], vinit: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """Direction integers ``(d, bits)`` (Bratley and Fox 1988, section 2), vectorised over d."""
    d, bits = len(poly), SOBOL_BITS
    degree = np.array([int(p).bit_length() - 1 for p in poly])
    degree[0] = 0
    v = np.zeros((d, bits), dtype=np.uint64)
    v[:, : vinit.shape[1]] = np.where(np.arange(vinit.shape[1]) < degree[:, None], vinit, 0)
    v[0] = 1
    rows = np.arange(d)
    for j in range(1, bits):
        todo = (rows > 0) & (j >= degree)
        if not todo.any():
            continue
        r, m, p = rows[todo], degree[todo], poly[todo]
        new = v[r, j - m].copy()
        for i in range(int(m.max())):
            use = (i < m) & (((p >> np.maximum(m - 1 - i, 0)) & 1) == 1)
            new ^= np.where(use, v[r, max(j - i - 1, 0)] << np.uint64(i + 1), np.uint64(0))
        v[r, j] = new
    return v << (bits - 1 - np.arange(bits)).astype(np.uint64)


def scrambled_sobol(d: int, n: int, rng: np.random.Generator) -> FloatArray:
    """``n`` points of a scrambled Sobol' sequence in ``d`` dimensions, shape ``(n, d)``.

    The same numbers as ``scipy.stats.qmc.Sobol(d, scramble=True, seed=rng).random(n)``
    (checked in the tests): Joe and Kuo's direction numbers, a linear matrix scramble and a
    digital shift drawn from a child of ``rng``'s seed sequence, points in Gray-code order.
    Built with numpy so the run does not import ``scipy.stats`` (two thirds of a second) for it;
    falls back to scipy when its direction-number file is not where scipy keeps it.

    Raises
    ------
    ValueError
        If ``d`` or ``n`` is below 1.
    """
    if d < 1 or n < 1:
        raise ValueError(f"d and n must be at least 1, got d={d}, n={n}")
    numbers = _direction_numbers(d)
    if numbers is None:  # pragma: no cover - depends on how scipy is installed
        from scipy.stats import qmc

        return qmc.Sobol(d=d, scramble=True, seed=rng).random(n)
    bits = SOBOL_BITS
    sv = _direction_matrix(*numbers)
    bg = rng.bit_generator
    child = np.random.Generator(type(bg)(bg.seed_seq.spawn(1)[0]))
    powers = np.uint64(1) << np.arange(bits, dtype=np.uint64)
    shift = child.integers(0, 2, size=(d, bits), dtype=np.uint32).astype(np.uint64) @ powers
    ltm = np.tril(child.integers(0, 2, size=(d, bits, bits), dtype=np.uint32)).astype(np.int64)
    ltm[:, np.arange(bits), np.arange(bits)] = 1
    # linear matrix scramble over GF(2): output bit (bits-1-p) of each direction integer is the
    # parity of (row p of the lower-triangular matrix, read MSB first) AND the integer
    digits = ((sv[:, :, None] >> np.arange(bits, dtype=np.uint64)) & np.uint64(1)).astype(np.int64)
    # (the sums of at most 30 products of 0/1 are exact in float64, so BLAS computes them)
    counts = np.matmul(digits.astype(float), ltm[:, :, ::-1].astype(float).transpose(0, 2, 1))
    parity = counts.astype(np.int64) & 1
    sv = (parity.astype(np.uint64) * powers[::-1]).sum(axis=2, dtype=np.uint64)
    points = np.empty((n, d), dtype=np.uint64)
    points[0] = shift
    if n > 1:
        i = np.arange(n - 1, dtype=np.int64)
        lowest_zero = np.log2(~i & (i + 1)).astype(np.int64)  # Gray-code column of step i
        points[1:] = np.bitwise_xor.accumulate(sv[:, lowest_zero].T, axis=0) ^ shift
    return points * (1.0 / 2**bits)

def factor_table(
    factors: list[Factor], s1: FloatArray, s1c: FloatArray, st: FloatArray, stc: FloatArray
) -> pd.DataFrame:
    """One row per factor (fixed factors get zeros) from the varied factors' indices."""
    varied = [f.name for f in factors if f.varied]
    vals = dict(zip(varied, zip(s1, s1c, st, stc, strict=True), strict=True))
    rows = [[f.name, f.varied, *vals.get(f.name, (0.0, 0.0, 0.0, 0.0))] for f in factors]
    out = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    out[INDEX_COLUMNS[2:]] = out[INDEX_COLUMNS[2:]].astype(float)
    return out


def count_table(
    count: FloatArray, factors: list[Factor], num_resamples: int, conf_level: float, seed: int
) -> pd.DataFrame:
    """:func:`SALib.analyze.sobol.analyze` of the per-run counts ``(N, G + 2)``."""
    varied = [f.name for f in factors if f.varied]
    g = len(varied)
    if np.ptp(count) == 0:
        return factor_table(factors, *(np.zeros(g),) * 4)
    from SALib.analyze import sobol as sobol_analyze

    problem = {"num_vars": g, "names": varied, "bounds": [[0.0, 1.0]] * g}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # constant bootstrap resamples
        res = sobol_analyze.analyze(
            problem,
            count.reshape(-1),
            calc_second_order=False,
            num_resamples=num_resamples,
            conf_level=conf_level,
            seed=seed,
        )
    return factor_table(factors, res["S1"], res["S1_conf"], res["ST"], res["ST_conf"])
