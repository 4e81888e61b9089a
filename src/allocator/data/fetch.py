"""Download the catalogue's files from their publishers and verify them (connected machines).

:func:`fetch_sources` downloads every catalogue entry that has a ``download_url`` (the
publisher's own file) into ``dest`` at its catalogue path and checks its SHA-256. Entries marked
``derived`` are format conversions of a publisher file (a workbook sheet as CSV, a shapefile as
GeoJSON): they are reported as needing conversion, never silently replaced by something else.
:func:`allocator.data.fingertips.fetch_fingertips_ocu` downloads OCU prevalence from OHID
Fingertips' public API into the CSV schema of :mod:`allocator.data.ocu`.

Both take an ``opener(url) -> bytes``; the default uses :mod:`urllib`. Tests pass a fake opener,
so no test touches the network.
"""

from __future__ import annotations

import hashlib
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from .catalogue import catalogue

Opener = Callable[[str], bytes]


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
