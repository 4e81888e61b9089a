"""Locks: fixed whole-pound amounts for named LA x stream x year (e.g. a ministerial decision).

Bound group ``lock`` (kind ``fix``); presolve reports locks on LAs that are not eligible
(``lock_not_eligible``), locks outside a floor or cap (``lock_outside_bounds``) and locks above
a stream-year budget (``locks_above_budget``); explain column ``lock``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...errors import ConfigError
from ..cells import Layout
from ..config import AllocationConfig
from .base import BoundGroup, Built, Issue, Rule, listing, orphan_issues, stream_year

if TYPE_CHECKING:
    from ..constraints import Groups


@dataclass(frozen=True)
class LockResult:
    """Locks on cells plus locks on LA x stream x years that are not eligible."""

    group: BoundGroup
    orphans: list[tuple[int, int, int, float]]


def locks(layout: Layout, config: AllocationConfig) -> LockResult:
    """The lock group: fixed whole-pound amounts for named LA x stream x year.

    Raises
    ------
    ConfigError
        Unknown code, or the same cell locked twice.
    """
    codes = layout.areas["code"].tolist()
    where = {c: i for i, c in enumerate(codes)}
    seen: set[tuple[str, str, str]] = set()
    cells, values, orphans = [], [], []
    for lock in config.locks:
        if lock.code not in where:
            raise ConfigError(f"lock names code {lock.code} which is not in the areas table")
        key = (lock.code, lock.stream, lock.year)
        if key in seen:
            raise ConfigError(f"{lock.code} {lock.stream} {lock.year} is locked twice")
        seen.add(key)
        i, s, y = where[lock.code], layout.streams.index(lock.stream), layout.years.index(lock.year)
        k = int(layout.position[s, y, i])
        if k < 0:
            orphans.append((i, s, y, float(lock.amount)))
            continue
        cells.append(k)
        values.append(lock.amount)
    order = np.argsort(np.array(cells, dtype=np.int64), kind="mergesort")
    c = np.array(cells, dtype=np.int64)[order]
    v = np.array(values, dtype=np.int64)[order]
    group = BoundGroup("lock", "fix", c, v, v.astype(float), "locked amounts from the config")
    return LockResult(group, orphans)


def check_locks(layout: Layout, groups: Groups) -> list[Issue]:
    """Locks below a floor or above a cap, and locks that exceed a stream-year budget."""
    out = []
    n = layout.n_cells
    fl, cp = groups.floor.dense(n, 0.0), groups.cap.dense(n, np.inf)
    text = []
    for k, v in zip(groups.lock.cells.tolist(), groups.lock.values.tolist(), strict=True):
        if v < fl[k]:
            text.append(f"{layout.label(k)}: locked at £{v:,} below its floor £{fl[k]:,.0f}")
        elif v > cp[k]:
            text.append(f"{layout.label(k)}: locked at £{v:,} above its cap £{cp[k]:,.0f}")
    if text:
        out.append(Issue("lock_outside_bounds", "a lock conflicts with a floor or cap: "
                         + listing(text)))
    for s in range(len(layout.streams)):
        for y in range(len(layout.years)):
            mask = (layout.stream[groups.lock.cells] == s) & (layout.year[groups.lock.cells] == y)
            total = int(groups.lock.values[mask].sum())
            budget = int(layout.budget[s, y])
            if mask.any() and total > budget:
                names = [layout.label(k) for k in groups.lock.cells[mask].tolist()]
                out.append(Issue("locks_above_budget",
                                 f"locks in {stream_year(layout, s, y)} total £{total:,}, exceeding its "
                                 f"budget £{budget:,} by £{total - budget:,} (locked: "
                                 f"{listing(names)})"))
    return out


class LockRule(Rule):
    """Locks (bound group ``lock``)."""

    name = "lock"

    def build(self, layout: Layout, config: AllocationConfig, base_dir: Path | None = None
              ) -> Built:
        """The ``lock`` bounds and the locks on cells that are not eligible."""
        res = locks(layout, config)
        return Built(bounds=(res.group,), orphans=tuple(res.orphans))

    def violations(self, layout: Layout, groups: Groups, x: np.ndarray) -> list[str]:
        """Each locked cell equals its amount."""
        lk = groups.lock
        names = layout.var_names()
        return [f"lock{names[k][1:]}: £{x[k]:,} != lock £{v:,}"
                for k, v in zip(lk.cells.tolist(), lk.values.tolist(), strict=True) if x[k] != v]

    def presolve(self, layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
        """``lock_not_eligible``, ``lock_outside_bounds``, ``locks_above_budget``."""
        return (orphan_issues(layout, groups.lock_orphans, "lock at", "lock_not_eligible", config)
                + check_locks(layout, groups))

    def explain(self, layout: Layout, groups: Groups) -> dict[str, np.ndarray]:
        """``lock``: the locked amount (NaN where none)."""
        out = np.full(layout.n_cells, np.nan)
        out[groups.lock.cells] = groups.lock.values
        return {"lock": out}
