"""Provenance: file hashes, the run manifest, and the comparisons behind replay and diff.

The manifest is what lets an auditor replay a run: it records the canonical config hash, the
SHA-256 of every input file (relative to the data directory) and of every output file, the
versions of Python, the package, its key dependencies and the solvers, the seed, and the solver
status and objective. It holds nothing time-dependent, so two runs of the same config on the same
data give byte-identical run directories apart from the directory name.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Licence attribution every output a person reads carries.
ATTRIBUTION = (
    "Contains OS data © Crown copyright and database right 2021. Contains public sector "
    "information licensed under the Open Government Licence v3.0 (ONS, MHCLG/DLUHC). "
    "Source: Office for National Statistics licensed under the Open Government Licence v3.0."
)

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1

#: Distributions whose versions can change the numbers and are recorded in every manifest.
KEY_DISTRIBUTIONS = (
    "allocator",
    "numpy",
    "pandas",
    "geopandas",
    "shapely",
    "pyproj",
    "pyogrio",
    "scikit-learn",
    "scipy",
    "PuLP",
    "highspy",
    "folium",
    "rasterio",
    "openpyxl",
    "matplotlib",
    "pydantic",
)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Return the hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Return the hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> str:
    """Serialise ``obj`` as canonical JSON (sorted keys, no whitespace, UTF-8 kept)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def collect_versions() -> dict[str, str]:
    """Versions of Python, the package, key dependencies and the solvers available."""
    versions: dict[str, str] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
    }
    for dist in KEY_DISTRIBUTIONS:
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = "not installed"
    try:
        import pyogrio

        versions["GDAL"] = str(pyogrio.__gdal_version_string__)
    except Exception:  # pragma: no cover - optional
        versions["GDAL"] = "unknown"
    try:
        import highspy

        # the version constants, not a Highs() object: creating one prints HiGHS's banner
        versions["HiGHS"] = (f"{highspy.HIGHS_VERSION_MAJOR}.{highspy.HIGHS_VERSION_MINOR}."
                             f"{highspy.HIGHS_VERSION_PATCH}")
    except Exception:  # pragma: no cover - optional
        versions["HiGHS"] = "unknown"
    return versions


