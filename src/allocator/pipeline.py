"""``run()``: the one place the steps are put in order.

data -> need index (+ Monte Carlo) -> waves -> allocation -> outputs. A notebook calls the same
functions the command line does::

    from allocator import load_config, run
    result = run(load_config("configs/ssmtrg-2022-25.yaml"))
    result.allocation          # DataFrame, whole pounds
    result.index               # ranks, 5-95% intervals, P(wave 1)
    result.write("outputs/")   # run directory + manifest
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from .allocate.crosscheck import solver_summary  # noqa: F401 - re-exported (ledger, tests)
from .columns import total_column
from .config import RunConfig
from .data import AreaData, load_areas
from .errors import ConfigError, OutputError
from .paths import HEX_CARTOGRAM, REPO_ROOT, resolve_data_dir
from .progress import progress_line as _progress
from .provenance import MANIFEST_NAME, Manifest, collect_versions, run_hash, sha256_file


@dataclass
class RunResult:
    """Everything one run produced, in memory. :meth:`write` makes the run directory.

    Attributes
    ----------
    config : RunConfig
    config_hash : str
    areas : AreaData
        The areas table with its sources, notes and flags.
    index : DataFrame
        One row per LA: indicators raw/normalised/contributions, score, rank, wave, rank
        interval, P(wave 1), P(wave <= 2), borderline, flags.
    allocation : DataFrame
        Publication table in whole pounds.
    explain : DataFrame
        Per LA x stream x year waterfall.
    checks : dict
        The strategy's own sanity checks (reported, not forced).
    notes : list of str
        Statements every output repeats (missing indicators, imputations).
    inputs : dict
        SHA-256 of every input file, by path relative to the data directory.
    areas_sha256 : str, optional
        Digest of the areas table used (:func:`allocator.data.cache.table_digest`).
    """

    config: RunConfig
    config_hash: str
    areas: AreaData
    index: pd.DataFrame
    allocation: pd.DataFrame
    explain: pd.DataFrame
    checks: dict[str, Any]
    notes: list[str]
    inputs: dict[str, str]
    solver: dict[str, Any]
    problem: Any = field(repr=False)
    data_dir: Path | None = None
    overrides: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    sensitivity: pd.DataFrame | None = field(default=None, repr=False)
    sensitivity_notes: list[str] = field(default_factory=list, repr=False)
    areas_sha256: str | None = None
    groupings: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def run_hash(self) -> str:
        """Hash of the config together with every input file."""
        return run_hash(self.config_hash, self.inputs)

    @property
    def streams(self) -> list[str]:
        return list(self.config.allocation.streams)

    @property
    def years(self) -> list[str]:
        return self.config.allocation.resolved_years()

    def headline(self) -> str:
        """One line per year: the totals, so a user sees the budgets were met."""
        parts = []
        for y in self.years:
            col = total_column(y)
            parts.append(f"{y} £{int(self.allocation[col].sum()):,}")
        waves = self.allocation["wave"].value_counts().sort_index()
        sizes = "/".join(str(int(v)) for v in waves.to_numpy())
        return f"{self.config.name}: {len(self.allocation)} LAs, waves {sizes}; " + ", ".join(parts)

    def sources(self) -> list[str]:
        """One line per source file with its publisher and period."""
        lines = []
        for s in self.areas.sources:
            period = f" ({s['period']})" if s.get("period") else ""
            lines.append(f"{s.get('publisher', '')}: {s.get('title', s.get('path'))}{period}".strip(": "))
        return lines

    def map_frame(self) -> gpd.GeoDataFrame:
        """One row per LA with what the map and figures show (EPSG:27700)."""
        from .report.frames import map_frame

        return map_frame(self)

    def default_name(self) -> str:
        """``<date>-<config name>-<short run hash>`` for the run directory."""
        return f"{dt.date.today().isoformat()}-{self.config.name}-{self.run_hash[:8]}"

    def write(
        self, parent: str | os.PathLike[str], *, name: str | None = None, progress: bool = False,
        drawer: Any = None,
    ) -> Path:
        """Write the run directory atomically under ``parent`` and return its path.

        ``progress`` prints one line on stderr as each group of files is written. ``drawer``: a
        started :class:`allocator.report.prefork.Drawer` to draw the figures and the map in
        (``allocator run`` starts one before the run computes); by default they are drawn here.
        """
        from .report.write import write_run

        return write_run(self, Path(parent), name or self.default_name(), progress=progress,
                         drawer=drawer)


def output_parent(config: RunConfig, out: str | os.PathLike[str] | None = None) -> Path:
    """Folder that receives run directories: ``--out`` if given, else the config's ``output.dir``."""
    if out is not None:
        return Path(out)
    base = REPO_ROOT if (REPO_ROOT / "pyproject.toml").is_file() else Path.cwd()
    target = (base / config.output.dir).resolve()
    if base.resolve() not in target.parents and target != base.resolve():
        raise OutputError(f"output.dir {config.output.dir!r} resolves outside the project ({target})")
    return target


