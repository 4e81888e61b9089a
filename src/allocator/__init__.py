"""allocator: need-based, auditable allocation of the English drug-treatment grant.

The public API, for notebooks and scripts (the command line is a thin shell over it)::

    from allocator import load_config, run
    result = run(load_config("configs/ssmtrg-2022-25.yaml"))
    result.allocation          # DataFrame, whole pounds
    result.write("outputs/")   # run directory + manifest
    v2 = allocator.amend(run_dir, "amendment.yaml")   # the next version (allocator.ledger)
    print(allocator.history(v2))                      # the chain, oldest first

Names are imported on first use (module ``__getattr__``), so ``import allocator`` stays light:
pandas, geopandas and the solvers load only when a function that needs them is called.
"""

from __future__ import annotations

import sys as _sys

if _sys.argv and _sys.argv[0].rsplit("/", 1)[-1] == "allocator":  # the command line, only
    from . import _signals

    _signals.install()  # as early as possible: SIGINT/SIGTERM/SIGHUP give exit 130 while importing

import importlib  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

__version__ = "0.1.0"

# public name -> module that defines it (``replay_run`` is ``allocator.replay.replay``: the name
# ``allocator.replay`` is the submodule)
_EXPORTS: dict[str, str] = {
    "load_config": "allocator.config",
    "config_from_dict": "allocator.config",
    "RunConfig": "allocator.config",
    "run": "allocator.pipeline",
    "validate": "allocator.pipeline",
    "RunResult": "allocator.pipeline",
    "replay_run": "allocator.replay",
    "ReplayReport": "allocator.replay",
    "diff_runs": "allocator.replay",
    "RunDiff": "allocator.replay",
    "explain_la": "allocator.replay",
    "compare_map": "allocator.replay",
    "check_data": "allocator.data",
    "PoundsUncertainty": "allocator.pounds.estimator",
    "pounds_uncertainty": "allocator.pounds_run",
    "amend": "allocator.ledger.api",
    "history": "allocator.ledger.chain",
    "replay_chain": "allocator.ledger.chain",
    "History": "allocator.ledger.chain",
    "AllocatorError": "allocator.errors",
    "ConfigError": "allocator.errors",
    "DataError": "allocator.errors",
    "InfeasibleError": "allocator.errors",
    "SolverError": "allocator.errors",
    "OutputError": "allocator.errors",
    "ReplayMismatch": "allocator.errors",
}

_ALIASES = {"replay_run": "replay"}

__all__ = [
    "__version__",
    "load_config",
    "config_from_dict",
    "RunConfig",
    "run",
    "validate",
    "RunResult",
    "replay_run",
    "ReplayReport",
    "diff_runs",
    "RunDiff",
    "explain_la",
    "compare_map",
    "check_data",
    "amend",
    "history",
    "replay_chain",
    "History",
    "PoundsUncertainty",
    "pounds_uncertainty",
    "AllocatorError",
    "ConfigError",
    "DataError",
    "InfeasibleError",
    "SolverError",
    "OutputError",
    "ReplayMismatch",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .config import RunConfig, config_from_dict, load_config
    from .data import check_data
    from .errors import (
        AllocatorError,
        ConfigError,
        DataError,
        InfeasibleError,
        OutputError,
        ReplayMismatch,
        SolverError,
    )
    from .ledger.api import amend
    from .ledger.chain import History, history, replay_chain
    from .pipeline import RunResult, run, validate
    from .pounds.estimator import PoundsUncertainty
    from .pounds_run import pounds_uncertainty
    from .replay import ReplayReport, RunDiff, compare_map, diff_runs, explain_la
    from .replay import replay as replay_run


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'allocator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), _ALIASES.get(name, name))
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
