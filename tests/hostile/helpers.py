"""Helpers of the hostile-input and fault catalogue (issue 10); fixtures are in conftest.py.

Every case drives the engine the way a user does: the ``allocator`` command line in a
subprocess (real exit codes, real stderr, real signals), or the Python API where a full run is
not needed. Broken data directories are *mirrors* of the shared official data: a tree of
symlinks to every file, in which the one file a case breaks is replaced by an edited copy. The
official files themselves are never modified.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from allocator.paths import default_data_dir
from allocator.rundir import TMP_PREFIX

REPO_ROOT = Path(__file__).resolve().parents[2]
BASE_CONFIG = REPO_ROOT / "configs" / "ssmtrg-2022-25.yaml"
DATA_DIR = default_data_dir()

DEATHS = "ons_drug_deaths_la_2021reg/DERIVED_table6_drug_misuse_asmr_persons_long.csv"
BOUNDARIES = "ons_boundaries_buc/DERIVED_CTYUA_May2021_UK_BUC.geojson"
IMD = "imd2019_utla/File_11_-_IoD2019_Local_Authority_District_Summaries__upper-tier__.xlsx"

#: Outputs that are slow to draw and that no case inspects.
FAST_OUTPUT = {"static_maps": False, "hex_cartogram": False}

needs_data = pytest.mark.skipif(DATA_DIR is None, reason="shared/geodata not present")


# --------------------------------------------------------------------------- configs
def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def config_doc(overrides: Mapping[str, Any] | None = None, *, draws: int = 200,
               mirror: bool = False, fast: bool = True) -> dict[str, Any]:
    """A test config: ``extends`` the published config, few Monte Carlo draws, ``overrides``.

    ``mirror=True`` turns the hash check off (an edited copy can never match the catalogue).
    """
    doc: dict[str, Any] = {"extends": str(BASE_CONFIG), "uncertainty": {"draws": draws}}
    if mirror:
        doc["data"] = {"verify_hashes": False}
    if fast:
        doc["output"] = dict(FAST_OUTPUT)
    return _merge(doc, overrides or {})


def write_config(path: Path, overrides: Mapping[str, Any] | None = None, **kw: Any) -> Path:
    """Write :func:`config_doc` as YAML at ``path`` and return it."""
    path.write_text(yaml.safe_dump(config_doc(overrides, **kw), sort_keys=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- processes
def child_pids(pid: int) -> list[int]:
    """The PIDs of process ``pid``'s children (Linux; none if it has gone)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


# --------------------------------------------------------------------------- command line
@dataclass
class CliResult:
    """What a user sees: exit code, stdout and stderr."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def message(self) -> str:
        """stderr with click's line wrapping undone (one space between words)."""
        return " ".join(self.stderr.split())


