"""Replay: re-create a published run directory from its recorded config and the data, and compare.

:func:`replay` rebuilds the whole run directory (manifest included) from the run's recorded
``config.yaml`` and the source files, always from the sources (never the areas cache), in a
temporary folder, then compares every file of the published directory with the rebuilt one,
byte for byte and both ways: a changed, a missing and an extra file are each a difference. The
report also says which published file no longer matches the manifest's hash, which input files
changed, which config values or lines were edited, which manifest fields differ, and which
allocation cells differ and by how much. ``ok`` is True only when nothing differs.

Because the manifest records the SHA-256 of the harmonised areas table (``areas_sha256``), a run
made from a tampered cache cannot replay: the rebuilt table, and so the rebuilt manifest,
differ.
"""

from __future__ import annotations

import difflib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import AllocatorError
from .provenance import (
    MANIFEST_NAME,
    Manifest,
    cell_changes,
    collect_versions,
    dict_changes,
    hash_changes,
    sha256_file,
    version_changes,
)

#: Most lines of one file's differences shown in a report.
MAX_LINES = 25


@dataclass
class ReplayReport:
    """Outcome of a replay: ``ok`` is True only when every output is byte-identical."""

    run_dir: Path
    ok: bool
    differences: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        """Human-readable report."""
        head = (
            f"replay of {self.run_dir}: every output is byte-identical to the published run"
            if self.ok
            else f"replay of {self.run_dir}: DIFFERS from the published run"
        )
        lines = [head]
        if self.differences:
            lines.append("What differs:")
            lines.extend(f"- {d}" for d in self.differences)
        if self.info:
            lines.append("Also noted:")
            lines.extend(f"- {i}" for i in self.info)
        return "\n".join(lines)


