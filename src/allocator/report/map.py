"""The ministers' map: one self-contained, offline HTML page per run.

:func:`write_map` draws one row per local authority with switchable layers (wave; need score;
allocation by year and in total; pounds per head; P(wave 1) with borderline LAs outlined), each
with its own legend, a tooltip per LA, a search box and a footer carrying the configuration,
sources, licence attribution and any caveats (e.g. "built without OCU prevalence").
:func:`write_compare_map` draws the differences between two runs.

The page is built with folium, but with every CDN link removed: Leaflet is inlined from
``allocator/assets`` and the page's behaviour is a small inline script (see
:mod:`allocator.report._html`). There are no basemap tiles unless asked for. Boundaries are
simplified as a coverage (shared edges stay shared, so no gaps open between neighbours) and
coordinates are rounded, keeping 152 LAs well under 2 MB. Element ids are fixed, so the same input
gives byte-identical output.

The colour classes are computed here and shared with the static twins in
:mod:`allocator.report.static`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pandas as pd
import shapely
from matplotlib.colors import to_hex

from ..errors import ConfigError, DataError, OutputError
from . import _html
from ._html import esc

MAP_CRS = "EPSG:4326"
METRIC_CRS = "EPSG:27700"

#: Attribution every output built from ONS boundaries must carry.
OS_ATTRIBUTION = "Contains OS data \u00a9 Crown copyright and database right"
OGL = "Open Government Licence v3.0"
DEFAULT_ATTRIBUTION = (
    f"Source: Office for National Statistics licensed under the {OGL}. {OS_ATTRIBUTION} 2021."
)

NA_COLOR = "#d9d9d9"
DEFAULT_TOLERANCE_M = 250.0
DEFAULT_PRECISION_DEG = 1e-4

ID_COLUMNS = ["code", "name", "region"]
RESULT_COLUMNS = [
    "pop_all",
    "wave",
    "wave_label",
    "score",
    "rank",
    "rank_p05",
    "rank_p95",
    "p_wave_1",
    "borderline",
    "total",
    "per_head",
    "target_total",
]


@dataclass(frozen=True)
class MapMeta:
    """What a map must say about the run that made it.

    Parameters
    ----------
    config_name : str
        Name of the configuration.
    config_hash : str
        Hash of the resolved configuration (shown in full in the footer).
    streams : sequence of str
        Funding streams; money columns are ``<stream>_<year key>``.
    years : sequence of str
        Year labels such as ``"2022-23"``; the column key is the label with ``-`` as ``_``.
    sources : sequence of str
        Data sources and their periods, e.g. ``"ONS drug misuse deaths (2018-20)"``.
    attribution : str
        Licence attribution. The OS/OGL statement is always added if missing.
    notes : sequence of str
        Caveats every output must repeat, e.g. ``"Built without OCU prevalence: not supplied"``.
    title : str
        Page and figure title.
    """

    config_name: str
    config_hash: str
    streams: Sequence[str]
    years: Sequence[str]
    sources: Sequence[str] = ()
    attribution: str = DEFAULT_ATTRIBUTION
    notes: Sequence[str] = ()
    title: str = "Drug treatment grant: allocation to local authorities"

    def attribution_lines(self) -> list[str]:
        """The attribution text plus the mandatory OS / OGL statements when absent."""
        lines = [self.attribution] if self.attribution else []
        text = " ".join(lines)
        if OS_ATTRIBUTION not in text:
            lines.append(OS_ATTRIBUTION + ".")
        if "Open Government Licence" not in text:
            lines.append(f"Contains public sector information licensed under the {OGL}.")
        return lines

    @property
    def period(self) -> str:
        """``"2022-23 to 2024-25"`` (or the single year)."""
        ys = list(self.years)
        if not ys:
            return ""
        return ys[0] if len(ys) == 1 else f"{ys[0]} to {ys[-1]}"


# --------------------------------------------------------------------------------------------
# columns and validation
# --------------------------------------------------------------------------------------------


def year_key(label: str) -> str:
    """Column key of a year label: ``"2022-23"`` -> ``"2022_23"``."""
    return str(label).replace("-", "_").replace("/", "_")


def money_column(stream: str, year: str) -> str:
    """Money column of a stream and a year label, e.g. ``continuation_2022_23``."""
    return f"{stream}_{year_key(year)}"


def required_columns(meta: MapMeta) -> list[str]:
    """Every column :func:`write_map` reads, in a stable order."""
    cols = ID_COLUMNS + RESULT_COLUMNS
    cols += [money_column(s, y) for s in meta.streams for y in meta.years]
    cols += [f"total_{year_key(y)}" for y in meta.years]
    return cols


def stream_label(stream: str) -> str:
    """Human label of a stream key: ``"place_based"`` -> ``"Place based"``."""
    s = str(stream).replace("_", " ").strip()
    return s[:1].upper() + s[1:]


def validate_frame(frame: gpd.GeoDataFrame, meta: MapMeta, *, what: str = "map frame") -> None:
    """Check the frame against the map's input contract.

    Raises
    ------
    DataError
        Naming the missing column(s), duplicated codes, codes without geometry, non-numeric
        money columns, or a frame without a CRS.
    """
    if not isinstance(frame, gpd.GeoDataFrame):
        raise DataError(f"{what}: expected a GeoDataFrame, got {type(frame).__name__}")
    if not meta.years:
        raise DataError(f"{what}: the map metadata lists no years")
    if not meta.streams:
        raise DataError(f"{what}: the map metadata lists no funding streams")
    missing = [c for c in required_columns(meta) if c not in frame.columns]
    if missing:
        raise DataError(f"{what}: missing column(s) {', '.join(missing)}", column=missing[0])
    if frame.crs is None:
        raise DataError(f"{what}: the geometry has no CRS; set one before mapping")
    if len(frame) == 0:
        raise DataError(f"{what}: no rows to map")
    codes = frame["code"].astype(str)
    dup = sorted(codes[codes.duplicated()].unique())
    if dup:
        raise DataError(f"{what}: duplicated area codes", column="code", codes=dup)
    geom = frame.geometry
    bad = sorted(codes[geom.isna() | geom.is_empty].tolist())
    if bad:
        raise DataError(f"{what}: areas without a boundary", column="geometry", codes=bad)
    money = [money_column(s, y) for s in meta.streams for y in meta.years]
    money += [f"total_{year_key(y)}" for y in meta.years] + ["total", "per_head", "target_total"]
    for c in money + ["pop_all", "score", "rank", "rank_p05", "rank_p95", "p_wave_1"]:
        if not pd.api.types.is_numeric_dtype(frame[c]):
            raise DataError(f"{what}: column is not numeric ({frame[c].dtype})", column=c)
    waves = pd.to_numeric(frame["wave"], errors="coerce")
    bad = sorted(codes[waves.isna() | (waves != np.round(waves))].tolist())
    if bad:
        raise DataError(f"{what}: wave is not a whole number", column="wave", codes=bad)


# --------------------------------------------------------------------------------------------
# geometry
# --------------------------------------------------------------------------------------------


def simplify_for_web(
    frame: gpd.GeoDataFrame,
    *,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
    precision: float = DEFAULT_PRECISION_DEG,
) -> gpd.GeoDataFrame:
    """Simplify boundaries as a coverage and return them in EPSG:4326 on a rounded grid.

    Coverage simplification (:meth:`geopandas.GeoSeries.simplify_coverage`) moves each shared
    edge once for both neighbours, so no gaps or overlaps open between them; snapping to a
    ``precision``-degree grid (about 10 m at 1e-4) keeps shared vertices identical. If the input
    is not a valid coverage (overlapping polygons), each polygon is only snapped, not simplified.

    Parameters
    ----------
    frame : GeoDataFrame
        Polygons in any CRS.
    tolerance_m : float
        Simplification tolerance in metres (applied in EPSG:27700); 0 disables it.
    precision : float
        Grid size in degrees for the output coordinates.
    """
    out = frame.to_crs(METRIC_CRS) if frame.crs != METRIC_CRS else frame.copy()
    geoms = shapely.make_valid(out.geometry.values)
    if tolerance_m > 0 and bool(shapely.coverage_is_valid(geoms)):
        geoms = gpd.GeoSeries(geoms, crs=METRIC_CRS).simplify_coverage(tolerance_m).values
    out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=METRIC_CRS))
    out = out.to_crs(MAP_CRS)
    snapped = shapely.set_precision(out.geometry.values, precision)
    return out.set_geometry(gpd.GeoSeries(snapped, index=out.index, crs=MAP_CRS))


def _round_coords(obj: Any, ndigits: int) -> Any:
    if isinstance(obj, float):
        return round(obj, ndigits)
    if isinstance(obj, (list, tuple)):
        return [_round_coords(v, ndigits) for v in obj]
    return obj


def _geometry_json(geom: Any, ndigits: int) -> dict[str, Any]:
    mapping = shapely.geometry.mapping(geom)
    return {"type": mapping["type"], "coordinates": _round_coords(mapping["coordinates"], ndigits)}


# --------------------------------------------------------------------------------------------
# formatting
# --------------------------------------------------------------------------------------------


def _isnum(x: Any) -> bool:
    try:
        return x is not None and not (isinstance(x, float) and math.isnan(x)) and not pd.isna(x)
    except (TypeError, ValueError):
        return False


def fmt_pounds(x: Any) -> str:
    """Whole pounds with thousands separators: ``£1,234,567`` (``n/a`` when missing)."""
    if not _isnum(x):
        return "n/a"
    v = float(x)
    return ("-" if v < 0 else "") + f"\u00a3{abs(v):,.0f}"


def fmt_pounds_signed(x: Any) -> str:
    """Like :func:`fmt_pounds` with an explicit ``+`` for gains."""
    if not _isnum(x):
        return "n/a"
    return ("+" if float(x) > 0 else "") + fmt_pounds(x)


def fmt_pounds_short(x: Any) -> str:
    """Short pounds for legends: ``£1.2m``, ``£850k``, ``£12.34``."""
    if not _isnum(x):
        return "n/a"
    v = float(x)
    sign = "-" if v < 0 else ""
    a = abs(v)
    if a >= 1e6:
        return f"{sign}\u00a3{a / 1e6:.1f}m"
    if a >= 1e4:
        return f"{sign}\u00a3{a / 1e3:.0f}k"
    if a >= 100:
        return f"{sign}\u00a3{a:,.0f}"
    return f"{sign}\u00a3{a:.2f}"


def fmt_per_head(x: Any) -> str:
    """Pounds and pence per head: ``£12.34``."""
    if not _isnum(x):
        return "n/a"
    v = float(x)
    return ("-" if v < 0 else "") + f"\u00a3{abs(v):,.2f}"


def _fmt_rank(x: Any) -> str:
    if not _isnum(x):
        return "n/a"
    v = float(x)
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:.1f}"


def _fmt_num(x: Any, spec: str) -> str:
    return format(float(x), spec) if _isnum(x) else "n/a"


def _fmt_pct(x: Any) -> str:
    return f"{float(x):+.1f}%" if _isnum(x) else "n/a"


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
    """

    key: str
    title: str
    colors: list[str]
    labels: list[str]
    classes: np.ndarray
    note: str = ""
    outline_borderline: bool = False
    counts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.counts = [int((self.classes == i).sum()) for i in range(len(self.colors))]

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


