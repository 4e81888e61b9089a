"""The pieces of an apportionment (see :mod:`allocator.apportion`): checked code columns and
polygons, the pieces of a lookup table, the source-target overlay with each piece's measure (area
or population) and the coverage of sources and targets, and each piece's share of its source.
"""

from __future__ import annotations

import os

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from .errors import DataError
from .raster import zonal_stats

#: Sources whose measure falls this close to zero are treated as empty.
EPS = 1e-12

__all__ = ["EPS", "area_codes", "lookup_weights", "overlay_weights", "piece_shares",
           "polygons"]


def area_codes(frame: pd.DataFrame, column: str, what: str) -> pd.Series:
    """The code column of ``frame`` as strings, checked: present, no blanks, no duplicates."""
    if column not in frame.columns:
        raise DataError(f"{what} table has no code column", column=column)
    codes = frame[column].astype(str)
    if codes.isna().any() or (codes == "").any():
        raise DataError(f"{what} table has blank codes", column=column)
    dupes = sorted(set(codes[codes.duplicated()]))
    if dupes:
        raise DataError(f"duplicate codes in the {what} table", column=column, codes=dupes)
    return codes


def polygons(frame: object, column: str, what: str, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    """``code`` and valid geometry of ``frame`` in ``crs`` (invalid shapes repaired)."""
    if not isinstance(frame, gpd.GeoDataFrame):
        raise DataError(f"the {what} must be a GeoDataFrame for this method")
    if frame.crs is None:
        raise DataError(f"the {what} polygons have no CRS")
    codes = area_codes(frame, column, what)
    empty = codes[(frame.geometry.isna() | frame.geometry.is_empty).to_numpy()]
    if len(empty):
        raise DataError(f"{what} areas with missing or empty geometry", codes=empty)
    g = gpd.GeoDataFrame({"code": codes.to_numpy()}, geometry=frame.geometry.to_numpy(),
                         crs=frame.crs).to_crs(crs)
    bad = ~g.geometry.is_valid
    if bad.any():
        g.loc[bad, "geometry"] = shapely.make_valid(
            g.geometry[bad].to_numpy(), method="structure", keep_collapsed=False
        )
    return g



def lookup_weights(
    lookup: pd.DataFrame,
    source: pd.DataFrame | None,
    target: pd.DataFrame | None,
    source_code: str,
    target_code: str,
    notes: list[str],
) -> tuple[pd.DataFrame, list[str], pd.Series, pd.Series]:
    """The pieces of a ``source, target[, weight]`` lookup, checked against the source and target
    tables when given.

    Returns the weights table (``source, target, weight, share``), the target codes in output
    order and the coverage of each source (1) and target (NaN); appends to ``notes``.
    """
    for col in ("source", "target"):
        if col not in lookup.columns:
            raise DataError("lookup table has no column", column=col)
    w = pd.DataFrame({"source": lookup["source"].astype(str),
                      "target": lookup["target"].astype(str)})
    pair = w["source"] + " -> " + w["target"]
    if pair.duplicated().any():
        raise DataError("duplicate source-target rows in the lookup",
                        codes=sorted(set(pair[pair.duplicated()])))
    if "weight" in lookup.columns:
        weight = pd.to_numeric(lookup["weight"], errors="coerce").astype("float64")
        bad = ~np.isfinite(weight.to_numpy()) | (weight.to_numpy() < 0)
        if bad.any():
            raise DataError("lookup weights must be finite and >= 0", column="weight",
                            codes=pair[bad])
        w["weight"] = weight.to_numpy()
    else:
        multi = w["source"][w["source"].duplicated()]
        if len(multi):
            raise DataError(
                "lookup maps a source to several targets but has no 'weight' column to split "
                "it by", column="source", codes=sorted(set(multi)),
            )
        w["weight"] = 1.0
        notes.append("Lookup without weights: each source goes wholly to one target; "
                     "intensive columns are unweighted means.")
    if source is not None:
        scodes = area_codes(source, source_code, "source")
        unknown = sorted(set(scodes) - set(w["source"]))
        if unknown:
            raise DataError("source codes missing from the lookup", column=source_code,
                            codes=unknown)
        w = w[w["source"].isin(set(scodes))]
    if target is not None:
        tcodes = area_codes(target, target_code, "target")
        unknown = sorted(set(w["target"]) - set(tcodes))
        if unknown:
            raise DataError("lookup targets missing from the target table",
                            column=target_code, codes=unknown)
        targets = tcodes.tolist()
    else:
        targets = sorted(set(w["target"]))
    return (piece_shares(w.reset_index(drop=True), None, notes), targets,
            pd.Series(1.0, index=sorted(set(w["source"])), name="coverage"),
            pd.Series(np.nan, index=targets, name="coverage"))


def overlay_weights(
    method: str,
    src: gpd.GeoDataFrame,
    tgt: gpd.GeoDataFrame,
    crs: pyproj.CRS,
    weights_raster: str | os.PathLike[str] | None,
    min_coverage: float,
    source_code: str,
    notes: list[str],
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Pieces of the source polygons ``src`` in the target polygons ``tgt`` (both from
    :func:`polygons`), measured by area or, for ``method="population"``, by the sum of
    ``weights_raster`` inside them.

    Returns the weights table (``source, target, weight, share``) and the coverage of each
    source and each target; appends statements about partial coverage to ``notes``.

    Raises
    ------
    DataError
        A source has less than ``min_coverage`` of its measure inside the targets.
    """
    pieces = gpd.overlay(
        src.rename(columns={"code": "source"}),
        tgt.rename(columns={"code": "target"}),
        how="intersection",
        keep_geom_type=True,
    )
    pieces = pieces[~pieces.geometry.is_empty].reset_index(drop=True)
    area = pieces.geometry.area.to_numpy(dtype="float64")
    if method == "area":
        weight = area
        s_total = pd.Series(src.geometry.area.to_numpy(), index=src["code"])
        t_total = pd.Series(tgt.geometry.area.to_numpy(), index=tgt["code"])
    else:
        ids = pieces["source"] + "|" + pieces["target"]
        zp = zonal_stats(gpd.GeoDataFrame({"code": ids}, geometry=pieces.geometry, crs=crs),
                         weights_raster, "sum")
        weight = zp["value"].fillna(0.0).to_numpy(dtype="float64")
        zs = zonal_stats(src, weights_raster, "sum")
        zt = zonal_stats(tgt, weights_raster, "sum")
        s_total = pd.Series(zs["value"].fillna(0.0).to_numpy(), index=zs["code"])
        t_total = pd.Series(zt["value"].fillna(0.0).to_numpy(), index=zt["code"])
        for what, z in (("source", zs), ("target", zt)):
            part = z[z["coverage"] < 1 - 1e-6]
            if len(part):
                notes.append(
                    f"Population raster covers only part of {len(part)} {what} area(s) "
                    f"(population there not counted): {', '.join(part['code'])}."
                )
    w = pd.DataFrame({"source": pieces["source"], "target": pieces["target"],
                      "weight": weight})
    in_t = w.groupby("source")["weight"].sum().reindex(s_total.index, fill_value=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = (in_t / s_total).where(s_total > EPS, np.nan)
    # A source with no population anywhere (or no area) falls back on area for coverage.
    area_in = pd.Series(area, index=pieces.index).groupby(pieces["source"]).sum()
    area_cov = (area_in / src.set_index("code").geometry.area).reindex(s_total.index)
    cov = cov.fillna(area_cov.fillna(0.0)).clip(upper=1.0)
    low = cov[cov < min_coverage]
    if min_coverage > 0 and len(low):
        raise DataError(
            f"source areas with less than {min_coverage:.0%} of their "
            f"{'area' if method == 'area' else 'population'} inside the targets "
            "(their values cannot be apportioned without loss; restrict the source table or "
            "lower min_coverage)",
            column=source_code,
            codes=[f"{c} ({v:.1%})" for c, v in low.items()],
        )
    dropped = cov[cov <= EPS].index.tolist()
    if dropped:
        notes.append(
            f"{len(dropped)} source area(s) lie outside every target and were not "
            f"apportioned (their totals are not in the result): {', '.join(dropped)}."
        )
    partial = cov[(cov > EPS) & (cov < 1 - 1e-4)]
    if len(partial):
        notes.append(
            f"{len(partial)} source area(s) lie partly outside the targets; their whole value "
            "was split among the targets they overlap: "
            + ", ".join(f"{c} ({v:.2%})" for c, v in partial.items()) + "."
        )
    in_tt = w.groupby("target")["weight"].sum().reindex(t_total.index, fill_value=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tcov = (in_tt / t_total).where(t_total > EPS, np.nan).clip(upper=1.0)
    w = w[~w["source"].isin(dropped)].reset_index(drop=True)
    weights = piece_shares(w, pd.Series(area, index=pieces.index)[
        ~pieces["source"].isin(dropped)].to_numpy(), notes)
    return weights, cov.rename("coverage"), tcov.rename("coverage")


def piece_shares(w: pd.DataFrame, area: np.ndarray | None, notes: list[str]) -> pd.DataFrame:
    """Add ``share``: each piece's part of its source (area fall-back for empty sources, named
    in ``notes``; with ``area`` None, as for a lookup, an empty source is a DataError)."""
    tot = w.groupby("source")["weight"].transform("sum").to_numpy()
    share = np.divide(w["weight"].to_numpy(), tot, out=np.full(len(w), np.nan),
                      where=tot > EPS)
    empty = ~(tot > EPS)
    if empty.any():
        if area is None:
            raise DataError("lookup sources whose weights are all zero",
                            column="weight", codes=sorted(set(w.loc[empty, "source"])))
        atot = pd.Series(area).groupby(w["source"].to_numpy()).transform("sum").to_numpy()
        share[empty] = np.divide(area[empty], atot[empty], out=np.zeros(empty.sum()),
                                 where=atot[empty] > 0)
        names = sorted(set(w.loc[empty, "source"]))
        notes.append(
            f"{len(names)} source area(s) hold no population in the raster; their extensive "
            f"values were split by area: {', '.join(names)}."
        )
    out = w.copy()
    out["share"] = share
    return out