def prepare(
    config: RunConfig,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    verify_hashes: bool | None = None,
    cache: bool | None = None,
) -> tuple[Path, AreaData]:
    """Resolve the data directory and load the areas table for ``config``.

    ``verify_hashes`` and ``cache`` override ``config.data`` for this load only (the config and
    its hash are unchanged): replay reports changed inputs itself and never uses the cache.
    """
    root = resolve_data_dir(data_dir)
    data_cfg = config.data
    update: dict[str, bool] = {}
    if verify_hashes is not None:
        update["verify_hashes"] = verify_hashes
    if cache is not None:
        update["cache"] = cache
    if update:
        data_cfg = data_cfg.model_copy(update=update)
    areas = load_areas(data_cfg, root)
    if data_cfg.rasters:
        from .raster import add_raster_indicators

        frame, sources, notes = add_raster_indicators(areas.frame, data_cfg.rasters, base_dir=root)
        areas.frame = frame
        areas.sources = [*areas.sources, *sources]
        areas.notes = [*areas.notes, *notes]
    return root, areas


@dataclass
class SetUp:
    """Everything :func:`set_up` checked: data, need index, waves, the presolved problem."""

    root: Path
    areas: AreaData
    need: Any
    waves: Any
    problem: Any
    groupings: dict[str, pd.DataFrame] = field(default_factory=dict)


def set_up(
    config: RunConfig,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    progress: bool = False,
    verify_hashes: bool | None = None,
    cache: bool | None = None,
    revise: Any = None,
) -> SetUp:
    """Every check a run makes before its Monte Carlo and solve; :func:`validate` runs exactly this.

    Loads and checks the data (contracts, floor and OCU files), builds the need index and the
    waves, builds the allocation problem and presolves it. ``revise``, if given, is called with
    the areas table before the index is built and returns the table to use (an amendment's
    corrected input values, :mod:`allocator.ledger.correct`); ``config.waves`` then cuts the
    revised ranking.
    """
    from .allocate import AllocationProblem
    from .index import NeedIndex, index_table
    from .report.rollup import read_rollup_lookups
    from .waves import Waves

    _progress(progress, "loading and checking the source data")
    root, areas = prepare(config, data_dir, verify_hashes=verify_hashes, cache=cache)
    if revise is not None:
        areas.frame = revise(areas.frame)
    frame = areas.frame
    _check_published(config, frame["code"].astype(str).tolist())
    groupings = read_rollup_lookups(config.output.rollups, root, frame)
    _progress(progress, "building the need index")
    need = NeedIndex(config.index, tie_break=config.waves.tie_break).fit(frame)
    waves = Waves(config.waves).fit(need)
    table = index_table(frame, need, waves, None)
    alloc_in = pd.DataFrame(frame.drop(columns="geometry")).merge(
        table[["code", "need_factor", "wave"]], on="code"
    )
    _progress(progress, "checking the allocation set-up (presolve)")
    problem = AllocationProblem.from_config(config.allocation, alloc_in, base_dir=root)
    problem.presolve()
    return SetUp(root, areas, need, waves, problem, groupings)


def run(
    config: RunConfig,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    progress: bool = False,
    verify_hashes: bool | None = None,
    cache: bool | None = None,
) -> RunResult:
    """Run the whole pipeline in memory.

    Parameters
    ----------
    config : RunConfig
        A validated config (see :func:`allocator.config.load_config`).
    data_dir : path-like, optional
        Folder with the official source files (see :func:`allocator.paths.resolve_data_dir`).
    progress : bool
        Print progress lines and show the Monte Carlo progress bar.
    verify_hashes : bool, optional
        Override ``config.data.verify_hashes`` without changing the config (used by replay,
        which reports changed inputs itself).
    cache : bool, optional
        Override ``config.data.cache`` (``--no-cache``; replay always builds afresh).

    Returns
    -------
    RunResult
    """
    from ._forking import beside
    from .index import index_table, strategy_checks

    s = set_up(config, data_dir, progress=progress, verify_hashes=verify_hashes, cache=cache)
    root, areas, need, waves, problem = s.root, s.areas, s.need, s.waves, s.problem
    frame = areas.frame
    # The Monte Carlo and the Sobol' attribution do not depend on the allocation (nor it on
    # them): they run beside the solve, in a forked process where that is safe (no other
    # thread: `allocator run`), else in a daemon thread. Each reads only its own inputs, so the
    # results are the same as one after the other; an error or interrupt here does not wait
    # for them (and ends their process).
    uncertainty = beside(_uncertainty, config, frame, progress, what="the Monte Carlo process")
    try:
        _progress(progress, "solving the allocation")
        problem.solve()
        problem.verify()
        unc, sens = uncertainty.result()
    finally:
        uncertainty.cancel()
    table = index_table(frame, need, waves, unc)
    checks = strategy_checks(frame.merge(table[["code", "wave"]], on="code"))

    notes = list(dict.fromkeys([*areas.notes, *need.notes_, *config.allocation.caveats(),
                                *_deprivation_notes(config)]))
    from .data.cache import table_digest

    inputs = {s["path"]: s["sha256"] for s in areas.sources}
    inputs.update(_extra_inputs(config, root))
    solver = solver_summary(problem)
    return RunResult(
        config=config,
        config_hash=config.hash(),
        areas=areas,
        index=table,
        allocation=problem.allocation_,
        explain=problem.explain_,
        checks=checks,
        notes=notes,
        inputs=inputs,
        solver=solver,
        problem=problem,
        data_dir=root,
        overrides=waves.overrides_,
        sensitivity=None if sens is None else sens.indices_,
        sensitivity_notes=[] if sens is None else list(sens.notes_),
        areas_sha256=table_digest(areas),
        groupings=s.groupings,
    )



