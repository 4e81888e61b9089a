"""The :class:`Waves` estimator and :func:`assign_waves` (see :mod:`allocator.waves`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..errors import ConfigError, DataError
from ..index.need_index import NeedIndex, canonical_areas
from ..index.ranking import rank_scores, tie_break_position
from .assign import IntArray, assign_from_ranks, lock_arrays, natural_waves
from .config import WavesConfig


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