def tree(root: Path) -> dict[str, str]:
    """Every entry under ``root`` by relative posix path: a file's SHA-256, else what it is."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for name in sorted(dirnames + filenames):
            p = base / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = "(a symbolic link)"
            elif p.is_dir():
                out[rel + "/"] = "(a folder)"
            elif p.is_file():
                out[rel] = sha256_file(p)
            else:
                out[rel] = "(not a regular file)"
    return out


def _short(text: object, limit: int = 160) -> str:
    from .safe_files import excerpt

    return excerpt(text, limit)


def _text_diff(old: str, new: str, name: str) -> list[str]:
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), "recorded", name,
                                      lineterm="", n=0))
    body = [f"  {_short(line)}" for line in lines[2:] if not line.startswith("@@")]
    return body[:MAX_LINES] + ([f"  ... and {len(body) - MAX_LINES} more lines"]
                               if len(body) > MAX_LINES else [])


def _read_text(p: Path) -> str | None:
    try:
        return p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _recorded_config(run_dir: Path, manifest: Manifest, differences: list[str]) -> Any:
    """The config to re-run: the run's config file if it is one, else the manifest's copy."""
    import yaml

    from .config import config_from_dict, read_config_document

    path = run_dir / manifest.config_file
    recorded_text = None
    if manifest.config is not None:
        recorded_text = yaml.safe_dump(manifest.config, sort_keys=True, allow_unicode=True,
                                       width=100)
    now = _read_text(path) if path.is_file() and not path.is_symlink() else None
    if recorded_text is not None and now is not None and now != recorded_text:
        differences.append(f"{manifest.config_file} differs from the copy in the manifest "
                           "(edited after the run):")
        differences.extend(_text_diff(recorded_text, now, manifest.config_file))
    try:
        cfg = config_from_dict(read_config_document(path), source=str(path))
    except AllocatorError as exc:
        differences.append(f"{manifest.config_file} is not a valid config now: {_short(exc, 300)}")
        if manifest.config is None:
            return None
        try:
            cfg = config_from_dict(manifest.config, source="the manifest's copy of the config")
        except AllocatorError as exc2:
            differences.append(f"the manifest's copy of the config is not valid either: "
                               f"{_short(exc2, 300)}")
            return None
    if cfg.hash() != manifest.config_hash:
        changes = dict_changes(manifest.config or {}, cfg.canonical()) if manifest.config else []
        detail = "; ".join(_short(c) for c in changes[:MAX_LINES]) if changes else (
            "the values equal the manifest's copy but the recorded hash differs"
            if manifest.config else "the manifest holds no copy to compare")
        differences.append(f"config {manifest.config_file} differs from the one recorded: {detail}")
    return cfg


def _input_hashes(manifest: Manifest, root: Path) -> dict[str, str]:
    """SHA-256 now of each input the manifest names (confined to the data folder)."""
    from .safe_files import resolve_input

    out: dict[str, str] = {}
    for name in manifest.inputs:
        try:
            out[name] = sha256_file(resolve_input(name, root, "input", max_bytes=2**62))
        except (AllocatorError, OSError):
            continue
    return out


#: Files that are drawings of the results (not results): a replay says when only these differ.
FIGURE_SUFFIXES = (".png", ".pdf")


def compare_trees(published: Path, rebuilt: Path, differences: list[str]) -> None:
    """Append a line per file that differs between two run directories, with what differs
    (cells of a table, fields of the manifest, the size of an image), and a last line when only
    the figures differ."""
    from .runtable import read_table

    old, new = tree(published), tree(rebuilt)
    changed = {n for n in set(old) & set(new) if old[n] != new[n]}
    only_figures = set(old) == set(new)
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        if b is None:
            differences.append(f"{name}: in the published run but not produced by the replay "
                               "(an extra file)")
            continue
        if a is None:
            differences.append(f"{name}: produced by the replay but missing from the published run")
            continue
        differences.append(f"{name}: the published bytes differ from the replay's "
                           f"(sha256 {a[:12]}... published, {b[:12]}... replayed)")
        if name == MANIFEST_NAME:
            lines, hashes_only = _manifest_changes(published / name, rebuilt / name, changed)
            differences.extend(lines)
            only_figures = only_figures and hashes_only
        elif name.endswith(".png"):
            differences.append(f"  {name}: {_png_change(published / name, rebuilt / name)}")
        elif name.endswith(".csv"):
            try:
                cells = cell_changes(read_table(published / name), read_table(rebuilt / name))
            except (AllocatorError, ValueError, KeyError, TypeError):
                cells = []
            differences.extend(f"  {name}: {_short(c)}" for c in cells[:MAX_LINES])
            if not cells:
                pub, reb = _read_text(published / name), _read_text(rebuilt / name)
                if pub is not None and reb is not None:
                    differences.extend(_text_diff(reb, pub, name))
        only_figures = only_figures and (name == MANIFEST_NAME or name.endswith(FIGURE_SUFFIXES))
    figures = sorted(n for n in changed if n.endswith(FIGURE_SUFFIXES))
    if only_figures and figures:
        differences.append(
            f"only figures differ (the {len(figures)} PNG and PDF files above, and their sha256 "
            "in the manifest): every other file, the allocation and every table included, is "
            "byte-identical; the figures are drawn differently by this version of the engine or "
            "of its plotting libraries")


def _png_size(path: Path) -> str | None:
    """``"W x H px at D dpi"`` from a PNG's header, or ``None`` if it is not a PNG."""
    import struct

    try:
        with path.open("rb") as f:
            head = f.read(8 + 25 + 21)
    except OSError:
        return None
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    size = f"{width:,} x {height:,} px"
    if head[37:41] == b"pHYs" and head[49] == 1:  # pixels per metre
        size += f" at {struct.unpack('>I', head[41:45])[0] * 0.0254:.0f} dpi"
    return size


def _png_change(published: Path, rebuilt: Path) -> str:
    a, b = _png_size(published), _png_size(rebuilt)
    if a is None:
        return "the published file is not a PNG image"
    if a != b:
        return f"a different image size ({a} published, {b} replayed)"
    return f"the same size ({a}), different pixels"