def _uncertainty(config: RunConfig, frame: pd.DataFrame, progress: bool) -> tuple[Any, Any]:
    """The rank uncertainty and the Sobol' attribution the config asks for (``None`` if not)."""
    from .montecarlo import RankUncertainty, WaveSensitivity

    unc = sens = None
    if not config.uncertainty.enabled:
        return unc, sens
    _progress(progress, f"Monte Carlo: {config.uncertainty.draws:,} draws")
    unc = RankUncertainty(
        # a bar only on a terminal: in a log file a redrawn bar repeats itself
        config.index, config.uncertainty, config.waves, progress=None if progress else False
    ).fit(frame)
    sens_cfg = config.uncertainty.sensitivity
    if sens_cfg is None or sens_cfg.enabled:
        _progress(progress, "Sobol attribution of wave-1 membership")
        sens = WaveSensitivity(config.index, config.uncertainty, config.waves).fit(frame)
    return unc, sens


def _check_published(config: RunConfig, codes: list[str]) -> None:
    """Fail before any work when ``output.published.merge`` names codes that are not LAs."""
    if config.output.published is None:
        return
    from .report.published import check_codes

    try:
        check_codes(config.output.published, codes)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _extra_inputs(config: RunConfig, root: Path) -> dict[str, str]:
    """Hashes of the other files a run reads: floor, eligibility, roll-up lookup, hex cartogram."""
    from .allocate.eligible import file_paths

    out: dict[str, str] = {}
    for stream in config.allocation.streams.values():
        for path in file_paths(stream.eligible):
            p = path if path.is_absolute() else root / path
            if p.is_file():
                out[str(path)] = sha256_file(p)
    for floor in config.allocation.floors:
        if floor.kind == "file" and floor.path is not None:
            from .safe_files import resolve_input

            p = resolve_input(floor.path, root, "allocation.floors path")
            out[str(floor.path)] = sha256_file(p)
    for item in config.output.rollups:  # read and checked by set_up
        out[item.lookup] = sha256_file(root / item.lookup)
    if config.output.static_maps and config.output.hex_cartogram and (root / HEX_CARTOGRAM).is_file():
        out[HEX_CARTOGRAM] = sha256_file(root / HEX_CARTOGRAM)
    return out


def _deprivation_notes(config: RunConfig) -> list[str]:
    """Where crime is counted inside deprivation too (see :mod:`allocator.index.deprivation`)."""
    from .index.deprivation import deprivation_notes

    ucfg = config.uncertainty if config.uncertainty.enabled else None
    return deprivation_notes(config.index, config.data.crime, ucfg)


def validate(
    config: RunConfig,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    progress: bool = False,
    cache: bool | None = None,
) -> str:
    """Check a config and its data, and presolve the allocation, without solving.

    Runs :func:`set_up`, the same function :func:`run` starts with, so every check a run makes
    before its Monte Carlo and solve is made here too. Returns a short report; raises an
    :class:`~allocator.errors.AllocatorError` on the first problem. ``progress`` prints a line
    on stderr as each step starts.
    """
    s = set_up(config, data_dir, progress=progress, cache=cache)
    root, areas, need, waves = s.root, s.areas, s.need, s.waves
    lines = [
        f"config {config.name} is valid (sha256 {config.hash()[:16]})",
        f"data: {len(areas.frame)} LAs from {root}",
        f"waves: {'/'.join(str(s) for s in waves.sizes_)}; overrides: {len(waves.overrides_)}",
        "allocation set-up passes every presolve check",
    ]
    lines.extend(f"note: {n}" for n in dict.fromkeys([*areas.notes, *need.notes_,
                                                      *config.allocation.caveats(),
                                                      *_deprivation_notes(config)]))
    return "\n".join(lines)


__all__ = ["RunResult", "run", "validate", "output_parent", "MANIFEST_NAME", "Manifest", "collect_versions", "sha256_file"]
