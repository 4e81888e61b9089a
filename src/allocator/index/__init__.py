"""The need index: normalise -> weight -> aggregate, and its table.

Public API::

    NeedIndex(config).fit(frame)                        # score_, rank_, need_factor_, ...
    index_table(frame, index, waves, uncertainty)       # one row per LA, sorted by rank
    strategy_checks(frame_with_waves)                   # wave-1 properties vs the strategy

The Monte Carlo over the index and the waves (rank uncertainty, Sobol' attribution) lives
downstream in :mod:`allocator.montecarlo`.
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
from .table import index_table

__all__ = [
    "DEFAULT_TIE_BREAK",
    "IndexConfig",
    "IndicatorSpec",
    "NeedFactorConfig",
    "NeedIndex",
    "SensitivityConfig",
    "TieBreakKey",
    "UncertaintyConfig",
    "index_table",
    "need_factor",
    "rank_scores",
    "strategy_checks",
    "tie_break_position",
    "validate_section",
]
