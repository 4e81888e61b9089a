"""Re-solving part of an allocation with the run's own rules, and re-checking every rule.

:func:`resolve` builds the run's :class:`~allocator.allocate.AllocationProblem` with the
current stream-year budgets, every cell outside the stream-years being re-solved locked at its
current amount, chosen cells fixed (an LA returning money) and optional lower bounds (no LA
below its published amount, as a file floor), then solves it with the run's solver, tie-break,
rounding and exact verify. :func:`verify_rules` re-checks every rule of the run on a final
whole-pound allocation (:func:`allocator.allocate.verify.verify_frame`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..columns import TOTAL, money_column, total_column
from ..rundir import temporary_folder

Cell = tuple[str, str, str]  # code, stream, year


def budgets_of(allocation: pd.DataFrame, streams: Iterable[str], years: Iterable[str]
               ) -> dict[tuple[str, str], int]:
    """``(stream, year) -> pounds``: each stream-year's budget as the sum of its column."""
    return {(s, y): int(allocation[money_column(s, y)].sum()) for s in streams for y in years}


def allocation_config(config: Any, budgets: Mapping[tuple[str, str], int], **update: Any) -> Any:
    """The run's allocation config with ``budgets`` (a stream-year at £0 is dropped) and
    ``update`` (e.g. ``locks``, ``floors``) replaced, validated."""
    from ..allocate import validate_allocation_config

    cfg = config.allocation
    streams = {}
    for name, st in cfg.streams.items():
        budget = {y: int(budgets[(name, y)]) for y in st.budget if budgets.get((name, y), 0) > 0}
        if budget:
            streams[name] = st.model_copy(update={"budget": budget})
    data = {**dict(cfg), "streams": streams, **update}
    if cfg.years is None:
        data["years"] = cfg.resolved_years()
    return validate_allocation_config(data)


def eligible_cells(cfg: Any, areas: pd.DataFrame, base_dir: Path | None) -> set[Cell]:
    """Every ``(code, stream, year)`` the rules open (eligible LA x stream x year with money)."""
    from ..allocate.cells import build_layout

    layout = build_layout(cfg, areas, base_dir)
    codes = layout.areas["code"].astype(str).to_numpy()
    out: set[Cell] = set()
    for s, stream in enumerate(layout.streams):
        for y, year in enumerate(layout.years):
            for i in np.flatnonzero(layout.position[s, y] >= 0).tolist():
                out.add((str(codes[i]), stream, year))
    return out


