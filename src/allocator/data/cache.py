"""On-disk cache of built areas tables (``geodata/cache/``, git-ignored), in a data format only.

A cached table is two files: ``areas-<key>.parquet`` (GeoParquet, written and read by
geopandas/pyarrow: values and WKB boundaries, no code) and ``areas-<key>.json`` (its sources,
notes, column types and :func:`table_digest`). Nothing is unpickled, so whoever can write the
cache can change data but cannot run code.

The key is the SHA-256 of the SHA-256 of every source file read, the data options (except
``cache``), the OCU file's hash, the package version and the source code of the data layer, so
any change to data, settings or code builds afresh. A cached table is used only if it reads
back with exactly the recorded columns and types, passes the data contracts and matches its
recorded digest; otherwise it is rebuilt.

A cache is still a file anyone with write access can edit consistently. That cannot be
prevented, so it is made visible: every run records :func:`table_digest` of the table it used in
its manifest (``areas_sha256``), and ``allocator replay`` always rebuilds the table from the
source files, so a run made from a tampered cache does not replay.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..paths import REPO_ROOT
from .catalogue import CATALOGUE_PATH

if TYPE_CHECKING:
    import pandas as pd

    from .areas import AreaData
    from .config import DataConfig

CACHE_DIR = REPO_ROOT / "geodata" / "cache"
FORMAT = "allocator-areas-geoparquet-1"
_CODE_DIR = Path(__file__).resolve().parent


def _package_version() -> str:
    import importlib.metadata as md

    try:
        return md.version("allocator")
    except md.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def _code_hash() -> str:
    h = hashlib.sha256()
    for p in sorted(_CODE_DIR.glob("*.py")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    if CATALOGUE_PATH.is_file():
        h.update(CATALOGUE_PATH.read_bytes())
    return h.hexdigest()


def cache_key(records: list[dict[str, Any]], config: DataConfig, ocu_hash: str | None) -> str:
    """Key identifying a build by its inputs, config, package version and code."""
    payload = {
        "format": FORMAT,
        "inputs": sorted((r["key"], r["sha256"]) for r in records),
        "config": config.model_dump(mode="json", exclude={"cache"}),
        "ocu": ocu_hash,
        "version": _package_version(),
        "code": _code_hash(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def cache_dir() -> Path:
    """Directory of cached tables (``$ALLOCATOR_CACHE_DIR`` overrides ``geodata/cache``)."""
    return Path(os.environ.get("ALLOCATOR_CACHE_DIR", CACHE_DIR))


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 over a table's column names, types, every value and every boundary (WKB)."""
    import numpy as np
    import pandas as pd
    import shapely

    h = hashlib.sha256()
    crs = getattr(frame, "crs", None)
    h.update(json.dumps([[str(c), str(frame[c].dtype)] for c in frame.columns]).encode())
    h.update(str(crs.to_wkt() if crs is not None else None).encode())
    for c in frame.columns:
        s = frame[c]
        h.update(b"\x00column\x00" + str(c).encode())
        if isinstance(s.dtype, pd.api.extensions.ExtensionDtype) and s.dtype.name == "geometry":
            for wkb in shapely.to_wkb(np.asarray(s.array), byte_order=1, include_srid=False):
                b = b"" if wkb is None else bytes(wkb)
                h.update(len(b).to_bytes(8, "little") + b)
        elif pd.api.types.is_bool_dtype(s) or pd.api.types.is_integer_dtype(s):
            h.update(np.ascontiguousarray(s.to_numpy(dtype="<i8")).tobytes())
        elif pd.api.types.is_float_dtype(s):
            h.update(np.ascontiguousarray(s.to_numpy(dtype="<f8")).tobytes())
        else:
            for v in s.tolist():
                b = ("\x00NA" if v is None or v is pd.NA or v != v else str(v)).encode()
                h.update(len(b).to_bytes(8, "little") + b)
    return h.hexdigest()


def table_digest(data: AreaData) -> str:
    """SHA-256 of a harmonised areas table: :func:`frame_digest` with its sources and notes."""
    return _digest(data.frame, data.sources, data.notes)


def _digest(frame: pd.DataFrame, sources: list[Any], notes: list[Any]) -> str:
    payload = {"frame": frame_digest(frame), "sources": sources, "notes": notes}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _paths(key: str) -> tuple[Path, Path]:
    d = cache_dir()
    return d / f"areas-{key}.parquet", d / f"areas-{key}.json"


def load(key: str) -> dict[str, Any] | None:
    """The cached table for ``key`` (``frame``, ``sources``, ``notes``, ``config``), or None
    when absent or not exactly as written."""
    from ..errors import AllocatorError
    from ..safe_files import check_regular_file
    from .contracts import check_frame

    table, meta_path = _paths(key)
    if not (table.is_file() and meta_path.is_file()):
        return None
    try:
        import geopandas as gpd

        check_regular_file(table, "cached table", 500_000_000)
        check_regular_file(meta_path, "cached table notes", 10_000_000)
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta.get("key") != key:
            return None
        frame = gpd.read_parquet(table)
        types = [[str(c), str(frame[c].dtype)] for c in frame.columns]
        if types != meta["columns"] or frame.crs is None or frame.crs.to_string() != meta["crs"]:
            return None
        check_frame(frame, with_ocu="ocu_rate" in frame.columns)
        sources, notes = list(meta["sources"]), list(meta["notes"])
        if _digest(frame, sources, notes) != meta["digest"]:
            return None
        return {"frame": frame, "sources": sources, "notes": notes, "config": dict(meta["config"])}
    except (AllocatorError, OSError, ValueError, KeyError, TypeError, ImportError):
        return None
    except Exception:  # noqa: BLE001 - pyarrow raises its own errors for a damaged file
        return None


def store(key: str, data: AreaData) -> Path | None:
    """Write ``data`` under ``key`` atomically; return the table's path (None if not writable)."""
    table, meta_path = _paths(key)
    meta = {
        "format": FORMAT,
        "key": key,
        "columns": [[str(c), str(data.frame[c].dtype)] for c in data.frame.columns],
        "crs": data.frame.crs.to_string(),
        "sources": data.sources,
        "notes": data.notes,
        "config": data.config,
        "digest": table_digest(data),
    }
    tmps: list[str] = []
    try:
        table.parent.mkdir(parents=True, exist_ok=True)
        for write in (lambda p: data.frame.to_parquet(p, index=False),
                      lambda p: Path(p).write_text(json.dumps(meta, indent=1), encoding="utf-8")):
            fd, tmp = tempfile.mkstemp(dir=table.parent, suffix=".tmp")
            os.close(fd)
            tmps.append(tmp)
            write(tmp)
        os.replace(tmps[0], table)
        os.replace(tmps[1], meta_path)
        return table
    except (OSError, ValueError, ImportError):
        return None
    finally:
        for t in tmps:
            if os.path.exists(t):
                os.unlink(t)
