"""A block of Monte Carlo draws in few passes: the numbers of the per-draw path, computed faster.

:func:`allocator.montecarlo.draws.evaluate_draw` (the per-draw baseline) normalises, aggregates,
ranks and assigns waves through the index's own functions
(:func:`allocator.index.need_index.score_indicators`, :func:`allocator.index.ranking.rank_scores`,
:func:`allocator.waves.assign_from_ranks`). :func:`evaluate_block` computes the same ranks and
waves for a block of draws with the same floating-point operations on the same values, in the
same order, element by element, so the results are bit for bit those of the per-draw path (the
tests compare the two on every normaliser, aggregator, tie pattern, lock and deprivation
choice). What it leaves out is work whose result is not used:

* draws are sorted by (normaliser, aggregator) once, so each method runs on a contiguous slice
  of the block (no per-method copies) and each draw gets only its own normaliser;
* the z-score's standard deviation reuses the deviations from the mean it divides
  (``np.std`` computes them again), with numpy's own operations in numpy's order;
* the rank-based normalisers (``rank``, ``exponential``) are a function of the average rank
  alone: rows without ties (known from the sort, :func:`allocator.index.sorting.argsort_distinct`)
  take the value of each sorted position from a table of ``n`` values computed by the index's
  own formula (:func:`allocator.index.normalise.from_average_rank`), scattered by flat index;
  under the geometric mean the table holds ``ln(1 + 99 minmax(.))`` of those values already
  (a row's minimum and maximum are the table's), so no logarithm is taken per element; rows
  with ties compute their average ranks explicitly as before;
* the geometric mean computes the score only (not the per-indicator contributions), and skips
  the min-max rescale of a ``minmax`` row (``(y - 0) / 1``, exactly ``y``);
* the final ranking sorts each draw's scores once and writes ranks and (without locks) waves
  straight into the caller's arrays from the sorted positions (a fancy assignment of tiled
  values: ``np.put`` repeats values with a division per element).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ..index.need_index import orient_and_transform
from ..index.normalise import from_average_rank, tied_ranks
from ..index.sorting import argsort_distinct
from ..waves import assign_from_ranks, natural_waves

if TYPE_CHECKING:
    from .draws import MonteCarloSetup

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def evaluate_block(
    setup: MonteCarloSetup,
    noisy: FloatArray,
    weights: FloatArray,
    normaliser: IntArray,
    aggregator: IntArray,
    ranks_out: NDArray[np.integer],
    waves_out: NDArray[np.integer],
    wave_offset: int = 0,
) -> None:
    """Ranks and waves of a block of draws, written into ``ranks_out`` and ``waves_out``.

    Parameters
    ----------
    setup : MonteCarloSetup
    noisy : ndarray, shape (m, K, L)
        Perturbed indicator values (not modified).
    weights : ndarray, shape (m, K)
    normaliser, aggregator : ndarray of int, shape (m,)
        Index into ``setup.normalisers`` / ``setup.aggregators``.
    ranks_out, waves_out : ndarray of int, shape (m, L), C-contiguous
        Receive the ranks (1 = highest need) and the waves plus ``wave_offset``.
    """
    scores, rows = block_scores(setup, noisy, weights, normaliser, aggregator)
    _rank_into(setup, scores, rows, ranks_out, waves_out, wave_offset)


def block_scores(
    setup: MonteCarloSetup,
    noisy: FloatArray,
    weights: FloatArray,
    normaliser: IntArray,
    aggregator: IntArray,
) -> tuple[FloatArray, IntArray]:
    """Index scores of a block of draws, grouped by method.

    Returns
    -------
    scores : ndarray, shape (m, L)
        Row ``i`` is the score of draw ``rows[i]``, equal to
        :func:`allocator.index.need_index.score_indicators` ``(...).score`` of that draw.
    rows : ndarray of int, shape (m,)
        The draws sorted by (normaliser, aggregator), stable.
    """
    s = setup
    m = noisy.shape[0]
    n = noisy.shape[2]
    plain = all(sp.transform == "none" and sp.direction != "higher_is_better" for sp in s.specs)
    oriented = noisy if plain else orient_and_transform(noisy, s.specs)
    n_agg = len(s.aggregators)
    group = normaliser * n_agg + aggregator
    first = int(group[0])
    if bool(np.all(group == first)):
        rows = np.arange(m)
        x = np.ascontiguousarray(oriented)
        w = weights
        bounds = {first: (0, m)}
    else:
        rows = np.argsort(group, kind="stable")
        x = oriented[rows]
        w = weights[rows]
        counts = np.bincount(group, minlength=len(s.normalisers) * n_agg)
        ends = np.cumsum(counts)
        bounds = {
            g: (int(ends[g] - counts[g]), int(ends[g])) for g in range(len(counts)) if counts[g]
        }
    z = np.empty(x.shape)
    scores = np.empty((m, n))
    for j, norm in enumerate(s.normalisers):
        for a, agg in enumerate(s.aggregators):
            if j * n_agg + a not in bounds:
                continue
            b0, b1 = bounds[j * n_agg + a]
            geometric = agg == "geometric"
            if norm in ("rank", "exponential"):
                # geometric: the normaliser's table goes straight to ln(1 + 99 minmax(.))
                _rank_based_into(x[b0:b1], norm, geometric, z[b0:b1])
                ready = geometric
            else:
                _normalise_into(x[b0:b1], norm, z[b0:b1])
                ready = False
            # unit: the min-max rescale of a minmax row is the row itself, (y - 0) / 1
            _aggregate_into(
                z[b0:b1], w[b0:b1], agg, scores[b0:b1], ready=ready, unit=norm == "minmax"
            )
    return scores, rows


def _normalise_into(x: FloatArray, method: str, out: FloatArray) -> None:
    """``zscore`` or ``minmax`` of ``x`` (g, K, L) into ``out``, bit for bit
    :func:`allocator.index.normalise.normalise`."""
    n = x.shape[-1]
    if method == "zscore":
        # np.mean / np.std: sum along the row, divided by the count; deviations squared, summed,
        # divided by the count, square root (numpy's _methods._var)
        mean = x.sum(axis=-1, keepdims=True)
        mean /= n
        np.subtract(x, mean, out=out)
        var = np.square(out).sum(axis=-1, keepdims=True)
        var /= n
        sd = np.sqrt(var)
        _divide_or_zero(out, sd)
    elif method == "minmax":
        _minmax_into(x, out)
    else:  # pragma: no cover - the config validates the names
        raise ValueError(f"method: unknown normaliser {method!r}")


def _rank_based_into(x: FloatArray, method: str, geometric: bool, out: FloatArray) -> None:
    """``rank`` / ``exponential`` normalised values of ``x`` (g, K, L) into ``out``, or with
    ``geometric`` their ``ln(1 + 99 minmax(.))``, the geometric mean's logarithms.

    A row of distinct values is a permutation of the values of ``1 .. n`` (its sorted positions),
    so its normalised values (and their minimum and maximum, hence their logarithms) are those
    of a table of ``n`` values, computed by the same functions and placed by the sort's order.
    Rows that may hold ties compute their average ranks explicitly.
    """
    n = x.shape[-1]
    rows = x.reshape(-1, n)
    flat = out.reshape(-1, n)
    order, distinct = argsort_distinct(rows)
    table = from_average_rank(np.arange(1.0, n + 1.0), n, method)
    if geometric:
        table = _log_rescale(table)
    index = order + (np.arange(rows.shape[0]) * n)[:, None]
    _scatter(flat, index, table)
    if not distinct.all():
        tied = np.flatnonzero(~distinct)
        values = from_average_rank(tied_ranks(rows[tied], order[tied]), n, method)
        flat[tied] = _log_rescale(values) if geometric else values


def _log_rescale(z: FloatArray) -> FloatArray:
    """``ln(1 + 99 minmax(z))`` along the last axis (the geometric mean's logarithms)."""
    g = np.empty(z.shape)
    _minmax_into(z, g)
    g *= 99.0
    g += 1.0
    np.log(g, out=g)
    return g


def _minmax_into(x: FloatArray, out: FloatArray) -> None:
    """``(x - min) / (max - min)`` along the last axis into ``out``; constant rows give 0."""
    lo = x.min(axis=-1, keepdims=True)
    span = x.max(axis=-1, keepdims=True)
    span -= lo
    np.subtract(x, lo, out=out)
    _divide_or_zero(out, span)


def _divide_or_zero(out: FloatArray, by: FloatArray) -> None:
    """``out / by`` where ``by > 0``, else 0 (``np.where(by > 0, out / safe, 0.0)``), in place."""
    positive = by > 0
    if positive.all():
        out /= by
    else:
        out[...] = np.where(positive, out / np.where(positive, by, 1.0), 0.0)


def _aggregate_into(
    z: FloatArray, w: FloatArray, method: str, out: FloatArray, *, ready: bool, unit: bool
) -> None:
    """Score of :func:`allocator.index.aggregate.aggregate` (g, K, L) into ``out`` (g, L).

    ``ready``: ``z`` already holds the geometric mean's logarithms; ``unit``: ``z`` is a
    min-max normalisation (its own min-max rescale is itself).
    """
    k = z.shape[1]
    if method == "arithmetic":
        # (w * n).sum(axis=-2): the products added indicator by indicator
        np.multiply(w[:, 0, None], z[:, 0], out=out)
        tmp = np.empty(out.shape)
        for j in range(1, k):
            np.multiply(w[:, j, None], z[:, j], out=tmp)
            out += tmp
    elif method == "geometric":
        # exp(sum_k w_k ln(1 + 99 minmax(n_k)))
        if ready:
            g = z
        elif unit:
            g = z * 99.0
            g += 1.0
            np.log(g, out=g)
        else:
            g = _log_rescale(z)
        g *= w[:, :, None]
        out[...] = g[:, 0]
        for j in range(1, k):
            out += g[:, j]
        np.exp(out, out=out)
    else:  # pragma: no cover - the config validates the names
        raise ValueError(f"method: unknown aggregator {method!r}")


def _rank_into(
    s: MonteCarloSetup,
    scores: FloatArray,
    rows: IntArray,
    ranks_out: NDArray[np.integer],
    waves_out: NDArray[np.integer],
    wave_offset: int,
) -> None:
    """:func:`allocator.index.ranking.rank_scores` and the waves of ``scores`` (row ``i`` is the
    block's draw ``rows[i]``), written into the caller's arrays by flat index."""
    m, n = scores.shape
    perm = np.argsort(s.tb_position, kind="stable")
    neg = np.take(scores, perm, axis=1)
    np.negative(neg, out=neg)
    order, _ = argsort_distinct(neg)
    # flat position of (draw rows[i], LA perm[order[i, p]]): it gets rank p + 1
    index = np.take(perm, order)
    index += (rows * n)[:, None]
    positions = np.arange(1, n + 1, dtype=np.int64)
    free = bool(np.all(s.locked < 0) and s.allowed.all())
    _scatter(ranks_out, index, positions)
    if free:
        _scatter(waves_out, index, natural_waves(positions, s.sizes) + wave_offset)
    else:
        waves_out[...] = (
            assign_from_ranks(ranks_out.astype(np.int64), s.sizes, s.locked, s.allowed)
            + wave_offset
        )


def _scatter(out: NDArray[np.generic], index: NDArray[np.intp], values: NDArray[np.generic]) -> None:
    """``out.flat[index[i, p]] = values[p]`` for every row ``i`` of ``index``, in place.

    ``np.put`` repeats ``values`` with a division per element; a fancy assignment of the values
    tiled to the index's size is ~2.5x faster.

    Raises
    ------
    ValueError
        If ``out`` is not C-contiguous (its flat view would be a copy).
    """
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous")
    out.reshape(-1)[index.reshape(-1)] = np.tile(values.astype(out.dtype), index.shape[0])
