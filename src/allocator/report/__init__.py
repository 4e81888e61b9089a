"""Run outputs: tables (CSV, Excel, GeoPackage), the map, static figures and the summary."""
