"""Static twins of the map for briefing packs: PNG and PDF, drawn with matplotlib (Agg).

:func:`write_static_maps` draws the delivery-wave map and the pounds-per-head map, each with a
title, a legend, a London inset and, at the foot of the figure, the configuration, data sources,
licence attribution and caveats. The colour classes are the same as the interactive map's
(:func:`allocator.report.map.map_scales`). Given the House of Commons Library hex cartogram
(``hex_cartogram_utla/*.gpkg``), it also draws hex versions, matched to the LAs by code; codes
that do not match are listed on the figure and returned by :func:`match_hexes`.

Output bytes are deterministic: PDF creation dates are not written.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")  # noqa: E402  (before pyplot; static maps never need a display)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyogrio  # noqa: E402
import shapely  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from ..errors import DataError, library_message  # noqa: E402
from .figsave import PNG_DPI, house_style, save_figure  # noqa: E402

# not from .map, which imports folium: the static figures need none of the web page
from .mapbase import METRIC_CRS, NA_COLOR, MapMeta, validate_frame  # noqa: E402
from .mapfmt import fmt_pounds  # noqa: E402
from .scales import Scale, map_scales  # noqa: E402

log = logging.getLogger(__name__)

HEX_CODE_COLUMN = "cua-code"
HEX_ATTRIBUTION = (
    "Hex cartogram: House of Commons Library, Open Parliament Licence v3.0 (equal-area shapes, "
    "not real geography)."
)
FORMATS = ("png", "pdf")
MAPS = ("wave", "per_head")


@dataclass
class HexMatch:
    """Result of matching a frame to hex cartogram shapes.

    Attributes
    ----------
    frame : GeoDataFrame
        The frame's rows that have a hex, with the hex as geometry (EPSG:27700).
    missing_hex : list of str
        Frame codes with no hex (not drawn).
    unused_hex : list of str
        English hex codes (E06/E08/E09/E10) with no row in the frame.
    layer : str
        The GeoPackage layer used.
    """

    frame: gpd.GeoDataFrame
    missing_hex: list[str]
    unused_hex: list[str]
    layer: str


def _pick_hex_layer(path: Path, layer: str | None) -> str:
    try:
        names = [str(n) for n, _ in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises its own DataSourceError types
        raise DataError(f"cannot read hex cartogram: {library_message(exc)}", file=path) from exc
    if layer is not None:
        if layer not in names:
            raise DataError(f"no layer {layer!r}; layers are {', '.join(names)}", file=path)
        return layer
    utla = sorted(n for n in names if "UTLA-" in n)
    for want in ("UTLA-2021", "UTLA-2023"):
        hits = [n for n in utla if n.endswith(want)]
        if hits:
            return hits[0]
    if not utla:
        raise DataError(f"no UTLA layer among {', '.join(names)}", file=path)
    return utla[-1]


def match_hexes(
    frame: gpd.GeoDataFrame,
    hex_path: Path,
    *,
    layer: str | None = None,
    code_column: str = HEX_CODE_COLUMN,
) -> HexMatch:
    """Put each LA of ``frame`` on its hex by code.

    Parameters
    ----------
    frame : GeoDataFrame
        One row per LA with a ``code`` column.
    hex_path : pathlib.Path
        A House of Commons Library upper-tier hex cartogram GeoPackage.
    layer : str, optional
        Layer to read; default the 2021 UTLA layer (the grant's boundaries), else 2023.
    code_column : str
        Column of the hex layer holding GSS codes.

    Raises
    ------
    DataError
        If the file or layer cannot be read or has no ``code_column``.
    """
    hex_path = Path(hex_path)
    name = _pick_hex_layer(hex_path, layer)
    hexes = gpd.read_file(hex_path, layer=name)
    if code_column not in hexes.columns:
        raise DataError(f"layer {name!r} has no code column", file=hex_path, column=code_column)
    hexes = hexes.to_crs(METRIC_CRS)
    hexes["_code"] = hexes[code_column].astype(str)
    codes = frame["code"].astype(str)
    have = set(hexes["_code"])
    missing = sorted(set(codes) - have)
    english = hexes["_code"].str.match(r"^E(06|08|09|10)")
    unused = sorted(set(hexes.loc[english, "_code"]) - set(codes))
    hexes = hexes.drop_duplicates("_code")
    # one outline per LA, not one per hex
    merged = [shapely.union_all(shapely.get_parts(g)) for g in hexes.geometry.values]
    geo = gpd.GeoSeries(merged, index=hexes["_code"].values, crs=METRIC_CRS)
    rows = pd.DataFrame(frame.drop(columns=frame.geometry.name)).loc[codes.isin(have).values].copy()
    out = gpd.GeoDataFrame(
        rows, geometry=geo.reindex(rows["code"].astype(str)).values, crs=METRIC_CRS
    )
    if "LA-label" in hexes.columns:
        labels = hexes.drop_duplicates("_code").set_index("_code")["LA-label"]
        out["hex_label"] = labels.reindex(rows["code"].astype(str)).values
    if missing:
        log.warning(
            "hex cartogram %s: %d LA(s) without a hex: %s",
            hex_path,
            len(missing),
            ", ".join(missing),
        )
    return HexMatch(out.reset_index(drop=True), missing, unused, name)


def _footer_text(meta: MapMeta, extra: Sequence[str] = ()) -> str:
    """Three short lines at most: sources with data years, caveats, licence and where the detail is."""
    from .caveats import short_caveats, short_licence

    first = meta.source_line or ("Sources: " + "; ".join(meta.sources) + "." if meta.sources else "")
    notes = [*short_caveats(meta.notes), *extra]
    lines = [" ".join([first, *notes]).strip()]
    lines.append(
        f"{short_licence(meta.boundary_year)} Full sources, method and caveats: {meta.details}. "
        f"Configuration {meta.config_name} ({meta.config_hash[:8]})."
    )
    return "\n".join(textwrap.fill(line, width=140) for line in lines if line)


def _label_color(fill: str) -> tuple[str, str]:
    """Text and halo colours readable on ``fill``: dark text on pale fills, white on dark ones."""
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(fill)
    light = 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45
    return ("#111111", "white") if light else ("white", "#111111")


def _labels(ax: Axes, geoms: Sequence[object], fills: Sequence[str], labels: Sequence[object]) -> None:
    """Write each non-empty label at its shape's representative point, 4.5 pt, centred, in a
    colour readable on its fill with a 1.2 pt halo of the opposite colour.

    Drawn as two collections of glyph outlines (halos, then letters), each outline built once
    per figure and shared by the PNG and the PDF: what ``annotate(..., path_effects=[withStroke])``
    draws label by label (with path effects matplotlib draws text as outlines too), centred the
    same way (on the advance width and the line box of ``"lp"``), at a fifth of the cost.
    """
    from matplotlib.collections import PathCollection
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath, text_to_path
    from matplotlib.transforms import IdentityTransform

    prop = FontProperties(size=4.5)
    _, lp_h, lp_d = text_to_path.get_text_width_height_descent("lp", prop, ismath=False)
    points = shapely.point_on_surface(np.asarray(geoms))  # representative_point, all at once
    paths, offsets, inks, halos = [], [], [], []
    for point, fill, lab in zip(points, fills, labels, strict=True):
        if isinstance(lab, str) and lab.strip():
            w, h, d = text_to_path.get_text_width_height_descent(lab, prop, ismath=False)
            h, d = max(h, lp_h), max(d, lp_d)
            paths.append(TextPath((-w / 2, d - h / 2), lab, prop=prop))  # line box centred on 0
            offsets.append((point.x, point.y))
            ink, halo = _label_color(fill)
            inks.append(ink)
            halos.append(halo)
    if not paths:
        return
    common = {"sizes": [1.0], "offsets": offsets, "offset_transform": ax.transData,
              "transform": IdentityTransform(), "zorder": 3}  # sizes 1: outlines in points
    ax.add_collection(PathCollection(paths, facecolors=inks, edgecolors=halos, linewidths=1.2,
                                     **common), autolim=False)
    ax.add_collection(PathCollection(paths, facecolors=inks, linewidths=0, **common),
                      autolim=False)


def _draw(
    geo: gpd.GeoDataFrame,
    scale: Scale,
    meta: MapMeta,
    title: str,
    subtitle: str,
    *,
    extra_notes: Sequence[str] = (),
    inset_london: bool = True,
    labels: pd.Series | None = None,
) -> Figure:
    """One A4-ish page: title, subtitle, the legend in its own band, the map, a short footer.

    The legend and the London inset sit outside the area England is drawn in (the map's x-range
    is widened to make room for the inset), so neither ever covers an LA.
    """
    # not plt.figure: a figure outside pyplot has a canvas whose draw_idle does nothing, so each
    # GeoDataFrame.plot (which calls it) does not render the whole page once more before savefig
    fig = Figure(figsize=(8.27, 10.5), dpi=100)
    footer = _footer_text(meta, extra_notes)
    footer_h = (footer.count("\n") + 1) * 6.5 * 1.25 / (10.5 * 72)
    bottom = 0.012 + footer_h + 0.012
    legend_top = 0.905
    ax = fig.add_axes((0.02, bottom, 0.96, legend_top - 0.085 - bottom))
    colors = [scale.color_of(int(k)) for k in scale.classes]
    geo = geo.assign(_color=colors)
    geo.plot(ax=ax, color=geo["_color"], edgecolor="#555555", linewidth=0.3)
    if scale.outline_borderline and "borderline" in geo:
        b = geo[geo["borderline"].fillna(False).astype(bool)]
        if len(b):
            b.boundary.plot(ax=ax, color="black", linewidth=1.4, linestyle="--")
    if labels is not None:
        _labels(ax, geo.geometry.values, colors, labels)
    ax.set_axis_off()
    ax.set_aspect("equal")
    minx, miny, maxx, maxy = geo.total_bounds
    london = geo[geo["code"].astype(str).str.startswith("E09")] if inset_london and "code" in geo else geo.iloc[:0]
    width = maxx - minx
    pad = 0.02 * width
    ax.set_xlim(minx - pad, maxx + (0.32 * width if len(london) else pad))
    ax.set_ylim(miny - pad, maxy + pad)
    fig.text(0.03, 0.975, title, fontsize=15, fontweight="bold", va="top")
    fig.text(0.03, 0.945, f"{meta.title}\n{subtitle}", fontsize=9, va="top", color="#333333")

    handles = [
        Patch(facecolor=c, edgecolor="#555555", label=f"{lab} ({n})")
        for c, lab, n in zip(scale.colors, scale.labels, scale.counts, strict=True)
    ]
    if scale.n_missing:
        handles.append(Patch(facecolor=NA_COLOR, edgecolor="#555555", label=f"no data ({scale.n_missing})"))
    if scale.outline_borderline:
        handles.append(Patch(facecolor="white", edgecolor="black", linestyle="--", label="borderline LA"))
    fig.legend(
        handles=handles, title=scale.title, loc="upper left", bbox_to_anchor=(0.03, legend_top),
        ncol=3 if len(handles) > 3 else len(handles), fontsize=8, title_fontsize=9, frameon=False,
        alignment="left",
    )
    if len(london):
        inset = ax.inset_axes((0.73, 0.56, 0.27, 0.27))
        london.plot(ax=inset, color=london["_color"], edgecolor="#555555", linewidth=0.3)
        inset.set_xticks([])
        inset.set_yticks([])
        inset.set_xlabel("")
        inset.set_ylabel("")
        inset.set_aspect("equal")
        inset.set_title("London", fontsize=8)
    fig.text(0.03, 0.012, footer, fontsize=6.5, va="bottom", color="#222222", linespacing=1.25)
    return fig


@house_style()
def write_static_maps(
    frame: gpd.GeoDataFrame,
    meta: MapMeta,
    out_dir: Path,
    *,
    hex_path: Path | None = None,
    hex_layer: str | None = None,
    formats: Sequence[str] = FORMATS,
    dpi: int = PNG_DPI,
    maps: Sequence[str] = MAPS,
) -> list[Path]:
    """Write the wave map and the pounds-per-head map as PNG and PDF.

    Parameters
    ----------
    frame : GeoDataFrame
        The same frame :func:`allocator.report.map.write_map` takes.
    meta : MapMeta
        Configuration, sources, attribution and notes printed on each figure.
    out_dir : pathlib.Path
        Directory for ``map_wave.*``, ``map_per_head.*`` (and ``*_hex.*``).
    hex_path : pathlib.Path, optional
        House of Commons Library hex cartogram GeoPackage; when given, hex versions are drawn
        too, and LAs without a hex are named on the figure.
    hex_layer : str, optional
        GeoPackage layer (default: the 2021 UTLA layer).
    formats : sequence of str
        File formats, default ``("png", "pdf")``.
    dpi : int
        Raster resolution for PNG.
    maps : sequence of str
        Which maps to draw: ``"wave"`` and/or ``"per_head"`` (default both).

    Returns
    -------
    list of pathlib.Path
        Files written, in a stable order.
    """
    validate_frame(frame, meta)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise DataError(f"unsupported static map format(s): {', '.join(unknown)}")
    unknown = [m for m in maps if m not in MAPS]
    if unknown:
        raise ValueError(f"maps: unknown static map(s) {', '.join(unknown)}; known: {', '.join(MAPS)}")
    out_dir = Path(out_dir)
    geo = frame.to_crs(METRIC_CRS).sort_values("code", kind="stable").reset_index(drop=True)
    scales = {s.key: s for s in map_scales(geo, meta)}
    total = fmt_pounds(float(geo["total"].sum()))
    sub = f"{len(geo)} local authorities, {meta.period}, total {total}"
    written: list[Path] = []
    specs = [
        (key, stem, title)
        for key, stem, title in [
            ("wave", "map_wave", "Delivery waves"),
            ("per_head", "map_per_head", f"£ per head, {meta.period}"),
        ]
        if key in maps
    ]
    for key, stem, title in specs:
        fig = _draw(geo, scales[key], meta, title, sub)
        written += save_figure(fig, out_dir / stem, formats, dpi)
    if hex_path is not None:
        match = match_hexes(geo, Path(hex_path), layer=hex_layer)
        hex_scales = {s.key: s for s in map_scales(match.frame, meta)}
        extra = [HEX_ATTRIBUTION]
        if match.missing_hex:
            extra.append(
                f"Not shown ({len(match.missing_hex)} LA(s) without a hex): {', '.join(match.missing_hex)}."
            )
        for key, stem, title in specs:
            fig = _draw(
                match.frame,
                hex_scales[key],
                meta,
                title + " (hex cartogram)",
                sub,
                extra_notes=extra,
                inset_london=False,
                labels=match.frame.get("hex_label"),
            )
            written += save_figure(fig, out_dir / f"{stem}_hex", formats, dpi)
    return written
