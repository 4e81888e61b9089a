"""Write a run directory: every table, the map, figures, summary, model and manifest.

Everything is written into a temporary folder and renamed into place at the end
(:func:`allocator.rundir.atomic_run_dir`); the manifest is written last and hashes every other
file. No file holds a date or a timing, so a replay reproduces every byte.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import pandas as pd

from ..paths import HEX_CARTOGRAM
from ..provenance import MANIFEST_NAME, Manifest, collect_versions, hash_tree
from ..rundir import atomic_run_dir
from . import calibrate
from .caveats import LICENCE, la_names, plain_caveats
from .checks_text import rule_lines, tidy_numbers
from .evaluation import evaluation_table
from .frames import decile_rollup, published_allocation, region_rollup, wave_rollup
from .publication import publication
from .published_run import published_frame, published_money, published_sheets, reconciliation
from .rollup import GroupRollup, rollup_notes, run_rollups
from .summary import render_summary
from .tables import provenance_line, write_csv, write_gpkg

if TYPE_CHECKING:
    import geopandas as gpd

    from ..pipeline import RunResult
    from .mapbase import MapMeta
    from .prefork import Drawer
    from .publication import Publication


def provenance_lines(result: RunResult) -> list[str]:
    """The lines every table a person reads starts with: run, sources, caveats, licence."""
    lines = [
        f"allocator run of config '{result.config.name}' (config sha256 {result.config_hash[:16]}, "
        f"run hash {result.run_hash[:16]})",
    ]
    lines += [f"Source: {s}" for s in result.sources()]
    lines += [f"Caveat: {n}" for n in plain_caveats(result.notes, la_names(result.allocation))]
    lines.append(f"Licence: {LICENCE}")
    return lines


def _write_commented_csv(frame, path: Path, header: list[str]) -> None:  # type: ignore[no-untyped-def]
    write_csv(frame, path)
    body = path.read_text(encoding="utf-8")
    head = "".join(provenance_line(h) + "\n" for h in header)
    path.write_text(head + body, encoding="utf-8")


def write_run(result: RunResult, parent: Path, name: str, *, progress: bool = False,
              drawer: Drawer | None = None) -> Path:
    """Write ``result`` as a new run directory under ``parent``; return its path.

    ``progress`` prints a line on stderr as each group of files starts. ``drawer``, a started
    :class:`~allocator.report.prefork.Drawer`, draws the figures and writes ``map.html``
    (``allocator run`` starts one before the run computes); without it they are drawn in
    processes forked here, and the map is written in this process.
    """
    from ..progress import progress_line as _progress

    cfg = result.config
    out_cfg = cfg.output
    header = provenance_lines(result)
    pub = publication(result)
    table = published_allocation(result)  # the allocation with population and per head
    mframe = result.map_frame()

    meta = _map_meta(result, pub) if out_cfg.map or out_cfg.static_maps else None
    # the roll-ups the workbook, the summary and the charts all show, computed once
    shown = Shown(region_rollup(result), decile_rollup(result), wave_rollup(result))
    with atomic_run_dir(parent, name) as (tmp, final):
        figures: AbstractContextManager[object] = nullcontext()
        inputs = page = None
        if out_cfg.static_maps:
            from .figures import FigureInputs

            _progress(progress, "drawing the static maps and charts (PNG and PDF)")
            hex_path = _hex_path(result) if out_cfg.hex_cartogram else None
            assert meta is not None
            inputs = FigureInputs(mframe, meta, tmp, hex_path, shown.regions, shown.deciles,
                                  shown.waves, list(cfg.waves.labels))
        if out_cfg.map and drawer is not None:
            from .prefork import MapInputs

            assert meta is not None
            page = MapInputs(mframe, meta, tmp / "map.html", out_cfg.map_tiles)
        if drawer is not None and (inputs is not None or page is not None):
            figures = drawer.drawing(inputs, page)
        elif inputs is not None:
            from .figures import InBackground, can_fork, figure_jobs, preload

            if can_fork():
                preload()  # once here, not once in each forked process
            figures = InBackground(figure_jobs(inputs))
        with figures:  # drawn in other processes while the rest is written
            _progress(progress, "writing the tables (CSV, Excel, GeoPackage) and the model")
            calibration = _write_tables(result, tmp, header, table, pub, mframe, shown)
            if out_cfg.map and page is None:
                from .map import write_map

                assert meta is not None
                _progress(progress, "writing the interactive map")
                write_map(mframe, meta, tmp / "map.html", tiles=out_cfg.map_tiles)
            _progress(progress, "writing the summary")
            _write_summary(result, tmp / "summary.md", pub, table, calibration, shown)
        _progress(progress, "writing the manifest")
        manifest = Manifest(
            config_name=cfg.name,
            config_hash=result.config_hash,
            run_hash=result.run_hash,
            seed=cfg.uncertainty.seed,
            inputs=dict(result.inputs),
            outputs=hash_tree(tmp),
            versions=collect_versions(),
            solver=dict(result.solver),
            data_notes=list(result.notes),
            config=cfg.canonical(),
            areas_sha256=result.areas_sha256,
        )
        (tmp / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return final[0]


class Shown(NamedTuple):
    """The roll-ups a run directory shows in several files (workbook, summary, charts)."""

    regions: pd.DataFrame
    deciles: pd.DataFrame
    waves: pd.DataFrame


def _write_summary(
    result: RunResult, path: Path, pub: Publication, table: pd.DataFrame,
    calibration: pd.DataFrame, shown: Shown,
) -> None:
    """``summary.md``: the run in plain English."""
    cfg = result.config
    streams, years = result.streams, result.years
    summary = render_summary(
        title=cfg.title or cfg.name,
        config_name=cfg.name,
        config_hash=result.config_hash,
        run_hash=result.run_hash,
        allocation=table,
        index=result.index,
        streams=streams,
        years=years,
        wave_labels=list(cfg.waves.labels),
        checks=result.checks,
        sources=result.sources(),
        notes=pub.caveats,
        flags=result.areas.flags,
        solver=result.solver,
        attribution=LICENCE,
        overrides=result.overrides,
        sensitivity=result.sensitivity,
        sensitivity_notes=result.sensitivity_notes,
        calibration=calibrate.markdown(calibration, calibrate.deciles_for_result(result)),
        reconciliation=reconciliation(result),
        marginal=getattr(result.problem, "shadow_prices_", pd.DataFrame()),
        method=pub.method,
        regions=shown.regions,
        deciles=shown.deciles,
        rules=rule_lines(result.explain, _rules_present(cfg)),
        expected_wave1=next((int(s) for s in cfg.waves.sizes[:1] if s != "rest"), None),
    )
    path.write_text(summary, encoding="utf-8")


def _write_tables(
    result: RunResult, tmp: Path, header: list[str], table: pd.DataFrame, pub: Publication,
    mframe: gpd.GeoDataFrame, shown: Shown,
) -> pd.DataFrame:
    """The CSV tables, the workbook, the GeoPackage and the LP models; returns the calibration."""
    cfg = result.config
    out_cfg = cfg.output
    (tmp / "config.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
    _write_commented_csv(table, tmp / "allocation.csv", header)
    _write_commented_csv(result.index, tmp / "index.csv", header)
    _write_commented_csv(tidy_numbers(result.explain, decimals=EXPLAIN_DECIMALS), tmp / "explain.csv", header)
    if result.sensitivity is not None:
        _write_commented_csv(result.sensitivity, tmp / "sensitivity.csv", header)
    _write_commented_csv(evaluation_table(result), tmp / "evaluation.csv", header)
    calibration = calibrate.for_result(result)
    _write_commented_csv(calibration, tmp / "calibration.csv", header)
    rollups = _rollups(result, table)
    for g in rollups:
        _write_commented_csv(g.table, tmp / f"rollup_{g.config.name}.csv",
                             header + rollup_notes(g, pub.period))
    published = published_frame(result)
    if published is not None:
        _write_commented_csv(published, tmp / "allocation_published.csv", header)
    if out_cfg.excel:
        from .workbook import write_workbook

        write_workbook(
            tmp / "allocation.xlsx",
            pub,
            table,
            result.index,
            regions=shown.regions,
            deciles=shown.deciles,
            waves=shown.waves,
            wave_labels=list(cfg.waves.labels),
            extra=[(name, frame, published_money(result)) for name, frame in published_sheets(result, published)],
            rollups=rollups,
        )
    if out_cfg.gpkg:
        write_gpkg(mframe, tmp / "allocation.gpkg")
    for stage in result.problem.objective_values_:
        result.problem.write_model(tmp / f"model_{stage}.{out_cfg.model_format}", stage)
    return calibration


def _map_meta(result: RunResult, pub: Publication) -> MapMeta:
    """What the interactive map and the static figures print about the run."""
    from .mapbase import MapMeta

    return MapMeta(
        config_name=result.config.name,
        config_hash=result.config_hash,
        streams=result.streams,
        years=result.years,
        sources=result.sources(),
        attribution=LICENCE,
        notes=pub.caveats,
        source_line=pub.source_line,
    )


#: explain.csv: shares to 8 decimals, percentages to 4; everything else is pounds (2).
EXPLAIN_DECIMALS = {"need_share": 8, "scale_factor": 8, "pct_vs_target": 4}


def _rollups(result: RunResult, table: pd.DataFrame) -> list[GroupRollup]:
    """The roll-ups ``output.rollups`` asks for (none by default), on the published table."""
    from ..columns import total_columns

    return run_rollups(result.config.output.rollups, result.groupings, table,
                       total_columns(result.years))


def _rules_present(cfg) -> dict[str, bool]:  # type: ignore[no-untyped-def]
    al = cfg.allocation
    return {"floor": bool(al.floors), "cap": bool(al.caps), "pace": al.pace is not None,
            "lock": bool(getattr(al, "locks", None))}


def _hex_path(result: RunResult) -> Path | None:
    """The House of Commons Library hex cartogram in the run's data folder, if present."""
    if result.data_dir is None:
        return None
    p = result.data_dir / HEX_CARTOGRAM
    return p if p.is_file() else None
