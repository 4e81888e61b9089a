"""The page around a map (shared by the run map and the compare map): header, footer, the Leaflet
app payload, offline folium map, deterministic ids and the atomic-enough file write."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import shapely

from ..columns import stream_label
from ..errors import ConfigError, OutputError
from ..rundir import NO_ROOM, naming
from . import _html
from ._html import esc
from .mapbase import MapMeta, _geometry_json
from .scales import NA_COLOR, Scale


def _row(th: str, td: str, cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f"<tr{c}><th>{th}</th><td>{td}</td></tr>"


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
    if notes or extra:
        lines.append("<p><b>Caveats</b></p><ul>" + "".join(f'<li class="alloc-note">{esc(n)}</li>' for n in [*notes, *extra]) + "</ul>")
    lines.append(f"<p>{esc(' '.join(attribution))}</p>")
    lines.append(
        "<p>Map drawn with Leaflet (BSD 2-Clause), inlined; no data leaves this file. "
        "Boundaries simplified for display.</p>"
    )
    return '<footer class="alloc-foot" id="alloc-footer">' + "".join(lines) + "</footer>"


def _header(title: str, subtitle: str, notes: Sequence[str], footer_html: str = "") -> str:
    """A compact panel over the map's top-left corner: title, one line of figures, the key caveat
    in one short line, and "About this map" (sources, every caveat, licence) folded away."""
    warn = "".join(f'<p class="alloc-warn">{esc(n)}</p>' for n in notes)
    about = (
        '<details class="alloc-about" id="alloc-about"><summary>About this map: sources, caveats, '
        f"licence</summary>{footer_html}</details>"
        if footer_html
        else ""
    )
    return (
        f'<header class="alloc-head" id="alloc-header"><h1>{esc(title)}</h1>'
        f'<p class="alloc-sub">{esc(subtitle)}</p>{warn}{about}</header>'
    )


def _ocu_notes(notes: Sequence[str]) -> list[str]:
    """The one caveat the map's panel shows unfolded (short): the index lacks OCU prevalence."""
    from .caveats import OCU_MISSING_SHORT

    return [OCU_MISSING_SHORT] if any("ocu" in n.lower() and "not" in n.lower() for n in notes) else []


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
        _html.RawHTML(_header(title, subtitle, header_notes, footer_html)), name="alloc_header"
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
                "title": esc(s.name),
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
    app = _html.MapApp(payload, "", None)
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
        if exc.errno in NO_ROOM:  # a full disk: the run directory's one message says so
            raise naming(exc, path) from exc
        raise OutputError(f"cannot write map to {path}: {exc}") from exc
    return path


def _ndigits(precision: float) -> int:
    return max(0, int(math.ceil(-math.log10(precision)))) if precision > 0 else 6