@dataclass
class Manifest:
    """The record of one run. Serialised as ``manifest.json`` in the run directory.

    ``areas_sha256`` is :func:`allocator.data.cache.table_digest` of the areas table the run
    used (every value, boundary, source and note), so a run made from an edited cache cannot
    replay: replay rebuilds the table from the source files.
    """

    config_name: str
    config_hash: str
    run_hash: str
    seed: int | None
    inputs: dict[str, str]
    outputs: dict[str, str]
    versions: dict[str, str]
    solver: dict[str, Any]
    data_notes: list[str] = field(default_factory=list)
    config: dict[str, Any] | None = None
    config_file: str = "config.yaml"
    manifest_version: int = MANIFEST_VERSION
    areas_sha256: str | None = None
    #: Only in an amended version (:mod:`allocator.ledger`): its version number, its parent's
    #: run hash, manifest hash and folder, the amendment's hash and the corrections in force.
    ledger: dict[str, Any] | None = None

    def to_json(self) -> str:
        """Deterministic JSON text (sorted keys, 2-space indent, trailing newline)."""
        payload = {
            "manifest_version": self.manifest_version,
            "config_name": self.config_name,
            "config_hash": self.config_hash,
            "config_file": self.config_file,
            "config": self.config,
            "run_hash": self.run_hash,
            "seed": self.seed,
            "inputs": dict(sorted(self.inputs.items())),
            "outputs": dict(sorted(self.outputs.items())),
            "versions": dict(sorted(self.versions.items())),
            "solver": self.solver,
            "data_notes": list(self.data_notes),
            "areas_sha256": self.areas_sha256,
        }
        if self.ledger is not None:  # absent from a run's manifest: its bytes stay as they were
            payload["ledger"] = self.ledger
        return json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def read(cls, path: str | Path) -> Manifest:
        """Read a manifest, raising :class:`~allocator.errors.DataError` if it is not one.

        A manifest is untrusted input (anyone can edit a published run): it must be a regular
        file of at most :data:`MAX_MANIFEST_BYTES`, UTF-8 JSON, an object whose fields have their
        types (text hashes, ``{name: sha256}`` maps, an integer or null seed, ...), and its
        ``config_file`` a plain file name inside the run directory.
        """
        from .errors import DataError
        from .safe_files import check_regular_file, excerpt

        p = Path(path)
        if p.is_dir():
            p = p / MANIFEST_NAME
        if not p.exists():
            raise DataError("manifest not found", file=p)
        check_regular_file(p, "manifest", MAX_MANIFEST_BYTES)
        try:
            raw = json.loads(p.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise DataError(f"not a valid manifest (JSON error: {excerpt(exc, 100)})", file=p) from None
        if isinstance(raw, dict) and raw.get("kind") == "pounds_uncertainty":
            run = raw.get("run") if isinstance(raw.get("run"), dict) else {}
            raise DataError("this is the manifest of a pounds-uncertainty directory (`allocator "
                            "uncertainty`), not of a run; replay the run it describes, "
                            f"{excerpt(run.get('directory', '?'), 80)}", file=p)
        problems = _manifest_problems(raw)
        if problems:
            raise DataError("not an allocator manifest: " + "; ".join(problems[:8]), file=p)
        return cls(
            config_name=raw["config_name"],
            config_hash=raw["config_hash"],
            run_hash=raw["run_hash"],
            seed=raw.get("seed"),
            inputs=dict(raw["inputs"]),
            outputs=dict(raw["outputs"]),
            versions=dict(raw.get("versions", {})),
            solver=dict(raw.get("solver", {})),
            data_notes=list(raw.get("data_notes", [])),
            config=raw.get("config"),
            config_file=raw.get("config_file", "config.yaml"),
            manifest_version=int(raw.get("manifest_version", MANIFEST_VERSION)),
            areas_sha256=raw.get("areas_sha256"),
            ledger=raw.get("ledger"),
        )


#: Largest manifest read (bytes); a real one is a few kB.
MAX_MANIFEST_BYTES = 5_000_000


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _manifest_problems(raw: Any) -> list[str]:
    """Every way ``raw`` (parsed JSON) is not shaped like a manifest, one phrase each."""
    if not isinstance(raw, dict):
        return [f"the file holds a JSON {type(raw).__name__}, not an object"]
    out: list[str] = []
    missing = [k for k in ("config_name", "config_hash", "run_hash", "inputs", "outputs")
               if k not in raw]
    if missing:
        out.append(f"missing keys {missing}")
    text = ("config_name", "config_hash", "run_hash", "config_file")
    for key in text:
        if key in raw and not isinstance(raw[key], str):
            out.append(f"'{key}' must be text, not {type(raw[key]).__name__}")
    for key in ("inputs", "outputs", "versions"):
        v = raw.get(key, {})
        if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
            out.append(f"'{key}' must map names to text")
    if not isinstance(raw.get("solver", {}), dict):
        out.append("'solver' must be an object")
    notes = raw.get("data_notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        out.append("'data_notes' must be a list of text")
    if raw.get("config") is not None and not isinstance(raw["config"], dict):
        out.append("'config' must be an object")
    if raw.get("seed") is not None and not _is_int(raw["seed"]):
        out.append("'seed' must be a whole number or null")
    if "manifest_version" in raw and not _is_int(raw["manifest_version"]):
        out.append("'manifest_version' must be a whole number")
    if raw.get("areas_sha256") is not None and not isinstance(raw["areas_sha256"], str):
        out.append("'areas_sha256' must be text")
    if raw.get("ledger") is not None and not isinstance(raw["ledger"], dict):
        out.append("'ledger' must be an object")
    name = raw.get("config_file", "config.yaml")
    if isinstance(name, str) and (not name or "/" in name or "\\" in name or name in (".", "..")
                                  or not name.isprintable()):
        out.append("'config_file' must be a plain file name in the run directory")
    return out


def run_hash(config_hash: str, inputs: Mapping[str, str]) -> str:
    """Hash identifying a run: the config hash together with every input file's hash."""
    return sha256_bytes(canonical_json({"config": config_hash, "inputs": dict(inputs)}).encode())


def dict_changes(a: Any, b: Any, path: str = "") -> list[str]:
    """List the differences between two nested JSON-like values as ``path: a -> b`` lines."""
    out: list[str] = []
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in sorted(set(a) | set(b), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in a:
                out.append(f"{sub}: (absent) -> {b[key]!r}")
            elif key not in b:
                out.append(f"{sub}: {a[key]!r} -> (absent)")
            else:
                out.extend(dict_changes(a[key], b[key], sub))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out.extend(dict_changes(x, y, f"{path}[{i}]"))
    elif a != b:
        out.append(f"{path or '(root)'}: {a!r} -> {b!r}")
    return out


def hash_changes(
    recorded: Mapping[str, str], current: Mapping[str, str], what: str
) -> list[str]:
    """Describe files whose hashes differ between two ``{name: sha256}`` maps."""
    lines = []
    for name in sorted(set(recorded) | set(current)):
        r, c = recorded.get(name), current.get(name)
        if r == c:
            continue
        if r is None:
            lines.append(f"{what} {name}: not in the manifest (new file)")
        elif c is None:
            lines.append(f"{what} {name}: missing now (manifest has sha256 {r[:12]}...)")
        else:
            lines.append(f"{what} {name}: sha256 {r[:12]}... in manifest, {c[:12]}... now")
    return lines


def version_changes(recorded: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """Describe dependency versions that differ from the manifest's."""
    return [
        f"version of {k}: {recorded.get(k, '(absent)')} in manifest, {current.get(k, '(absent)')} now"
        for k in sorted(set(recorded) | set(current))
        if recorded.get(k) != current.get(k)
    ]


def cell_changes(
    published: Any, replayed: Any, key: str = "code", limit: int = 50
) -> list[str]:
    """Compare two allocation tables cell by cell, in whole pounds.

    Parameters
    ----------
    published, replayed : pandas.DataFrame
        Allocation tables with a ``key`` column and integer money columns.
    key : str
        Column identifying a row (the ONS code).
    limit : int
        Maximum number of cell lines reported (the count of all differing cells is always given).
    """
    import pandas as pd

    a = published.set_index(key)
    b = replayed.set_index(key)
    lines: list[str] = []
    only_a = sorted(set(a.index) - set(b.index))
    only_b = sorted(set(b.index) - set(a.index))
    if only_a:
        lines.append(f"rows only in the published table: {', '.join(map(str, only_a))}")
    if only_b:
        lines.append(f"rows only in the replayed table: {', '.join(map(str, only_b))}")
    common = [c for c in a.columns if c in b.columns]
    for col in sorted(set(a.columns) ^ set(b.columns)):
        lines.append(f"column {col} only in the {'published' if col in a.columns else 'replayed'} table")
    rows = sorted(set(a.index) & set(b.index))
    cells: list[str] = []
    for col in common:
        x, y = a.loc[rows, col], b.loc[rows, col]
        numeric = pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y)
        differ = (x != y) & ~(x.isna() & y.isna())
        for code in x.index[differ.to_numpy()]:
            if numeric:
                delta = y[code] - x[code]
                cells.append(f"{code} {col}: {x[code]} published, {y[code]} replayed ({delta:+})")
            else:
                cells.append(f"{code} {col}: {x[code]!r} published, {y[code]!r} replayed")
    if cells:
        lines.append(f"{len(cells)} cell(s) differ:")
        lines.extend("  " + c for c in cells[:limit])
        if len(cells) > limit:
            lines.append(f"  ... and {len(cells) - limit} more")
    return lines


def hash_tree(root: Path, names: Iterable[str] | None = None) -> dict[str, str]:
    """SHA-256 of every file under ``root`` (or of the given relative ``names``), posix paths."""
    if names is None:
        names = sorted(
            p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()
        )
    return {n: sha256_file(root / n) for n in names}
