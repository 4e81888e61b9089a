"""The allocation LP as sparse arrays, and its well-conditioned (scaled) form.

:func:`build_matrix` assembles the model of :mod:`.model` straight from the constraint groups'
arrays: columns ``xa`` (all cells), ``xm``, ``xb`` and, with ``fairness: maxmin``, ``z``; rows
are every row group (each row's terms repeated over the three parts) then the fairness rows;
one cost vector per stage. It is the same LP the PuLP builder writes (same rows in the same
order, same bounds, same objectives), which ``tests/test_allocate_lp.py`` checks on random
set-ups.

Numerics by design
------------------
In pounds the model is badly conditioned for a floating-point solver: bounds and right-hand
sides reach 1e10 while HiGHS's feasibility tolerance is an *absolute* 1e-7, so a sum of
upper bounds that misses a budget by a rounding error of 1e-6 pounds is reported infeasible
(HiGHS itself warns of a 1e16 ratio). HiGHS's guidance is to make values of order one, so
:meth:`MatrixLP.scaled` solves in units chosen per column and row:

* every cell's money is measured in units of its own size, ``max(target, pro-rata amount,
  £1)`` (:func:`cell_units`), so every variable's value and bounds are of order one;
* every row is then divided by its largest coefficient;
* every stage's cost vector is divided by its largest coefficient.

Feasibility is then judged to the solver's tolerance (:data:`.staged.TOLERANCE`, 1e-9) of each
cell's size and of the largest cell in each row (10p on a £100m cell, never near a whole
pound), values come back to about that accuracy even through CBC's 8-digit solution
file, and the solution is converted back to pounds before rounding. (Units of the stream-year
budget, tried first, left CBC's values only as accurate as 8 digits of the budget: £50 on £10bn.)
:class:`Scaling` keeps the factors so duals, reduced costs and objective values come back in
pounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .cells import Layout
from .config import ObjectiveConfig
from .constraints import Groups
from .model import split_bounds, stage_slopes, tie_break_weights

PARTS = 3


@dataclass
class MatrixLP:
    """A minimisation LP ``min c_s' x + c0_s  s.t.  row_lower <= A x <= row_upper, lower <= x <= upper``.

    Attributes
    ----------
    n_cells : int
        Money columns are ``3 * n_cells`` (parts ``xa``, ``xm``, ``xb`` in cell order); with a
        fairness stage one more column ``z`` follows.
    a : scipy.sparse.csr_matrix
    row_lower, row_upper, col_lower, col_upper : ndarray (``inf`` where unbounded)
    row_names, row_group : list of str
    costs : dict of str to (ndarray, float)
        Per stage, in solve order: cost vector and constant.
    """

    n_cells: int
    a: sp.csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_names: list[str]
    row_group: list[str]
    costs: dict[str, tuple[np.ndarray, float]]

    @property
    def n_cols(self) -> int:
        """Number of columns."""
        return int(self.col_lower.size)

    @property
    def stages(self) -> list[str]:
        """Stage names in solve order."""
        return list(self.costs)

    def cells(self, col_values: np.ndarray) -> np.ndarray:
        """Pounds per cell (``xa + xm + xb``) from column values."""
        n = self.n_cells
        v = np.asarray(col_values, dtype=float)
        return v[:n] + v[n:2 * n] + v[2 * n:3 * n]

    def objective(self, stage: str, col_values: np.ndarray) -> float:
        """The stage's objective at ``col_values``."""
        c, c0 = self.costs[stage]
        return float(np.dot(c, col_values) + c0)

    def scaled(self, units: np.ndarray) -> tuple[MatrixLP, Scaling]:
        """The same LP in well-conditioned units (see the module doc).

        Parameters
        ----------
        units : ndarray
            Pounds per unit of each cell (the cell's stream-year budget).
        """
        units = np.maximum(np.asarray(units, dtype=float), 1.0)
        col = np.concatenate([np.tile(units, PARTS), np.ones(self.n_cols - PARTS * self.n_cells)])
        a = (self.a @ sp.diags(col)).tocsr()
        big = np.zeros(a.shape[0])
        if a.nnz:
            np.maximum.at(big, np.repeat(np.arange(a.shape[0]), np.diff(a.indptr)), np.abs(a.data))
        row = 1.0 / np.where(big > 0, big, 1.0)
        a = (sp.diags(row) @ a).tocsr()
        costs, obj = {}, {}
        for stage, (c, c0) in self.costs.items():
            cs = c * col
            top = float(np.max(np.abs(cs))) if cs.size else 0.0
            s = top if top > 0 else 1.0
            costs[stage] = (cs / s, c0 / s)
            obj[stage] = s
        lp = MatrixLP(self.n_cells, a, self.row_lower * row, self.row_upper * row,
                      self.col_lower / col, self.col_upper / col, self.row_names,
                      self.row_group, costs)
        return lp, Scaling(col, row, obj)


