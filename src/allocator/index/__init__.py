"""The need index: normalise -> weight -> aggregate, its rank uncertainty, and its table.

Public API::

    NeedIndex(config).fit(frame)                        # score_, rank_, need_factor_, ...
    RankUncertainty(index_cfg, unc_cfg, waves_cfg).fit(frame)   # results_: rank intervals, P(wave)
    WaveSensitivity(index_cfg, unc_cfg, waves_cfg).fit(frame)   # indices_: Sobol' share per choice
    index_table(frame, index, waves, uncertainty)       # one row per LA, sorted by rank
    strategy_checks(frame_with_waves)                   # wave-1 properties vs the strategy
"""

from __future__ import annotations

from .checks import strategy_checks
from .config import (
    IndexConfig,
    IndicatorSpec,
    NeedFactorConfig,
    SensitivityConfig,
    UncertaintyConfig,
    validate_section,
)
from .need_index import NeedIndex, need_factor
from .ranking import DEFAULT_TIE_BREAK, TieBreakKey, rank_scores, tie_break_position
from .sensitivity import WaveSensitivity
from .table import index_table
from .uncertainty import RankUncertainty

__all__ = [
    "DEFAULT_TIE_BREAK",
    "IndexConfig",
    "IndicatorSpec",
    "NeedFactorConfig",
    "NeedIndex",
    "RankUncertainty",
    "SensitivityConfig",
    "TieBreakKey",
    "UncertaintyConfig",
    "WaveSensitivity",
    "index_table",
    "need_factor",
    "rank_scores",
    "strategy_checks",
    "tie_break_position",
    "validate_section",
]
