"""Colour classes shared by the interactive map and the static figures (colour-blind-safe palettes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.colors import to_hex

from ..columns import total_column
from .mapbase import NA_COLOR, MapMeta
from .mapfmt import _fmt_num, _isnum, esc, fmt_per_head, fmt_pounds_short

# --------------------------------------------------------------------------------------------
# colour classes (shared with the static maps)
# --------------------------------------------------------------------------------------------


@dataclass
class Scale:
    """A classified colour scale for one layer.

    Attributes
    ----------
    key : str
        Layer key (also the ``data-layer`` attribute in the page).
    title : str
        Layer title, shown in the layer control and above the legend.
    colors : list of str
        Hex colour of each class.
    labels : list of str
        Legend label of each class.
    classes : numpy.ndarray of int
        Class index per row of the frame; ``-1`` for missing values.
    note : str
        Extra legend line (how the classes were chosen).
    outline_borderline : bool
        Whether borderline LAs are drawn with a heavy dashed outline in this layer.
    name : str
        Short name in the map's layer control (default: ``title``).
    """

    key: str
    title: str
    colors: list[str]
    labels: list[str]
    classes: np.ndarray
    note: str = ""
    outline_borderline: bool = False
    counts: list[int] = field(default_factory=list)
    name: str = ""

    def __post_init__(self) -> None:
        self.counts = [int((self.classes == i).sum()) for i in range(len(self.colors))]
        self.name = self.name or self.title

    @property
    def n_missing(self) -> int:
        return int((self.classes < 0).sum())

    def color_of(self, i: int) -> str:
        return NA_COLOR if i < 0 else self.colors[i]

    def legend_html(self) -> str:
        rows = [f'<div class="lg-title">{esc(self.title)}</div>']
        for color, label, n in zip(self.colors, self.labels, self.counts, strict=True):
            rows.append(
                f'<div class="lg-row"><i class="sw" style="background:{color}"></i>'
                f"{esc(label)} ({n})</div>"
            )
        if self.n_missing:
            rows.append(
                f'<div class="lg-row"><i class="sw" style="background:{NA_COLOR}"></i>'
                f"no data ({self.n_missing})</div>"
            )
        if self.outline_borderline:
            rows.append(
                '<div class="lg-row"><i class="sw sw-outline"></i>borderline LA '
                "(wave not settled)</div>"
            )
        if self.note:
            rows.append(f'<div class="lg-note">{esc(self.note)}</div>')
        return f'<div class="lg" data-layer="{esc(self.key)}">' + "".join(rows) + "</div>"


def _palette(name: str, n: int, *, lo: float = 0.15, hi: float = 0.9) -> list[str]:
    cmap = mpl.colormaps[name]
    if n == 1:
        return [to_hex(cmap((lo + hi) / 2))]
    return [to_hex(cmap(lo + (hi - lo) * i / (n - 1))) for i in range(n)]


def _quantile_edges(values: np.ndarray, k: int) -> np.ndarray:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return np.array([0.0, 0.0])
    edges = np.unique(np.quantile(v, np.linspace(0, 1, k + 1)))
    if edges.size == 1:
        edges = np.array([edges[0], edges[0]])
    return edges


def _classify(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Class of each value for right-closed bins between ``edges`` (first bin closed)."""
    out = np.full(values.shape, -1, dtype=int)
    ok = np.isfinite(values)
    n_bins = max(len(edges) - 1, 1)
    out[ok] = np.clip(np.searchsorted(edges[1:-1], values[ok], side="left"), 0, n_bins - 1)
    return out


def class_labels(edges: np.ndarray, fmt: Callable[[Any], str], step: float | None = None) -> list[str]:
    """Labels of right-closed classes that never share an endpoint.

    The first class is ``low to high``; each later class starts just above the previous upper
    edge: ``step`` above it when values come in steps (pennies: 0.01), shown with "over" when
    that would print the same number.
    """
    n = max(len(edges) - 1, 1)
    labels = [f"{fmt(edges[0])} to {fmt(edges[1] if len(edges) > 1 else edges[0])}"]
    for i in range(1, n):
        lo = fmt(edges[i] + step) if step else fmt(edges[i])
        if lo == fmt(edges[i]):
            lo = "over " + lo
        labels.append(f"{lo} to {fmt(edges[i + 1])}")
    return labels


