"""Checks that explain impossible set-ups in pounds and names, before any solve.

Each rule (:mod:`.rules`) brings its own checks (:meth:`.rules.Rule.presolve`);
:func:`presolve` runs them all, in registry order with the ``config`` issues first, and raises
one error listing every issue: :class:`~allocator.errors.ConfigError` when a stream-year has
nobody to pay or money is pinned to an LA that is not eligible, otherwise
:class:`~allocator.errors.InfeasibleError`.

Checks (``Issue.check``) of the built-in rules: ``no_eligible`` (eligibility),
``floor_not_eligible`` (floors), ``floor_above_cap`` (caps), ``lock_not_eligible``,
``lock_outside_bounds``, ``locks_above_budget`` (locks), ``floors_above_budget``,
``caps_below_budget`` (budget), ``pace_wave_entry`` (aggregate pace rules vs the budget when a
wave enters), ``pace_la`` (one LA's floor/cap/lock across two years vs a pace rule) and
``pace_from_zero`` (an entrant with a floor while max growth applies from £0) (pace).
"""

from __future__ import annotations

from ..errors import ConfigError, InfeasibleError
from .cells import Layout
from .config import AllocationConfig
from .constraints import Groups
from .rules.base import SHOW, Issue


def find_issues(layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
    """Every rule's issues (empty when the set-up is possible so far), ``config`` ones first."""
    issues = [issue for rule in groups.rules for issue in rule.presolve(layout, groups, config)]
    return sorted(issues, key=lambda i: i.kind != "config")


def presolve(layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
    """Run the checks; raise if any fails.

    Raises
    ------
    ConfigError
        A stream-year with nobody eligible, or a floor/lock on an LA that is not eligible.
    InfeasibleError
        Any numeric impossibility.
    """
    issues = find_issues(layout, groups, config)
    if not issues:
        return issues
    text = " ".join(f"({n}) [{i.check}] {i.message}." for n, i in enumerate(issues, 1))
    msg = f"presolve found {len(issues)} problem(s) before solving: {text}"
    if any(i.kind == "config" for i in issues):
        raise ConfigError(msg)
    raise InfeasibleError(msg)


__all__ = ["SHOW", "Issue", "find_issues", "presolve"]
