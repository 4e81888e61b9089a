"""A version of an allocation (a run directory, or an amended version of one) and its chain.

Version 1 is a run (``allocator run``); version ``n + 1`` is an amendment of version ``n``.
An amended version's manifest has a ``ledger`` object: ``version``, ``parent`` (the parent's
``run_hash``, the SHA-256 of its ``manifest.json`` and its folder relative to this one),
``root_run_hash``, ``amendment`` (file name, SHA-256, name, reason, effective date or years)
and the ``corrections`` in force. :func:`chain` walks it back to the run, checking every link.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError
from ..provenance import MANIFEST_NAME, Manifest, sha256_file

#: Longest chain walked (a loop of folders would otherwise never end).
MAX_VERSIONS = 1000


@dataclass
class Version:
    """One version: its folder, manifest (and that file's SHA-256) and allocation."""

    path: Path
    manifest: Manifest
    manifest_sha256: str
    allocation: pd.DataFrame
    header: list[str]

    @property
    def number(self) -> int:
        """1 for a run, ``n`` for the ``n``-th version of a chain."""
        return 1 if self.manifest.ledger is None else int(self.manifest.ledger["version"])

    @property
    def ledger(self) -> dict[str, Any]:
        return self.manifest.ledger or {}

    @property
    def corrections(self) -> list[dict[str, Any]]:
        """Input corrections in force in this version (from every amendment before it)."""
        return list(self.ledger.get("corrections", []))

    @property
    def run_hash(self) -> str:
        return self.manifest.run_hash

    @property
    def root_run_hash(self) -> str:
        return str(self.ledger.get("root_run_hash", self.manifest.run_hash))

    def label(self) -> str:
        return f"version {self.number} ({self.path.name})"

    def config(self) -> Any:
        """The run's config (``config.yaml``), checked against the manifest's hash."""
        from ..config import config_from_dict, read_config_document

        path = self.path / self.manifest.config_file
        cfg = config_from_dict(read_config_document(path), source=str(path))
        if cfg.hash() != self.manifest.config_hash:
            raise DataError(f"the config's hash {cfg.hash()[:16]} is not the one its manifest "
                            f"records ({self.manifest.config_hash[:16]}): edited after the run",
                            file=path)
        return cfg


def read_version(path: str | os.PathLike[str]) -> Version:
    """Read a run directory or amended version (``manifest.json`` and ``allocation.csv``).

    Raises
    ------
    DataError
        Not a run directory, or its manifest or allocation is not one this engine wrote.
    """
    from ..columns import MONEY_PATTERN
    from ..runtable import header_lines, read_table

    p = Path(path)
    if p.name == MANIFEST_NAME and p.is_file():
        p = p.parent
    if not (p / MANIFEST_NAME).is_file():
        raise DataError("not a run directory (no manifest.json)", file=p)
    manifest = Manifest.read(p / MANIFEST_NAME)
    led = manifest.ledger
    if led is not None and (not isinstance(led.get("version"), int) or led["version"] < 2
                            or not isinstance(led.get("parent"), dict)):
        raise DataError("not an allocator manifest: 'ledger' lacks its version or parent",
                        file=p / MANIFEST_NAME)
    alloc_path = p / "allocation.csv"
    table = read_table(alloc_path, required=("code", "name", "region", "wave", "total"),
                       integers=("wave", "total", "pop_all", MONEY_PATTERN))
    return Version(p, manifest, sha256_file(p / MANIFEST_NAME), table, header_lines(alloc_path))


def find_parent(version: Version) -> Version:
    """The version ``version`` amends: the folder its manifest names, else a sibling folder
    whose manifest has the recorded run hash.

    Raises
    ------
    DataError
        No folder holds the parent.
    """
    parent = version.ledger["parent"]
    want = str(parent.get("run_hash", ""))
    candidates: list[Path] = []
    rel = parent.get("dir")
    if isinstance(rel, str) and rel:
        candidates.append(Path(os.path.normpath(version.path / rel)))
    candidates += sorted(q for q in version.path.parent.iterdir() if q.is_dir())
    for cand in candidates:
        if cand == version.path or not (cand / MANIFEST_NAME).is_file():
            continue
        try:
            m = Manifest.read(cand / MANIFEST_NAME)
        except DataError:
            continue
        if m.run_hash == want:
            return read_version(cand)
    raise DataError(f"the parent of {version.label()} (run hash {want[:16]}) is not in "
                    f"{rel!r} nor beside it; put the earlier versions of the chain back",
                    file=version.path)


def chain(path: str | os.PathLike[str]) -> list[Version]:
    """Every version from the run to ``path``, oldest first."""
    out = [read_version(path)]
    while out[-1].manifest.ledger is not None:
        if len(out) > MAX_VERSIONS:
            raise DataError(f"the chain is longer than {MAX_VERSIONS} versions (a loop?)",
                            file=out[0].path)
        out.append(find_parent(out[-1]))
    out.reverse()
    return out


__all__ = ["Version", "chain", "find_parent", "read_version"]