@functools.lru_cache(maxsize=1)
def cache_dir() -> str:
    """A private areas-table cache for this test session (removed at exit).

    Tables built from edited mirrors must not land in the repository's ``geodata/cache``.
    """
    d = tempfile.mkdtemp(prefix="allocator-hostile-cache-")
    atexit.register(shutil.rmtree, d, True)
    return d


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a subprocess: no $ALLOCATOR_DATA_DIR, the private cache."""
    env = dict(os.environ)
    env.pop("ALLOCATOR_DATA_DIR", None)
    env["ALLOCATOR_CACHE_DIR"] = cache_dir()
    env.update(extra or {})
    return env


def cli_args(*args: object) -> list[str]:
    return [sys.executable, "-m", "allocator.cli", *[str(a) for a in args]]


def run_cli(*args: object, env: Mapping[str, str] | None = None) -> CliResult:
    """Run ``allocator ARGS`` in this process (click's test runner): fast, same code path.

    Exit code and stderr are what a user would get; an exception that escapes the command's
    own error handling is rendered as a traceback in ``stderr``, so assertions catch it.
    """
    from click.testing import CliRunner

    from allocator.cli import main

    argv = [str(a) for a in args]
    runner = CliRunner()
    extra = {"ALLOCATOR_CACHE_DIR": cache_dir(), "ALLOCATOR_DATA_DIR": None, **(env or {})}
    result = runner.invoke(main, argv, env=extra, catch_exceptions=True)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return CliResult(["allocator", *argv], result.exit_code, result.stdout, stderr)


def run_cli_process(*args: object, timeout: float = 300, env: Mapping[str, str] | None = None,
                    cwd: Path | None = None) -> CliResult:
    """Run ``allocator ARGS`` in a subprocess (real signals, real process exit)."""
    argv = cli_args(*args)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          env=cli_env(env), cwd=cwd or REPO_ROOT)
    return CliResult(argv, proc.returncode, proc.stdout, proc.stderr)


def assert_clean_error(res: CliResult, *needles: str, code: int = 2) -> None:
    """Exit ``code``, one ``error:`` paragraph, no traceback, and every needle in the message."""
    shown = f"exit {res.returncode}\nstdout:\n{res.stdout[-2000:]}\nstderr:\n{res.stderr[-4000:]}"
    assert res.returncode == code, shown
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout, shown
    assert "error: " in res.stderr, shown
    assert "unexpected internal error" not in res.stderr, shown
    for n in needles:
        assert n in res.message, f"{n!r} not in the message\n{shown}"


# --------------------------------------------------------------------------- file trees
def snapshot(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` (hidden ones included), by relative path."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() or p.is_symlink():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.is_dir():
            out[str(p.relative_to(root)) + "/"] = "dir"
    return out


def temp_dirs(parent: Path) -> list[Path]:
    """Hidden temporary run directories under ``parent`` (their lock files are not listed)."""
    return sorted(p for p in parent.glob(TMP_PREFIX + "*") if p.is_dir()) if parent.is_dir() else []


class Mirror(type(Path())):  # type: ignore[misc]
    """A data directory of symlinks to the official files; edits replace one link by a copy."""

    def edit(self, rel: str) -> Path:
        """Replace the link ``rel`` by a writable copy of the official file; return its path."""
        p = self / rel
        p.unlink()
        shutil.copyfile(DATA_DIR / rel, p)
        return p

    def remove(self, rel: str) -> None:
        (self / rel).unlink()

    def edit_csv(self, rel: str, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
        """Rewrite CSV ``rel`` through ``fn`` (all cells as text, nothing else changed)."""
        p = self.edit(rel)
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
        fn(df).to_csv(p, index=False)
        return p

    def edit_boundaries(self, fn: Callable[[Any], Any]) -> Path:
        """Rewrite the May 2021 boundary file through ``fn`` (a GeoDataFrame in, one out)."""
        import geopandas as gpd

        p = self.edit(BOUNDARIES)
        gdf = fn(gpd.read_file(p))
        p.unlink()
        gdf.to_file(p, driver="GeoJSON")
        return p


def make_mirror(root: Path) -> Mirror:
    assert DATA_DIR is not None
    root = Mirror(root)
    for src in DATA_DIR.rglob("*"):
        if src.is_file():
            link = root / src.relative_to(DATA_DIR)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(src)
    return root


# --------------------------------------------------------------------------- session set-up
@dataclass
class Baseline:
    """The session's reference run: its config, output folder, run directory and file hashes."""

    config: Path
    parent: Path
    run_dir: Path
    files: dict[str, str]


class Outputs:
    """A private copy of the baseline output folder."""

    def __init__(self, path: Path, base: Baseline) -> None:
        self.path = path
        self.base = base
        shutil.copytree(base.parent, path, symlinks=False)
        self.before = snapshot(path)

    @property
    def previous(self) -> Path:
        return self.path / self.base.run_dir.name

    def entries(self) -> list[str]:
        return sorted(p.name for p in self.path.iterdir())

    def new_entries(self) -> list[str]:
        return sorted(set(self.entries()) - {self.base.run_dir.name})

    def assert_unchanged(self) -> None:
        """Nothing added (not even a hidden temp dir), nothing removed, every byte the same."""
        assert self.entries() == [self.base.run_dir.name], self.entries()
        assert snapshot(self.path) == self.before


def read_table(path: Path) -> pd.DataFrame:
    """Read a run's CSV (skipping its ``#`` provenance header) with every cell as text."""
    return pd.read_csv(path, comment=None, dtype=str, keep_default_na=False,
                       skiprows=_header_lines(path))


def _header_lines(path: Path) -> int:
    n = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith("# "):
                break
            n += 1
    return n
