"""Explain the allocation: a waterfall per LA x stream x year, binding constraints, shadow prices.

Waterfall columns (pounds; they add up exactly:
``target + floor_uplift + cap_trim + lock_adjustment + pace_adjustment + rebalance + rounding
= final``):

``need_share``
    The LA's share of the target basis among the LAs eligible for the stream-year.
``target``
    ``need_share x budget``.
``floor_uplift``
    How far the (rounded-up) floor lifts the target, ``max(floor - target, 0)``.
``cap_trim``
    How far the (rounded-down) cap trims that, ``min(cap - (target + floor_uplift), 0)``.
``lock_adjustment``
    The move to a locked amount.
``pace_adjustment``
    The LP's further move when a pace-of-change rule binds on this LA x stream x year.
``rebalance``
    The LP's further move otherwise: money moved so the stream-year still sums to its budget
    after other LAs' floors, caps, locks and pace rules (and the published tie-break).
``rounding``
    Whole-pound rounding (largest remainder).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .cells import Layout
from .config import year_key
from .constraints import Groups

BIND_TOL = 0.01


def binding(layout: Layout, groups: Groups, x: np.ndarray, duals: dict[str, float],
            reduced: np.ndarray | None) -> pd.DataFrame:
    """Constraints that bind at the LP solution ``x``, with their duals from the policy stage.

    ``dual`` is the change in the policy objective per £1 more on the constraint's right-hand
    side (rows) or the reduced cost of the cell (floors, caps, locks, pace entry).
    """
    names = layout.var_names()
    recs = []

    def add(group: str, cname: str, cell: int, value: float, bound: float, dual: float) -> None:
        if cell >= 0:
            i = int(layout.area[cell])
            code, name = layout.area_codes[i], layout.area_names[i]
            stream, year = layout.streams[int(layout.stream[cell])], layout.years[int(layout.year[cell])]
        else:
            code = name = ""
            stream, year = "", ""
        recs.append({"group": group, "constraint": cname, "code": code, "name": name,
                     "stream": stream, "year": year, "value": value, "bound": bound,
                     "dual": dual, "cell": cell})

    b = groups.budget
    act = b.activity(x)
    for r, cname in enumerate(b.names):
        first = int(b.indices[b.indptr[r]])
        add("budget", cname, -1, float(act[r]), float(b.rhs[r]), duals.get(cname, math.nan))
        recs[-1]["stream"] = layout.streams[int(layout.stream[first])]
        recs[-1]["year"] = layout.years[int(layout.year[first])]
    rc = reduced if reduced is not None else np.full(layout.n_cells, math.nan)
    for g, test in ((groups.floor, lambda v, bd: v <= bd + BIND_TOL),
                    (groups.cap, lambda v, bd: v >= bd - BIND_TOL),
                    (groups.lock, lambda v, bd: True),
                    (groups.pace_entry, lambda v, bd: v <= bd + BIND_TOL)):
        for k, bd in zip(g.cells.tolist(), g.values.tolist(), strict=True):
            if test(x[k], bd):
                add(g.name, f"{g.name}{names[k][1:]}", k, float(x[k]), float(bd), float(rc[k]))
    for g in groups.pace_rows:
        act = g.activity(x)
        for r in np.flatnonzero(np.abs(act) <= BIND_TOL * np.maximum(1.0, 1e-6 * np.abs(x[g.owner]))
                                ).tolist():
            k = int(g.owner[r])
            add(g.name, g.names[r], k, float(x[k]), float(x[k] - act[r]), duals.get(g.names[r],
                                                                                  math.nan))
    return pd.DataFrame(recs, columns=["group", "constraint", "code", "name", "stream", "year",
                                       "value", "bound", "dual", "cell"])


def waterfall(layout: Layout, groups: Groups, x_lp: np.ndarray, x_int: np.ndarray,
              bound: pd.DataFrame) -> pd.DataFrame:
    """The long explanation table: one row per LA x stream x year (ineligible ones included)."""
    n = layout.n_cells
    fl = groups.floor.dense(n, 0.0)
    cp = groups.cap.dense(n, math.inf)
    locked = np.zeros(n, dtype=bool)
    locked[groups.lock.cells] = True
    lock_v = np.zeros(n)
    lock_v[groups.lock.cells] = groups.lock.values
    t = layout.target
    uplift = np.maximum(fl - t, 0.0)
    after = t + uplift
    trim = np.minimum(cp - after, 0.0)
    after = after + trim
    lock_adj = np.where(locked, lock_v - after, 0.0)
    after = after + lock_adj
    pace_groups = {g.name for g in groups.pace_rows} | {"pace_entry"}
    binds: dict[int, list[str]] = {}
    for cell, group in zip(bound["cell"].tolist(), bound["group"].tolist(), strict=True):
        if cell >= 0:
            binds.setdefault(int(cell), []).append(str(group))
    pace_bind = np.array([any(b in pace_groups for b in binds.get(k, [])) for k in range(n)],
                         dtype=bool)
    moved = x_lp - after
    pace_adj = np.where(pace_bind, moved, 0.0)
    rebalance = np.where(pace_bind, 0.0, moved)
    rounding = x_int - x_lp
    cells = pd.DataFrame({
        "code": layout.codes,
        "stream": np.array(layout.streams, dtype=object)[layout.stream],
        "year": np.array(layout.years, dtype=object)[layout.year],
        "eligible": True,
        "basis": layout.basis,
        "need_share": layout.share,
        "target": t,
        "floor": np.where(fl > 0, fl, np.nan),
        "cap": np.where(np.isfinite(cp), cp, np.nan),
        "lock": np.where(locked, lock_v, np.nan),
        "floor_uplift": uplift,
        "cap_trim": trim,
        "lock_adjustment": lock_adj,
        "pace_adjustment": pace_adj,
        "rebalance": rebalance,
        "lp_value": x_lp,
        "rounding": rounding,
        "final": x_int,
        "binding": [", ".join(sorted(set(binds.get(k, [])))) for k in range(n)],
    })
    grid = pd.MultiIndex.from_product(
        [layout.areas["code"], layout.streams, layout.years], names=["code", "stream", "year"]
    ).to_frame(index=False)
    out = grid.merge(cells, on=["code", "stream", "year"], how="left")
    out["eligible"] = out["eligible"].eq(True)
    zero = ["basis", "need_share", "target", "floor_uplift", "cap_trim", "lock_adjustment",
            "pace_adjustment", "rebalance", "lp_value", "rounding"]
    out[zero] = out[zero].fillna(0.0)
    out["final"] = out["final"].fillna(0).astype(np.int64)
    out["binding"] = out["binding"].fillna("not eligible")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["pct_vs_target"] = np.where(out["target"] > 0,
                                        100.0 * (out["final"] - out["target"]) / out["target"],
                                        np.nan)
    info = layout.areas[["code", "name", "region", "wave"]]
    out = info.merge(out, on="code", how="right")
    order = {s: i for i, s in enumerate(layout.streams)}
    yorder = {y: i for i, y in enumerate(layout.years)}
    out = out.sort_values(["code", "stream", "year"],
                          key=lambda c: c.map(order) if c.name == "stream"
                          else c.map(yorder) if c.name == "year" else c,
                          kind="mergesort").reset_index(drop=True)
    return out


def shadow_words(layout: Layout, duals: dict[str, float], deviation: str,
                 marginal: dict[str, pd.Series | str] | None = None) -> pd.DataFrame:
    """Budget shadow prices in words: what £1m more in a stream-year would do."""
    recs = []
    for stream in layout.streams:
        for year in layout.years:
            cname = f"budget_{stream}_{year_key(year)}"
            if cname not in duals:
                continue
            pi = duals[cname]
            unit = "£" if deviation == "absolute" else ""
            effect = pi * 1_000_000
            amount = f"{unit}{abs(effect):,.0f}" if deviation == "absolute" else f"{abs(effect):,.4f}"
            what = ("total deviation from target" if deviation == "absolute"
                    else "total relative deviation from target")
            if abs(effect) < 1e-9:
                words = f"£1m more in {stream} {year} would leave the {what} unchanged"
            else:
                verb = "add" if effect > 0 else "remove"
                words = f"£1m more in {stream} {year} would {verb} {amount} {'to' if effect > 0 else 'from'} the {what}"
            m = (marginal or {}).get(cname)
            if isinstance(m, str):
                words = (f"£1m more in {stream} {year}: {m} (the budget row's shadow price "
                         f"{pi:+.4g} per £ holds only for a small decrease)")
            elif m is not None and len(m):
                top = m.sort_values(ascending=False, kind="mergesort").head(5)
                lab = layout.areas.set_index("code")["name"]
                words += "; it would go to " + ", ".join(
                    f"{lab[c]} ({c}) £{v:,.0f}" for c, v in top.items())
                if len(m) > 5:
                    words += f" and {len(m) - 5} more LAs"
            recs.append({"stream": stream, "year": year, "constraint": cname,
                         "shadow_price": pi, "per_1m": effect, "words": words})
    return pd.DataFrame(recs, columns=["stream", "year", "constraint", "shadow_price", "per_1m",
                                       "words"])
