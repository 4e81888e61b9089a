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

from .assign import assign_from_ranks, lock_arrays, natural_waves
from .config import WaveLock, WaveLockOut, WavesConfig
from .estimator import Waves, assign_waves

__all__ = [
    "WaveLock",
    "WaveLockOut",
    "Waves",
    "WavesConfig",
    "assign_from_ranks",
    "assign_waves",
    "lock_arrays",
    "natural_waves",
]
