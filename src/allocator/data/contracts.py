"""Data contracts checked on every load.

Each check raises a :class:`~allocator.errors.DataError` that names the file, the column and the
codes at fault (with LA names where known), so a user can find the row to fix:

* codes are unique and well-formed ONS GSS codes of English upper-tier LAs;
* every boundary is joined to every required indicator, and no indicator carries a code the
  boundaries do not know;
* values are finite (and non-negative where the quantity cannot be negative);
* the boundary CRS is the one the catalogue says;
* geometries are valid, or repaired with :func:`shapely.make_valid` and reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ..errors import DataError
from . import schema

UTLA_CODE = re.compile(r"^E(06|08|09|10)\d{6}$")


def _label(codes: Iterable[str], names: Mapping[str, str] | None) -> list[str]:
    names = names or {}
    return [f"{c} {names[c]}" if c in names else str(c) for c in codes]


def check_codes(
    codes: pd.Series, *, file: Path | str, column: str = "code", pattern: re.Pattern[str] = UTLA_CODE
) -> None:
    """Codes are present, well-formed and unique."""
    s = codes.astype("string")
    bad = s[s.isna() | ~s.fillna("").str.match(pattern)]
    if len(bad):
        raise DataError(
            f"malformed area codes (expected {pattern.pattern})",
            file=file,
            column=column,
            codes=[repr(v) for v in bad.fillna("<missing>")],
        )
    dup = s[s.duplicated(keep=False)]
    if len(dup):
        raise DataError("duplicate area codes", file=file, column=column, codes=sorted(set(dup)))


def check_joined(
    have: Iterable[str],
    boundaries: Mapping[str, str],
    *,
    file: Path | str,
    column: str,
    indicator: str,
) -> None:
    """Every boundary code has a value in ``have``; ``have`` has no code outside the boundaries.

    Parameters
    ----------
    have : iterable of str
        Codes the indicator table provides (after any vintage crosswalk).
    boundaries : mapping
        ``{code: name}`` of the boundary file.
    """
    have = set(have)
    missing = sorted(set(boundaries) - have)
    if missing:
        raise DataError(
            f"{indicator}: {len(missing)} LA(s) of the boundary file have no value (not joined)",
            file=file,
            column=column,
            codes=_label(missing, boundaries),
        )
    unknown = sorted(have - set(boundaries))
    if unknown:
        raise DataError(
            f"{indicator}: codes not among the {len(boundaries)} LAs of the May 2021 boundaries "
            "(unknown or a different vintage)",
            file=file,
            column=column,
            codes=unknown,
        )


def check_values(
    df: pd.DataFrame,
    columns: Iterable[str],
    *,
    file: Path | str,
    nonnegative: bool = True,
    names: Mapping[str, str] | None = None,
) -> None:
    """Values in ``columns`` are finite numbers (and >= 0 when ``nonnegative``)."""
    for col in columns:
        v = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(v)
        if bad.any():
            raise DataError(
                "missing or non-finite values",
                file=file,
                column=col,
                codes=_label(df.loc[bad, "code"], names),
            )
        if nonnegative and (v < 0).any():
            neg = v < 0
            raise DataError(
                "negative values where the quantity cannot be negative",
                file=file,
                column=col,
                codes=_label(df.loc[neg, "code"], names),
            )


def check_crs(gdf: gpd.GeoDataFrame, expected: str, *, file: Path | str) -> None:
    """The frame's CRS equals ``expected`` (CRS84 and EPSG:4326 count as the same lon/lat)."""
    if gdf.crs is None:
        raise DataError(f"declares no CRS; expected {expected}", file=file, column="geometry")
    want = CRS.from_user_input(expected)
    got = CRS.from_user_input(gdf.crs)
    lonlat = {CRS.from_epsg(4326), CRS.from_user_input("OGC:CRS84")}
    same = got == want or (got in lonlat and want in lonlat)
    if not same:
        raise DataError(
            f"CRS is {got.to_string()}, expected {expected}", file=file, column="geometry"
        )
    if got in lonlat and len(gdf):
        # GeoJSON without a "crs" member defaults to lon/lat; coordinates in metres (e.g. British
        # National Grid) would pass that default silently, so check they look like England's.
        minx, miny, maxx, maxy = gdf.total_bounds
        if not (minx >= -9.0 and maxx <= 3.0 and miny >= 49.0 and maxy <= 57.0):
            raise DataError(
                f"coordinates span x {minx:.4g}..{maxx:.4g}, y {miny:.4g}..{maxy:.4g}, which is "
                "not longitude/latitude in England (lon -9..3, lat 49..57); the file's CRS is "
                "missing or wrong (metres in British National Grid need an EPSG:27700 CRS)",
                file=file,
                column="geometry",
            )


