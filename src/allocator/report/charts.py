"""Briefing charts (PNG and PDF): who gets what.

* ``chart_per_head``: £ per head of the all-ages population by delivery wave and by IMD 2019
  decile of LAs, against the England average;
* ``chart_regions``: total allocation by region over the period, with £ per head.

One colour-blind-safe colour (Okabe-Ito blue) and a short source line, as on the maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..columns import PER_HEAD, TOTAL
from .figsave import PNG_DPI, house_style, save_figure
from .mapbase import MapMeta

BAR = "#0072B2"  # Okabe-Ito blue: distinct under every common colour-vision deficiency
AVERAGE = "#D55E00"  # Okabe-Ito vermilion, for the England average line
CHARTS = ("per_head", "regions")


def _england(frame: pd.DataFrame, key: str) -> tuple[pd.DataFrame, pd.Series]:
    body = frame[frame[key] != "England"]
    return body, frame[frame[key] == "England"].iloc[0]


def _page(title: str, meta: MapMeta, height: float = 6.5):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .static import _footer_text

    fig = plt.figure(figsize=(8.27, height), dpi=100)
    fig.text(0.04, 0.97, title, fontsize=14, fontweight="bold", va="top")
    fig.text(0.04, 0.925, f"{meta.title}, {meta.period}", fontsize=9, va="top", color="#333333")
    fig.text(0.04, 0.015, _footer_text(meta), fontsize=6.5, va="bottom", color="#222222", linespacing=1.25)
    return fig


def _hbars(ax, labels: Sequence[str], values: Sequence[float], texts: Sequence[str], average: float | None) -> None:  # type: ignore[no-untyped-def]
    y = range(len(labels))
    ax.barh(list(y), list(values), color=BAR, height=0.7)
    ax.set_yticks(list(y), labels=list(labels), fontsize=8)
    ax.invert_yaxis()
    top = max(values) if len(values) else 1.0
    for i, (v, t) in enumerate(zip(values, texts, strict=True)):
        ax.text(v + top * 0.01, i, t, va="center", fontsize=7.5, color="#222222", zorder=3,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
    if average is not None:
        ax.axvline(average, color=AVERAGE, linestyle="--", linewidth=1.2, zorder=2,
                   label=f"England average £{average:.2f}")
        ax.legend(loc="lower right", fontsize=7, frameon=True, framealpha=1, bbox_to_anchor=(1.0, 1.0))
    ax.set_xlim(0, top * 1.28)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(axis="x", labelsize=7.5)


def draw_per_head(waves: pd.DataFrame, deciles: pd.DataFrame, meta: MapMeta, wave_labels: Sequence[str] = ()):  # type: ignore[no-untyped-def]
    """£ per head by wave (left) and by IMD decile (right), with the England average."""
    fig = _page("£ per head: by delivery wave and by deprivation", meta)
    w, eng = _england(waves, "wave")
    label = dict(enumerate(wave_labels, start=1))
    ax1 = fig.add_axes((0.23, 0.17, 0.25, 0.62))
    _hbars(ax1, [f"Wave {int(k)}\n(from {label.get(int(k), k)})" for k in w["wave"]], w[PER_HEAD].tolist(),
           [f"£{v:.2f}" for v in w[PER_HEAD]], float(eng[PER_HEAD]))
    ax1.set_title("By delivery wave", fontsize=9, loc="left", pad=18)
    ax1.set_xlabel("£ per head of all-ages population (mid-2020)", fontsize=7.5)
    if not deciles.empty:
        d, eng_d = _england(deciles, "imd_decile")
        names = [f"{int(k)}{' most deprived' if int(k) == 1 else ' least deprived' if int(k) == 10 else ''}" for k in d["imd_decile"]]
        ax2 = fig.add_axes((0.71, 0.17, 0.25, 0.62))
        _hbars(ax2, names, d[PER_HEAD].tolist(), [f"£{v:.2f}" for v in d[PER_HEAD]], float(eng_d[PER_HEAD]))
        ax2.set_title("By IMD 2019 decile of LAs", fontsize=9, loc="left", pad=18)
        ax2.set_xlabel("£ per head of all-ages population (mid-2020)", fontsize=7.5)
    return fig


def draw_regions(regions: pd.DataFrame, meta: MapMeta):  # type: ignore[no-untyped-def]
    """Total allocation by region over the period (£m), each bar labelled with £ per head."""
    fig = _page("Allocation by region", meta)
    r, eng = _england(regions, "region")
    r = r.sort_values(TOTAL, ascending=False, kind="stable")
    ax = fig.add_axes((0.30, 0.17, 0.62, 0.66))
    _hbars(ax, r["region"].tolist(), (r[TOTAL] / 1e6).tolist(),
           [f"£{v / 1e6:,.1f}m (£{p:.2f} per head)" for v, p in zip(r[TOTAL], r[PER_HEAD], strict=True)], None)
    ax.set_xlabel(f"£ million, {meta.period} (England £{float(eng[TOTAL]) / 1e6:,.0f}m; £ per head of all-ages population, mid-2020)", fontsize=7.5)
    return fig


@house_style()
def write_charts(
    regions: pd.DataFrame,
    deciles: pd.DataFrame,
    waves: pd.DataFrame,
    meta: MapMeta,
    out_dir: Path,
    *,
    wave_labels: Sequence[str] = (),
    formats: Sequence[str] = ("png", "pdf"),
    dpi: int = PNG_DPI,
    charts: Sequence[str] = CHARTS,
) -> list[Path]:
    """Write ``chart_per_head.*`` and ``chart_regions.*`` (those named in ``charts``); each
    figure is drawn once and saved in every format; PNGs at ``dpi``."""

    unknown = [c for c in charts if c not in CHARTS]
    if unknown:
        raise ValueError(f"charts: unknown chart(s) {', '.join(unknown)}; known: {', '.join(CHARTS)}")
    out = []
    if "per_head" in charts:
        out += save_figure(draw_per_head(waves, deciles, meta, wave_labels), Path(out_dir) / "chart_per_head", formats, dpi)
    if "regions" in charts:
        out += save_figure(draw_regions(regions, meta), Path(out_dir) / "chart_regions", formats, dpi)
    return out