def quantile_scale(
    key: str,
    title: str,
    values: Any,
    fmt: Callable[[Any], str],
    *,
    cmap: str,
    k: int = 5,
) -> Scale:
    """Scale with (up to) ``k`` equal-count classes, labelled ``low - high``."""
    v = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    edges = _quantile_edges(v, k)
    n = max(len(edges) - 1, 1)
    labels = [f"{fmt(edges[i])} \u2013 {fmt(edges[i + 1])}" for i in range(n)]
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
    labels = [f"{e[i]:.0%} \u2013 {e[i + 1]:.0%}" for i in range(len(e) - 1)]
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
        col = f"total_{year_key(y)}"
        scales.append(
            quantile_scale(col, f"Allocation {y}", frame[col], fmt_pounds_short, cmap="YlGn")
        )
    scales.append(
        quantile_scale(
            "total",
            f"Allocation, total {meta.period}",
            frame["total"],
            fmt_pounds_short,
            cmap="YlGn",
        )
    )
    scales.append(
        quantile_scale(
            "per_head",
            f"Pounds per head, {meta.period}",
            frame["per_head"],
            fmt_per_head,
            cmap="Blues",
        )
    )
    scales.append(p_wave1_scale(frame))
    return scales


# --------------------------------------------------------------------------------------------
# tooltips
# --------------------------------------------------------------------------------------------


