"""Zonal statistics of a GeoTIFF over local-authority polygons, and raster-based indicators.

Each LA gets one number from a raster, computed as exactly as the geometry allows:

* every cell is weighted by the **exact fraction of its area inside the polygon** (polygon-cell
  intersection areas, not centroid sampling and not "all touched");
* the polygons are reprojected to the raster's CRS (``reproject="polygons"``, the default), so
  cell values are never resampled; ``reproject="raster"`` instead warps the raster to the
  polygons' CRS on the fly (nearest neighbour, for intensive surfaces only);
* nodata cells (the dataset's nodata value or mask, and NaN) are excluded, and the share of the
  LA's area they cover is reported;
* an LA the raster does not cover, fully or in part, is reported in ``flag`` and its
  ``coverage``; an LA with no covered area gets a missing value, never a silent zero;
* the raster is read **window by window** (``rasterio.windows.from_bounds`` on each LA's
  bounds, split into row strips of at most ``max_cells`` cells), so a national 100 m grid never
  needs to be in memory at once.

Statistics, with ``v`` the cell value, ``f`` the fraction of the cell inside the LA, ``w`` the
weight-raster value and ``a`` the cell's relative true area (1 on a projected grid; on a
geographic grid proportional to the cell's area on the sphere), all sums over cells whose value
(and weight) is not nodata:

``sum``
    ``sum(v * f)``. Read the raster as *an amount per cell* (people, incidents, pounds): the
    result is the amount inside the LA, assuming each cell's amount is spread evenly over the
    cell. A half-covered cell contributes half its value. For a *density* raster (amount per
    km^2) multiply the result by the cell area in km^2 to get an amount. Where coverage is below
    1 the sum covers only the covered part (it is not scaled up).
``mean``
    ``sum(v * f * a) / sum(f * a)``: the area-weighted mean value over the covered part of the LA.
``weighted_mean``
    ``sum(v * w * f) / sum(w * f)`` with ``w`` from ``weights_raster`` (an amount per cell on the
    same grid, e.g. people): e.g. the population-weighted mean of a service-access surface.

:class:`RasterIndicatorConfig` describes one raster indicator in a run config (``data.rasters``)
and :func:`add_raster_indicators` adds the columns to the areas table.

Modules: :mod:`~allocator.raster.grid` (cell fractions, windows, opening a GeoTIFF),
:mod:`~allocator.raster.zonal` (:func:`zonal_stats`) and :mod:`~allocator.raster.indicators`
(the config item and the areas-table columns).
"""

from __future__ import annotations

from .grid import cell_fractions
from .indicators import (
    RasterIndicatorConfig,
    add_raster_indicators,
    file_sha256,
    raster_indicator_entries,
)
from .zonal import AREA_TOL, MAX_CELLS, STATS, Reproject, Stat, zonal_stats

__all__ = [
    "AREA_TOL",
    "MAX_CELLS",
    "STATS",
    "RasterIndicatorConfig",
    "Reproject",
    "Stat",
    "add_raster_indicators",
    "cell_fractions",
    "file_sha256",
    "raster_indicator_entries",
    "zonal_stats",
]
