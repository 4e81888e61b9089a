"""Run outputs: tables (CSV, Excel, GeoPackage), the map, static figures and the summary."""

from ._mplhome import use_private_cache_if_needed

use_private_cache_if_needed()  # before any module of this package imports matplotlib