def _row(th: str, td: str, cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f"<tr{c}><th>{th}</th><td>{td}</td></tr>"


def tooltip_html(row: pd.Series, meta: MapMeta, n_areas: int) -> str:
    """Escaped tooltip HTML for one LA.

    Money cells carry ``data-col`` naming the frame column they show, so a reader (or a test)
    can tie every figure back to ``allocation.csv``.
    """
    parts = [
        f'<div class="tt-h">{esc(row["name"])}</div>',
        f'<div class="tt-s">{esc(row["code"])} \u00b7 {esc(row["region"])}</div>',
        "<table>",
        _row("Wave", esc(row["wave_label"]) or esc(f"Wave {row['wave']}")),
        _row(
            "Need rank",
            f"{esc(_fmt_rank(row['rank']))} of {n_areas} "
            f"(5\u201395%: {esc(_fmt_rank(row['rank_p05']))}\u2013{esc(_fmt_rank(row['rank_p95']))})",
        ),
        _row("Need score", esc(_fmt_num(row["score"], ".3f"))),
    ]
    pw = _fmt_num(row["p_wave_1"] * 100 if _isnum(row["p_wave_1"]) else None, ".0f")
    flag = ' <span class="tt-flag">borderline</span>' if bool(row["borderline"]) else ""
    parts.append(_row("P(wave 1)", (f"{pw}%" if pw != "n/a" else pw) + flag))
    parts.append("</table>")

    head = "".join(f'<th class="num">{esc(y)}</th>' for y in meta.years)
    parts.append(f'<table class="tt-money"><tr><th></th>{head}</tr>')
    for s in meta.streams:
        cells = "".join(
            f'<td data-col="{esc(money_column(s, y))}">{fmt_pounds(row[money_column(s, y)])}</td>'
            for y in meta.years
        )
        parts.append(f"<tr><th>{esc(stream_label(s))}</th>{cells}</tr>")
    cells = "".join(
        f'<td data-col="total_{esc(year_key(y))}">{fmt_pounds(row[f"total_{year_key(y)}"])}</td>'
        for y in meta.years
    )
    parts.append(f'<tr class="tt-total"><th>Total</th>{cells}</tr></table>')

    total, target = row["total"], row["target_total"]
    gap = float(total) - float(target) if _isnum(total) and _isnum(target) else None
    pct = gap / float(target) * 100 if gap is not None and float(target) != 0 else None
    parts += [
        "<table>",
        _row(f"Total {esc(meta.period)}", f'<span data-col="total">{fmt_pounds(total)}</span>'),
        _row(
            "Per head",
            f'<span data-col="per_head">{fmt_per_head(row["per_head"])}</span> '
            f"(population {_fmt_num(row['pop_all'], ',.0f')})",
        ),
        _row("Target", f'<span data-col="target_total">{fmt_pounds(target)}</span>'),
        _row("Against target", f"{fmt_pounds_signed(gap)} ({_fmt_pct(pct)})"),
        "</table>",
    ]
    return "".join(parts)


# --------------------------------------------------------------------------------------------
# page assembly
# --------------------------------------------------------------------------------------------


def _features(
    geo: gpd.GeoDataFrame,
    scales: Sequence[Scale],
    tips: Sequence[str],
    *,
    ndigits: int,
    borderline: Sequence[bool] | None = None,
) -> dict[str, Any]:
    reps = shapely.point_on_surface(geo.geometry.values)
    feats = []
    for i, (code, name, geom) in enumerate(
        zip(geo["code"].astype(str), geo["name"].astype(str), geo.geometry.values, strict=True)
    ):
        props = {
            "code": code,
            "name": name,
            "tip": tips[i],
            "k": [int(s.classes[i]) for s in scales],
            "b": bool(borderline[i]) if borderline is not None else False,
            "pt": [round(float(reps[i].y), ndigits), round(float(reps[i].x), ndigits)],
        }
        feats.append(
            {"type": "Feature", "properties": props, "geometry": _geometry_json(geom, ndigits)}
        )
    return {"type": "FeatureCollection", "features": feats}


def _bounds(geo: gpd.GeoDataFrame) -> list[list[float]]:
    minx, miny, maxx, maxy = (float(v) for v in geo.total_bounds)
    return [[round(miny, 4), round(minx, 4)], [round(maxy, 4), round(maxx, 4)]]


def _footer(metas: Sequence[tuple[str, MapMeta]], extra: Sequence[str] = ()) -> str:
    lines = []
    for label, m in metas:
        prefix = f"{esc(label)}: " if label else ""
        lines.append(
            f"<p>{prefix}Configuration <b>{esc(m.config_name)}</b>, hash "
            f"<code>{esc(m.config_hash)}</code>. Streams: "
            f"{esc(', '.join(stream_label(s) for s in m.streams))}. "
            f"Years: {esc(', '.join(m.years))}.</p>"
        )
    sources: list[str] = []
    attribution: list[str] = []
    notes: list[str] = []
    for _, m in metas:
        sources += [s for s in m.sources if s not in sources]
        attribution += [a for a in m.attribution_lines() if a not in attribution]
        notes += [n for n in m.notes if n not in notes]
    if sources:
        lines.append(f"<p>Data sources: {esc('; '.join(sources))}.</p>")
    for n in list(notes) + list(extra):
        lines.append(f'<p class="alloc-note">{esc(n)}</p>')
    lines.append(f"<p>{esc(' '.join(attribution))}</p>")
    lines.append(
        "<p>Map drawn with Leaflet (BSD 2-Clause), inlined; no data leaves this file. "
        "Boundaries simplified for display.</p>"
    )
    return '<footer class="alloc-foot" id="alloc-footer">' + "".join(lines) + "</footer>"


def _header(title: str, subtitle: str, notes: Sequence[str]) -> str:
    warn = "".join(f'<p class="alloc-warn">{esc(n)}</p>' for n in notes)
    return (
        f'<header class="alloc-head" id="alloc-header"><h1>{esc(title)}</h1>'
        f'<p class="alloc-sub">{esc(subtitle)}</p>{warn}</header>'
    )


def _ocu_notes(notes: Sequence[str]) -> list[str]:
    return [n for n in notes if "ocu" in n.lower()]


def _build_page(
    geo: gpd.GeoDataFrame,
    scales: Sequence[Scale],
    tips: Sequence[str],
    *,
    title: str,
    subtitle: str,
    header_notes: Sequence[str],
    footer_html: str,
    attribution: str,
    borderline: Sequence[bool] | None,
    outline_title: str | None,
    tiles: str | None,
    ndigits: int,
) -> str:
    fmap = _OfflineMap(
        location=[52.8, -1.6],
        zoom_start=6,
        tiles=None,
        control_scale=True,
        prefer_canvas=False,
        zoom_snap=0.25,
        zoom_delta=0.5,
    )
    figure = fmap.get_root()
    figure.title = esc(title)
    figure.header.add_child(_html.InlineAssets(), name="inline_assets")
    figure.html.add_child(
        _html.RawHTML(_header(title, subtitle, header_notes)), name="alloc_header"
    )
    tiles_name = None
    if tiles:
        try:
            layer = folium.TileLayer(tiles, name="Basemap", overlay=True, control=False)
        except ValueError as exc:
            raise ConfigError(f"map tiles {tiles!r}: {exc}") from exc
        fmap.add_child(layer, name="basemap")
        tiles_name = layer
    payload: dict[str, Any] = {
        "features": _features(geo, scales, tips, ndigits=ndigits, borderline=borderline),
        "layers": [
            {
                "key": s.key,
                "title": esc(s.title),
                "colors": s.colors,
                "legend": s.legend_html(),
                "outline_borderline": s.outline_borderline,
            }
            for s in scales
        ],
        "na_color": NA_COLOR,
        "bounds": _bounds(geo),
        "attribution": esc(attribution),
        "outline": (
            {
                "title": esc(outline_title),
                "legend": '<div class="lg-row" data-layer="outline"><i class="sw sw-outline"></i>'
                "borderline LA (wave not settled)</div>",
            }
            if outline_title
            else None
        ),
        "tiles_title": "Basemap tiles (needs internet)",
    }
    app = _html.MapApp(payload, footer_html, None)
    fmap.add_child(app, name="alloc_app")
    _html.fix_ids(figure)
    if tiles_name is not None:
        app.tiles_name = tiles_name.get_name()
    text = figure.render()
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


class _OfflineMap(folium.Map):
    """A folium map that links no external JavaScript or CSS (Leaflet is inlined instead)."""

    default_js: list[tuple[str, str]] = []
    default_css: list[tuple[str, str]] = []


def _write(path: Path, text: str) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    except OSError as exc:
        raise OutputError(f"cannot write map to {path}: {exc}") from exc
    return path


def write_map(
    frame: gpd.GeoDataFrame,
    meta: MapMeta,
    path: Path,
    *,
    tiles: str | None = None,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
    precision: float = DEFAULT_PRECISION_DEG,
) -> Path:
    """Write the run's interactive map as one self-contained HTML file.

    Parameters
    ----------
    frame : GeoDataFrame
        One row per LA, any CRS, with the columns listed by :func:`required_columns`.
    meta : MapMeta
        Configuration, years, sources, attribution and notes shown on the page.
    path : pathlib.Path
        Output file (``map.html``).
    tiles : str, optional
        A folium / xyzservices tile provider name (e.g. ``"CartoDB positron"``). Off by
        default: tiles need internet, the map does not.
    tolerance_m : float
        Boundary simplification tolerance in metres.
    precision : float
        Coordinate grid in degrees.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    DataError
        If the frame breaks the input contract (the message names the column or codes).
    ConfigError
        If ``tiles`` is not a known provider.
    OutputError
        If the file cannot be written.
    """
    validate_frame(frame, meta)
    geo = simplify_for_web(frame, tolerance_m=tolerance_m, precision=precision)
    geo = geo.sort_values("code", kind="stable").reset_index(drop=True)
    scales = map_scales(geo, meta)
    tips = [tooltip_html(row, meta, len(geo)) for _, row in geo.iterrows()]
    n_border = int(geo["borderline"].astype(bool).sum())
    subtitle = (
        f"{len(geo)} local authorities \u00b7 {meta.period} \u00b7 total "
        f"{fmt_pounds(float(geo['total'].sum()))} \u00b7 configuration {meta.config_name} "
        f"\u00b7 {n_border} borderline LA{'s' if n_border != 1 else ''}. "
        "Hover over an area for its figures; switch layers top right."
    )
    text = _build_page(
        geo,
        scales,
        tips,
        title=meta.title,
        subtitle=subtitle,
        header_notes=_ocu_notes(meta.notes),
        footer_html=_footer([("", meta)]),
        attribution=OS_ATTRIBUTION,
        borderline=geo["borderline"].astype(bool).tolist(),
        outline_title="Outline borderline LAs",
        tiles=tiles,
        ndigits=_ndigits(precision),
    )
    return _write(path, text)


def _ndigits(precision: float) -> int:
    return max(0, int(math.ceil(-math.log10(precision)))) if precision > 0 else 6


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
MOVE_COLORS = {
    "earlier": "#1a9850",
    "same": "#f7f7f7",
    "later": "#d73027",
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
    keep += [f"total_{year_key(y)}" for y in years]
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
        k = f"total_{year_key(y)}"
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
        k = f"total_{year_key(y)}"
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
        attribution=OS_ATTRIBUTION,
        borderline=None,
        outline_title=None,
        tiles=tiles,
        ndigits=_ndigits(precision),
    )
    return _write(path, text)
