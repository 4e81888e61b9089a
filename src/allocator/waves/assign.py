"""Waves from ranks, under locks and lock-outs: one ranking or every Monte Carlo draw at once.

See :mod:`allocator.waves` for the rules; :func:`assign_from_ranks` is the one assignment both
the published waves and each Monte Carlo draw use.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from .config import WavesConfig

IntArray = NDArray[np.int64]


def lock_arrays(
    config: WavesConfig, codes: Sequence[str], sizes: Sequence[int]
) -> tuple[IntArray, NDArray[np.bool_]]:
    """Locked wave (0-based, -1 = free) and allowed-wave mask (L, W) for LAs in ``codes`` order.

    Raises
    ------
    ConfigError
        A lock names a code not in the table, or a wave gets more locks than it has places.
    """
    index = {c: i for i, c in enumerate(codes)}
    n_waves = len(sizes)
    locked = np.full(len(codes), -1, dtype=np.int64)
    allowed = np.ones((len(codes), n_waves), dtype=bool)
    unknown = [x.code for x in [*config.locks, *config.lock_out] if x.code not in index]
    if unknown:
        raise ConfigError(
            f"waves locks name codes that are not in the areas table: {', '.join(sorted(set(unknown)))}"
        )
    for lock in config.locks:
        w = config.wave_number(lock.wave) - 1
        locked[index[lock.code]] = w
        allowed[index[lock.code]] = False
        allowed[index[lock.code], w] = True
    for lo in config.lock_out:
        allowed[index[lo.code], config.wave_number(lo.wave) - 1] = False
    for w in range(n_waves):
        n = int((locked == w).sum())
        if n > sizes[w]:
            raise ConfigError(
                f"{n} LAs are locked into wave {w + 1} ({config.labels[w]}) which has {sizes[w]} places"
            )
    return locked, allowed


def _subset_matrix(n_waves: int) -> NDArray[np.float64]:
    """``M[m, S] = 1`` when the wave set ``m`` (bit mask) is contained in the wave set ``S``."""
    masks = np.arange(1 << n_waves)
    return ((masks[:, None] & ~masks[None, :]) == 0).astype(np.float64)


def _hall_ok(
    counts: NDArray[np.float64], caps: NDArray[np.float64], within: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """Whether LAs counted by allowed-wave mask (D, 2**W) fit waves with capacities (D, W).

    Hall's condition for the transportation problem: for every set S of waves, the LAs that may
    only enter waves in S number at most the places in S (and in all, exactly the places left).
    """
    n_waves = caps.shape[1]
    bits = (np.arange(1 << n_waves)[:, None] >> np.arange(n_waves)[None, :]) & 1  # (S, W)
    places = caps @ bits.T  # (D, S)
    need = counts @ within  # (D, S)
    return np.all(need <= places + 0.5, axis=1) & (np.abs(need[:, -1] - places[:, -1]) < 0.5)


def assign_from_ranks(
    ranks: IntArray, sizes: Sequence[int], locked: IntArray, allowed: NDArray[np.bool_]
) -> IntArray:
    """Assign waves (0-based) from ranks; vectorised over leading axes (Monte Carlo draws).

    Waves are filled in order. Wave ``w`` takes, in rank order, every LA that may enter it
    while places remain, unless taking it would leave the LAs still free unable to fill the
    later waves exactly under the lock-outs (checked exactly by Hall's condition over the sets
    of waves); so wave 1 holds the highest-ranked LAs any valid assignment can give it, then
    wave 2, and so on. Without locks this is :func:`natural_waves`.

    Parameters
    ----------
    ranks : ndarray of int, shape (L,) or (D, L)
        1 = highest need; distinct within a draw.
    sizes : sequence of int
        Exact wave sizes summing to L.
    locked : ndarray, shape (L,)
        Wave each LA is locked into (0-based) or -1.
    allowed : ndarray of bool, shape (L, W)
        Waves each LA may enter.

    Raises
    ------
    ConfigError
        When the locks and lock-outs leave no way to fill every wave exactly.
    """
    ranks = np.asarray(ranks)
    single = ranks.ndim == 1
    r = np.atleast_2d(ranks)
    d, n = r.shape
    n_waves = len(sizes)
    if np.all(locked < 0) and allowed.all():
        out = natural_waves(r, sizes)
        return out[0] if single else out
    free = np.array([int(sizes[w]) - int((locked == w).sum()) for w in range(n_waves)], float)
    loose = locked < 0
    if allowed[loose].all():  # locks only: the free LAs fill the places left in rank order
        wave = np.broadcast_to(locked, (d, n)).copy()
        sub = np.argsort(np.argsort(r[:, loose], axis=1), axis=1) + 1
        wave[:, loose] = natural_waves(sub, free.astype(np.int64))
        return wave[0] if single else wave
    within = _subset_matrix(n_waves)
    lanes = np.arange(d)
    # Allowed-wave bit mask per LA; locked LAs are placed already.
    mask = (allowed.astype(np.int64) << np.arange(n_waves)).sum(axis=1)
    mask = np.where(locked >= 0, 0, mask)
    masks = np.broadcast_to(mask, (d, n)).copy()  # shrinks as waves fill and LAs are passed over
    wave = np.broadcast_to(locked, (d, n)).copy()
    caps = np.broadcast_to(free, (d, n_waves)).copy()

    def counts() -> NDArray[np.float64]:
        flat = (lanes[:, None] << n_waves) + masks
        weights = (wave < 0).ravel().astype(np.float64)
        return np.bincount(flat.ravel(), weights, minlength=d << n_waves).reshape(d, -1)

    bad = ~_hall_ok(counts(), caps, within)
    if bad.any():
        stuck = [w for w in range(n_waves) if int(allowed[locked < 0, w].sum()) < free[w]]
        w = stuck[0] if stuck else int(np.argmax(free > 0))
        raise ConfigError(
            f"wave {w + 1} cannot be filled exactly with {sizes[w]} LAs under the locks and "
            f"lock-outs ({int(allowed[locked < 0, w].sum())} free LAs may enter it, and the "
            "others' lock-outs must also fit the later waves); relax waves.lock_out"
        )
    order = np.argsort(r, axis=1, kind="stable")  # LA at each rank position, per draw
    bits = ((np.arange(1 << n_waves)[:, None] >> np.arange(n_waves)[None, :]) & 1).astype(float)
    for w in range(n_waves):
        masks &= ~((1 << w) - 1)  # earlier waves are full
        if w == n_waves - 1:
            wave[wave < 0] = w
            break
        # Hall's condition kept as running totals: need[S] LAs may only enter waves in S,
        # places[S] places are left there; need <= places for every S keeps the rest feasible.
        need, places = counts() @ within, caps @ bits.T
        for k in range(n):
            open_ = caps[:, w] > 0.5
            if not open_.any():
                break
            la = order[:, k]
            m = masks[lanes, la]
            room = open_ & (wave[lanes, la] < 0) & ((m >> w) & 1).astype(bool)
            if not room.any():
                continue
            after = need - within[m]
            take = room & np.all(after <= places - bits[:, w] + 0.5, axis=1)
            wave[lanes[take], la[take]] = w
            caps[take, w] -= 1
            need[take] = after[take]
            places[take] -= bits[:, w]
            passed = room & ~take  # may no longer enter wave w
            m2 = m & ~(1 << w)
            need[passed] += within[m2[passed]] - within[m[passed]]
            masks[lanes[passed], la[passed]] = m2[passed]
    return wave[0] if single else wave


def natural_waves(ranks: IntArray, sizes: Sequence[int]) -> IntArray:
    """0-based wave each rank falls in when there are no locks."""
    bounds = np.cumsum(sizes)
    return np.searchsorted(bounds, np.asarray(ranks), side="left").astype(np.int64)
