"""Composable allocation rules (prioritizr's grammar): a problem is its rules, in order.

Each rule family is one small module with one :class:`~.base.Rule` subclass:

================  ============================  =========================================
module            rule (``name``)               builds
================  ============================  =========================================
``eligibility``   :class:`EligibilityRule`      nothing (cells exist only where eligible)
``floors``        :class:`FloorRule`            bound group ``floor`` (lower)
``caps``          :class:`CapRule`              bound group ``cap`` (upper)
``locks``         :class:`LockRule`             bound group ``lock`` (fix)
``budget``        :class:`BudgetRule`           rows ``budget_<stream>_<year>`` (==)
``pace``          :class:`PaceRule`             rows ``pace_*`` (two terms), bounds ``pace_entry``
``totals``        :class:`FloorTotalRule`,      rows ``floor_total_*``, ``cap_total_*``,
                  :class:`CapTotalRule`,        ``pace_total_*`` on an LA's total over a group
                  :class:`PaceTotalRule`        of streams (``applies_to: total``)
================  ============================  =========================================

:data:`RULES` is the ordered registry. :func:`~allocator.allocate.constraints.build_groups` asks
every rule for its :class:`~.base.Built` (bounds and rows) and keeps them, in registry order, in
:class:`~allocator.allocate.constraints.Groups`; then

* the model builders (:mod:`..lp`, :mod:`..model`) and the elastic re-solve take *every* row
  group (``Groups.rows``) and the effective bounds (``Groups.lower`` / ``Groups.upper``, which
  combine every bound group by its kind: ``lower`` -> max, ``upper`` -> min, ``fix`` sets both);
* presolve (:func:`..presolve.find_issues`) calls every rule's ``presolve`` (issues of kind
  ``config`` are listed first);
* verify (:func:`..verify.check_cells`) calls every rule's ``violations`` on the final whole
  pounds (exact integer arithmetic);
* explain (:func:`..explain.waterfall`) adds every rule's ``explain`` columns.

Adding a rule
-------------
A new rule (for example a regional floor: the LAs of a region together get at least £X of a
stream-year) is one new module here and its tests:

1. ``rules/regional_floor.py`` with ``class RegionalFloorRule(Rule)``, ``name =
   "regional_floor"``, whose ``build`` returns ``Built(rows=(RowGroup(...),))`` — one row per
   region x stream-year over its cells, ``sense=">="``, ``rhs`` the whole-pound floor, unique row
   names such as ``regional_floor_<region>_<stream>_<year>``, ``owner`` -1 — reading its
   settings from the config; ``violations`` checks each row on the integers (sum the cells'
   pounds, compare with the integer ``rhs``); ``presolve`` returns an :class:`Issue` when the
   region's caps cannot reach the floor; ``explain`` optionally returns a per-cell column.
2. Register it: add the class to :data:`RULES` (its position decides where its rows and issues
   come), or call :func:`register` from the module that defines it.
3. Tests: build a small set-up and check that the rule binds, that ``violations`` fails when a
   pound is moved out of the region, and that presolve explains an impossible floor.

The solver paths need no change: a rule's rows reach HiGHS, CBC, the PuLP reference builder and
the elastic re-solve through ``Groups.rows``. (Pro-rata scaling, :mod:`..scaling`, knows only
per-cell bounds and pace; a new row rule that binds simply makes the LP move away from the
pro-rata amounts, which ``explain.csv`` shows as ``knock_on``.)
"""

from __future__ import annotations

from .base import BoundGroup, Built, Issue, RowGroup, Rule
from .budget import BudgetRule
from .caps import CapRule
from .eligibility import EligibilityRule
from .floors import FloorRule
from .locks import LockRule
from .pace import PaceRule
from .totals import CapTotalRule, FloorTotalRule, PaceTotalRule

#: The registry, in order: eligibility and the per-cell bounds first, then the rows.
RULES: list[type[Rule]] = [EligibilityRule, FloorRule, CapRule, LockRule, BudgetRule, PaceRule,
                           FloorTotalRule, CapTotalRule, PaceTotalRule]


def register(rule: type[Rule], *, before: str | None = None) -> type[Rule]:
    """Add ``rule`` to :data:`RULES` (at the end, or before the rule named ``before``).

    Usable as a class decorator. Registering the same class twice is a no-op.

    Raises
    ------
    ValueError
        ``rule`` has no ``name``, another rule has its name, or ``before`` is unknown.
    """
    if not rule.name:
        raise ValueError("rule: a Rule subclass needs a non-empty 'name'")
    if rule in RULES:
        return rule
    if any(r.name == rule.name for r in RULES):
        raise ValueError(f"rule: a rule named {rule.name!r} is already registered")
    if before is None:
        RULES.append(rule)
        return rule
    names = [r.name for r in RULES]
    if before not in names:
        raise ValueError(f"before: no registered rule is named {before!r}; rules are {names}")
    RULES.insert(names.index(before), rule)
    return rule


def default_rules() -> list[Rule]:
    """One instance of every registered rule, in registry order."""
    return [cls() for cls in RULES]


__all__ = [
    "RULES",
    "BoundGroup",
    "BudgetRule",
    "Built",
    "CapRule",
    "CapTotalRule",
    "EligibilityRule",
    "FloorRule",
    "FloorTotalRule",
    "Issue",
    "LockRule",
    "PaceRule",
    "PaceTotalRule",
    "RowGroup",
    "Rule",
    "default_rules",
    "register",
]
