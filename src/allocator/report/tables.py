"""Tables a person reads: CSV, Excel and GeoPackage, written with deterministic bytes.

Text cells that a spreadsheet would evaluate as a formula (starting with ``=``, ``+``, ``-``, ``@``,
tab or carriage return) are neutralised: in CSV they get a leading apostrophe (the OWASP advice),
in Excel they are stored as plain strings with the quote-prefix style, so they show as text and
never run.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FIXED_DATETIME = dt.datetime(2000, 1, 1, 0, 0, 0)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def neutralise_text(value: object) -> object:
    """Prefix an apostrophe to a string a spreadsheet would evaluate as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


_CELL_START = re.compile(r"([,;]\s*)(?=[=+\-@])")


def provenance_line(text: object) -> str:
    """One ``#`` provenance line of a CSV that no spreadsheet can read as a formula.

    A spreadsheet splits the line into cells at commas (or semicolons, by locale), so text such
    as ``OHID,=cmd|' /C calc'!A0`` would put a formula in the second cell. Here whitespace
    (line breaks, tabs) collapses to single spaces, double quotes become single quotes (so no
    cell can be quoted to hide a separator), and every cell that would start with ``=``, ``+``,
    ``-`` or ``@`` gets a leading apostrophe. The line still starts with ``#``, so
    ``pandas.read_csv(path, comment="#")`` skips it.
    """
    s = " ".join(str(text).split()).replace('"', "'")
    return "# " + _CELL_START.sub(lambda m: m.group(1) + "'", s)


def _text_columns(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c].dtype)
    ]


def write_csv(frame: pd.DataFrame, path: Path, *, float_format: str = "%.12g") -> Path:
    """Write ``frame`` as UTF-8 CSV with ``\\n`` line ends, formula-neutralised text, no index."""
    out = frame.copy()
    for c in _text_columns(out):
        out[c] = out[c].map(neutralise_text)
    if "geometry" in out.columns:
        out = pd.DataFrame(out.drop(columns="geometry"))
    out.to_csv(path, index=False, lineterminator="\n", float_format=float_format, encoding="utf-8")
    return path


def _normalise_zip(path: Path) -> None:
    """Rewrite a zip (xlsx) with fixed timestamps and a fixed member order: same bytes every run."""
    with zipfile.ZipFile(path) as zin:
        members = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zout.writestr(info, data)
    path.write_bytes(buf.getvalue())


def save_workbook(wb, path: Path, title: str) -> Path:  # type: ignore[no-untyped-def]
    """Save an openpyxl workbook so the same content always gives the same bytes.

    The document properties and the zip members' dates are pinned (openpyxl stamps the save
    time), so a replay can compare the file byte for byte.
    """
    props = wb.properties
    props.title = title
    props.creator = "allocator"
    props.lastModifiedBy = "allocator"
    props.created = _FIXED_DATETIME
    props.modified = _FIXED_DATETIME
    wb.save(path)
    _pin_core_dates(path)
    _normalise_zip(path)
    return path


def _pin_core_dates(path: Path) -> None:
    """openpyxl stamps ``modified`` with the save time; pin it so the bytes are reproducible."""
    import re

    with zipfile.ZipFile(path) as zin:
        members = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    fixed = _FIXED_DATETIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = []
    for name, data in members:
        if name == "docProps/core.xml":
            data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", rb"\g<1>" + fixed + rb"\2", data)
        out.append((name, data))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for name, data in out:
            zout.writestr(zipfile.ZipInfo(name, date_time=_ZIP_DATE), data)


def write_gpkg(frame, path: Path, layer: str = "allocation") -> Path:  # type: ignore[no-untyped-def]
    """Write a GeoDataFrame as GeoPackage with GDAL's timestamps pinned (reproducible bytes)."""
    import pyogrio

    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2000-01-01T00:00:00.000Z"})
    try:
        frame.to_file(path, driver="GPKG", layer=layer, engine="pyogrio")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
    return path
