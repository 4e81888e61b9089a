"""Linear-programming allocation of ring-fenced streams to LAs.

Targets (need share x budget) -> named constraint groups (budget ring-fence, floors, caps, pace
of change, locks, eligibility) -> presolve -> staged solve with a published tie-break -> elastic
explanation if infeasible -> whole-pound rounding -> verify -> explanation.
"""

from __future__ import annotations

from .config import (
    AllocationConfig,
    CapConfig,
    FloorConfig,
    LockConfig,
    ObjectiveConfig,
    PaceConfig,
    SolverConfig,
    StreamConfig,
    TargetConfig,
    validate_allocation_config,
)
from .problem import AllocationProblem, allocate

__all__ = [
    "AllocationConfig",
    "AllocationProblem",
    "CapConfig",
    "FloorConfig",
    "LockConfig",
    "ObjectiveConfig",
    "PaceConfig",
    "SolverConfig",
    "StreamConfig",
    "TargetConfig",
    "allocate",
    "validate_allocation_config",
]
