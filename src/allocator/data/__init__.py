"""Data layer: official files -> one harmonised, contract-checked table of the 152 LAs.

Public API
----------
load_areas(config, data_dir) -> AreaData
check_data(data_dir, config) -> CoverageReport
DataConfig, AreaData, CoverageReport
fetch.fetch_sources(dest, opener=...)
"""

from __future__ import annotations

from .areas import AreaData, load_areas
from .check import CoverageReport, check_data
from .config import DataConfig

__all__ = ["AreaData", "CoverageReport", "DataConfig", "check_data", "load_areas"]
