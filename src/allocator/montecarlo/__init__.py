"""Monte Carlo over the need index and the waves: rank uncertainty and its Sobol' attribution.

Downstream of :mod:`allocator.index` and :mod:`allocator.waves` (every draw recomputes the index
and cuts it into the published waves), upstream of nothing: the pipeline calls it.

Public API::

    RankUncertainty(index_cfg, unc_cfg, waves_cfg).fit(frame)   # results_: rank intervals, P(wave)
    WaveSensitivity(index_cfg, unc_cfg, waves_cfg).fit(frame)   # indices_: Sobol' share per choice

Both draw from the set-up in :mod:`allocator.montecarlo.draws`.
"""

from __future__ import annotations

from .sensitivity import WaveSensitivity
from .uncertainty import RankUncertainty

__all__ = ["RankUncertainty", "WaveSensitivity"]
