"""The source catalogue (``geodata/catalogue.yaml``): what each official file is and its hash.

Every file the loader reads is looked up here by key. :func:`source_path` resolves it inside the
data directory and raises a :class:`~allocator.errors.DataError` naming the file and how to get
it when it is missing; :func:`verify` checks its SHA-256.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from ..errors import DataError
from ..paths import REPO_ROOT

CATALOGUE_PATH = REPO_ROOT / "geodata" / "catalogue.yaml"

_REQUIRED = ("key", "path", "publisher", "title", "url", "licence", "period", "sha256")


@dataclass(frozen=True)
class Source:
    """One catalogue entry."""

    key: str
    path: str
    publisher: str
    title: str
    url: str
    licence: str
    period: str
    sha256: str
    derived: bool = False
    download_url: str | None = None
    role: str = ""

    def record(self, sha256: str) -> dict[str, str]:
        """Return the provenance record listed in ``AreaData.sources``."""
        return {
            "key": self.key,
            "path": self.path,
            "sha256": sha256,
            "publisher": self.publisher,
            "title": self.title,
            "period": self.period,
            "licence": self.licence,
            "url": self.url,
        }


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Source]:
    p = Path(path)
    if not p.is_file():
        raise DataError("source catalogue not found", file=p)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataError(f"source catalogue is not valid YAML: {exc}", file=p) from exc
    out: dict[str, Source] = {}
    for i, entry in enumerate(raw.get("sources", [])):
        missing = [k for k in _REQUIRED if not entry.get(k)]
        if missing:
            raise DataError(f"catalogue entry {i} lacks {', '.join(missing)}", file=p)
        fields = {k: entry[k] for k in Source.__dataclass_fields__ if k in entry}
        src = Source(**{k: (str(v) if k != "derived" else bool(v)) for k, v in fields.items()})
        if src.key in out:
            raise DataError(f"duplicate catalogue key {src.key!r}", file=p)
        out[src.key] = src
    return out


def catalogue(path: Path | None = None) -> dict[str, Source]:
    """Return the catalogue as ``{key: Source}``."""
    return _load(str(path or CATALOGUE_PATH))


def source(key: str) -> Source:
    """Return the catalogue entry ``key``."""
    cat = catalogue()
    if key not in cat:
        raise DataError(f"no source {key!r} in the catalogue", file=CATALOGUE_PATH)
    return cat[key]


def how_to_get(src: Source) -> str:
    """Sentence telling a user where to obtain ``src``."""
    return (
        f"It is '{src.title}' ({src.publisher}), from {src.url}. Put it at <data dir>/{src.path}, "
        "or run `allocator data fetch --data-dir DIR` on a connected machine."
    )


def source_path(key: str, data_dir: Path) -> Path:
    """Return the path of source ``key`` in ``data_dir``; raise if the file is missing."""
    src = source(key)
    p = data_dir / src.path
    if not p.is_file():
        raise DataError(f"required source file is missing. {how_to_get(src)}", file=p)
    return p


def sha256_of(path: Path) -> str:
    """SHA-256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(key: str, data_dir: Path, *, strict: bool = True) -> dict[str, Any]:
    """Hash source ``key`` and compare with the catalogue.

    Parameters
    ----------
    key : str
        Catalogue key.
    data_dir : pathlib.Path
        Data directory.
    strict : bool
        Raise on a mismatch (``DataConfig.verify_hashes``). When False a mismatch is returned in
        the record under ``"mismatch"`` for the caller to report in the notes.

    Returns
    -------
    dict
        Provenance record (key, path, sha256, publisher, title, period, licence, url).
    """
    src = source(key)
    p = source_path(key, data_dir)
    digest = sha256_of(p)
    rec: dict[str, Any] = src.record(digest)
    if digest != src.sha256:
        msg = (
            f"SHA-256 {digest} does not match the catalogue ({src.sha256}): this is not the file "
            f"the project was verified with. {how_to_get(src)} To try a different release on "
            "purpose set data.verify_hashes: false (the run's notes will say so)."
        )
        if strict:
            raise DataError(msg, file=p)
        rec["mismatch"] = msg
    return rec
