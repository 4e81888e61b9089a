"""On-disk cache of built areas tables (``geodata/cache/``, git-ignored).

The key is a SHA-256 over the hashes of every input file, the data config (except ``cache``),
the OCU file's hash and the source code of this package, so any change to data, settings or
code builds afresh. A cached table is the pickled result of a cold build: loading it gives the
same object a cold build would.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..paths import REPO_ROOT
from .catalogue import CATALOGUE_PATH

if TYPE_CHECKING:
    from .areas import AreaData
    from .config import DataConfig

CACHE_DIR = REPO_ROOT / "geodata" / "cache"
_CODE_DIR = Path(__file__).resolve().parent


def _code_hash() -> str:
    h = hashlib.sha256()
    for p in sorted(_CODE_DIR.glob("*.py")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    if CATALOGUE_PATH.is_file():
        h.update(CATALOGUE_PATH.read_bytes())
    return h.hexdigest()


def cache_key(records: list[dict[str, Any]], config: DataConfig, ocu_hash: str | None) -> str:
    """Key identifying a build by its inputs, config and code."""
    payload = {
        "inputs": sorted((r["key"], r["sha256"]) for r in records),
        "config": config.model_dump(mode="json", exclude={"cache"}),
        "ocu": ocu_hash,
        "code": _code_hash(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def cache_dir() -> Path:
    """Directory of cached tables (``$ALLOCATOR_CACHE_DIR`` overrides ``geodata/cache``)."""
    return Path(os.environ.get("ALLOCATOR_CACHE_DIR", CACHE_DIR))


def load(key: str) -> AreaData | None:
    """Return the cached table for ``key``, or None (also when the file is unreadable)."""
    p = cache_dir() / f"areas-{key}.pkl"
    if not p.is_file():
        return None
    try:
        with open(p, "rb") as fh:
            return pickle.load(fh)
    except Exception:  # a stale or truncated cache is rebuilt, never trusted
        return None


def store(key: str, data: AreaData) -> Path | None:
    """Write ``data`` under ``key`` atomically; return the path (None if the dir is read-only)."""
    d = cache_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
        final = d / f"areas-{key}.pkl"
        os.replace(tmp, final)
        return final
    except OSError:
        return None
