"""Uncertainty in pounds: the rank Monte Carlo carried through the whole allocation.

:class:`PoundsUncertainty` (:mod:`.estimator`) draws the same uncertain choices as the rank
Monte Carlo, allocates every draw in whole pounds with the run's own solver path
(:mod:`.draw`), re-checks every rule exactly, and summarises the amounts in mergeable sketches
(:mod:`.sketch`), on this process, a local process pool or a Dask cluster (:mod:`.parallel`).

Layer: after :mod:`allocator.allocate` (it runs the allocation) and before
:mod:`allocator.report` (which writes its outputs).
"""

from __future__ import annotations

from typing import Any

__all__ = ["PoundsUncertainty", "PoundsUncertaintyConfig"]


def __getattr__(name: str) -> Any:
    if name == "PoundsUncertainty":
        from .estimator import PoundsUncertainty

        return PoundsUncertainty
    if name == "PoundsUncertaintyConfig":
        from .config import PoundsUncertaintyConfig

        return PoundsUncertaintyConfig
    raise AttributeError(f"module 'allocator.pounds' has no attribute {name!r}")