def _manifest_changes(published: Path, rebuilt: Path, changed: set[str]) -> tuple[list[str], bool]:
    """Lines naming the manifest's differing fields, and whether they are only the sha256 of
    files in ``changed`` (already listed, so said in one line instead of one per file)."""
    try:
        a = json.loads(published.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return ["  manifest.json: the published file is not valid JSON"], False
    b = json.loads(rebuilt.read_text(encoding="utf-8"))
    listed: list[str] = []
    if isinstance(a, dict) and isinstance(a.get("outputs"), dict) and isinstance(b.get("outputs"), dict):
        oa, ob = a["outputs"], b["outputs"]
        listed = sorted(n for n in changed if n in oa and n in ob and oa[n] != ob[n])
        a = {**a, "outputs": {k: v for k, v in oa.items() if k not in listed}}
        b = {**b, "outputs": {k: v for k, v in ob.items() if k not in listed}}
    changes = dict_changes(b, a)
    lines = [f"  manifest.json field {_short(c)} (replayed -> published)"
             for c in changes[:MAX_LINES]] + (
        [f"  ... and {len(changes) - MAX_LINES} more"] if len(changes) > MAX_LINES else [])
    if listed:
        lines.insert(0, f"  manifest.json fields outputs.*: the sha256 of the {len(listed)} "
                        f"other files listed here ({', '.join(listed)})")
    return lines, not changes


def replay(
    manifest_path: str | Path, data_dir: str | Path | None = None, *, progress: bool = False
) -> ReplayReport:
    """Re-create a published run directory and compare it, file by file and byte by byte.

    Parameters
    ----------
    manifest_path : path-like
        ``manifest.json`` of the run (or its run directory).
    data_dir : path-like, optional
        Folder with the source files (default resolution as for ``run``).
    progress : bool
        Print a line on stderr as each step starts.

    Returns
    -------
    ReplayReport

    Raises
    ------
    DataError
        The manifest is missing or is not an allocator manifest (exit 2): there is nothing to
        replay. Everything else that differs is reported, not raised.
    """
    from .paths import resolve_data_dir
    from .pipeline import run as run_pipeline
    from .progress import progress_line as _progress
    from .rundir import REPLAY_PREFIX, make_locked_dir, remove_locked_dir, sweep_stale

    sweep_stale(Path(tempfile.gettempdir()), REPLAY_PREFIX)  # folders of killed replays
    _progress(progress, "checking the published files against the manifest")
    manifest_file = Path(manifest_path)
    if manifest_file.is_dir():
        manifest_file = manifest_file / MANIFEST_NAME
    manifest = Manifest.read(manifest_file)
    run_dir = manifest_file.parent
    differences: list[str] = []
    info: list[str] = []

    # 1. Published files against the manifest's record of them.
    published_now = {k: v for k, v in tree(run_dir).items() if k != MANIFEST_NAME}
    for line in hash_changes(manifest.outputs, published_now, "published file"):
        differences.append(line.replace("now", "on disk now")
                           + " (the file or the manifest was edited after the run)")

    # 2. The recorded config.
    cfg = _recorded_config(run_dir, manifest, differences)

    # 3. Versions and inputs as they are now.
    vchanges = version_changes(manifest.versions, collect_versions())
    info.extend(vchanges)
    root = resolve_data_dir(data_dir)
    differences.extend(
        f"{line} (the source data changed since the run, or the manifest was edited)"
        for line in hash_changes(manifest.inputs, _input_hashes(manifest, root), "input file")
    )

    # 4. Re-create the run directory from the sources (no cache) and compare every file.
    if cfg is None:
        differences.append("the run cannot be re-created: no valid config")
    else:
        tmp = make_locked_dir(Path(tempfile.gettempdir()), REPLAY_PREFIX)
        try:
            _progress(progress, "re-creating the run directory from the recorded config and "
                      "the source files (no cache)")
            try:
                result = run_pipeline(cfg, data_dir=root, progress=progress, verify_hashes=False,
                                      cache=False)
                rebuilt = result.write(tmp, name="run", progress=progress)
            except AllocatorError as exc:
                differences.append(f"the re-run failed: {_short(exc, 400)}")
            else:
                _progress(progress, "comparing every file, byte for byte, both ways")
                compare_trees(run_dir, rebuilt, differences)
        finally:
            remove_locked_dir(tmp)
    if vchanges and differences:
        info.append("dependency versions differ from the manifest: they may explain the differences")
    return ReplayReport(run_dir=run_dir, ok=not differences, differences=differences, info=info)


__all__ = ["ReplayReport", "compare_trees", "replay", "tree"]
