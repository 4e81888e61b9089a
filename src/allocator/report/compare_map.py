"""The compare map (``allocator map --compare RUN_A RUN_B``): gainers and losers in pounds and wave
moves between two runs, on one offline page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..columns import total_column
from ._html import esc
from .mapbase import (
    DEFAULT_PRECISION_DEG,
    DEFAULT_TOLERANCE_M,
    MAP_CRS,
    MapMeta,
    simplify_for_web,
    validate_frame,
)
from .mapfmt import (
    _fmt_pct,
    _fmt_rank,
    _isnum,
    fmt_pounds,
    fmt_pounds_short,
    fmt_pounds_signed,
)
from .mappage import _build_page, _footer, _ndigits, _ocu_notes, _row, _write
from .scales import Scale

# --------------------------------------------------------------------------------------------
# comparison map
# --------------------------------------------------------------------------------------------

MOVE_LABELS = {
    "earlier": "Moved to an earlier wave",
    "same": "Same wave",
    "later": "Moved to a later wave",
    "only_a": "Only in run A",
    "only_b": "Only in run B",
}
# Okabe-Ito blue and orange: told apart under every common colour-vision deficiency
MOVE_COLORS = {
    "earlier": "#0072b2",
    "same": "#f7f7f7",
    "later": "#e69f00",
    "only_a": "#969696",
    "only_b": "#525252",
}


def compare_frame(
    frame_a: gpd.GeoDataFrame, frame_b: gpd.GeoDataFrame, meta_a: MapMeta, meta_b: MapMeta
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Join two runs by code: totals, changes and wave moves.

    Returns
    -------
    (GeoDataFrame, list of str)
        One row per code in either run (geometry from B, else A, in EPSG:4326) with columns
        ``code, name, region, wave_a, wave_b, rank_a, rank_b, total_a, total_b, change,
        change_pct, move`` and ``total_<year>_a/_b/_change`` for the years both runs share;
        and the years compared.
    """
    validate_frame(frame_a, meta_a, what="run A map frame")
    validate_frame(frame_b, meta_b, what="run B map frame")
    years = [y for y in meta_a.years if y in set(meta_b.years)]
    keep = ["code", "name", "region", "wave", "wave_label", "rank", "total", "geometry"]
    keep += [total_column(y) for y in years]
    a = frame_a[keep].to_crs(MAP_CRS).copy()
    b = frame_b[keep].to_crs(MAP_CRS).copy()
    a["code"] = a["code"].astype(str)
    b["code"] = b["code"].astype(str)
    m = pd.merge(
        pd.DataFrame(a),
        pd.DataFrame(b),
        on="code",
        how="outer",
        suffixes=("_a", "_b"),
        indicator=True,
        sort=True,
    )
    geometry = m["geometry_b"].where(m["_merge"] != "left_only", m["geometry_a"])
    out = gpd.GeoDataFrame(
        {
            "code": m["code"],
            "name": m["name_b"].fillna(m["name_a"]),
            "region": m["region_b"].fillna(m["region_a"]),
            "wave_a": m["wave_a"],
            "wave_b": m["wave_b"],
            "wave_label_a": m["wave_label_a"],
            "wave_label_b": m["wave_label_b"],
            "rank_a": m["rank_a"],
            "rank_b": m["rank_b"],
            "total_a": m["total_a"],
            "total_b": m["total_b"],
        },
        geometry=gpd.GeoSeries(geometry.values, crs=MAP_CRS),
    )
    for y in years:
        k = total_column(y)
        out[f"{k}_a"] = m[f"{k}_a"].values
        out[f"{k}_b"] = m[f"{k}_b"].values
        out[f"{k}_change"] = out[f"{k}_b"] - out[f"{k}_a"]
    out["change"] = out["total_b"] - out["total_a"]
    base = out["total_a"].where(out["total_a"] != 0)
    out["change_pct"] = out["change"] / base * 100
    move = np.where(
        m["_merge"] == "left_only",
        "only_a",
        np.where(
            m["_merge"] == "right_only",
            "only_b",
            np.where(
                m["wave_b"] < m["wave_a"],
                "earlier",
                np.where(m["wave_b"] > m["wave_a"], "later", "same"),
            ),
        ),
    )
    out["move"] = move
    return out, years


def _diverging_scale(
    key: str, title: str, values: Any, fmt: Callable[[Any], str], unit_tol: float
) -> Scale:
    v = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    finite = v[np.isfinite(v)]
    top = float(np.max(np.abs(finite))) if finite.size else 0.0
    colors_all = ["#b2182b", "#ef8a62", "#fddbc7", "#f7f7f7", "#d1e5f0", "#67a9cf", "#2166ac"]
    if top <= unit_tol:
        classes = np.where(np.isfinite(v), 0, -1)
        return Scale(key, title, ["#f7f7f7"], ["no change"], classes)
    cuts = [-top * 0.5, -top * 0.1, -unit_tol, unit_tol, top * 0.1, top * 0.5]
    labels = [
        f"loss over {fmt(top * 0.5)}",
        f"loss {fmt(top * 0.1)} \u2013 {fmt(top * 0.5)}",
        f"loss up to {fmt(top * 0.1)}",
        "no change",
        f"gain up to {fmt(top * 0.1)}",
        f"gain {fmt(top * 0.1)} \u2013 {fmt(top * 0.5)}",
        f"gain over {fmt(top * 0.5)}",
    ]
    classes = np.full(v.shape, -1, dtype=int)
    ok = np.isfinite(v)
    classes[ok] = np.searchsorted(np.array(cuts), v[ok], side="left")
    # |change| <= tol is "no change" on both sides of zero
    classes[ok & (np.abs(v) <= unit_tol)] = 3
    return Scale(key, title, colors_all, labels, classes, note="Red: run B gives less; blue: more.")


