"""The grid side of zonal statistics: exact cell fractions of a polygon, true cell areas,
windows read strip by strip, and opening and checking a GeoTIFF (see :mod:`allocator.raster`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from affine import Affine

from ..errors import DataError

if TYPE_CHECKING:  # rasterio and scipy.ndimage are imported only where a raster is read
    from rasterio.windows import Window

__all__ = ["cell_fractions", "check_grid", "la_window", "open_raster", "row_areas", "same_grid",
           "strips", "valid_cells"]


# ---------------------------------------------------------------------------------------------
# geometry: exact cell fractions
# ---------------------------------------------------------------------------------------------


def cell_fractions(geom: Any, transform: Affine, shape: tuple[int, int]) -> np.ndarray:
    """Fraction of each cell of a grid that lies inside a polygon.

    Cells the polygon's boundary cannot touch are classified by their centre (they are wholly
    inside or wholly outside); cells the boundary may touch (found by burning the boundary with
    ``all_touched`` and dilating by one cell, so no touched cell is missed) get the exact area of
    the cell-polygon intersection from shapely.

    Parameters
    ----------
    geom : shapely Polygon or MultiPolygon
        In the grid's CRS.
    transform : affine.Affine
        North-up (non-rotated) transform of the grid's top-left cell.
    shape : tuple of int
        ``(rows, cols)`` of the grid.

    Returns
    -------
    numpy.ndarray
        ``float64`` array of ``shape`` with values in [0, 1].
    """
    from rasterio.features import rasterize
    from scipy import ndimage

    nrows, ncols = shape
    frac = np.zeros(shape, dtype="float64")
    if nrows == 0 or ncols == 0 or geom is None or geom.is_empty:
        return frac
    a, e = transform.a, transform.e
    cell_area = abs(a * e)
    shapely.prepare(geom)
    # Centres: whole cells are inside iff their centre is (for cells away from the boundary).
    xc = transform.c + (np.arange(ncols) + 0.5) * a
    yc = transform.f + (np.arange(nrows) + 0.5) * e
    frac[:] = shapely.contains_xy(geom, xc[np.newaxis, :], yc[:, np.newaxis])
    # Cells the boundary may touch: exact intersection areas.
    burnt = rasterize(
        [(geom.boundary, 1)],
        out_shape=shape,
        transform=transform,
        all_touched=True,
        fill=0,
        dtype="uint8",
    ).astype(bool)
    cand = ndimage.binary_dilation(burnt, structure=np.ones((3, 3), dtype=bool))
    rows, cols = np.nonzero(cand)
    if rows.size:
        x0 = transform.c + cols * a
        y0 = transform.f + rows * e
        boxes = shapely.box(
            np.minimum(x0, x0 + a), np.minimum(y0, y0 + e), np.maximum(x0, x0 + a),
            np.maximum(y0, y0 + e),
        )
        touches = shapely.intersects(geom, boxes)
        inside = shapely.covers(geom, boxes)
        part = touches & ~inside
        f = inside.astype("float64")
        if part.any():
            f[part] = shapely.area(shapely.intersection(boxes[part], geom)) / cell_area
        frac[rows, cols] = np.clip(f, 0.0, 1.0)
    return frac


def row_areas(transform: Affine, row0: int, nrows: int, geographic: bool) -> np.ndarray:
    """Relative true area of the cells of each row (1 on projected grids)."""
    if not geographic:
        return np.ones(nrows)
    top = transform.f + (row0 + np.arange(nrows)) * transform.e
    bottom = top + transform.e
    lat_t = np.radians(np.clip(top, -90, 90))
    lat_b = np.radians(np.clip(bottom, -90, 90))
    return np.abs(np.sin(lat_t) - np.sin(lat_b)) / abs(math.radians(transform.e))


# ---------------------------------------------------------------------------------------------
# windows
# ---------------------------------------------------------------------------------------------


def la_window(bounds: tuple[float, float, float, float], src: Any) -> Window | None:
    """Integer window of the cells under ``bounds``, clipped to the dataset; None if disjoint."""
    from rasterio.windows import Window, from_bounds

    w = from_bounds(*bounds, transform=src.transform)
    c0 = max(0, math.floor(w.col_off))
    r0 = max(0, math.floor(w.row_off))
    c1 = min(src.width, math.ceil(w.col_off + w.width))
    r1 = min(src.height, math.ceil(w.row_off + w.height))
    if c1 <= c0 or r1 <= r0:
        return None
    return Window(c0, r0, c1 - c0, r1 - r0)


def strips(win: Window, max_cells: int) -> Iterator[Window]:
    """Split a window into row strips of at most ``max_cells`` cells (at least one row)."""
    from rasterio.windows import Window

    rows = max(1, max_cells // max(1, int(win.width)))
    r, end = int(win.row_off), int(win.row_off + win.height)
    while r < end:
        h = min(rows, end - r)
        yield Window(int(win.col_off), r, int(win.width), h)
        r += h


def valid_cells(arr: np.ma.MaskedArray) -> tuple[np.ndarray, np.ndarray]:
    """Return (values as float64 with invalid set to 0, validity mask)."""
    data = np.asarray(np.ma.getdata(arr), dtype="float64")
    ok = ~np.ma.getmaskarray(arr) & np.isfinite(data)
    return np.where(ok, data, 0.0), ok



# ---------------------------------------------------------------------------------------------
# opening and checking rasters
# ---------------------------------------------------------------------------------------------


def open_raster(path: str | os.PathLike[str], what: str) -> Any:
    import rasterio
    from rasterio.errors import RasterioIOError

    p = Path(path)
    if not p.is_file():
        raise DataError(f"{what} not found", file=p)
    try:
        return rasterio.open(p)
    except RasterioIOError as exc:
        raise DataError(f"{what} cannot be read as a raster: {exc}", file=p) from exc


def check_grid(src: Any, path: object, band: int) -> None:
    if src.crs is None:
        raise DataError(
            "raster has no coordinate reference system; set one (e.g. "
            "`gdal_edit.py -a_srs EPSG:27700 FILE`) so polygons can be matched to its cells",
            file=path,
        )
    t = src.transform
    if t.b != 0 or t.d != 0:
        raise DataError(
            "raster grid is rotated or sheared; warp it to a north-up grid first", file=path
        )
    if not 1 <= band <= src.count:
        raise DataError(f"band {band} requested but the raster has {src.count} band(s)", file=path)


def same_grid(a: Any, b: Any) -> bool:
    return (
        a.crs == b.crs
        and a.width == b.width
        and a.height == b.height
        and a.transform.almost_equals(b.transform)
    )
