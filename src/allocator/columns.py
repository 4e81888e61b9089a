"""One home for the names of the money columns of an allocation table, and their readable labels.

Machine names (CSV, GeoPackage, code): ``<stream>_<year key>`` for each stream and year (e.g.
``continuation_2022_23``), ``total_<year key>`` per year, ``total`` over everything, and
``per_head`` (pounds per resident of the whole population, over the whole period). Readable
labels (workbook, summary, figures): "2022-23 continuation (£)", "2022-23 total (£)".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

TOTAL = "total"
POPULATION = "pop_all"
#: Every ``<stream>_<yyyy>_<yy>`` money column of an allocation table (year totals included), as
#: a shell pattern (:func:`fnmatch.fnmatchcase`).
MONEY_PATTERN = "*_[0-9][0-9][0-9][0-9]_[0-9][0-9]"
PER_HEAD = "per_head"
#: The population every "per head" figure divides by, in words.
POPULATION_BASE = "all ages, ONS mid-2020 estimates"

#: ``ledger.csv`` of an amended version (:mod:`allocator.ledger`): one row per LA x stream x
#: year an amendment changed; ``published`` is the amended version's amount (its parent),
#: ``amendment`` the change in whole pounds and ``new_amount`` their sum.
LEDGER_COLUMNS = ("code", "name", "stream", "year", "published", "amendment", "new_amount",
                  "reason")
#: Readable headers of the same columns (workbook Ledger sheet, summary).
LEDGER_LABELS = {"code": "ONS code", "name": "Local authority", "stream": "Stream",
                 "year": "Year", "published": "Published (£)", "amendment": "Amendment (£)",
                 "new_amount": "New amount (£)", "reason": "Reason"}


def year_key(year: str) -> str:
    """Column form of a year label: ``"2022-23"`` -> ``"2022_23"``."""
    return str(year).replace("-", "_").replace("/", "_")


def year_label(key: str) -> str:
    """Year label of a column key: ``"2022_23"`` -> ``"2022-23"``."""
    return str(key).replace("_", "-")


def money_column(stream: str, year: str) -> str:
    """``<stream>_<year key>``, e.g. ``continuation_2022_23``."""
    return f"{stream}_{year_key(year)}"


def total_column(year: str) -> str:
    """``total_<year key>``, e.g. ``total_2022_23``."""
    return f"{TOTAL}_{year_key(year)}"


def money_columns(streams: Iterable[str], years: Sequence[str]) -> list[str]:
    """Every ``<stream>_<year>`` column, stream by stream, years in order."""
    return [money_column(s, y) for s in streams for y in years]


def total_columns(years: Sequence[str]) -> list[str]:
    """``total_<year>`` for each year, then ``total``."""
    return [total_column(y) for y in years] + [TOTAL]


def stream_label(stream: str) -> str:
    """Readable stream name: ``"place_based"`` -> ``"Place based"``."""
    s = str(stream).replace("_", " ").strip()
    return s[:1].upper() + s[1:]


def parse_money_column(column: str, streams: Iterable[str], years: Sequence[str]) -> tuple[str, str] | None:
    """``(stream, year)`` of a money column, ``("total", year)`` of a year total, else ``None``."""
    for y in years:
        for s in [*streams, TOTAL]:
            if column == f"{s}_{year_key(y)}":
                return s, y
    return None


def column_label(column: str, streams: Iterable[str], years: Sequence[str]) -> str:
    """Readable header of a money column: "2022-23 continuation (£)", "2022-23 total (£)",
    "Total (£)"; any other column is returned unchanged."""
    if column == TOTAL:
        return "Total (£)"
    hit = parse_money_column(column, streams, years)
    if hit is None:
        return column
    s, y = hit
    return f"{y} {'total' if s == TOTAL else stream_label(s).lower()} (£)"


def split_money_columns(columns: Iterable[str]) -> list[tuple[str, str, str]]:
    """``(column, stream, year label)`` of every ``<stream>_<yyyy>_<yy>`` column (year totals
    included, as stream ``total``), in the order given."""
    import re

    out = []
    for c in columns:
        m = re.fullmatch(r"(.+)_(\d{4})_(\d{2})", str(c))
        if m:
            out.append((str(c), m.group(1), f"{m.group(2)}-{m.group(3)}"))
    return out


#: ``pounds_uncertainty.csv`` (:mod:`allocator.pounds`), in order; ``p_below_<share>`` is named by
#: :func:`below_share_column`.
POUNDS_UNCERTAINTY_COLUMNS = [
    "code", "name", "region", "stream", "year", "published", "p05", "p50", "p95", "mean",
    "p_below", "pop_all", "width_per_head", "moved_most_by", "moved_most_st",
]


def share_percent(share: float) -> str:
    """``share`` as a percentage for people: 0.9 -> ``90%``, 0.0001 -> ``0.01%`` (never rounded to 0%)."""
    return f"{float(share) * 100:.4g}%"


def below_share_column(share: float) -> str:
    """``p_below_90pct``: share of draws below ``share`` x the published amount."""
    pct = share_percent(share)[:-1].replace(".", "_")
    return f"p_below_{pct}pct"