def _move_scale(moves: Sequence[str]) -> Scale:
    keys = [k for k in MOVE_LABELS if k in set(moves)]
    index = {k: i for i, k in enumerate(keys)}
    return Scale(
        "move",
        "Wave moves (A \u2192 B)",
        [MOVE_COLORS[k] for k in keys],
        [MOVE_LABELS[k] for k in keys],
        np.array([index[m] for m in moves], dtype=int),
    )


def compare_tooltip_html(row: pd.Series, years: Sequence[str]) -> str:
    """Escaped tooltip HTML for one LA on the comparison map."""

    def wave(label: Any, w: Any) -> str:
        if not _isnum(w):
            return "not in run"
        return esc(label) if isinstance(label, str) and label.strip() else esc(f"Wave {int(w)}")

    parts = [
        f'<div class="tt-h">{esc(row["name"])}</div>',
        f'<div class="tt-s">{esc(row["code"])} \u00b7 {esc(row["region"])}</div>',
        "<table>",
        _row(
            "Wave",
            f"{wave(row['wave_label_a'], row['wave_a'])} \u2192 "
            f"{wave(row['wave_label_b'], row['wave_b'])}",
        ),
        _row(
            "Need rank", f"{esc(_fmt_rank(row['rank_a']))} \u2192 {esc(_fmt_rank(row['rank_b']))}"
        ),
        "</table>",
        '<table class="tt-money"><tr><th></th><th class="num">Run A</th>'
        '<th class="num">Run B</th><th class="num">Change</th></tr>',
    ]
    for y in years:
        k = total_column(y)
        parts.append(
            f'<tr><th>{esc(y)}</th><td data-col="{esc(k)}_a">{fmt_pounds(row[f"{k}_a"])}</td>'
            f'<td data-col="{esc(k)}_b">{fmt_pounds(row[f"{k}_b"])}</td>'
            f"<td>{fmt_pounds_signed(row[f'{k}_change'])}</td></tr>"
        )
    parts.append(
        f'<tr class="tt-total"><th>Total</th><td data-col="total_a">{fmt_pounds(row["total_a"])}</td>'
        f'<td data-col="total_b">{fmt_pounds(row["total_b"])}</td>'
        f'<td data-col="change">{fmt_pounds_signed(row["change"])} ({_fmt_pct(row["change_pct"])})</td>'
        "</tr></table>"
    )
    return "".join(parts)


def write_compare_map(
    frame_a: gpd.GeoDataFrame,
    frame_b: gpd.GeoDataFrame,
    meta_a: MapMeta,
    meta_b: MapMeta,
    path: Path,
    *,
    tiles: str | None = None,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
    precision: float = DEFAULT_PRECISION_DEG,
) -> Path:
    """Write a map of the differences between two runs (B minus A).

    Layers: change in total pounds (gainers blue, losers red), change in per cent, and wave
    moves. Tooltips show both runs' totals by year and the change. The footer names both
    configurations. Arguments and errors as for :func:`write_map`.
    """
    cmp, years = compare_frame(frame_a, frame_b, meta_a, meta_b)
    geo = simplify_for_web(cmp, tolerance_m=tolerance_m, precision=precision)
    scales = [
        _diverging_scale(
            "change", "Change in total (B \u2212 A)", geo["change"], fmt_pounds_short, 0.5
        ),
        _diverging_scale(
            "change_pct",
            "Change in total, per cent",
            geo["change_pct"],
            lambda x: f"{float(x):.1f}%",
            0.005,
        ),
        _move_scale(geo["move"].tolist()),
    ]
    tips = [compare_tooltip_html(row, years) for _, row in geo.iterrows()]
    gain = int((geo["change"] > 0.5).sum())
    lose = int((geo["change"] < -0.5).sum())
    moved = int(geo["move"].isin(["earlier", "later"]).sum())
    subtitle = (
        f"Run A: {meta_a.config_name} \u2192 run B: {meta_b.config_name} \u00b7 "
        f"{gain} LAs gain, {lose} lose, {moved} change wave \u00b7 net change "
        f"{fmt_pounds_signed(float(geo['change'].sum(skipna=True)))}."
    )
    extra = []
    if set(meta_a.years) != set(meta_b.years):
        extra.append(
            f"Years compared: {', '.join(years) or 'none in common'} (the runs cover different years)."
        )
    notes = _ocu_notes(list(meta_a.notes) + [n for n in meta_b.notes if n not in meta_a.notes])
    text = _build_page(
        geo,
        scales,
        tips,
        title=f"{meta_b.title}: changes between two runs",
        subtitle=subtitle,
        header_notes=notes,
        footer_html=_footer([("Run A", meta_a), ("Run B", meta_b)], extra),
        attribution=" ".join(dict.fromkeys([*meta_a.attribution_lines(), *meta_b.attribution_lines()])),
        borderline=None,
        outline_title=None,
        tiles=tiles,
        ndigits=_ndigits(precision),
    )
    return _write(path, text)
