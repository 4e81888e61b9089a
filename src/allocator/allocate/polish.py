"""Restore full precision to a vertex read back with few digits (CBC's solution file).

PuLP reads CBC's values from a text file with 8 significant digits. An optimal basic solution is
fixed by which bounds and rows are active, so :func:`polish` finds them (to a tolerance far
above the lost digits), holds the variables at their active bounds and solves the active rows
for the others in double precision. The polished point is used only if it is a vertex (as many
independent active rows as free variables), satisfies every active row to 1e-12, every other
row to :data:`ROW_TOL` and stays within its bounds; otherwise the values are returned as read.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

#: Distance (scaled units: values are of order one) within which a value counts as on its bound.
NEAR = 1e-6
#: How far (relative to a row's size) a polished point may break any row: the solver's own
#: feasibility tolerance (``primalT``).
ROW_TOL = 1e-9


def polish(a: sp.csr_matrix, row_lower: np.ndarray, row_upper: np.ndarray,
           col_lower: np.ndarray, col_upper: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, bool]:
    """The vertex that ``x`` approximates, in full precision, and whether it was found.

    Parameters
    ----------
    a, row_lower, row_upper, col_lower, col_upper
        The LP's rows and bounds (scaled units).
    x : ndarray
        Column values as read back.
    """
    x = np.asarray(x, dtype=float)
    at_lo = np.isfinite(col_lower) & (np.abs(x - col_lower) <= NEAR)
    at_up = np.isfinite(col_upper) & (np.abs(x - col_upper) <= NEAR) & ~at_lo
    fixed = at_lo | at_up
    out = x.copy()
    out[at_lo] = col_lower[at_lo]
    out[at_up] = col_upper[at_up]
    free = np.flatnonzero(~fixed)
    if free.size == 0:
        return (out, True) if _rows_hold(a, row_lower, row_upper, out) else (x, False)
    act = a @ x
    size = np.maximum(1.0, abs(a) @ np.abs(x))
    on_lo = np.isfinite(row_lower) & (np.abs(act - row_lower) <= NEAR * size)
    on_up = np.isfinite(row_upper) & (np.abs(act - row_upper) <= NEAR * size) & ~on_lo
    active = np.flatnonzero(on_lo | on_up)
    target = np.where(on_lo, row_lower, row_upper)[active]
    sub = a[active]
    touch = np.flatnonzero(np.diff(sub[:, free].tocsr().indptr) > 0)
    if touch.size < free.size:
        return x, False
    sub, target = sub[touch], target[touch]
    rhs = target - sub[:, np.flatnonzero(fixed)] @ out[fixed]
    m = sub[:, free].tocsc()
    if m.shape[0] == m.shape[1]:
        try:
            sol = spla.spsolve(m, rhs)
        except RuntimeError:  # singular
            return x, False
    else:
        sol = spla.lsqr(m, rhs, atol=1e-15, btol=1e-15, conlim=1e12, iter_lim=20 * free.size,
                        x0=x[free])[0]
    if not np.all(np.isfinite(sol)):
        return x, False
    out[free] = sol
    resid = np.abs(m @ sol - rhs)
    ok = bool(np.all(resid <= 1e-12 * np.maximum(1.0, np.abs(rhs))))
    ok = ok and bool(np.all(out >= col_lower - NEAR) and np.all(out <= col_upper + NEAR))
    ok = ok and bool(np.all(np.abs(out - x) <= 10 * NEAR * np.maximum(1.0, np.abs(x))))
    ok = ok and _rows_hold(a, row_lower, row_upper, out)
    return (out, True) if ok else (x, False)


def _rows_hold(a: sp.csr_matrix, row_lower: np.ndarray, row_upper: np.ndarray,
               out: np.ndarray) -> bool:
    """Whether every row holds at ``out`` to :data:`ROW_TOL`.

    Moving values by up to :data:`NEAR` onto their bounds, or the free ones to hold the active
    rows, can break a row when the values are far below one (budgets of a few pounds: a £1
    budget row over 54 cells was broken by 2.3e-6). Such a point can look better than the
    optimum, so the next stage, which holds that optimum, was found infeasible.
    """
    act = a @ out
    tol = ROW_TOL * np.maximum(1.0, abs(a) @ np.abs(out))
    return bool(np.all(act >= row_lower - tol) and np.all(act <= row_upper + tol))
