"""Command line: a thin shell over the Python API (:mod:`allocator.pipeline`, :mod:`allocator.replay`).

Every command prints a clear paragraph and exits non-zero on bad input, with no traceback unless
``--debug`` is given.
"""

from __future__ import annotations

import sys

from . import _signals

if __name__ == "__main__" or sys.argv[0].rsplit("/", 1)[-1] == "allocator":
    _signals.install()  # first thing: SIGINT/SIGTERM/SIGHUP give exit 130 even while importing

from pathlib import Path  # noqa: E402

import click  # noqa: E402

from . import __version__  # noqa: E402
from ._cliutil import AllocatorGroup, _flag, common_options, friendly  # noqa: E402

_DATA_DIR_HELP = (
    "Folder holding the official source files (default: $ALLOCATOR_DATA_DIR, else ../shared/geodata "
    "beside the repository)."
)
_NO_CACHE_HELP = (
    "Build the areas table from the source files, ignoring geodata/cache (replay always does)."
)



@click.group(cls=AllocatorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="allocator")
@common_options
def main() -> None:
    """allocator: need-based, auditable allocation of the drug-treatment grant.

    Typical use: `allocator run configs/ssmtrg-2022-25.yaml`, then
    `allocator replay outputs/<run>/manifest.json`.
    """


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data-dir", type=click.Path(path_type=Path), help=_DATA_DIR_HELP)
@click.option("--out", "out", type=click.Path(path_type=Path), help="Parent folder for the run directory (default: the config's output.dir, 'outputs').")
@common_options
@click.option("--no-cache", "no_cache", is_flag=True, help=_NO_CACHE_HELP)
@friendly
def run(config: Path, data_dir: Path | None, out: Path | None, no_cache: bool) -> None:
    """Run CONFIG end to end and write a new run directory."""
    from ._forking import can_fork
    from .report.prefork import Drawer

    # forked first, before this process imports pandas and the rest (and before any thread
    # starts): it imports the figure and map libraries on the other core while this one imports,
    # loads and solves, then draws the figures while the tables are written. A config that
    # draws nothing stops it at once.
    drawer = Drawer().start() if can_fork() else None
    try:
        from .config import load_config
        from .pipeline import output_parent
        from .pipeline import run as run_pipeline
        from .rundir import check_writable

        cfg = load_config(config)
        parent = output_parent(cfg, out)
        check_writable(parent)  # fail in a second, not after the whole run
        progress = not _flag("quiet")
        if drawer is not None and not (cfg.output.static_maps or cfg.output.map):
            drawer.stop()
            drawer = None
        result = run_pipeline(cfg, data_dir=data_dir, progress=progress,
                              cache=False if no_cache else None)
        with _signals.final_output():
            run_dir = result.write(parent, progress=progress, drawer=drawer)
    finally:
        if drawer is not None:
            drawer.stop()
    click.echo(result.headline())
    click.echo(f"run directory: {run_dir}")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data-dir", type=click.Path(path_type=Path), help=_DATA_DIR_HELP)
@common_options
@click.option("--no-cache", "no_cache", is_flag=True, help=_NO_CACHE_HELP)
@friendly
def validate(config: Path, data_dir: Path | None, no_cache: bool) -> None:
    """Check CONFIG and the data it needs, and the allocation set-up, without solving."""
    from .config import load_config
    from .pipeline import validate as validate_pipeline

    cfg = load_config(config)
    click.echo(validate_pipeline(cfg, data_dir=data_dir, progress=not _flag("quiet"),
                                 cache=False if no_cache else None))


@main.command()
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--data-dir", type=click.Path(path_type=Path), help=_DATA_DIR_HELP)
@common_options
@friendly
def replay(manifest: Path, data_dir: Path | None) -> None:
    """Re-run a published run from its MANIFEST and compare every output, byte for byte.

    For an amended version (`allocator amend`) the whole chain is replayed: the run, then each
    amendment re-applied to the re-created previous version.
    """
    from .replay import replay as replay_run

    report = replay_run(manifest, data_dir=data_dir, progress=not _flag("quiet"))
    click.echo(report.to_text())
    if not report.ok:
        sys.exit(3)


