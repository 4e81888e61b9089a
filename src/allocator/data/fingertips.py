"""OCU prevalence from OHID Fingertips: download, verify, map to May 2021 LAs, write.

Two public Fingertips indicators are read through the Fingertips API (the same endpoint
``fingertips_py.get_data_by_indicator_ids`` calls,
``/api/all_data/csv/by_indicator_id?indicator_ids=..&child_area_type_id=..&parent_area_type_id=15``):

* **91117** "Estimated prevalence of opiate and/or crack cocaine use": rate per 1,000 residents
  aged 15-64 (OHID / Liverpool John Moores University estimates). This gives the rate.
* **93517** "Adults with an opiate and/or crack cocaine problem not in treatment": its
  *denominator* is the estimated number of OCU users. This gives the count; where an LA has no
  93517 denominator for the same period the 91117 ``Count`` is used, and failing that the count is
  the rate x ONS mid-2020 population aged 15-64 (flagged).

Fingertips publishes upper-tier LAs under several area types, one per boundary vintage:
102 (pre April 2019), 202 (April 2019 - March 2020), 302 (April 2020 - March 2021), 402 (April 2021 -
March 2023, the grant's 152 LAs) and 502 (from April 2023). :func:`fetch_fingertips_ocu` tries
402 first and then the others in :data:`AREA_TYPE_ORDER`, keeping the first that has data, and
maps whatever vintage it got to the 152 LAs of May 2021 with :func:`allocator.data.ocu_map.map_to_2021`
(combined areas and boundary changes apportioned by a documented, flagged rule).

The result is written in the schema of :mod:`allocator.data.ocu` (plus a ``flag`` column) at
:data:`DEFAULT_OCU_FILE` under the data directory, which configs with ``data.ocu_file: auto`` read.
The raw answers and a provenance record (URLs, SHA-256, indicator names, periods, area type,
value notes) are written beside it. Nothing here touches the network unless the default
opener is used; tests pass recorded answers.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError
from .ocu import DEFAULT_OCU_FILE
from .ocu_map import Published, map_to_2021

Opener = Callable[[str], bytes]

API_BASE = "https://fingertips.phe.org.uk/api/"
DATA_URL = (API_BASE + "all_data/csv/by_indicator_id?indicator_ids={indicator}"
            "&child_area_type_id={area_type}&parent_area_type_id=15")
PREVALENCE_INDICATOR = 91117
NOT_IN_TREATMENT_INDICATOR = 93517
#: Fingertips area types of upper-tier LAs, by boundary vintage.
AREA_TYPES: dict[int, str] = {
    402: "Upper tier local authorities (4/21-3/23)",
    502: "Upper tier local authorities (post 4/23)",
    302: "Upper tier local authorities (4/20-3/21)",
    202: "Upper tier local authorities (4/19-3/20)",
    102: "Upper tier local authorities (pre 4/19)",
}
AREA_TYPE_ORDER = (402, 502, 302, 202, 102)
REQUIRED_COLUMNS = ["Indicator ID", "Indicator Name", "Area Code", "Area Name", "Area Type", "Sex",
                    "Age", "Time period", "Value", "Count", "Denominator", "Value note"]
UTLA_PREFIXES = ("E06", "E08", "E09", "E10")


@dataclass
class IndicatorDownload:
    """One indicator's upper-tier rows for one period, as verified from a Fingertips answer."""

    indicator_id: int
    indicator_name: str
    area_type_id: int
    area_types: list[str]
    period: str
    periods: list[str]
    age: str
    url: str
    sha256: str
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    value_notes: dict[str, int] = field(default_factory=dict)


def data_url(indicator_id: int, area_type_id: int) -> str:
    """Fingertips API address of one indicator's data for one area type (CSV)."""
    return DATA_URL.format(indicator=int(indicator_id), area_type=int(area_type_id))


def _number(text: str, *, url: str, column: str, code: str) -> float | None:
    t = (text or "").strip()
    if t == "":
        return None
    try:
        x = float(t)
    except ValueError:
        raise DataError(f"value {t!r} is not a number", file=url, column=column,
                        codes=[code]) from None
    if not math.isfinite(x) or x < 0:
        raise DataError(f"value {t!r} is negative or not finite", file=url, column=column,
                        codes=[code])
    return x


