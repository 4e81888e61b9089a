"""``history`` and ``replay`` of a chain of versions.

:func:`replay_chain` replays the run (version 1) exactly as ``allocator replay`` does, then
re-applies each amendment, in order, to the *re-created* previous version, and compares every
version's files with the published ones, byte for byte and both ways. Every difference names
its version and file, so a tampered middle version (an edited ``ledger.csv``,
``allocation.csv``, manifest or amendment file) is named, not blamed on the versions after it.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..audit import ReplayReport, compare_trees, tree
from ..errors import AllocatorError
from ..provenance import MANIFEST_NAME, hash_changes
from .version import Version, chain

_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})-")


@dataclass
class History:
    """The chain of a version, oldest first.

    Attributes
    ----------
    versions : DataFrame
        One row per version: ``version``, ``written`` (the date the version was written, from
        its folder name ``<date>-...``; ``-`` when the folder was renamed), ``effective`` (when
        it takes effect: a run from the start of its first year, an amendment from its
        ``effective`` date, or ``years ...`` for one that names the years it changes), ``name,
        folder, run_hash, manifest_sha256, pounds_up, pounds_down`` (whole pounds more and less
        for LAs than in the version before), ``budget_change`` (in words, e.g.
        ``continuation_2023_24 -£40,000``) and
        ``parent_link`` (empty, or why the version's link to its parent's manifest is broken:
        that manifest was edited after the version was made).
    """

    versions: pd.DataFrame

    def to_text(self) -> str:
        """The chain as lines a person reads, oldest first."""
        lines = [f"{len(self.versions)} version(s), oldest first (written: the date the version "
                 "was made; effective: from when it applies)"]
        for r in self.versions.itertuples(index=False):
            change = (f"LAs +£{r.pounds_up:,} / -£{r.pounds_down:,}" if r.version > 1
                      else "the run as published")
            if r.budget_change:
                change += f"; budget {r.budget_change}"
            lines.append(f"  version {r.version}  written {r.written}  effective {r.effective}  "
                         f"{r.name}  ({r.folder})")
            lines.append(f"    manifest sha256 {r.manifest_sha256[:16]}, run hash "
                         f"{r.run_hash[:16]}: {change}")
            if r.parent_link:
                lines.append(f"    LINK BROKEN: {r.parent_link}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def _effective(v: Version) -> str:
    """When a version applies: an amendment's ``effective`` date or ``years``, a run's first
    year (from its start, 1 April)."""
    from .schema import year_start

    am = v.ledger.get("amendment")
    if am:
        if am.get("effective"):
            return str(am["effective"])
        return "years " + ", ".join(am.get("years") or []) if am.get("years") else "-"
    alloc = (v.manifest.config or {}).get("allocation") or {}
    years = alloc.get("years") or sorted({y for st in (alloc.get("streams") or {}).values()
                                          for y in (st.get("budget") or {})})
    try:
        return f"{year_start(str(years[0])).isoformat()} (start of {years[0]})"
    except (IndexError, ValueError):
        return "-"


def _row(v: Version) -> dict[str, object]:
    led = v.ledger
    am = led.get("amendment", {})
    m = _DATE.match(v.path.name)
    budget = ", ".join(f"{k} {'+' if p > 0 else '-'}£{abs(p):,}"
                       for k, p in led.get("budget_change", {}).items() if p)
    return {"version": v.number, "written": m.group(1) if m else "-", "effective": _effective(v),
            "name": am.get("name", f"run of config {v.manifest.config_name}"),
            "folder": v.path.name, "run_hash": v.run_hash, "manifest_sha256": v.manifest_sha256,
            "pounds_up": int(led.get("pounds_up", 0)), "pounds_down": int(led.get("pounds_down", 0)),
            "budget_change": budget}


def history(run: str | os.PathLike[str]) -> History:
    """The chain that ends at ``run`` (a run directory or amended version), oldest first.

    Raises
    ------
    DataError
        A version's folder or manifest is missing or not one this engine wrote.
    """
    versions = chain(run)
    rows = [_row(v) for v in versions]
    for row, parent, v in zip(rows[1:], versions[:-1], versions[1:], strict=True):
        linked = str(v.ledger["parent"].get("manifest_sha256"))
        row["parent_link"] = "" if linked == parent.manifest_sha256 else (
            f"made from version {parent.number}'s manifest with sha256 {linked[:16]}, but that "
            f"manifest now has {parent.manifest_sha256[:16]} (edited after this version was "
            "made; `allocator replay` names every difference)")
    rows[0]["parent_link"] = ""
    return History(pd.DataFrame(rows))


def _check_version_files(v: Version, differences: list[str]) -> None:
    """Published files against the version's manifest record."""
    now = {k: h for k, h in tree(v.path).items()
           if k != MANIFEST_NAME and not (k.endswith("/") and h == "(a folder)")}
    for line in hash_changes(v.manifest.outputs, now, "published file"):
        differences.append(f"{v.label()}: {line.replace('now', 'on disk now')} (the file or the "
                           "manifest was edited after the version was written)")


def replay_chain(run: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None, *,
                 progress: bool = False) -> ReplayReport:
    """Replay every version of the chain ending at ``run`` and compare every file.

    Parameters
    ----------
    run : path-like
        An amended version (or its ``manifest.json``); a plain run is replayed as by
        :func:`allocator.replay_run`.
    data_dir : path-like, optional
        The data folder.
    progress : bool
        A line on stderr as each version starts.

    Returns
    -------
    ReplayReport
        ``ok`` only when every version is byte-identical; each difference starts with
        ``version N (<folder>)``.
    """
    from ..audit import replay
    from ..progress import progress_line
    from ..rundir import REPLAY_PREFIX, make_locked_dir, remove_locked_dir
    from .api import build_version
    from .version import read_version
    from .write import write_version

    versions = chain(run)
    root = versions[0]
    progress_line(progress, f"replaying {root.label()} from its config and the data")
    first = replay(root.path, data_dir=data_dir, progress=progress)
    differences = [f"{root.label()}: {d}" for d in first.differences]
    info = list(first.info)
    parent = root
    tmp = make_locked_dir(Path(tempfile.gettempdir()), REPLAY_PREFIX)
    try:
        for v in versions[1:]:
            progress_line(progress, f"re-applying the amendment of {v.label()}")
            _check_version_files(v, differences)
            link = v.ledger["parent"]
            if link.get("manifest_sha256") != parent.manifest_sha256:
                differences.append(
                    f"{v.label()}: manifest.json links to a parent manifest with sha256 "
                    f"{str(link.get('manifest_sha256'))[:12]}..., but version {parent.number}'s "
                    f"re-created manifest has {parent.manifest_sha256[:12]}...")
            try:
                built = build_version(parent, v.path / "amendment.yaml",
                                      parent_dir=str(link.get("dir", "")), data_dir=data_dir,
                                      root_dir=root.path,
                                      cache=False)
                rebuilt = write_version(built, tmp, f"version-{v.number}")
            except AllocatorError as exc:
                differences.append(f"{v.label()}: re-applying its amendment.yaml failed: {exc}")
                break
            found: list[str] = []
            compare_trees(v.path, rebuilt, found)
            differences += [f"{v.label()}: {d}" for d in found]
            parent = read_version(rebuilt)
    finally:
        remove_locked_dir(tmp)
    return ReplayReport(run_dir=versions[-1].path, ok=not differences, differences=differences,
                        info=info)


__all__ = ["History", "history", "replay_chain"]
