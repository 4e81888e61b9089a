"""Explain the allocation: a waterfall per LA x stream x year, binding constraints, shadow prices.

Waterfall columns (pounds; they add up exactly:
``target + floor_uplift + cap_trim + lock_adjustment + rebalance + pace_adjustment + knock_on
+ rounding = final``):

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
``rebalance``
    The pro-rata scaling step (the published tie-break, :mod:`.scaling`): every LA of the
    stream-year not held at a floor, cap or lock gets ``scale_factor x target``, so the
    stream-year sums to its budget after the floors, caps and locks; this column is the move
    from the bounded target to that scaled amount (``pro_rata``).
``pace_adjustment``
    The move a pace-of-change rule on this LA x stream x year forces: from its bounded target
    to its pace limit in the scaling, plus any further move of the LP where the rule binds.
``knock_on``
    The LP's move away from the scaled amount on an LA whose own pace rules do not bind: room
    made for other LAs' pace rules when pro-rata scaling alone cannot honour them (and, with
    ``fairness: maxmin`` or ``deviation: relative``, the objective's own preference). Zero when
    the allocation is exactly pro rata.
``rounding``
    Whole-pound rounding (largest remainder).

Other columns: ``scale_factor`` (the stream-year's ``lambda``), ``pro_rata`` (the scaled
amount ``clamp(lambda x target, bounds)``), ``held`` (``scaled`` or the bound that holds the
scaled amount: ``floor``, ``cap``, ``lock``, ``pace``), ``floor``, ``cap``, ``lock``,
``lp_value``, ``final``, ``binding`` (constraint groups binding at the LP solution) and
``pct_vs_target``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .cells import Layout
from .config import year_key
from .constraints import Groups
from .scaling import PACE, ProRata

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
    tests = {"lower": lambda v, bd: v <= bd + BIND_TOL, "upper": lambda v, bd: v >= bd - BIND_TOL,
             "fix": lambda v, bd: True}
    for g in groups.bounds:
        test = tests[g.kind]
        for k, bd in zip(g.cells.tolist(), g.values.tolist(), strict=True):
            if test(x[k], bd):
                add(g.name, f"{g.name}{names[k][1:]}", k, float(x[k]), float(bd), float(rc[k]))
    for g in groups.rows:
        if g.name == "budget" or g.sense == "==":
            continue
        act = g.activity(x) - g.rhs
        for r in np.flatnonzero(np.abs(act) <= BIND_TOL * np.maximum(1.0, 1e-6 * np.abs(x[g.owner]))
                                ).tolist():
            k = int(g.owner[r])
            add(g.name, g.names[r], k, float(x[k]), float(x[k] - act[r]), duals.get(g.names[r],
                                                                                  math.nan))
    return pd.DataFrame(recs, columns=["group", "constraint", "code", "name", "stream", "year",
                                       "value", "bound", "dual", "cell"])


def waterfall(layout: Layout, groups: Groups, x_lp: np.ndarray, x_int: np.ndarray,
              bound: pd.DataFrame, scaled: ProRata) -> pd.DataFrame:
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
    pace_groups = ({g.name for g in groups.rows if g.name.startswith("pace_")}
                   | {g.name for g in groups.bounds if g.name.startswith("pace_")})
    binds: dict[int, list[str]] = {}
    for cell, group in zip(bound["cell"].tolist(), bound["group"].tolist(), strict=True):
        if cell >= 0:
            binds.setdefault(int(cell), []).append(str(group))
    # a binding row on an LA's total binds every cell of it, not only the one it is filed under
    binding_rows = set(bound["constraint"].tolist())
    for g in groups.rows:
        if "total" not in g.meta:
            continue
        for r, cname in enumerate(g.names):
            if cname in binding_rows:
                for k in g.indices[g.indptr[r]:g.indptr[r + 1]].tolist():
                    if g.name not in binds.get(int(k), []):
                        binds.setdefault(int(k), []).append(g.name)
    pace_bind = np.zeros(n, dtype=bool)
    pace_bind[[k for k, gs in binds.items() if any(b in pace_groups for b in gs)]] = True
    binding_words = [""] * n
    for k, gs in binds.items():
        binding_words[k] = ", ".join(sorted(set(gs)))
    s_hat = scaled.value
    step = s_hat - after
    paced = scaled.held == PACE
    rebalance = np.where(paced, 0.0, step)
    moved = x_lp - s_hat
    pace_adj = np.where(paced, step, 0.0) + np.where(pace_bind, moved, 0.0)
    knock_on = np.where(pace_bind, 0.0, moved)
    rounding = x_int - x_lp
    columns: dict[str, np.ndarray] = {}
    for rule in groups.rules:
        columns.update(rule.explain(layout, groups))
    cells = pd.DataFrame({
        "code": layout.codes,
        "stream": np.array(layout.streams, dtype=object)[layout.stream],
        "year": np.array(layout.years, dtype=object)[layout.year],
        "eligible": True,
        "basis": layout.basis,
        "need_share": layout.share,
        "target": t,
        "floor": columns.pop("floor", np.full(n, np.nan)),
        "cap": columns.pop("cap", np.full(n, np.nan)),
        "lock": columns.pop("lock", np.full(n, np.nan)),
        "floor_uplift": uplift,
        "cap_trim": trim,
        "lock_adjustment": lock_adj,
        "scale_factor": scaled.scale[layout.stream, layout.year],
        "pro_rata": s_hat,
        "held": scaled.held,
        "rebalance": rebalance,
        "pace_adjustment": pace_adj,
        "knock_on": knock_on,
        "lp_value": x_lp,
        "rounding": rounding,
        "final": x_int,
        "binding": binding_words,
        **columns,  # further columns of rules added to the registry
    })
    grid = pd.MultiIndex.from_product(
        [layout.areas["code"], layout.streams, layout.years], names=["code", "stream", "year"]
    ).to_frame(index=False)
    out = grid.merge(cells, on=["code", "stream", "year"], how="left")
    out["eligible"] = out["eligible"].eq(True)
    zero = ["basis", "need_share", "target", "floor_uplift", "cap_trim", "lock_adjustment",
            "pro_rata", "rebalance", "pace_adjustment", "knock_on", "lp_value", "rounding"]
    out[zero] = out[zero].fillna(0.0)
    out["final"] = out["final"].fillna(0).astype(np.int64)
    out["binding"] = out["binding"].fillna("not eligible")
    out["held"] = out["held"].fillna("not eligible")
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


def _gbp(v: float) -> str:
    return f"-£{-v:,.0f}" if v < 0 else f"£{v:,.0f}"


def marginal_words(stream: str, year: str, gain: pd.Series | str | None,
                   names: pd.Series, top: int = 5) -> str:
    """One sentence: where £1m more in a stream-year would go.

    ``gain`` is the whole-pound change per LA of that stream-year from a re-solve with the
    budget £1m higher and every target recomputed for it, or a reason it could not be spent.
    """
    head = f"£1m more in {stream} {year}"
    if gain is None:
        return f"{head}: not computed (explain_marginal is off)"
    if isinstance(gain, str):
        return f"{head}: {gain}"
    up = gain[gain > 0].sort_values(ascending=False, kind="mergesort")
    down = gain[gain < 0]
    if up.empty:
        return f"{head} would change no LA's allocation in that stream-year"
    shown = up.head(top)
    words = (f"{head} (every target recomputed as its need share of the larger budget) would go "
             f"to {len(up)} LA{'s' if len(up) != 1 else ''}; most to "
             + ", ".join(f"{names.get(c, c)} ({c}) {_gbp(v)}" for c, v in shown.items()))
    rest = up.iloc[len(shown):]
    if len(rest):
        words += (f"; the other {len(rest)} LA{'s' if len(rest) != 1 else ''} share "
                  f"{_gbp(float(rest.sum()))}")
    if len(down):
        words += (f"; {len(down)} LA{'s' if len(down) != 1 else ''} would get less "
                  f"({_gbp(float(-down.sum()))} in total, to honour floors, caps or pace rules)")
    return words


def shadow_words(layout: Layout, duals: dict[str, float],
                 marginal: dict[str, pd.Series | str] | None = None) -> pd.DataFrame:
    """Where £1m more in each stream-year would go, in words, with the budget row's dual.

    The words come from the re-solve with the larger budget (``marginal``): targets are need
    shares of the budget, so more money moves every target and spreads by need. The budget
    row's dual (``shadow_price``: change in the policy objective per £1 on the budget with the
    targets held fixed) is kept as a number for analysts but not put into words: with targets
    that follow the budget it does not say what more money would do.
    """
    names = layout.areas.set_index("code")["name"]
    recs = []
    for stream in layout.streams:
        for year in layout.years:
            cname = f"budget_{stream}_{year_key(year)}"
            if cname not in duals:
                continue
            m = marginal.get(cname) if marginal is not None else None
            recipients = int((m > 0).sum()) if isinstance(m, pd.Series) else 0
            recs.append({"stream": stream, "year": year, "constraint": cname,
                         "shadow_price": duals[cname], "recipients": recipients,
                         "words": marginal_words(stream, year, m, names)})
    return pd.DataFrame(recs, columns=["stream", "year", "constraint", "shadow_price",
                                       "recipients", "words"])
