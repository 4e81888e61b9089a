"""Configuration of the data layer (the ``data:`` section of a run config).

Every choice the data layer makes that changes a number is named here, so a run's manifest
records it: the boundary vintage, the drug-deaths period, what to do with suppressed death rates,
which crime indicator to use and what to do where it is missing, and an optional OCU file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import field_validator

from .._model import Sourced
from ..raster import RasterIndicatorConfig

#: Treatments for a death rate ONS suppressed (":" where fewer than 10 deaths in the period).
SuppressedDeaths = Literal["crude_from_counts", "nearest_published", "error"]
#: Crime indicators the loader can build.
CrimeIndicator = Literal["imd_crime", "crime_severity"]
#: What to do where the crime-severity file has no value for an LA.
CrimeMissing = Literal["region_median", "error"]

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


class DataConfig(Sourced):
    """Which source files and which documented treatments build the areas table.

    Parameters
    ----------
    boundaries : {"ons-ctyua-2021-buc"}
        Boundary set (catalogue key family). Only the May 2021 ONS Counties and Unitary
        Authorities (ultra-generalised) set is supported: the grant is paid to the 152 LAs of
        that structure.
    deaths_period : str
        Three-year registration period of ONS Table 6, e.g. ``"2018-20"``. Checked against the
        periods present in the file when the data is loaded.
    suppressed_deaths : {"crude_from_counts", "nearest_published", "error"}
        Treatment of rates ONS suppressed (fewer than 10 deaths). See
        :mod:`allocator.data.deaths`. Every treated value is flagged in ``drug_deaths_flag``.
    crime : {"imd_crime", "crime_severity"}
        ``imd_crime``: IMD 2019 Crime domain average score (default). ``crime_severity``: ONS
        Crime Severity Score 2022/23, aggregated from districts to 2021 UTLAs.
    crime_missing : {"region_median", "error"}
        For ``crime_severity`` only: fill LAs the file does not cover with the median of the
        covered LAs in the same region (flagged), or raise a :class:`~allocator.errors.DataError`
        listing them.
    ocu_file : path or "auto", optional
        CSV of opiate and crack cocaine use prevalence (schema in :mod:`allocator.data.ocu`).
        Relative paths are taken relative to the data directory (and may not leave it with
        ``..``); a path given must be an ordinary file, not under ``/proc``, ``/sys`` or
        ``/dev`` (see :mod:`allocator.safe_files`).
        ``"auto"``: the file ``allocator data fetch --ocu`` writes
        (``ohid_fingertips/ocu_prevalence_utla2021.csv`` in the data directory) when it is
        there. When absent the table has no ``ocu_*`` columns and the notes say so.
    cache : bool
        Reuse a table built earlier from byte-identical inputs and the same config
        (``geodata/cache/``: GeoParquet and JSON, never pickle; see :mod:`allocator.data.cache`).
        A cached load returns exactly what a cold build returns; the run's manifest records
        the table's digest, so a run from an edited cache does not replay. ``--no-cache``
        ignores it for one run.
    rasters : list of RasterIndicatorConfig
        Extra indicators computed from GeoTIFFs by exact zonal statistics
        (:mod:`allocator.raster`); each adds a column named after it, usable in ``index``.
    verify_hashes : bool
        Check each source file's SHA-256 against ``geodata/catalogue.yaml``; a mismatch is a
        :class:`~allocator.errors.DataError`. Turn off only to try a newer release of a file.
    """

    boundaries: Literal["ons-ctyua-2021-buc"] = "ons-ctyua-2021-buc"
    deaths_period: str = "2018-20"
    suppressed_deaths: SuppressedDeaths = "crude_from_counts"
    crime: CrimeIndicator = "imd_crime"
    crime_missing: CrimeMissing = "region_median"
    ocu_file: Literal["auto"] | Path | None = None
    cache: bool = True
    verify_hashes: bool = True
    rasters: list[RasterIndicatorConfig] = []

    @field_validator("deaths_period")
    @classmethod
    def _period_shape(cls, v: str) -> str:
        m = _PERIOD.match(v)
        if not m:
            raise ValueError(f"deaths_period must look like '2018-20', got {v!r}")
        start = int(m.group(1))
        if (start + 2) % 100 != int(m.group(2)):
            raise ValueError(f"deaths_period {v!r} is not a three-year period (e.g. '2018-20')")
        return v

    def period_years(self) -> list[int]:
        """Return the calendar years of ``deaths_period``, e.g. ``[2018, 2019, 2020]``."""
        start = int(self.deaths_period[:4])
        return [start, start + 1, start + 2]
