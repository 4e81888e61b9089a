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

from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from ..columns import money_column, stream_label, total_column, year_key  # noqa: F401 - re-exported
from ._html import esc
from .mapbase import (  # noqa: F401 - the map's public names, re-exported
    DEFAULT_ATTRIBUTION,
    DEFAULT_PRECISION_DEG,
    DEFAULT_TOLERANCE_M,
    ID_COLUMNS,
    MAP_CRS,
    METRIC_CRS,
    NA_COLOR,
    OGL,
    OS_ATTRIBUTION,
    RESULT_COLUMNS,
    MapMeta,
    _geometry_json,
    required_columns,
    simplify_for_web,
    validate_frame,
)
from .mapfmt import (  # noqa: F401
    _fmt_num,
    _fmt_pct,
    _fmt_rank,
    _isnum,
    fmt_per_head,
    fmt_pounds,
    fmt_pounds_short,
    fmt_pounds_signed,
)
from .mappage import _build_page, _footer, _ndigits, _ocu_notes, _row, _write  # noqa: F401
from .scales import Scale, map_scales, p_wave1_scale, quantile_scale, wave_scale  # noqa: F401

# --------------------------------------------------------------------------------------------
# tooltips
# --------------------------------------------------------------------------------------------


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
            f"{esc(_fmt_rank(row['rank']))} of {n_areas} (1 = highest need; likely range "
            f"{esc(_fmt_rank(row['rank_p05']))}\u2013{esc(_fmt_rank(row['rank_p95']))})",
        ),
        _row("Need score", esc(_fmt_num(row["score"], ".3f"))),
    ]
    pw = _fmt_num(row["p_wave_1"] * 100 if _isnum(row["p_wave_1"]) else None, ".0f")
    flag = ' <span class="tt-flag">borderline</span>' if bool(row["borderline"]) else ""
    parts.append(_row("Chance of wave 1", (f"{pw}%" if pw != "n/a" else pw) + flag))
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
        f'<td data-col="{esc(total_column(y))}">{fmt_pounds(row[total_column(y)])}</td>'
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
            "Per head (all ages)",
            f'<span data-col="per_head">{fmt_per_head(row["per_head"])}</span> '
            f"(population {_fmt_num(row['pop_all'], ',.0f')})",
        ),
        _row("Need-based target", f'<span data-col="target_total">{fmt_pounds(target)}</span>'),
        _row("Difference from target", f"{fmt_pounds_signed(gap)} ({_fmt_pct(pct)})"),
        "</table>",
    ]
    return "".join(parts)


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
        "Hover over an area for its figures; zoom in for names."
    )
    text = _build_page(
        geo,
        scales,
        tips,
        title=meta.title,
        subtitle=subtitle,
        header_notes=_ocu_notes(meta.notes),
        footer_html=_footer([("", meta)]),
        attribution=" ".join(meta.attribution_lines()),
        borderline=geo["borderline"].astype(bool).tolist(),
        outline_title="Outline borderline LAs",
        tiles=tiles,
        ndigits=_ndigits(precision),
    )
    return _write(path, text)


def __getattr__(name: str) -> Any:
    """The compare map lives in :mod:`allocator.report.compare_map` (kept importable from here)."""
    if name in {"write_compare_map", "compare_frame", "compare_tooltip_html", "MOVE_LABELS", "MOVE_COLORS"}:
        from . import compare_map

        return getattr(compare_map, name)
    raise AttributeError(name)