@main.command()
@click.argument("parent", metavar="PARENT_RUN", type=click.Path(path_type=Path))
@click.argument("amendment", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data-dir", type=click.Path(path_type=Path), help=_DATA_DIR_HELP)
@click.option("--out", "out", type=click.Path(path_type=Path), help="Folder for the new version (default: beside PARENT_RUN).")
@common_options
@click.option("--no-cache", "no_cache", is_flag=True, help=_NO_CACHE_HELP)
@friendly
def amend(parent: Path, amendment: Path, data_dir: Path | None, out: Path | None,
          no_cache: bool) -> None:
    """Apply AMENDMENT (YAML) to PARENT_RUN and write the next version as a new run directory."""
    from .ledger.api import amend as amend_run
    from .progress import progress_line

    progress_line(not _flag("quiet"), f"applying {amendment} to {parent}")
    with _signals.final_output():
        path = amend_run(parent, amendment, out=out, data_dir=data_dir,
                         cache=False if no_cache else None)
    click.echo(f"new version: {path}")


@main.command()
@click.argument("run_dir", metavar="RUN", type=click.Path(path_type=Path))
@common_options
@friendly
def history(run_dir: Path) -> None:
    """The chain of versions ending at RUN, oldest first: version, the date it was written and
    the date it takes effect, name, hashes, pounds."""
    from .ledger.chain import history as chain_history

    click.echo(chain_history(run_dir).to_text())


def _say_unchecked(*run_dirs: Path) -> None:
    """A note on stderr for each RUN without a manifest.json: its files were read unchecked."""
    from .runtable import unchecked_note

    for run_dir in run_dirs:
        if note := unchecked_note(run_dir):
            click.echo(note, err=True)


@main.command()
@click.argument("run_a", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("run_b", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--top", default=10, show_default=True, help="How many gainers and losers to list.")
@common_options
@friendly
def diff(run_a: Path, run_b: Path, top: int) -> None:
    """Gainers and losers in pounds, and wave moves, from RUN_A to RUN_B."""
    from .replay import diff_runs

    click.echo(diff_runs(run_a, run_b).to_text(top=top))
    _say_unchecked(run_a, run_b)


@main.command()
@click.argument("run_dir", metavar="RUN", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("la")
@common_options
@friendly
def explain(run_dir: Path, la: str) -> None:
    """One LA's waterfall in words: need share -> target -> floor -> cap -> pace -> rounding -> final.

    LA is an ONS code (E08000003) or a name (Manchester).
    """
    from .replay import explain_la

    click.echo(explain_la(run_dir, la))
    _say_unchecked(run_dir)


@main.command()
@click.argument("run_dir", metavar="RUN", type=click.Path(exists=True, file_okay=False, path_type=Path))
@common_options
@friendly
def calibrate(run_dir: Path) -> None:
    """Check RUN against what the strategy and the NAO say about the real allocation.

    Each statement, the value the engine reads it as, the run's value and a verdict.
    """
    from .report.calibrate import to_text
    from .runreport import calibrate_run, deciles_for_run

    click.echo(to_text(calibrate_run(run_dir)))
    click.echo("\npounds per head by need decile (1 = highest need):")
    click.echo(deciles_for_run(run_dir).to_string(index=False))
    _say_unchecked(run_dir)


@main.command()
@click.argument("run_dir", metavar="RUN", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--lookup", type=click.Path(dir_okay=False, path_type=Path), default=None, help="CSV grouping the LAs (code, group, optional share), e.g. Combating Drugs Partnerships or police force areas; default: by region.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the roll-up as CSV here (never overwritten) instead of printing it.")
@common_options
@friendly
def rollup(run_dir: Path, lookup: Path | None, out: Path | None) -> None:
    """Totals and pounds per head of RUN by region, or by the groups of a --lookup file."""
    from .runreport import rollup_run

    table = rollup_run(run_dir, lookup)
    _say_unchecked(run_dir)
    if out is None:
        click.echo(table.to_string(index=False))
        return
    from .report.tables import write_csv
    from .rundir import publish_file

    with _signals.final_output():  # see _signals.final_output
        publish_file(out, lambda tmp: write_csv(table, tmp))
    click.echo(f"wrote {out}")


@main.command()
@click.argument("run_dir", metavar="RUN", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--draws", type=click.IntRange(1, 1_000_000), default=None, help="Monte Carlo draws (default: the config's pounds_uncertainty.draws, else 1000). P5 and P95 need at least 200: with fewer allocated draws every output says so.")
@click.option("--workers", type=click.IntRange(1, 1024), default=None, help="Local worker processes (default 1); results are identical for any number.")
@click.option("--scheduler", default=None, metavar="ADDRESS", help="Run the draws on a Dask cluster, e.g. tcp://host:8786 (instead of local processes).")
@click.option("--share", type=click.FloatRange(0, 1, min_open=True), default=None, help="Report the chance of receiving less than this share of the published amount (default 0.9).")
@click.option("--sobol-samples", "sobol_samples", type=click.IntRange(0, 65_536), default=None, help="Base samples of the attribution in pounds (default 64; 0: none).")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Parent folder of the new directory (default: beside RUN).")
@click.option("--data-dir", type=click.Path(path_type=Path), help=_DATA_DIR_HELP)
@common_options
@friendly
def uncertainty(run_dir: Path, draws: int | None, workers: int | None, scheduler: str | None,
                share: float | None, sobol_samples: int | None, out: Path | None,
                data_dir: Path | None) -> None:
    """How uncertain is each LA's money? Monte Carlo of RUN through the whole allocation.

    Writes pounds_uncertainty.csv (P5/P50/P95 per LA, stream and year), a chart, a map layer
    and a summary into a new directory beside RUN; RUN itself is never changed.
    """
    from .pounds_run import pounds_uncertainty

    quiet = _flag("quiet")
    with _signals.final_output():
        est, path = pounds_uncertainty(run_dir, draws=draws, workers=workers,
                                       scheduler=scheduler, out=out, data_dir=data_dir,
                                       share=share, sobol_samples=sobol_samples,
                                       progress=None if not quiet else False)
    fails = sum(est.failures_.values())
    click.echo(f"{est.draws_ok_:,} of {est.n_draws:,} draws allocated in whole pounds, every rule "
               f"re-checked exactly; {fails:,} failed" + (" (listed in summary.md)" if fails else "")
               + f"; {est.elapsed_:.1f} s on {est.where_}")
    click.echo(f"pounds uncertainty directory: {path}")
    if est.percentile_caveat_:
        click.echo(f"warning: {est.percentile_caveat_}", err=True)


@main.command("map")
@click.option("--compare", nargs=2, type=click.Path(exists=True, file_okay=False, path_type=Path), required=True, metavar="RUN_A RUN_B", help="Two run directories to compare.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=Path("compare.html"), show_default=True, help="HTML file to write (never overwritten).")
@common_options
@friendly
def map_cmd(compare: tuple[Path, Path], out: Path) -> None:
    """A map of the differences between two runs (gainers/losers, wave moves)."""
    from .progress import progress_line
    from .replay import compare_map

    progress_line(not _flag("quiet"), "reading both runs and drawing the compare map")
    with _signals.final_output():  # see _signals.final_output
        written = compare_map(compare[0], compare[1], out)
    click.echo(f"wrote {written}")


@main.group()
@common_options
def data() -> None:
    """Inspect or fetch the official source data."""


@data.command("check")
@click.option("--data-dir", type=click.Path(path_type=Path), help=_DATA_DIR_HELP)
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), help="Take the data: section from this config.")
@common_options
@friendly
def data_check(data_dir: Path | None, config: Path | None) -> None:
    """Coverage table: indicator, source, period, LAs covered, flagged/imputed, missing."""
    from .data import check_data

    data_cfg = None
    if config is not None:
        from .config import load_config

        data_cfg = load_config(config).data
    from .progress import progress_line

    progress_line(not _flag("quiet"), "loading and checking the source data")
    report = check_data(data_dir=data_dir, config=data_cfg)
    click.echo(report.to_text())
    if not report.ok:
        sys.exit(2)


@data.command("fetch")
@click.option("--data-dir", "dest", type=click.Path(path_type=Path), required=True, help="Folder to download the official files into (with --ocu: the folder holding them).")
@click.option("--ocu", is_flag=True, help="Download OCU prevalence (OHID Fingertips indicators 91117 and 93517) and write it for the 152 May 2021 LAs.")
@click.option("--area-type", "area_type", type=int, multiple=True, help="With --ocu: Fingertips area type(s) to try, in order (default 402, 502, 302, 202, 102).")
@click.option("--period", default=None, help="With --ocu: time period of indicator 91117 to keep (default: the latest).")
@common_options
@friendly
def data_fetch(dest: Path, ocu: bool, area_type: tuple[int, ...], period: str | None) -> None:
    """Download the official source files from their publishers and verify their hashes."""
    if ocu:
        from .data.fingertips import fetch_ocu_into

        click.echo(fetch_ocu_into(dest, area_types=area_type or None, period=period))
        return
    from .data.fetch import fetch_sources

    report = fetch_sources(dest)
    click.echo(report.to_text())


if __name__ == "__main__":  # pragma: no cover
    main()
