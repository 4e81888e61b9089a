"""The grammar shared by every rule: bound and row groups, what a rule builds, and the base class.

See the package docstring (:mod:`allocator.allocate.rules`) for how rules are registered and
how to add one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ..cells import Layout
from ..config import AllocationConfig
from ..eligible import describe

if TYPE_CHECKING:
    from ..constraints import Groups

#: How many items an issue lists before "and N more".
SHOW = 8


@dataclass(frozen=True)
class BoundGroup:
    """A bound per cell.

    Attributes
    ----------
    name : str
        Group name (``floor``, ``cap``, ``lock``, ``pace_entry``).
    kind : {"lower", "upper", "fix"}
    cells : ndarray of int
        Cells the group bounds.
    values : ndarray of int64
        Whole-pound bound per cell: floors rounded up, caps rounded down, computed exactly on
        the decimals as written (see :mod:`.exact`).
    raw : ndarray of float
        The unrounded bound.
    rule : str
        How the bound was set, in words.
    """

    name: str
    kind: str
    cells: np.ndarray
    values: np.ndarray
    raw: np.ndarray
    rule: str

    def dense(self, n_cells: int, fill: float) -> np.ndarray:
        """Bound per cell as a float array, ``fill`` where the group does not apply."""
        out = np.full(n_cells, fill, dtype=float)
        out[self.cells] = self.values
        return out


@dataclass(frozen=True)
class RowGroup:
    """Sparse linear rows ``sum(coef * x[cell]) <sense> rhs``.

    Attributes
    ----------
    name : str
    names : list of str
        One constraint name per row (unique in the model).
    indptr, indices, data : ndarray
        CSR storage over cells.
    sense : str
        ``"=="``, ``">="`` or ``"<="`` (same for every row of the group).
    rhs : ndarray of float
    owner : ndarray of int
        The cell each row is "about" (for pace: the later year's cell; -1 for budget rows).
    rule : str
    meta : dict
        Pace groups: ``prev`` (the earlier year's cell per row), ``factor`` (float, for the
        solver) and ``ratio`` (the same factor as an exact Fraction, for whole-pound checks).
    """

    name: str
    names: list[str]
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    sense: str
    rhs: np.ndarray
    owner: np.ndarray
    rule: str
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(self.names)

    def activity(self, x: np.ndarray) -> np.ndarray:
        """Row left-hand sides for the cell values ``x``."""
        prod = self.data * np.asarray(x, dtype=float)[self.indices]
        return np.add.reduceat(prod, self.indptr[:-1]) if self.n_rows else np.zeros(0)


def empty_bounds(name: str, kind: str, rule: str) -> BoundGroup:
    z = np.zeros(0, dtype=np.int64)
    return BoundGroup(name, kind, z, z, np.zeros(0), rule)


@dataclass(frozen=True)
class Built:
    """What one rule adds to the model: bounds per cell, linear rows, and cells it could not place.

    Attributes
    ----------
    bounds : tuple of BoundGroup
    rows : tuple of RowGroup
    orphans : tuple of (area, stream, year, pounds)
        Amounts the rule sets on LA x stream x years that are not cells (not eligible); the
        rule's presolve reports them.
    """

    bounds: tuple[BoundGroup, ...] = ()
    rows: tuple[RowGroup, ...] = ()
    orphans: tuple[tuple[int, int, int, float], ...] = ()


@dataclass(frozen=True)
class Issue:
    """One impossible part of the set-up, found before solving."""

    check: str
    message: str
    kind: str = "infeasible"  # or "config"


class Rule:
    """One rule family (prioritizr's grammar: a problem is its rules, added in order).

    Subclasses set :attr:`name` and override what they need:

    * :meth:`build` — the rule as bounds (:class:`BoundGroup`) or sparse rows
      (:class:`RowGroup`) over the cells, in whole pounds;
    * :meth:`violations` — an exact check of the rule on the final whole pounds (integer
      arithmetic, no tolerance), one message per broken constraint;
    * :meth:`presolve` — :class:`Issue` s that make the set-up impossible, in pounds and names;
    * :meth:`explain` — the rule's own columns in ``explain.csv`` (per cell).
    """

    #: Rule family name (also the key of its :class:`Built` in :class:`~..constraints.Groups`).
    name: ClassVar[str] = ""

    def build(self, layout: Layout, config: AllocationConfig, base_dir: Path | None = None
              ) -> Built:
        """The rule's bounds and rows (nothing by default)."""
        return Built()

    def violations(self, layout: Layout, groups: Groups, x: np.ndarray) -> list[str]:
        """Every constraint of the rule that the whole pounds ``x`` (int64 per cell) break."""
        return []

    def presolve(self, layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
        """Issues that make the set-up impossible (none by default)."""
        return []

    def explain(self, layout: Layout, groups: Groups) -> dict[str, np.ndarray]:
        """Columns for ``explain.csv``, one value per cell (none by default)."""
        return {}


def in_scope(layout: Layout, streams: list[str] | None, years: list[str] | None) -> np.ndarray:
    """Cells of the given streams and years (all when ``None``), as a boolean mask."""
    s_ok = np.isin(np.array(layout.streams), streams if streams else layout.streams)
    y_ok = np.isin(np.array(layout.years), years if years else layout.years)
    return s_ok[layout.stream] & y_ok[layout.year]


def gbp(v: float) -> str:
    """Pounds for messages (``unlimited`` for infinity)."""
    return "unlimited" if not np.isfinite(v) else f"£{v:,.0f}"


def listing(items: list[str]) -> str:
    """The first :data:`SHOW` items, then "and N more"."""
    shown = "; ".join(items[:SHOW])
    return shown + (f"; and {len(items) - SHOW} more" if len(items) > SHOW else "")


def area_label(layout: Layout, i: int) -> str:
    """``"Name (CODE)"`` of area ``i``."""
    return f"{layout.area_names[i]} ({layout.area_codes[i]})"


def stream_year(layout: Layout, s: int, y: int) -> str:
    """``"stream year"``."""
    return f"{layout.streams[s]} {layout.years[y]}"


def orphan_issues(layout: Layout, items: list[tuple[int, int, int, float]], what: str,
                  check: str, config: AllocationConfig) -> list[Issue]:
    """Amounts a rule sets on LA x stream x years that eligibility leaves with no money."""
    if not items:
        return []
    waves = layout.areas["wave"].to_numpy()
    why = {"wave_started": "but its wave {w} has not started",
           "wave_not_started": "but its wave {w} has started"}

    def reason(s: int) -> str:
        spec = config.streams[layout.streams[s]].eligible
        return why.get(spec, "but it is not eligible for that stream") if isinstance(spec, str) \
            else f"but the stream's eligibility ({describe(spec)}) leaves it out"

    text = [f"{area_label(layout, i)} {stream_year(layout, s, y)}: {what} £{v:,.0f} "
            + reason(s).format(w=waves[i]) for i, s, y, v in items]
    return [Issue(check, f"eligibility leaves a {what.split()[0]}ed LA no money: "
                  + listing(text), "config")]