def repair_geometries(
    gdf: gpd.GeoDataFrame, *, file: Path | str
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Repair invalid geometries with :func:`shapely.make_valid`; report what was repaired.

    Returns
    -------
    (GeoDataFrame, list of str)
        The frame with valid (multi)polygons, and the codes repaired (empty when none).

    Raises
    ------
    DataError
        If a geometry is missing or empty, or cannot be repaired to a polygonal shape.
    """
    geoms = gdf.geometry
    empty = geoms.isna() | geoms.is_empty
    if empty.any():
        raise DataError("missing or empty geometry", file=file, column="geometry",
                        codes=gdf.loc[empty, "code"])
    kind = geoms.geom_type
    not_area = ~kind.isin(["Polygon", "MultiPolygon"])
    if not_area.any():
        raise DataError(
            "geometry is not a polygon (an LA boundary must enclose an area)",
            file=file,
            column="geometry",
            codes=[f"{c} ({t})" for c, t in zip(gdf.loc[not_area, "code"], kind[not_area], strict=True)],
        )
    invalid = ~geoms.is_valid
    if not invalid.any():
        return gdf, []
    fixed = shapely.make_valid(geoms[invalid].to_numpy())
    # keep only the polygonal parts (make_valid can return collections with slivers as lines)
    fixed = np.array([_polygonal(g) for g in fixed], dtype=object)
    bad = np.array([g is None or g.is_empty or not g.is_valid for g in fixed])
    codes = list(gdf.loc[invalid, "code"])
    if bad.any():
        raise DataError("invalid geometry could not be repaired", file=file, column="geometry",
                        codes=[c for c, b in zip(codes, bad, strict=True) if b])
    out = gdf.copy()
    out.loc[invalid, "geometry"] = gpd.GeoSeries(fixed, index=gdf.index[invalid], crs=gdf.crs)
    return out, codes


def _polygonal(g: shapely.Geometry) -> shapely.Geometry | None:
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    if g.geom_type == "GeometryCollection":
        parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
        if parts:
            return shapely.union_all(parts)
    return None


def check_frame(frame: gpd.GeoDataFrame, *, with_ocu: bool) -> None:
    """The assembled table meets :mod:`allocator.data.schema` (columns, order, CRS, codes)."""
    where = "areas table"
    cols = schema.REQUIRED_COLUMNS + (schema.OCU_COLUMNS if with_ocu else []) + ["geometry"]
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise DataError("assembled table lacks columns", file=where, codes=missing)
    if not with_ocu and any(c in frame.columns for c in schema.OCU_COLUMNS):
        raise DataError("OCU columns present although no OCU file was supplied", file=where)
    check_codes(frame["code"], file=where)
    if not frame["code"].is_monotonic_increasing:
        raise DataError("rows are not sorted by code", file=where, column="code")
    check_crs(frame, schema.ANALYSIS_CRS, file=where)
    names = dict(zip(frame["code"], frame["name"], strict=True))
    check_values(frame, ["pop_all", "pop_15_64", "drug_deaths_rate", "drug_deaths_lcl",
                         "drug_deaths_ucl", "drug_deaths_count", "imd_score", "imd_rank",
                         "income_score", "employment_score"],
                 file=where, names=names)
    check_values(frame, ["crime_score"], file=where, nonnegative=False, names=names)
    lo, hi = frame["drug_deaths_lcl"], frame["drug_deaths_ucl"]
    r = frame["drug_deaths_rate"]
    bad = (lo > r + 1e-9) | (hi < r - 1e-9)
    if bad.any():
        raise DataError("death rate outside its own 95% interval", file=where,
                        column="drug_deaths_rate", codes=_label(frame.loc[bad, "code"], names))
    if with_ocu:
        check_values(frame, ["ocu_rate", "ocu_count"], file=where, names=names)