def parse_download(body: bytes, *, indicator_id: int, area_type_id: int, url: str,
                   period: str | None = None) -> IndicatorDownload | None:
    """Verify a Fingertips CSV answer and keep its upper-tier LA rows for one period.

    Parameters
    ----------
    body : bytes
        The answer (UTF-8 CSV, possibly with a byte-order mark).
    indicator_id, area_type_id : int
        What was asked for; rows of another indicator are an error.
    url : str
        Where it came from (for messages and provenance).
    period : str, optional
        ``Time period`` to keep (default: the latest with LA values).

    Returns
    -------
    IndicatorDownload or None
        None when the answer holds no upper-tier LA rows (the area type has no data).

    Raises
    ------
    DataError
        Columns missing, another indicator, a period not available, a duplicated area, a value
        that is not a non-negative number.
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"Fingertips answer is not UTF-8 text: {exc}", file=url) from exc
    reader = csv.DictReader(io.StringIO(text))
    cols = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in cols]
    if missing:
        raise DataError("Fingertips answer lacks columns (is it the all_data CSV?)", file=url,
                        column=missing[0], codes=missing)
    rows = list(reader)
    other = sorted({r["Indicator ID"].strip() for r in rows} - {str(indicator_id)})
    if other:
        raise DataError(f"Fingertips answer holds other indicators than {indicator_id}",
                        file=url, column="Indicator ID", codes=other)
    rows = [r for r in rows if r["Area Code"].strip()[:3] in UTLA_PREFIXES
            and r["Sex"].strip() in ("Persons", "")
            and not (r.get("Category Type") or "").strip()]
    if not rows:
        return None
    with_value = sorted({r["Time period"].strip() for r in rows if r["Value"].strip()},
                        key=lambda p: _sortable(rows, p))
    periods = sorted({r["Time period"].strip() for r in rows}, key=lambda p: _sortable(rows, p))
    if period is None:
        if not with_value:
            raise DataError("Fingertips answer has upper-tier LA rows but no values", file=url)
        period = with_value[-1]
    keep = [r for r in rows if r["Time period"].strip() == period]
    if not keep:
        raise DataError(f"no rows for time period {period!r}; available: {', '.join(periods)}",
                        file=url, column="Time period")
    out: dict[str, dict[str, Any]] = {}
    dup = []
    for r in keep:
        code = r["Area Code"].strip()
        if code in out:
            dup.append(code)
            continue
        out[code] = {
            "name": r["Area Name"].strip(),
            "value": _number(r["Value"], url=url, column="Value", code=code),
            "count": _number(r["Count"], url=url, column="Count", code=code),
            "denominator": _number(r["Denominator"], url=url, column="Denominator", code=code),
            "note": r["Value note"].strip(),
        }
    if dup:
        raise DataError(f"areas repeated for period {period}", file=url, column="Area Code",
                        codes=sorted(set(dup)))
    return IndicatorDownload(
        indicator_id=indicator_id,
        indicator_name=keep[0]["Indicator Name"].strip(),
        area_type_id=area_type_id,
        area_types=sorted({r["Area Type"].strip() for r in keep}),
        period=period,
        periods=periods,
        age=", ".join(sorted({r["Age"].strip() for r in keep})),
        url=url,
        sha256=hashlib.sha256(body).hexdigest(),
        rows=out,
        value_notes=dict(sorted(Counter(v["note"] for v in out.values() if v["note"]).items())),
    )


def _sortable(rows: list[dict[str, str]], period: str) -> tuple[str, str]:
    # "Time period Sortable" (e.g. 20160000) when Fingertips gives it, else the label itself
    for r in rows:
        if r["Time period"].strip() == period:
            return ((r.get("Time period Sortable") or "").strip(), period)
    return ("", period)


def download(indicator_id: int, opener: Opener, *, area_types: tuple[int, ...] = AREA_TYPE_ORDER,
             period: str | None = None) -> tuple[IndicatorDownload, bytes]:
    """The first area type in ``area_types`` with upper-tier data for ``indicator_id``."""
    tried = []
    for at in area_types:
        url = data_url(indicator_id, at)
        body = opener(url)
        got = parse_download(body, indicator_id=indicator_id, area_type_id=at, url=url,
                             period=period)
        if got is not None:
            return got, body
        tried.append(str(at))
    raise DataError(f"Fingertips has no upper-tier LA data for indicator {indicator_id} under "
                    "area types " + ", ".join(tried), file=data_url(indicator_id, area_types[0]))


def fetch_fingertips_ocu(
    data_dir: Path,
    las: pd.DataFrame,
    *,
    opener: Opener | None = None,
    area_types: tuple[int, ...] = AREA_TYPE_ORDER,
    period: str | None = None,
    dest: Path | None = None,
) -> Path:
    """Download OCU prevalence and counts, map them to the 152 LAs and write the OCU CSV.

    Parameters
    ----------
    data_dir : pathlib.Path
        Data directory; the file goes to ``data_dir / DEFAULT_OCU_FILE`` unless ``dest``.
    las : pandas.DataFrame
        ``code``, ``name``, ``pop_15_64`` of the May 2021 LAs (the areas table).
    opener : callable, optional
        ``opener(url) -> bytes``; defaults to :func:`allocator.data.fetch.urllib_opener`.
    area_types : tuple of int
        Fingertips area types to try, in order.
    period : str, optional
        ``Time period`` of indicator 91117 to keep (default: the latest).
    dest : pathlib.Path, optional
        Where to write the CSV instead.

    Returns
    -------
    pathlib.Path
        The CSV written (a ``.provenance.json`` and a ``raw/`` folder sit beside it).
    """
    if opener is None:
        from .fetch import urllib_opener

        opener = urllib_opener
    rate, rate_body = download(PREVALENCE_INDICATOR, opener, area_types=area_types, period=period)
    counts, count_body = None, None
    try:
        counts, count_body = download(NOT_IN_TREATMENT_INDICATOR, opener,
                                      area_types=(rate.area_type_id,))
    except DataError:
        counts = None  # counts then come from 91117's Count or rate x population (flagged)
    published = {}
    for code, r in rate.rows.items():
        cnt, how = r["count"], "91117 count"
        c = counts.rows.get(code) if counts else None
        if c is not None and c["denominator"] is not None:
            cnt, how = c["denominator"], f"93517 denominator {counts.period}"  # type: ignore[union-attr]
        published[code] = Published(name=r["name"], rate=r["value"],
                                    count=cnt if r["value"] is not None else None,
                                    note=r["note"], count_source=how if cnt is not None else "")
    mapped = map_to_2021(published, las, vintage=AREA_TYPES.get(rate.area_type_id, ""))
    source = (f"OHID Fingertips indicator {PREVALENCE_INDICATOR} ({rate.indicator_name}), "
              f"{rate.period}, area type {rate.area_type_id}")
    if counts is not None:
        source += (f"; counts: indicator {NOT_IN_TREATMENT_INDICATOR} denominator "
                   f"({counts.period})")
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["code", "rate_per_1000_15_64", "count", "year", "source", "flag"])
    for r in mapped.itertuples():
        w.writerow([r.code, _fmt(r.rate), _fmt(r.count), rate.period, source, r.flag])
    target = Path(dest) if dest is not None else Path(data_dir) / DEFAULT_OCU_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = target.parent / "raw"
    raw.mkdir(exist_ok=True)
    _atomic(raw / f"indicator_{PREVALENCE_INDICATOR}_areatype_{rate.area_type_id}.csv", rate_body)
    if counts is not None and count_body is not None:
        _atomic(raw / f"indicator_{NOT_IN_TREATMENT_INDICATOR}_areatype_{counts.area_type_id}.csv",
                count_body)
    body = out.getvalue().encode("utf-8")
    record = {
        "what": "OCU prevalence for the 152 May 2021 upper-tier LAs, from OHID Fingertips",
        "written": target.name,
        "sha256": hashlib.sha256(body).hexdigest(),
        "downloads": [_describe(d) for d in (rate, counts) if d is not None],
        "flagged": {r.code: r.flag for r in mapped.itertuples() if r.flag},
    }
    _atomic(target.with_name(target.name + ".provenance.json"),
            (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    _atomic(target, body)
    return target


def _describe(d: IndicatorDownload) -> dict[str, Any]:
    return {
        "indicator_id": d.indicator_id, "indicator_name": d.indicator_name,
        "area_type_id": d.area_type_id, "area_type": AREA_TYPES.get(d.area_type_id, ""),
        "area_type_labels": d.area_types, "period": d.period, "periods_available": d.periods,
        "age": d.age, "url": d.url, "sha256": d.sha256, "areas": len(d.rows),
        "value_notes": d.value_notes,
    }


def _fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return repr(round(float(x), 4))


def _atomic(path: Path, body: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(body)
    tmp.replace(path)


def fetch_ocu_into(
    data_dir: Path,
    *,
    opener: Opener | None = None,
    area_types: tuple[int, ...] | None = None,
    period: str | None = None,
) -> str:
    """``allocator data fetch --ocu``: load the 152 LAs from ``data_dir``, fetch, write, report.

    Returns
    -------
    str
        What was written: file, source, period, number of LAs flagged.
    """
    from .areas import load_areas
    from .config import DataConfig

    areas = load_areas(DataConfig(), data_dir)
    las = pd.DataFrame(areas.frame[["code", "name", "pop_15_64"]])
    try:
        path = fetch_fingertips_ocu(Path(data_dir), las, opener=opener,
                                    area_types=area_types or AREA_TYPE_ORDER, period=period)
    except OSError as exc:  # no network: say so, as `data fetch` does for the catalogue files
        return (f"FAILED ocu: could not download from OHID Fingertips ({type(exc).__name__}: "
                f"{exc}); nothing written. Offline, put the CSV at "
                f"{Path(data_dir) / DEFAULT_OCU_FILE} (schema: allocator.data.ocu).")
    written = pd.read_csv(path, dtype=str, keep_default_na=False)
    flagged = written[written["flag"] != ""]
    lines = [f"wrote {path} ({len(written)} LAs)",
             f"source: {written['source'].iloc[0]}",
             f"period: {written['year'].iloc[0]}",
             f"apportioned or derived (flagged): {len(flagged)} LAs"]
    lines += [f"  {r.code}: {r.flag}" for r in flagged.itertuples()]
    lines.append(f"provenance: {path.name}.provenance.json; raw answers in {path.parent / 'raw'}")
    return "\n".join(lines)
