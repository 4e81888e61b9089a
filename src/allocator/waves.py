"""Nested waves: consecutive slices of ONE need ranking, with reported locks.

*From Harm to Hope* (2021) [001 L658]: "In 2022/23, we will invest in the 50 local areas with
the highest needs, followed by the next 50 in 2023/24, and the final 50 in 2024/25". The waves
here are consecutive slices of one ranking (rank 1 = highest need; ties broken by the higher
drug-misuse death rate, then the ONS code), so wave 1 is nested in "waves 1-2" and so on.

Locks force an LA into a wave (``locks``) or keep it out of one (``lock_out``), each with a
reason. Sizes stay exact: the assignment fills wave 1, then wave 2, ..., each with its locked
LAs plus the highest-ranked LAs still free that may enter it, passing over an LA only when
taking it would leave the later waves impossible to fill under the lock-outs (an exact check),
so a lock-out never strands an LA. Every LA whose final wave differs from
its natural wave (the wave its rank alone gives) is listed in ``overrides_`` with the reason.

The same assignment function runs on one ranking or on every Monte Carlo draw at once
(:func:`assign_from_ranks`), so P(wave 1) is computed under the published rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pydantic import Field, field_validator, model_validator

from ._model import Sourced, StrictModel
from .errors import ConfigError, DataError
from .index.need_index import NeedIndex, canonical_areas
from .index.ranking import DEFAULT_TIE_BREAK, TieBreakKey, rank_scores, tie_break_position

IntArray = NDArray[np.int64]


class WaveLock(StrictModel):
    """Force ``code`` into ``wave`` (1-based number or label) for a stated ``reason``."""

    code: str
    wave: int | str
    reason: str = Field(min_length=1)


class WaveLockOut(StrictModel):
    """Keep ``code`` out of ``wave`` (1-based number or label) for a stated ``reason``."""

    code: str
    wave: int | str
    reason: str = Field(min_length=1)


class WavesConfig(Sourced):
    """How the ranking is cut into waves (the ``waves:`` section).

    Parameters
    ----------
    sizes : list of int, optionally ending with "rest"
        LAs per wave in order; ``"rest"`` (last only, at most once) takes every LA left. Without
        ``"rest"`` the sizes must add up to the number of LAs.
    labels : list of str
        One unique label per wave (default the financial years 2022-23, 2023-24, 2024-25).
    tie_break : list of TieBreakKey
        Keys breaking equal scores, in order; ONS code ascending is always the last key.
        Default: higher ``drug_deaths_rate`` first, then ``code``.
    locks : list of WaveLock
        LAs forced into a wave.
    lock_out : list of WaveLockOut
        LAs kept out of a wave (an LA may be locked out of several waves, not all of them).
    """

    sizes: list[int | Literal["rest"]] = Field(default_factory=lambda: [50, 50, "rest"])
    labels: list[str] = Field(default_factory=lambda: ["2022-23", "2023-24", "2024-25"])
    tie_break: list[TieBreakKey] = Field(default_factory=lambda: list(DEFAULT_TIE_BREAK))
    locks: list[WaveLock] = Field(default_factory=list)
    lock_out: list[WaveLockOut] = Field(default_factory=list)

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, v: list[int | str]) -> list[int | str]:
        if not v:
            raise ValueError("give at least one wave size")
        for i, s in enumerate(v):
            if s == "rest":
                if i != len(v) - 1:
                    raise ValueError("'rest' may appear only once, as the last wave size")
            elif isinstance(s, bool) or not isinstance(s, int) or s < 1:
                raise ValueError(f"wave size {s!r} must be a positive integer or 'rest'")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> WavesConfig:
        if len(self.labels) != len(self.sizes):
            raise ValueError(
                f"{len(self.sizes)} wave sizes but {len(self.labels)} labels; give one label per wave"
            )
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"wave labels must be unique, got {self.labels}")
        locked: dict[str, int] = {}
        for lock in self.locks:
            w = self.wave_number(lock.wave)
            if lock.code in locked:
                raise ValueError(
                    f"LA {lock.code} is locked more than once (waves {locked[lock.code]} and {w})"
                )
            locked[lock.code] = w
        outs: dict[str, set[int]] = {}
        for lo in self.lock_out:
            w = self.wave_number(lo.wave)
            if lo.code in locked:
                raise ValueError(
                    f"LA {lo.code} is locked both in (wave {locked[lo.code]}) and out "
                    f"(wave {w}); keep one"
                )
            outs.setdefault(lo.code, set()).add(w)
        for code, ws in outs.items():
            if len(ws) == len(self.sizes):
                raise ValueError(f"LA {code} is locked out of every wave")
        return self

    def wave_number(self, ref: int | str) -> int:
        """1-based wave number of a reference given as a number or a label."""
        if isinstance(ref, int) and not isinstance(ref, bool):
            if 1 <= ref <= len(self.sizes):
                return ref
            raise ValueError(f"wave {ref} does not exist (waves are 1..{len(self.sizes)})")
        if ref in self.labels:
            return self.labels.index(ref) + 1
        raise ValueError(f"unknown wave {ref!r}; waves are 1..{len(self.sizes)} or {self.labels}")

    def resolve_sizes(self, n_areas: int) -> list[int]:
        """Wave sizes for ``n_areas`` LAs, with ``"rest"`` filled in.

        Raises
        ------
        ConfigError
            If the sizes exceed the number of LAs, or (without ``"rest"``) do not cover them all.
        """
        fixed = [s for s in self.sizes if s != "rest"]
        total = sum(int(s) for s in fixed)
        shown = "+".join(str(s) for s in self.sizes)
        if total > n_areas or (total == n_areas and "rest" in self.sizes):
            raise ConfigError(
                f"wave sizes {shown} need more than the {n_areas} LAs in the areas table"
                + (" (leaving none for 'rest')" if total == n_areas else "")
            )
        if "rest" in self.sizes:
            return [int(s) for s in fixed] + [n_areas - total]
        if total != n_areas:
            raise ConfigError(
                f"wave sizes {shown} = {total} do not cover the {n_areas} LAs; end sizes with "
                "'rest' or make them add up"
            )
        return [int(s) for s in fixed]


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


def _hall_ok(counts: NDArray[np.float64], caps: NDArray[np.float64], within: NDArray[np.float64]
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


class Waves:
    """Assign LAs to nested waves from a need ranking.

    Parameters
    ----------
    config : WavesConfig, optional
        Sizes, labels, tie-break and locks; defaults to :class:`WavesConfig` ().

    Attributes
    ----------
    sizes_ : list of int
        Wave sizes with ``"rest"`` resolved.
    rank_ : Series
        Need rank (1 = highest) by ``code``, with the config's tie-break.
    natural_wave_, wave_ : Series
        1-based wave by rank alone / after locks.
    label_ : Series
        Label of ``wave_``.
    overrides_ : DataFrame
        ``code, name, natural_wave, final_wave, reason``: every LA moved by a lock, lock-out or
        the re-fill that keeps sizes exact. Sorted by rank.
    table_ : DataFrame
        ``code, name, rank, natural_wave, wave, wave_label, override`` sorted by rank.
    """

    def __init__(self, config: WavesConfig | None = None) -> None:
        self.config = config

    def fit(self, ranking: NeedIndex | pd.DataFrame) -> Waves:
        """Cut the ranking into waves.

        Parameters
        ----------
        ranking : NeedIndex or DataFrame
            A fitted :class:`~allocator.index.NeedIndex`, or a table with ``code``, ``score``
            and the tie-break columns (``name`` optional).
        """
        cfg = self.config or WavesConfig()
        if isinstance(ranking, NeedIndex):
            if not hasattr(ranking, "score_"):
                raise ConfigError("the NeedIndex passed to Waves.fit is not fitted")
            areas = ranking.areas_
            score = ranking.score_.to_numpy()
        else:
            areas = canonical_areas(ranking)
            if "score" not in areas.columns:
                raise DataError("the ranking table has no 'score' column", column="score")
            score = pd.to_numeric(areas["score"]).to_numpy(dtype=float)
            if np.isnan(score).any():
                raise DataError(
                    "missing score", column="score", codes=areas["code"][np.isnan(score)]
                )
        codes = areas["code"].to_numpy()
        names = areas["name"].astype(str).to_numpy() if "name" in areas.columns else codes
        sizes = cfg.resolve_sizes(len(areas))
        locked, allowed = lock_arrays(cfg, list(codes), sizes)
        ranks = rank_scores(score, tie_break_position(areas, cfg.tie_break))
        natural = natural_waves(ranks, sizes)
        final = assign_from_ranks(ranks, sizes, locked, allowed)

        reasons = _override_reasons(cfg, codes, natural, final)
        idx = pd.Index(codes, name="code")
        self.sizes_ = sizes
        self.locked_ = locked
        self.allowed_ = allowed
        self.rank_ = pd.Series(ranks, index=idx, name="rank")
        self.natural_wave_ = pd.Series(natural + 1, index=idx, name="natural_wave")
        self.wave_ = pd.Series(final + 1, index=idx, name="wave")
        self.label_ = pd.Series(
            np.array(cfg.labels, dtype=object)[final], index=idx, name="wave_label"
        )
        table = (
            pd.DataFrame(
                {
                    "code": codes,
                    "name": names,
                    "rank": ranks,
                    "natural_wave": natural + 1,
                    "wave": final + 1,
                    "wave_label": self.label_.to_numpy(),
                    "override": reasons,
                }
            )
            .sort_values("rank", kind="stable")
            .reset_index(drop=True)
        )
        self.table_ = table
        moved = table[table["override"] != ""]
        self.overrides_ = moved.rename(columns={"wave": "final_wave", "override": "reason"})[
            ["code", "name", "natural_wave", "final_wave", "reason"]
        ].reset_index(drop=True)
        return self


def _override_reasons(
    cfg: WavesConfig, codes: NDArray[np.object_], natural: IntArray, final: IntArray
) -> list[str]:
    lock_reason = {
        x.code: f"locked into wave {cfg.wave_number(x.wave)}: {x.reason}" for x in cfg.locks
    }
    out_reason: dict[str, list[str]] = {}
    for x in cfg.lock_out:
        out_reason.setdefault(x.code, []).append(
            f"locked out of wave {cfg.wave_number(x.wave)}: {x.reason}"
        )
    causes = sorted(set(lock_reason) | set(out_reason))
    reasons = []
    for code, nat, fin in zip(codes, natural, final, strict=True):
        if nat == fin:
            reasons.append("")
        elif code in lock_reason:
            reasons.append(lock_reason[code])
        elif code in out_reason:
            reasons.append("; ".join(out_reason[code]))
        else:
            reasons.append(
                f"moved from wave {nat + 1} to wave {fin + 1} to keep wave sizes exact after the "
                f"locks/lock-outs of {', '.join(causes)}"
            )
    return reasons


def assign_waves(
    ranking: NeedIndex | pd.DataFrame, config: WavesConfig | None = None
) -> pd.DataFrame:
    """Functional form of :class:`Waves`: returns its ``table_``

    (``code, name, rank, natural_wave, wave, wave_label, override`` sorted by rank).
    """
    return Waves(config).fit(ranking).table_
