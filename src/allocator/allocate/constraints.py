"""The problem's constraint groups: what every registered rule built, in registry order.

Every group is solver-independent: a :class:`BoundGroup` (a lower, upper or fixed bound per
cell: floors, caps, locks, pace entry) or a :class:`RowGroup` (sparse linear rows: the budget
ring-fence, pace of change). The rules that build them live in :mod:`.rules` (one module per
rule family, an ordered registry); the LP builders (:mod:`.lp`, :mod:`.model`) take every row
group and the combined bounds, the verifier (:mod:`.verify`) and presolve (:mod:`.presolve`)
ask every rule, and the elastic re-solve (:mod:`.elastic`) relaxes every group by name.

Group names: ``budget``, ``floor``, ``cap``, ``lock``, ``pace_min_uplift``, ``pace_no_cash_cut``,
``pace_max_growth``, ``pace_entry`` (and those of any rule added to the registry). The
``eligibility`` rule is structural (cells exist only where an LA is eligible, see
:func:`allocator.allocate.cells.eligibility`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cells import Layout
from .config import AllocationConfig
from .rules import Built, Rule, default_rules
from .rules.base import BoundGroup, RowGroup, empty_bounds
from .rules.budget import budget_rows
from .rules.caps import caps
from .rules.floors import FloorResult, floors, read_floor_file
from .rules.locks import LockResult, locks
from .rules.pace import pace

_NONE = Built()


@dataclass(frozen=True)
class Groups:
    """Every rule's :class:`~.rules.Built`, keyed by rule name in registry order.

    Attributes
    ----------
    rules : tuple of Rule
    built : dict of str to Built
    """

    rules: tuple[Rule, ...]
    built: dict[str, Built]

    def part(self, name: str) -> Built:
        """What the rule ``name`` built (empty when the rule is not registered)."""
        return self.built.get(name, _NONE)

    def with_part(self, name: str, built: Built) -> Groups:
        """A copy in which the rule ``name`` built ``built`` (e.g. to test a broken bound)."""
        return Groups(rules=self.rules, built={**self.built, name: built})

    def _bound(self, rule: str, group: str, kind: str) -> BoundGroup:
        for g in self.part(rule).bounds:
            if g.name == group:
                return g
        return empty_bounds(group, kind, "")

    @property
    def budget(self) -> RowGroup:
        """The ring-fence rows."""
        return self.part("budget").rows[0]

    @property
    def floor(self) -> BoundGroup:
        """Floors (lower bounds)."""
        return self._bound("floor", "floor", "lower")

    @property
    def cap(self) -> BoundGroup:
        """Caps (upper bounds)."""
        return self._bound("cap", "cap", "upper")

    @property
    def lock(self) -> BoundGroup:
        """Locks (fixed amounts)."""
        return self._bound("lock", "lock", "fix")

    @property
    def pace_entry(self) -> BoundGroup:
        """Entrants held at £0 by ``max_growth`` from £0."""
        return self._bound("pace", "pace_entry", "upper")

    @property
    def pace_rows(self) -> list[RowGroup]:
        """Pace-of-change row groups."""
        return list(self.part("pace").rows)

    @property
    def floor_orphans(self) -> list[tuple[int, int, int, float]]:
        """Floors on LA x stream x years that are not eligible."""
        return list(self.part("floor").orphans)

    @property
    def lock_orphans(self) -> list[tuple[int, int, int, float]]:
        """Locks on LA x stream x years that are not eligible."""
        return list(self.part("lock").orphans)

    @property
    def rows(self) -> list[RowGroup]:
        """Every row group in model order (registry order; the budget rows come first)."""
        return [g for b in self.built.values() for g in b.rows]

    @property
    def bounds(self) -> list[BoundGroup]:
        """Every bound group in registry order."""
        return [g for b in self.built.values() for g in b.bounds]

    def lower(self, n: int) -> np.ndarray:
        """Effective whole-pound lower bound per cell: the largest ``lower`` bound (0 if none),
        replaced by ``fix`` bounds (locks)."""
        lo = np.zeros(n)
        for g in self.bounds:
            if g.kind == "lower":
                lo = np.maximum(lo, g.dense(n, 0.0))
        for g in self.bounds:
            if g.kind == "fix":
                lo[g.cells] = g.values
        return lo

    def upper(self, n: int) -> np.ndarray:
        """Effective whole-pound upper bound per cell: the smallest ``upper`` bound (inf if
        none), replaced by ``fix`` bounds (locks)."""
        up = np.full(n, math.inf)
        for g in self.bounds:
            if g.kind == "upper":
                up = np.minimum(up, g.dense(n, math.inf))
        for g in self.bounds:
            if g.kind == "fix":
                up[g.cells] = g.values
        return up


def build_groups(layout: Layout, config: AllocationConfig, base_dir: Path | None = None,
                 rules: Sequence[Rule] | None = None) -> Groups:
    """Ask every rule (the registry, :data:`.rules.RULES`, by default) for its groups."""
    rules = tuple(rules) if rules is not None else tuple(default_rules())
    built = {rule.name: rule.build(layout, config, base_dir) for rule in rules}
    return Groups(rules=rules, built=built)


__all__ = [
    "BoundGroup",
    "FloorResult",
    "Groups",
    "LockResult",
    "RowGroup",
    "budget_rows",
    "build_groups",
    "caps",
    "floors",
    "locks",
    "pace",
    "read_floor_file",
]
