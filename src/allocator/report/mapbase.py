"""Shared ground of the ministers' map, its static twins and the compare map: the map's metadata
(:class:`MapMeta`), its input contract (:func:`validate_frame`) and boundary simplification for
the web. Column names come from :mod:`allocator.columns`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..columns import money_column, total_column
from ..errors import DataError

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
    source_line : str
        One short line naming the sources and their data years (figures and the map's header);
        the full list is ``sources``.
    boundary_year : int
        Vintage of the ONS boundaries drawn (the year in the figures' short licence line).
    details : str
        Where a reader of a figure finds the full sources, method and caveats.
    """

    config_name: str
    config_hash: str
    streams: Sequence[str]
    years: Sequence[str]
    sources: Sequence[str] = ()
    attribution: str = DEFAULT_ATTRIBUTION
    notes: Sequence[str] = ()
    title: str = "Drug treatment grant: allocation to local authorities"
    source_line: str = ""
    boundary_year: int = 2021
    details: str = "allocation.xlsx (Cover sheet)"

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






def required_columns(meta: MapMeta) -> list[str]:
    """Every column :func:`write_map` reads, in a stable order."""
    cols = ID_COLUMNS + RESULT_COLUMNS
    cols += [money_column(s, y) for s in meta.streams for y in meta.years]
    cols += [total_column(y) for y in meta.years]
    return cols




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
    money += [total_column(y) for y in meta.years] + ["total", "per_head", "target_total"]
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

