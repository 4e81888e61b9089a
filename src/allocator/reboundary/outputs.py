"""The map and static maps of a re-boundaried version, on the new boundaries.

The interactive map (:func:`allocator.report.map.write_map`) and its static twins
(:func:`allocator.report.static.write_static_maps`) are drawn for the years from ``from_year``
on the later upper-tier LAs: boundaries from ONS's multi-year TopoJSON (the features in force in
April of the vintage, :func:`allocator.data.readers.read_topojson_utla`) and the House of
Commons Library hex cartogram's layer of that year. Each new LA shows its carried pounds, its
mid-2020 population and pounds per head; its need score, rank, chance of wave 1 and wave are
those of the LA it came from (the need index is not re-run on new boundaries, and the map says
so); there is no need-based target on the new boundaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..columns import PER_HEAD, POPULATION, TOTAL, money_column, total_column
from ..data import catalogue, contracts, readers
from ..data.vintage import BoundaryChanges
from ..errors import DataError
from .amend import APPORTIONMENT_NOTE

#: Need-index columns a new LA inherits from the LA it came from (the largest piece).
INHERITED = ["score", "rank", "rank_p05", "rank_p95", "p_wave_1", "borderline", "wave_label"]

#: Catalogue keys of the later boundaries and hex cartogram, by vintage.
GEOMETRY_KEYS = {2023: ("topojson_2014_2025", "hex_cartogram_utla_2023")}


def boundary_words(vintage: int) -> str:
    """``"boundaries: ONS, April 2023"`` (what every output on the new boundaries says)."""
    return f"boundaries: ONS, April {vintage}"


def map_frame(carried: pd.DataFrame, changes: BoundaryChanges, areas_new: pd.DataFrame,
              index_old: pd.DataFrame, geometry: gpd.GeoDataFrame, streams: Sequence[str],
              years: Sequence[str]) -> gpd.GeoDataFrame:
    """One row per new LA with what the map shows (see the module docstring).

    Parameters
    ----------
    carried : pandas.DataFrame
        ``code`` and the money columns of ``years`` on the new boundaries.
    changes : BoundaryChanges
    areas_new : pandas.DataFrame
        ``code``, ``region``, ``wave``, ``pop_all`` on the new boundaries.
    index_old : pandas.DataFrame
        The run's ``index.csv`` (``code`` and :data:`INHERITED`).
    geometry : geopandas.GeoDataFrame
        ``code``, ``geometry`` of the new LAs.
    streams, years : sequence of str
        Streams and the years on the new boundaries.

    Raises
    ------
    DataError
        A new LA has no boundary in ``geometry``.
    """
    idx = index_old.set_index(index_old["code"].astype(str))
    biggest = (changes.pieces.sort_values(["new", "weight", "old"], ascending=[True, False, True])
               .drop_duplicates("new").set_index("new")["old"])
    frame = carried.drop(columns=["name"], errors="ignore").merge(
        areas_new[["code", "name", "region", "wave", POPULATION]], on="code",
                          validate="1:1")
    for c in INHERITED:
        if c in idx.columns:
            frame[c] = [idx.at[biggest[code], c] for code in frame["code"]]
    frame["borderline"] = frame["borderline"].fillna(False).astype(bool)
    for y in years:
        frame[total_column(y)] = frame[[money_column(s, y) for s in streams]].sum(axis=1)
    frame[TOTAL] = frame[[total_column(y) for y in years]].sum(axis=1)
    frame[PER_HEAD] = np.round(frame[TOTAL] / frame[POPULATION], 2)
    frame["target_total"] = np.nan
    geo = geometry.set_index("code")
    missing = sorted(set(frame["code"]) - set(geo.index))
    if missing:
        raise DataError(f"no April {changes.vintage} boundary for these LAs", column="areacd",
                        codes=missing)
    out = gpd.GeoDataFrame(frame, geometry=geo.geometry.reindex(frame["code"]).to_numpy(),
                           crs=geometry.crs)
    return out.sort_values("code", kind="stable").reset_index(drop=True)


def write_maps(frame: gpd.GeoDataFrame, out_dir: Path, *, data_dir: Path, vintage: int,
               config_name: str, config_hash: str, streams: Sequence[str],
               years: Sequence[str], sources: Sequence[str], notes: Sequence[str]) -> None:
    """``map.html`` and the static maps (hex versions too) of ``frame``, in ``out_dir``."""
    from ..report.caveats import licence
    from ..report.map import MapMeta, write_map
    from ..report.static import write_static_maps

    _, hex_key = GEOMETRY_KEYS[vintage]
    hex_path = data_dir / catalogue.source(hex_key).path
    period = years[0] if len(years) == 1 else f"{years[0]} to {years[-1]}"
    meta = MapMeta(
        config_name=config_name, config_hash=config_hash, streams=list(streams),
        years=list(years), sources=list(sources), attribution=licence(vintage),
        boundary_year=vintage,
        notes=[APPORTIONMENT_NOTE, *notes],
        title=f"Drug treatment grant {period} on April {vintage} boundaries ({len(frame)} LAs)",
        source_line=f"{boundary_words(vintage)}; mid-2020 population (ONS); pounds carried "
                    "from the published allocation.",
    )
    write_map(frame, meta, out_dir / "map.html")
    write_static_maps(frame, meta, out_dir, hex_path=hex_path if hex_path.is_file() else None)


def load_geometry(data_dir: Path, vintage: int, *, verify_hashes: bool = True
                  ) -> tuple[gpd.GeoDataFrame, list[dict[str, str]]]:
    """The later boundaries (TopoJSON features in force in ``vintage``) and their records."""
    topo_key, hex_key = GEOMETRY_KEYS[vintage]
    records = [catalogue.verify(topo_key, data_dir, strict=verify_hashes)]
    path = data_dir / catalogue.source(topo_key).path
    geo, _ = contracts.repair_geometries(readers.read_topojson_utla(path, vintage), file=path)
    hex_path = data_dir / catalogue.source(hex_key).path
    if hex_path.is_file():
        records.append(catalogue.verify(hex_key, data_dir, strict=verify_hashes))
    return geo, records


def write_workbook(frame: pd.DataFrame, path: Path, header: Sequence[str],
                   streams: Sequence[str], years: Sequence[str], vintage: int) -> Path:
    """``allocation_new_boundaries.xlsx``: a Cover sheet (``header``: the version's run,
    sources, caveats, licence) and the new LAs' allocation for ``years``, with an England row."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from ..report.tables import save_workbook
    from ..report.workbook import POUNDS, Col, _money_cols, _put, _table_sheet

    wb = Workbook()
    ws = wb.active
    ws.title = "Cover"
    period = years[0] if len(years) == 1 else f"{years[0]} to {years[-1]}"
    title = f"Allocation {period} on April {vintage} boundaries ({len(frame)} upper-tier LAs)"
    for i, text in enumerate([title, f"{boundary_words(vintage)}.", APPORTIONMENT_NOTE, "",
                              *header], start=1):
        cell = _put(ws, i, 1, text)
        if i == 1:
            cell.font = Font(bold=True, size=12)
    ws.column_dimensions["A"].width = 120
    cols = [Col("code", "ONS code"), Col("name", "Local authority"), Col("region", "Region"),
            Col("wave", "Wave (of the LA it came from)"), *_money_cols(streams, years, period),
            Col(POPULATION, "Population (mid-2020)", "#,##0"),
            Col(PER_HEAD, f"£ per head {period}", "£#,##0.00")]
    money = [c.key for c in cols if c.fmt == POUNDS]
    _table_sheet(wb, f"Allocation April {vintage}", pd.DataFrame(frame), cols, title=title,
                 totals={"name": "England", **{k: int(frame[k].sum()) for k in money}})
    return save_workbook(wb, path, title)