@dataclass(frozen=True)
class Scaling:
    """Factors of :meth:`MatrixLP.scaled`: ``x = col * x'``, row ``i`` times ``row[i]``,
    stage cost divided by ``objective[stage]``."""

    col: np.ndarray
    row: np.ndarray
    objective: dict[str, float]

    def values(self, x_scaled: np.ndarray) -> np.ndarray:
        """Column values in pounds."""
        return np.asarray(x_scaled, dtype=float) * self.col

    def duals(self, stage: str, y_scaled: np.ndarray) -> np.ndarray:
        """Row duals in pounds of objective per pound of right-hand side."""
        return self.objective[stage] * self.row * np.asarray(y_scaled, dtype=float)

    def reduced_costs(self, stage: str, d_scaled: np.ndarray) -> np.ndarray:
        """Column reduced costs in pounds of objective per pound."""
        return self.objective[stage] * np.asarray(d_scaled, dtype=float) / self.col


def cell_units(layout: Layout, scaled: np.ndarray | None = None) -> np.ndarray:
    """Pounds per solver unit of each cell: its own size, ``max(target, pro-rata amount, £1)``."""
    size = layout.target if scaled is None else np.maximum(layout.target, scaled)
    return np.maximum(size, 1.0)


def build_matrix(layout: Layout, groups: Groups, objective: ObjectiveConfig,
                 scaled: np.ndarray) -> MatrixLP:
    """Assemble the LP from the groups' arrays (no per-variable Python objects).

    Parameters
    ----------
    layout, groups, objective
    scaled : ndarray
        Pro-rata scaled targets (:func:`.scaling.pro_rata_targets`).
    """
    n = layout.n_cells
    bounds = split_bounds(layout, groups, scaled)
    lower = [lo for lo, _ in bounds]
    upper = [up for _, up in bounds]
    fair = objective.fairness == "maxmin"
    blocks, lo_rows, up_rows, names, group_of = [], [], [], [], []
    for g in groups.rows:
        if not g.n_rows:
            continue
        m = sp.csr_matrix((g.data, g.indices, g.indptr), shape=(g.n_rows, n))
        blocks.append(sp.hstack([m, m, m], format="csr"))
        if g.sense == "==":
            lo_rows.append(g.rhs)
            up_rows.append(g.rhs)
        elif g.sense == ">=":
            lo_rows.append(g.rhs)
            up_rows.append(np.full(g.n_rows, math.inf))
        else:
            lo_rows.append(np.full(g.n_rows, -math.inf))
            up_rows.append(g.rhs)
        names += list(g.names)
        group_of += [g.name] * g.n_rows
    n_cols = PARTS * n + (1 if fair else 0)
    if fair:
        pos = np.flatnonzero(layout.target > 0)
        r = pos.size
        eye = sp.csr_matrix((np.ones(r), (np.arange(r), pos)), shape=(r, n))
        zcol = sp.csr_matrix(-layout.target[pos].reshape(-1, 1))
        blocks = [sp.hstack([b, sp.csr_matrix((b.shape[0], 1))], format="csr") for b in blocks]
        blocks.append(sp.hstack([eye, eye, eye, zcol], format="csr"))
        lo_rows.append(np.zeros(r))
        up_rows.append(np.full(r, math.inf))
        var = [n[1:] for n in layout.var_names()]
        names += [f"fair{var[k]}" for k in pos.tolist()]
        group_of += ["fairness"] * r
        lower.append(np.array([-math.inf]))
        upper.append(np.array([math.inf]))
    a = sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, n_cols))
    costs: dict[str, tuple[np.ndarray, float]] = {}
    pad = np.zeros(n_cols - PARTS * n)
    if fair:
        costs["fairness"] = (np.concatenate([np.zeros(PARTS * n), [-1.0]]), 0.0)
    for stage, (slopes, const) in stage_slopes(layout, objective, scaled).items():
        costs[stage] = (np.concatenate([*slopes, pad]), const)
    omega = tie_break_weights(layout)
    costs["tie_break"] = (np.concatenate([omega, omega, omega, pad]), 0.0)
    return MatrixLP(n, a, np.concatenate(lo_rows) if lo_rows else np.zeros(0),
                    np.concatenate(up_rows) if up_rows else np.zeros(0),
                    np.concatenate(lower).astype(float), np.concatenate(upper).astype(float),
                    names, group_of, costs)
