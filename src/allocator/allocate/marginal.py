"""Where £1m more would go: each stream-year's allocation re-solved with a larger budget.

Used by :class:`~allocator.allocate.problem.AllocationProblem` (``explain_marginal=True``);
the answers are turned into words by :func:`allocator.allocate.explain.shadow_words`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..errors import InfeasibleError
from .cells import Layout
from .config import AllocationConfig, year_key
from .constraints import Groups
from .crosscheck import cross_check, label
from .lp import MatrixLP
from .rounding import round_allocation
from .scaling import ProRata, pro_rata_targets
from .solve import SolveResult, SolverInfeasible
from .verify import verify_cells

#: ``prepare(cfg)`` -> (cfg, layout, groups) for a changed config.
Prepare = Callable[[AllocationConfig], tuple[AllocationConfig, Layout, Groups]]
#: ``run(layout, groups, cfg, scaled, context)`` -> (model, result, cross-check result).
Run = Callable[[Layout, Groups, AllocationConfig, ProRata, str],
               tuple[MatrixLP, SolveResult, SolveResult | None]]

__all__ = ["marginal_gains"]


def marginal_gains(layout: Layout, cfg: AllocationConfig, x_int: np.ndarray, prepare: Prepare,
                   run: Run) -> dict[str, pd.Series | str]:
    """Whole-pound change per cell when one stream-year has £1m more.

    The whole problem is rebuilt with the larger budget, so targets (need share x budget),
    share-of-stream caps and the pro-rata scaled targets follow it, and solved again (by
    ``run``, cross-checked as the main solve is).

    Parameters
    ----------
    layout, cfg : the solved problem's layout and config.
    x_int : numpy.ndarray
        The solved whole-pound allocation per cell.
    prepare, run : callable
        Build the layout and groups of a changed config; solve them staged.

    Returns
    -------
    dict
        Per budget row ``budget_<stream>_<year>``: the change per LA code, or a sentence saying
        why the larger budget could not be allocated.
    """
    out: dict[str, pd.Series | str] = {}
    codes = layout.codes
    for s, stream in enumerate(layout.streams):
        for y, year in enumerate(layout.years):
            if layout.budget[s, y] <= 0:
                continue
            cname = f"budget_{stream}_{year_key(year)}"
            budget = dict(cfg.streams[stream].budget)
            budget[year] += 1_000_000
            streams = dict(cfg.streams)
            streams[stream] = streams[stream].model_copy(update={"budget": budget})
            more_cfg = cfg.model_copy(update={"streams": streams})
            _, lay2, grp2 = prepare(more_cfg)
            context = f" (re-solve with £1m more in {stream} {year})"
            try:
                lp2, more, check = run(lay2, grp2, more_cfg, pro_rata_targets(lay2, grp2),
                                           context)
                more_int = round_allocation(lay2, grp2, more.x)
                verify_cells(lay2, grp2, more_int)
                if check is not None:
                    cross_check(lay2, grp2, lp2, more, check, more_int, context)
            except SolverInfeasible:
                agree = (f" ({label(cfg.solver.name)} and {label(cfg.solver.cross_check)} "
                         "both prove it)" if cfg.solver.cross_check not in
                         (None, cfg.solver.name) else "")
                out[cname] = ("it could not be allocated at all: with it the floors, caps, "
                              "locks and pace-of-change rules (e.g. no cash cut into a "
                              "following year whose budget stays the same) cannot all "
                              f"hold{agree}")
                continue
            except InfeasibleError as exc:
                out[cname] = f"it could not be allocated in whole pounds: {exc}"
                continue
            gain = more_int - x_int
            cells = layout.block(s, y)
            out[cname] = pd.Series(gain[cells], index=codes[cells])
    return out
