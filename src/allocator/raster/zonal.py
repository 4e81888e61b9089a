"""Zonal statistics of a GeoTIFF over local-authority polygons with exact cell-fraction weights
(the statistics and their formulas are described in :mod:`allocator.raster`).
"""

from __future__ import annotations

import math
import os
from contextlib import ExitStack
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine

from ..errors import ConfigError, DataError
from .grid import (
    cell_fractions,
    check_grid,
    la_window,
    open_raster,
    row_areas,
    same_grid,
    strips,
    valid_cells,
)

Stat = Literal["sum", "mean", "weighted_mean"]
Reproject = Literal["polygons", "raster"]

STATS: tuple[str, ...] = ("sum", "mean", "weighted_mean")

#: Shares of an LA's area below this are treated as zero when flagging (floating-point noise).
AREA_TOL = 1e-9

#: Default largest number of cells read (and intersected) at once.
MAX_CELLS = 1 << 20

__all__ = ["AREA_TOL", "MAX_CELLS", "STATS", "Reproject", "Stat", "zonal_stats"]


def _prepare_areas(areas: gpd.GeoDataFrame, code_column: str) -> gpd.GeoDataFrame:
    if not isinstance(areas, gpd.GeoDataFrame):
        raise DataError("areas must be a GeoDataFrame with polygon geometries")
    if code_column not in areas.columns:
        raise DataError("areas have no code column", column=code_column)
    if areas.crs is None:
        raise DataError("areas have no CRS; set it (e.g. EPSG:27700) before zonal statistics")
    codes = areas[code_column].astype(str)
    dupes = sorted(set(codes[codes.duplicated()]))
    if dupes:
        raise DataError("duplicate area codes", column=code_column, codes=dupes)
    geoms = areas.geometry
    bad = codes[geoms.isna().to_numpy() | geoms.is_empty.to_numpy()]
    if len(bad):
        raise DataError("areas with missing or empty geometry", column="geometry", codes=bad)
    kinds = set(geoms.geom_type)
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise DataError(f"areas must be polygons, found {sorted(kinds)}", column="geometry")
    return gpd.GeoDataFrame({"code": codes.to_numpy()}, geometry=geoms.to_numpy(), crs=areas.crs)


def _flag(outside: float, nodata: float, covered: float, no_weight: bool) -> str:
    if covered <= AREA_TOL:
        if outside >= 1 - AREA_TOL:
            return "not covered: the LA lies outside the raster extent"
        parts = []
        if outside > AREA_TOL:
            parts.append(f"{outside:.1%} outside the raster extent")
        parts.append(f"{nodata:.1%} on nodata cells")
        return "not covered: " + ", ".join(parts)
    parts = []
    if outside > AREA_TOL:
        parts.append(f"{outside:.2%} of the area outside the raster extent")
    if nodata > AREA_TOL:
        parts.append(f"{nodata:.2%} of the area on nodata cells")
    text = "partly covered: " + ", ".join(parts) if parts else ""
    if no_weight:
        text = "; ".join([t for t in (text, "no weight: weights are zero over the covered area")
                          if t])
    return text


