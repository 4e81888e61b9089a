"""Raster indicators in a run config (``data.rasters``): :class:`RasterIndicatorConfig` and
:func:`add_raster_indicators`, which adds one zonal-statistic column per item to the areas table.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
from pydantic import Field, field_validator, model_validator

from .._model import Sourced
from ..errors import ConfigError
from .zonal import MAX_CELLS, Reproject, Stat, zonal_stats

__all__ = ["RasterIndicatorConfig", "add_raster_indicators", "file_sha256",
           "raster_indicator_entries"]


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
    from ..provenance import sha256_file

    return sha256_file(path, chunk)


def _resolve(path: Path, base_dir: str | os.PathLike[str] | None) -> Path:
    from ..safe_files import MAX_RASTER_BYTES, resolve_input

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