def quantile_scale(
    key: str,
    title: str,
    values: Any,
    fmt: Callable[[Any], str],
    *,
    cmap: str,
    k: int = 5,
    step: float | None = None,
) -> Scale:
    """Scale with (up to) ``k`` equal-count classes whose labels never overlap."""
    v = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    edges = _quantile_edges(v, k)
    n = max(len(edges) - 1, 1)
    labels = class_labels(edges, fmt, step)
    note = "Classes hold equal numbers of LAs (quantiles)." if n > 1 else ""
    return Scale(key, title, _palette(cmap, n), labels, _classify(v, edges), note=note)


def wave_scale(frame: pd.DataFrame) -> Scale:
    """Categorical scale of waves: wave 1 darkest, labelled with ``wave_label``."""
    waves = pd.to_numeric(frame["wave"], errors="coerce")
    uniq = sorted(int(w) for w in waves.dropna().unique())
    labels = []
    for w in uniq:
        lab = frame.loc[waves == w, "wave_label"].astype(str)
        labels.append(lab.iloc[0] if len(lab) and lab.iloc[0].strip() else f"Wave {w}")
    colors = _palette("YlGnBu", len(uniq), lo=0.95, hi=0.3) if uniq else []
    index = {w: i for i, w in enumerate(uniq)}
    classes = np.array([index.get(int(w), -1) if _isnum(w) else -1 for w in waves], dtype=int)
    return Scale("wave", "Delivery wave", colors, labels, classes)


P_WAVE1_EDGES = np.array([0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0])


def p_wave1_scale(frame: pd.DataFrame) -> Scale:
    """P(wave 1) in fixed bands, with borderline LAs outlined."""
    v = np.asarray(pd.to_numeric(frame["p_wave_1"], errors="coerce"), dtype=float)
    e = P_WAVE1_EDGES
    labels = [f"{e[0]:.0%} to {e[1]:.0%}"] + [f"over {e[i]:.0%} to {e[i + 1]:.0%}" for i in range(1, len(e) - 1)]
    return Scale(
        "p_wave_1",
        "Chance of being in wave 1",
        _palette("RdPu", len(e) - 1, lo=0.1, hi=0.95),
        labels,
        _classify(v, e),
        note="Share of uncertainty draws that put the LA in wave 1.",
        outline_borderline=True,
    )


def map_scales(frame: pd.DataFrame, meta: MapMeta) -> list[Scale]:
    """The layers of the run map, in display order."""
    scales = [
        wave_scale(frame),
        quantile_scale(
            "score", "Need score", frame["score"], lambda x: _fmt_num(x, ".2f"), cmap="Purples"
        ),
    ]
    for y in meta.years:
        col = total_column(y)
        scales.append(
            quantile_scale(col, f"Allocation {y}", frame[col], fmt_pounds_short, cmap="YlGn", step=1)
        )
    scales.append(
        quantile_scale(
            "total",
            f"Allocation, total {meta.period}",
            frame["total"],
            fmt_pounds_short,
            cmap="YlGn",
            step=1,
        )
    )
    scales.append(
        quantile_scale(
            "per_head",
            f"£ per head of all-ages population (mid-2020), {meta.period}",
            frame["per_head"],
            fmt_per_head,
            cmap="Blues",
            step=0.01,
        )
    )
    scales.append(p_wave1_scale(frame))
    scales[-2].name = "£ per head (all ages)"
    return scales



# Machado, Oliveira & Fernandes (2009): full deuteranopia, applied to linear RGB
_DEUTERANOPIA = np.array(
    [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
)


def _linear(rgb: np.ndarray) -> np.ndarray:
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def _lab(lin: np.ndarray) -> np.ndarray:
    xyz = lin @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def deuteranopia_distance(color_a: str, color_b: str) -> float:
    """CIE76 colour difference of two colours as a person with deuteranopia sees them (about 2.3
    is just noticeable; classes of a map legend should differ by 10 or more)."""
    from matplotlib.colors import to_rgb

    sim = [np.clip(_linear(np.array(to_rgb(c))) @ _DEUTERANOPIA.T, 0, 1) for c in (color_a, color_b)]
    a, b = _lab(sim[0]), _lab(sim[1])
    return float(np.linalg.norm(a - b))
