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
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pydantic import Field, field_validator, model_validator

from ._model import Sourced
from .errors import ConfigError, DataError

if TYPE_CHECKING:  # rasterio and scipy.ndimage are imported only where a raster is read
    from rasterio.windows import Window

Stat = Literal["sum", "mean", "weighted_mean"]
Reproject = Literal["polygons", "raster"]

STATS: tuple[str, ...] = ("sum", "mean", "weighted_mean")

#: Shares of an LA's area below this are treated as zero when flagging (floating-point noise).
AREA_TOL = 1e-9

#: Default largest number of cells read (and intersected) at once.
MAX_CELLS = 1 << 20

__all__ = [
    "RasterIndicatorConfig",
    "Stat",
    "add_raster_indicators",
    "cell_fractions",
    "file_sha256",
    "raster_indicator_entries",
    "zonal_stats",
]


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


def _row_areas(transform: Affine, row0: int, nrows: int, geographic: bool) -> np.ndarray:
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


def _la_window(bounds: tuple[float, float, float, float], src: Any) -> Window | None:
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


def _strips(win: Window, max_cells: int) -> Iterator[Window]:
    """Split a window into row strips of at most ``max_cells`` cells (at least one row)."""
    from rasterio.windows import Window

    rows = max(1, max_cells // max(1, int(win.width)))
    r, end = int(win.row_off), int(win.row_off + win.height)
    while r < end:
        h = min(rows, end - r)
        yield Window(int(win.col_off), r, int(win.width), h)
        r += h


def _valid(arr: np.ma.MaskedArray) -> tuple[np.ndarray, np.ndarray]:
    """Return (values as float64 with invalid set to 0, validity mask)."""
    data = np.asarray(np.ma.getdata(arr), dtype="float64")
    ok = ~np.ma.getmaskarray(arr) & np.isfinite(data)
    return np.where(ok, data, 0.0), ok


# ---------------------------------------------------------------------------------------------
# zonal statistics
# ---------------------------------------------------------------------------------------------


def _open(path: str | os.PathLike[str], what: str) -> Any:
    import rasterio
    from rasterio.errors import RasterioIOError

    p = Path(path)
    if not p.is_file():
        raise DataError(f"{what} not found", file=p)
    try:
        return rasterio.open(p)
    except RasterioIOError as exc:
        raise DataError(f"{what} cannot be read as a raster: {exc}", file=p) from exc


def _check_grid(src: Any, path: object, band: int) -> None:
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


def _same_grid(a: Any, b: Any) -> bool:
    return (
        a.crs == b.crs
        and a.width == b.width
        and a.height == b.height
        and a.transform.almost_equals(b.transform)
    )


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
        src = stack.enter_context(_open(raster_path, "raster"))
        _check_grid(src, raster_path, band)
        wsrc = None
        if weights_raster is not None:
            wsrc = stack.enter_context(_open(weights_raster, "weights raster"))
            _check_grid(wsrc, weights_raster, weights_band)
            if not _same_grid(src, wsrc):
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
            win = _la_window(geom.bounds, src)
            in_extent = valid_area = 0.0
            num = den = 0.0
            if win is not None:
                for strip in _strips(win, max_cells):
                    r0, c0 = int(strip.row_off), int(strip.col_off)
                    shape = (int(strip.height), int(strip.width))
                    frac = cell_fractions(geom, transform @ Affine.translation(c0, r0), shape)
                    if not frac.any():
                        continue
                    vals, ok = _valid(src.read(band, window=strip, masked=True))
                    if wsrc is not None:
                        wts, wok = _valid(wsrc.read(weights_band, window=strip, masked=True))
                        ok &= wok
                    in_extent += float(frac.sum()) * cell_area
                    fv = np.where(ok, frac, 0.0)
                    valid_area += float(fv.sum()) * cell_area
                    if stat == "sum":
                        num += float((vals * fv).sum())
                    elif stat == "mean":
                        fa = fv * _row_areas(transform, r0, shape[0], geographic)[:, np.newaxis]
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


# ---------------------------------------------------------------------------------------------
# config and the areas table
# ---------------------------------------------------------------------------------------------

_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


class RasterIndicatorConfig(Sourced):
    """One indicator computed from a GeoTIFF by zonal statistics (an item of ``data.rasters``).

    Parameters
    ----------
    name : str
        Column added to the areas table and the name the index refers to (lowercase
        identifier; must not clash with an existing column).
    path : path
        The user-supplied GeoTIFF. Relative paths are taken relative to ``base_dir`` given to
        :func:`add_raster_indicators` (the data directory).
    stat : {"sum", "mean", "weighted_mean"}
        Zonal statistic (see :mod:`allocator.raster`).
    weights_path : path, optional
        Weight raster (e.g. a population grid on the same cells) for ``weighted_mean``.
    band, weights_band : int
        1-based bands to read.
    reproject : {"polygons", "raster"}
        Which side is reprojected when CRSs differ (default: the polygons).
    min_coverage : float
        LAs whose share of area on valid cells is below this get a missing value (and a flag);
        the index's ``missing`` rule for the indicator then applies. LAs between this and 1 keep
        their value and are flagged and named in the notes.
    period : str, optional
        Period the surface describes, e.g. ``"2021"``.
    publisher, title, licence, url : str, optional
        Provenance repeated in the run's sources list.
    source, units, effective
        From :class:`~allocator._model.Sourced`; ``units`` is the indicator's unit in outputs.
    """

    name: str
    path: Path
    stat: Stat
    weights_path: Path | None = None
    band: int = Field(default=1, ge=1)
    weights_band: int = Field(default=1, ge=1)
    reproject: Reproject = "polygons"
    min_coverage: float = Field(default=0.9, ge=0.0, le=1.0)
    period: str | None = None
    publisher: str | None = None
    title: str | None = None
    licence: str | None = None
    url: str | None = None

    @field_validator("name")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not _IDENT.match(v) or v.endswith("_flag"):
            raise ValueError(
                f"raster indicator name must be a lowercase identifier (a-z, 0-9, _), not ending "
                f"in '_flag'; got {v!r}"
            )
        return v

    @model_validator(mode="after")
    def _consistent(self) -> RasterIndicatorConfig:
        if (self.stat == "weighted_mean") != (self.weights_path is not None):
            raise ValueError(
                f"raster indicator {self.name!r}: weights_path is required for stat "
                "'weighted_mean' and not allowed otherwise"
            )
        if self.stat == "sum" and self.reproject == "raster":
            raise ValueError(
                f"raster indicator {self.name!r}: stat 'sum' needs reproject 'polygons'"
            )
        return self


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks (rasters can be large)."""
    from .provenance import sha256_file

    return sha256_file(path, chunk)


def _resolve(path: Path, base_dir: str | os.PathLike[str] | None) -> Path:
    from .safe_files import MAX_RASTER_BYTES, resolve_input

    base = None if base_dir is None else Path(base_dir)
    return resolve_input(path, base, "data.rasters path", MAX_RASTER_BYTES)


def raster_indicator_entries(specs: Sequence[RasterIndicatorConfig]) -> dict[str, dict[str, str]]:
    """Entries to merge into :data:`allocator.data.schema.INDICATORS` for these specs."""
    return {
        s.name: {"column": s.name, "unit": s.units or f"zonal {s.stat} of {Path(s.path).name}"}
        for s in specs
    }


def add_raster_indicators(
    frame: gpd.GeoDataFrame,
    specs: Sequence[RasterIndicatorConfig],
    base_dir: str | os.PathLike[str] | None = None,
    *,
    max_cells: int = MAX_CELLS,
) -> tuple[gpd.GeoDataFrame, list[dict[str, str]], list[str]]:
    """Add one column per raster indicator (and its ``<name>_flag``) to the areas table.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        The areas table (``code``, ``geometry``, a CRS). Not modified.
    specs : sequence of RasterIndicatorConfig
        The ``data.rasters`` items.
    base_dir : path-like, optional
        Directory relative paths are resolved against (the data directory).
    max_cells : int
        Passed to :func:`zonal_stats`.

    Returns
    -------
    frame : geopandas.GeoDataFrame
        A copy with columns ``<name>`` (the statistic; NaN where coverage is below
        ``min_coverage``) and ``<name>_flag`` (``""`` or why the value is partial or missing).
    sources : list of dict
        One provenance record per file read (``key``, ``path``, ``sha256``, ``publisher``,
        ``title``, ``period``, ``licence``, ``url``), shaped like ``AreaData.sources``.
    notes : list of str
        Statements outputs must repeat: how each column was computed and which LAs were
        partly or not covered.

    Raises
    ------
    ConfigError
        Duplicate names or a name clashing with an existing column.
    DataError
        As :func:`zonal_stats`.
    """
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"data.rasters: duplicate raster indicator names: {', '.join(dupes)}")
    for s in specs:
        for col in (s.name, f"{s.name}_flag"):
            if col in frame.columns:
                raise ConfigError(
                    f"data.rasters: raster indicator {s.name!r} would overwrite the existing "
                    f"column {col!r}; choose another name"
                )
    out = frame.copy()
    sources: list[dict[str, str]] = []
    notes: list[str] = []
    for s in specs:
        path = _resolve(s.path, base_dir)
        wpath = None if s.weights_path is None else _resolve(s.weights_path, base_dir)
        z = zonal_stats(
            out, path, s.stat, weights_raster=wpath, band=s.band, reproject=s.reproject,
            weights_band=s.weights_band, max_cells=max_cells,
        ).set_index("code")
        codes = out["code"].astype(str)
        z = z.reindex(codes)
        low = z["coverage"] < s.min_coverage
        values = z["value"].where(~low)
        flags = z["flag"].copy()
        below = low & z["value"].notna()
        flags[below] = flags[below] + (
            f"; coverage below min_coverage {s.min_coverage:g}: value withheld"
        )
        out[s.name] = values.to_numpy(dtype="float64")
        out[f"{s.name}_flag"] = flags.to_numpy(dtype=object)
        for p, role in ((path, "raster"), (wpath, "weights")):
            if p is None:
                continue
            sources.append(
                {
                    "key": f"raster:{s.name}" + (":weights" if role == "weights" else ""),
                    "path": str(p),
                    "sha256": file_sha256(p),
                    "publisher": s.publisher or "user-supplied",
                    "title": s.title or p.name,
                    "period": s.period or "",
                    "licence": s.licence or "",
                    "url": s.url or "",
                }
            )
        how = f"zonal {s.stat} of {path.name} (band {s.band})"
        if wpath is not None:
            how += f" weighted by {wpath.name}"
        notes.append(
            f"Indicator '{s.name}' is the {how}, each cell weighted by the exact share of it "
            f"inside the LA boundary; nodata cells excluded."
        )
        missing = codes[values.isna().to_numpy()].tolist()
        partial = codes[(values.notna() & (z["coverage"] < 1 - 1e-6)).to_numpy()].tolist()
        if missing:
            notes.append(
                f"Indicator '{s.name}': no value for {len(missing)} LA(s) (raster coverage "
                f"below {s.min_coverage:g} or zero weight): {', '.join(missing)}."
            )
        if partial:
            notes.append(
                f"Indicator '{s.name}': {len(partial)} LA(s) only partly covered by the raster "
                f"(value from the covered part): {', '.join(partial)}."
            )
    return out, sources, notes
