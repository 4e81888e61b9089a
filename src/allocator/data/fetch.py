"""Download the catalogue's files from their publishers and verify them (connected machines).

:func:`fetch_sources` downloads every catalogue entry that has a ``download_url`` (the
publisher's own file) into ``dest`` at its catalogue path and checks its SHA-256. Entries marked
``derived`` are format conversions of a publisher file (a workbook sheet as CSV, a shapefile as
GeoJSON): they are reported as needing conversion, never silently replaced by something else.
:func:`fetch_ocu` downloads OCU prevalence from OHID Fingertips' public API as the CSV schema of
:mod:`allocator.data.ocu`.

Both take an ``opener(url) -> bytes``; the default uses :mod:`urllib`. Tests pass a fake opener,
so no test touches the network.
"""

from __future__ import annotations

import csv
import hashlib
import io
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from .catalogue import catalogue

Opener = Callable[[str], bytes]

FINGERTIPS_API = (
    "https://fingertips.phe.org.uk/api/all_data/csv/by_indicator_id"
    "?indicator_ids={indicator_id}&child_area_type_id={area_type_id}"
)


def urllib_opener(url: str, timeout: float = 120.0) -> bytes:
    """Fetch ``url`` with :mod:`urllib` (the default opener)."""
    req = urllib.request.Request(url, headers={"User-Agent": "allocator-data-fetch"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - catalogue URLs
        return resp.read()


@dataclass
class FetchReport:
    """What :func:`fetch_sources` did, per catalogue key."""

    fetched: list[str] = field(default_factory=list)
    needs_conversion: list[str] = field(default_factory=list)
    no_download_url: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def to_text(self) -> str:
        """One line per outcome."""
        lines = [f"fetched and verified: {', '.join(self.fetched) or 'none'}"]
        if self.needs_conversion:
            lines.append("derived files (convert from the publisher's file): "
                         + ", ".join(self.needs_conversion))
        if self.no_download_url:
            lines.append("no direct download (get from the publisher page): "
                         + ", ".join(self.no_download_url))
        lines += [f"FAILED {k}: {v}" for k, v in self.failed.items()]
        return "\n".join(lines)


def fetch_sources(
    dest: Path, *, opener: Opener | None = None, keys: list[str] | None = None,
    overwrite: bool = False,
) -> FetchReport:
    """Download catalogue files into ``dest`` and verify their hashes.

    Parameters
    ----------
    dest : pathlib.Path
        Data directory to fill (created if needed).
    opener : callable, optional
        ``opener(url) -> bytes``; defaults to :func:`urllib_opener`.
    keys : list of str, optional
        Catalogue keys to fetch (default: all).
    overwrite : bool
        Replace files that exist already (by default an existing file is only verified).

    Returns
    -------
    FetchReport

    Raises
    ------
    DataError
        If a downloaded file's SHA-256 differs from the catalogue (the file is not kept).
    """
    opener = opener or urllib_opener
    dest = Path(dest)
    report = FetchReport()
    cat = catalogue()
    unknown = sorted(set(keys or []) - set(cat))
    if unknown:
        raise DataError("unknown catalogue keys", codes=unknown)
    for key, src in cat.items():
        if keys is not None and key not in keys:
            continue
        if src.derived:
            report.needs_conversion.append(key)
            continue
        if not src.download_url:
            report.no_download_url.append(key)
            continue
        target = dest / src.path
        if target.is_file() and not overwrite:
            body = target.read_bytes()
        else:
            try:
                body = opener(src.download_url)
            except Exception as exc:  # network errors vary by opener
                report.failed[key] = f"{type(exc).__name__}: {exc}"
                continue
        digest = hashlib.sha256(body).hexdigest()
        if digest != src.sha256:
            raise DataError(
                f"downloaded file's SHA-256 {digest} differs from the catalogue ({src.sha256}); "
                "the publisher may have released a new edition. Not saved.",
                file=src.download_url,
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".part")
        tmp.write_bytes(body)
        tmp.replace(target)
        report.fetched.append(key)
    return report


def fetch_ocu(
    dest: Path,
    *,
    indicator_id: int,
    area_type_id: int,
    time_period: str | None = None,
    opener: Opener | None = None,
) -> Path:
    """Download OCU prevalence from Fingertips and write it in the :mod:`~allocator.data.ocu` schema.

    Parameters
    ----------
    dest : pathlib.Path
        CSV file to write.
    indicator_id : int
        Fingertips indicator of OCU prevalence per 1,000 aged 15-64 (look it up on the
        Fingertips site; it is not guessed here).
    area_type_id : int
        Fingertips area type of upper-tier LAs on the boundaries wanted.
    time_period : str, optional
        Keep only this ``Time period`` (default: the latest in the download).
    opener : callable, optional
        ``opener(url) -> bytes``.

    Returns
    -------
    pathlib.Path
        ``dest``.
    """
    opener = opener or urllib_opener
    url = FINGERTIPS_API.format(indicator_id=indicator_id, area_type_id=area_type_id)
    text = opener(url).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    need = ["Area Code", "Area Type", "Sex", "Age", "Time period", "Value", "Count"]
    if not rows or any(c not in rows[0] for c in need):
        raise DataError(f"Fingertips answer lacks columns {need}", file=url)
    rows = [r for r in rows if r["Area Code"][:3] in ("E06", "E08", "E09", "E10")]
    periods = sorted({r["Time period"] for r in rows})
    if not periods:
        raise DataError("Fingertips answer has no upper-tier LA rows", file=url)
    period = time_period or periods[-1]
    rows = [r for r in rows if r["Time period"] == period]
    if not rows:
        raise DataError(f"no rows for time period {period!r}; available: {', '.join(periods)}",
                        file=url)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["code", "rate_per_1000_15_64", "count", "year", "source"])
    for r in sorted(rows, key=lambda r: r["Area Code"]):
        w.writerow([r["Area Code"], r["Value"], r["Count"], period,
                    f"OHID Fingertips indicator {indicator_id}"])
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(out.getvalue(), encoding="utf-8")
    return dest
