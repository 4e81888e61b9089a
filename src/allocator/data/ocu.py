"""User-supplied opiate and crack cocaine use (OCU) prevalence.

No LA-level OCU table ships with the data. A user who has one (OHID / Liverpool John Moores
University estimates, e.g. from Fingertips, see :func:`allocator.data.fetch.fetch_ocu`) passes
it as ``data.ocu_file``: a UTF-8 CSV with one row per May 2021 upper-tier LA and the columns

==========================  ===================================================================
column                      meaning
==========================  ===================================================================
code                        ONS GSS code of the LA (E06/E08/E09/E10, May 2021 boundaries)
rate_per_1000_15_64         estimated OCU users per 1,000 residents aged 15-64 (>= 0)
count                       estimated number of OCU users (>= 0)
year                        year or period of the estimate, e.g. ``2016-17``
source                      where the row comes from (publisher, table)
flag                        optional: "" or how the value was derived (apportionment; see
                            :mod:`allocator.data.ocu_map`); becomes ``ocu_flag``
==========================  ===================================================================

``allocator data fetch --ocu`` writes such a file from OHID Fingertips
(:mod:`allocator.data.fingertips`) at ``ohid_fingertips/ocu_prevalence_utla2021.csv`` under the
data directory; ``data.ocu_file: auto`` (the default config) reads it when it is there.

It is validated like every input: codes well-formed, unique and exactly the boundary LAs (codes
missing or unknown are listed with names), rates and counts finite and non-negative. Without a
file the table has no ``ocu_*`` columns and :attr:`AreaData.notes` says so; nothing is imputed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import DataError
from .contracts import check_codes, check_joined, check_values
from .readers import clean_text, require_columns, to_number

OCU_SCHEMA = ["code", "rate_per_1000_15_64", "count", "year", "source"]
#: Where ``allocator data fetch --ocu`` writes, relative to the data directory.
DEFAULT_OCU_FILE = "ohid_fingertips/ocu_prevalence_utla2021.csv"
NOT_SUPPLIED = (
    "Built without OCU prevalence: not supplied (no LA-level OCU table is in the data directory; "
    "run 'allocator data fetch --ocu' on a connected machine or pass data.ocu_file to include it)."
)


def read_ocu(path: Path, boundaries: dict[str, str]) -> pd.DataFrame:
    """Read and validate a user OCU file.

    Parameters
    ----------
    path : pathlib.Path
        The CSV.
    boundaries : dict
        ``{code: name}`` of the LAs it must cover.

    Returns
    -------
    pandas.DataFrame
        ``code``, ``ocu_rate``, ``ocu_count``, ``ocu_flag`` (``""``: values as supplied, else
        the file's ``flag``), ``year``, ``source``.
    """
    from ..safe_files import read_rows

    if not path.is_file():
        raise DataError("OCU file given by data.ocu_file does not exist. " + _schema_hint(),
                        file=path)
    header, rows = read_rows(path, "data.ocu_file")
    df = pd.DataFrame(rows, columns=header, dtype=str)
    try:
        require_columns(df, OCU_SCHEMA, path)
    except DataError as exc:
        raise DataError(f"{exc.args[0]}. {_schema_hint()}") from exc
    codes = clean_text(df["code"])
    check_codes(codes, file=path, column="code")
    check_joined(codes, boundaries, file=path, column="code", indicator="OCU prevalence")
    out = pd.DataFrame({"code": codes})
    out["ocu_rate"] = to_number(df["rate_per_1000_15_64"], file=path,
                                column="rate_per_1000_15_64", ids=codes)
    out["ocu_count"] = to_number(df["count"], file=path, column="count", ids=codes)
    check_values(out, ["ocu_rate", "ocu_count"], file=path, names=boundaries)
    out["year"] = clean_text(df["year"])
    out["source"] = clean_text(df["source"])
    out["ocu_flag"] = clean_text(df["flag"]).fillna("") if "flag" in df.columns else ""
    return out


def _schema_hint() -> str:
    return ("Expected a CSV with columns " + ", ".join(OCU_SCHEMA)
            + " (one row per May 2021 upper-tier LA; see allocator.data.ocu).")