def zonal_stats(
    areas: gpd.GeoDataFrame,
    raster_path: str | os.PathLike[str],
    stat: Stat = "sum",
    weights_raster: str | os.PathLike[str] | None = None,
    band: int = 1,
    reproject: Reproject = "polygons",
    *,
    code_column: str = "code",
    weights_band: int = 1,
    max_cells: int = MAX_CELLS,
) -> pd.DataFrame:
    """Zonal statistic of a raster per polygon, with exact cell-fraction weights.

    Parameters
    ----------
    areas : geopandas.GeoDataFrame
        Polygons with a CRS and a unique ``code_column``.
    raster_path : path-like
        GeoTIFF (or any GDAL raster) with a CRS and a north-up grid.
    stat : {"sum", "mean", "weighted_mean"}
        See the module docstring for the exact formulas.
    weights_raster : path-like, optional
        Required for ``weighted_mean`` (and only then): an amount per cell (e.g. people) on
        exactly the same grid (CRS, transform, size) as ``raster_path``. Cells where it is nodata
        are excluded.
    band : int
        1-based band of ``raster_path`` to read.
    reproject : {"polygons", "raster"}
        ``"polygons"`` (default) reprojects the polygons to the raster CRS; cell values are used
        as stored. ``"raster"`` warps the raster (and weights) to the polygons' CRS on the fly
        with nearest-neighbour resampling; not allowed for ``sum``, whose totals resampling
        would not conserve.
    code_column : str
        Column of ``areas`` naming each polygon.
    weights_band : int
        1-based band of ``weights_raster``.
    max_cells : int
        Largest number of cells read and intersected at once; an LA whose bounds hold more is
        processed in row strips.

    Returns
    -------
    pandas.DataFrame
        One row per area in input order: ``code``; ``value`` (NaN where nothing is covered, or
        for ``weighted_mean`` where the weights sum to zero); ``coverage``, the share of the
        area's polygon on valid cells (inside the raster extent and not nodata; for
        ``weighted_mean`` the weight must be valid too); ``flag``, ``""`` or why coverage is
        below 1 / the value is missing.

    Raises
    ------
    DataError
        Missing or unreadable file, raster without CRS, rotated grid, missing band, weights on a
        different grid, areas without CRS, duplicate codes or empty geometries.
    ConfigError
        Unknown ``stat`` or ``reproject``, ``weights_raster`` given or missing against ``stat``,
        ``sum`` with ``reproject="raster"``.
    """
    if stat not in STATS:
        raise ConfigError(f"unknown zonal statistic {stat!r}; choose one of {', '.join(STATS)}")
    if reproject not in ("polygons", "raster"):
        raise ConfigError(f"reproject must be 'polygons' or 'raster', got {reproject!r}")
    if (stat == "weighted_mean") != (weights_raster is not None):
        raise ConfigError(
            "weights_raster is required for stat 'weighted_mean' and not allowed otherwise"
        )
    if stat == "sum" and reproject == "raster":
        raise ConfigError(
            "stat 'sum' needs reproject='polygons': resampling the raster would not conserve "
            "the amounts in its cells"
        )
    if max_cells < 1:
        raise ConfigError(f"max_cells must be >= 1, got {max_cells}")
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    zones = _prepare_areas(areas, code_column)

    with ExitStack() as stack:
        src = stack.enter_context(open_raster(raster_path, "raster"))
        check_grid(src, raster_path, band)
        wsrc = None
        if weights_raster is not None:
            wsrc = stack.enter_context(open_raster(weights_raster, "weights raster"))
            check_grid(wsrc, weights_raster, weights_band)
            if not same_grid(src, wsrc):
                raise DataError(
                    f"weights raster is not on the grid of {raster_path} (CRS, transform and size "
                    "must match); resample one onto the other first, e.g. with gdalwarp",
                    file=weights_raster,
                )
        if reproject == "raster":
            target = zones.crs
            src = stack.enter_context(
                WarpedVRT(src, crs=target, resampling=Resampling.nearest)
            )
            if wsrc is not None:
                wsrc = stack.enter_context(
                    WarpedVRT(
                        wsrc, crs=target, transform=src.transform, width=src.width,
                        height=src.height, resampling=Resampling.nearest,
                    )
                )
        else:
            zones = zones.to_crs(src.crs)
        geographic = bool(src.crs.is_geographic)
        transform = src.transform
        cell_area = abs(transform.a * transform.e)

        rows: list[dict[str, object]] = []
        for code, geom in zip(zones["code"], zones.geometry, strict=True):
            repaired = False
            if not geom.is_valid:
                geom = shapely.make_valid(geom, method="structure", keep_collapsed=False)
                repaired = True
            poly_area = float(geom.area)
            win = la_window(geom.bounds, src)
            in_extent = valid_area = 0.0
            num = den = 0.0
            if win is not None:
                for strip in strips(win, max_cells):
                    r0, c0 = int(strip.row_off), int(strip.col_off)
                    shape = (int(strip.height), int(strip.width))
                    frac = cell_fractions(geom, transform @ Affine.translation(c0, r0), shape)
                    if not frac.any():
                        continue
                    vals, ok = valid_cells(src.read(band, window=strip, masked=True))
                    if wsrc is not None:
                        wts, wok = valid_cells(wsrc.read(weights_band, window=strip, masked=True))
                        ok &= wok
                    in_extent += float(frac.sum()) * cell_area
                    fv = np.where(ok, frac, 0.0)
                    valid_area += float(fv.sum()) * cell_area
                    if stat == "sum":
                        num += float((vals * fv).sum())
                    elif stat == "mean":
                        fa = fv * row_areas(transform, r0, shape[0], geographic)[:, np.newaxis]
                        num += float((vals * fa).sum())
                        den += float(fa.sum())
                    else:
                        fw = fv * wts
                        num += float((vals * fw).sum())
                        den += float(fw.sum())
            covered = min(1.0, valid_area / poly_area) if poly_area > 0 else 0.0
            outside = max(0.0, 1.0 - in_extent / poly_area) if poly_area > 0 else 1.0
            nodata = max(0.0, (in_extent - valid_area) / poly_area) if poly_area > 0 else 0.0
            no_weight = stat == "weighted_mean" and covered > AREA_TOL and den <= 0
            if covered <= AREA_TOL:
                value = math.nan
            elif stat == "sum":
                value = num
            else:
                value = num / den if den > 0 else math.nan
            flag = _flag(outside, nodata, covered, no_weight)
            if repaired:
                flag = "; ".join([t for t in (flag, "geometry repaired with make_valid") if t])
            rows.append({"code": code, "value": value, "coverage": covered, "flag": flag})
    return pd.DataFrame(rows, columns=["code", "value", "coverage", "flag"])