def resolve(
    config: Any,
    areas: pd.DataFrame,
    allocation: pd.DataFrame,
    free: set[tuple[str, str]],
    *,
    budgets: Mapping[tuple[str, str], int],
    fixed: Mapping[Cell, int] | None = None,
    lower: Mapping[Cell, int] | None = None,
    base_dir: Path | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Re-solve the stream-years ``free`` by the run's rules; everything else stays.

    Parameters
    ----------
    config : RunConfig
        The root run's config (its rules, solver and tie-break).
    areas : DataFrame
        The problem areas (population, need factor, wave).
    allocation : DataFrame
        The current allocation (wide, whole pounds): every cell outside ``free`` is locked at it.
    free : set of (stream, year)
        The stream-years re-solved.
    budgets : mapping
        ``(stream, year) -> pounds`` after the change.
    fixed : mapping, optional
        ``(code, stream, year) -> pounds`` locked inside ``free`` (an LA returning money).
    lower : mapping, optional
        ``(code, stream, year) -> pounds`` lower bounds inside ``free`` (``no_fall``).
    base_dir : Path, optional
        The data folder (eligibility and floor files of the config).

    Returns
    -------
    allocation : DataFrame
        ``code, name, region, wave`` and every money column, int64, code order.
    solver : dict
        The solve's status, solver and stage optima (no timings).

    Raises
    ------
    ConfigError, InfeasibleError
        The rules cannot be met (presolve and the elastic re-solve say which, in pounds).
    """
    from ..allocate import AllocationProblem, LockConfig
    from ..allocate.config import FloorConfig
    from ..pipeline import solver_summary

    fixed, lower = dict(fixed or {}), dict(lower or {})
    base = allocation_config(config, budgets)
    now = allocation.set_index("code")
    locks = [lk for lk in base.locks if (lk.stream, lk.year) in free
             and (lk.code, lk.stream, lk.year) not in fixed]
    for code, stream, year in sorted(eligible_cells(base, areas, base_dir)):
        if (stream, year) in free and (code, stream, year) not in fixed:
            continue
        amount = fixed.get((code, stream, year), int(now.at[code, money_column(stream, year)]))
        locks.append(LockConfig(code=code, stream=stream, year=year, amount=amount,
                                source="amendment: kept at its current amount"))
    with temporary_folder("allocator-amend-") as tmp:
        floors = list(base.floors)
        for stream, year in sorted({(s, y) for _, s, y in lower}):
            col = money_column(stream, year)
            rows = sorted((c, v) for (c, s, y), v in lower.items() if (s, y) == (stream, year))
            path = Path(tmp) / f"no_fall_{col}.csv"
            pd.DataFrame(rows, columns=["code", col]).to_csv(path, index=False)
            floors.append(FloorConfig(kind="file", path=path, streams=[stream], years=[year],
                                      source="amendment: no LA below its published amount"))
        cfg = allocation_config(config, budgets, locks=locks, floors=floors)
        problem = AllocationProblem.from_config(cfg, areas, base_dir=base_dir,
                                                explain_marginal=False)
        problem.solve()
        problem.verify()
    out = problem.allocation_
    summary = solver_summary(problem)
    return out, summary


def recompute_totals(frame: pd.DataFrame, streams: list[str], years: list[str]) -> pd.DataFrame:
    """Year totals and the grand total from the money columns (int64), and per head."""
    from ..columns import PER_HEAD, POPULATION

    out = frame.copy()
    for y in years:
        out[total_column(y)] = out[[money_column(s, y) for s in streams]].sum(axis=1).astype("int64")
    out[TOTAL] = out[[total_column(y) for y in years]].sum(axis=1).astype("int64")
    if POPULATION in out.columns:
        out[PER_HEAD] = np.round(out[TOTAL] / out[POPULATION], 2)
    return out


def merge_money(current: pd.DataFrame, solved: pd.DataFrame, streams: list[str],
                years: list[str]) -> pd.DataFrame:
    """``current`` with the money columns (and waves) of ``solved``, matched by code."""
    out = current.copy()
    by_code = solved.set_index("code")
    for col in [*(money_column(s, y) for s in streams for y in years), "wave"]:
        if col in by_code.columns:
            out[col] = out["code"].map(by_code[col]).fillna(0).astype("int64")
    return recompute_totals(out, streams, years)


def verify_rules(config: Any, areas: pd.DataFrame, allocation: pd.DataFrame,
                 base_dir: Path | None = None) -> None:
    """Re-check every rule of the run on ``allocation`` (whole pounds, exact integers).

    The stream-year budgets are the allocation's own column sums (the framework checks those
    against the expected budgets separately).

    Raises
    ------
    SolverError
        Naming every broken rule (``verification of the final allocation failed``).
    """
    from ..allocate.cells import build_layout
    from ..allocate.constraints import build_groups
    from ..allocate.verify import verify_frame

    streams, years = list(config.allocation.streams), config.allocation.resolved_years()
    cfg = allocation_config(config, budgets_of(allocation, streams, years))
    layout = build_layout(cfg, areas, base_dir)
    groups = build_groups(layout, cfg, base_dir)
    order = layout.areas["code"].astype(str).tolist()
    frame = allocation.set_index("code").loc[order].reset_index()
    live = list(cfg.streams)
    cols = ["code", *(money_column(s, y) for s in live for y in years)]
    table = recompute_totals(frame[cols], live, years)
    verify_frame(layout, groups, table)


__all__ = ["allocation_config", "budgets_of", "eligible_cells", "merge_money",
           "recompute_totals", "resolve", "verify_rules"]
