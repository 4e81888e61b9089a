"""A published run whose files were edited after the run is refused by every command that reports
on it, never reported as if the run had published it.

``calibrate``, ``rollup``, ``explain``, ``diff`` and ``map`` read a run directory's tables and
printed whatever they held: a pound added to one LA was shown as the run's, and text in a money
cell was "unexpected internal error ... This is a bug" (calibrate, rollup). Each now checks the
files it reads against the SHA-256 the run's ``manifest.json`` records
(:func:`allocator.runtable.check_run_files`, also used by ``uncertainty`` and ``amend``) and reads
them defensively: exit 2, the file and "edited" named; a malformed cell names its column. An
unedited run prints exactly what the run's own tables say.
"""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest

from allocator.config import config_from_dict, read_config_document
from allocator.report.calibrate import calibration_table, per_head_by_decile, to_text
from allocator.report.rollup import rollup

from .helpers import Baseline, assert_clean_error, needs_data, run_cli

pytestmark = needs_data


def _copy(baseline: Baseline, tmp_path: Path) -> Path:
    return Path(shutil.copytree(baseline.run_dir, tmp_path / baseline.run_dir.name))


def _set_cell(table: Path, code: str, column: str, value: str) -> None:
    """Replace one cell of a run's CSV table, leaving every other byte as it was."""
    lines = table.read_text(encoding="utf-8").splitlines(keepends=True)
    header = next(line for line in lines if not line.startswith("#")).rstrip("\n").split(",")
    at = next(i for i, line in enumerate(lines) if line.startswith(code + ","))
    cells = lines[at].rstrip("\n").split(",")
    cells[header.index(column)] = value
    lines[at] = ",".join(cells) + "\n"
    table.write_text("".join(lines), encoding="utf-8")


#: Every command that reads a published run, with RUN (the edited run) and BASE (the baseline).
COMMANDS = {
    "calibrate": ["calibrate", "RUN"],
    "rollup": ["rollup", "RUN"],
    "explain": ["explain", "RUN", "E06000002"],
    "diff (run B)": ["diff", "BASE", "RUN"],
    "diff (run A)": ["diff", "RUN", "BASE"],
    "map (run B)": ["map", "--compare", "BASE", "RUN", "--out", "OUT/compare.html"],
    "map (run A)": ["map", "--compare", "RUN", "BASE", "--out", "OUT/compare.html"],
    "uncertainty": ["uncertainty", "RUN", "--draws", "2", "--sobol-samples", "0",
                    "--out", "OUT/pounds"],
}


@pytest.fixture(scope="module")
def edited(baseline: Baseline, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The baseline with £1,000 more for Hartlepool in allocation.csv: a well-formed table, not
    the run's."""
    run = _copy(baseline, tmp_path_factory.mktemp("edited"))
    table = run / "allocation.csv"
    total = pd.read_csv(table, comment="#", dtype={"code": str}).set_index("code").at[
        "E06000001", "total"]
    _set_cell(table, "E06000001", "total", str(total + 1000))
    return run


@pytest.mark.parametrize("command", COMMANDS)
def test_a_numeric_edit_is_refused(baseline: Baseline, edited: Path, tmp_path: Path,
                                   command: str) -> None:
    swap = {"RUN": str(edited), "BASE": str(baseline.run_dir)}
    args = [swap.get(a, a.replace("OUT", str(tmp_path))) for a in COMMANDS[command]]
    res = run_cli(*args, "--quiet")
    assert_clean_error(res, f"{edited / 'allocation.csv'}: not the file the run wrote",
                       "edited after the run", "allocator replay")
    assert res.stdout == ""
    assert list(tmp_path.iterdir()) == []  # no map, no pounds folder


@pytest.mark.parametrize("command", ["calibrate", "rollup"])
@pytest.mark.parametrize(("table", "column"), [
    ("allocation.csv", "total"), ("allocation.csv", "total_2023_24"),
    ("allocation.csv", "place_based_2022_23"), ("evaluation.csv", "pop_all"),
])
def test_text_in_a_money_cell_names_the_column(baseline: Baseline, tmp_path: Path, command: str,
                                                table: str, column: str) -> None:
    """'lots' where whole pounds belong: exit 2 naming file and column (was "This is a bug")."""
    run = _copy(baseline, tmp_path)
    _set_cell(run / table, "E06000001", column, "lots")
    res = run_cli(command, run)
    assert_clean_error(res, f"{run / table}, column '{column}'", "['lots']")


def test_text_in_a_score_names_the_column(baseline: Baseline, tmp_path: Path) -> None:
    run = _copy(baseline, tmp_path)
    _set_cell(run / "evaluation.csv", "E06000001", "imd_score", "high")
    assert_clean_error(run_cli("calibrate", run), "column 'imd_score'", "not numbers", "['high']")


def test_an_unedited_run_prints_what_its_tables_say(baseline: Baseline) -> None:
    """The checks change nothing for a run as written: calibrate and rollup print what the
    report functions make of the tables read plainly (as the commands did before), and no
    command says anything on stderr."""
    run = baseline.run_dir
    alloc = pd.read_csv(run / "allocation.csv", comment="#", dtype={"code": str})
    ev = pd.read_csv(run / "evaluation.csv", comment="#", dtype={"code": str})
    res = run_cli("calibrate", run, "--quiet")
    assert (res.returncode, res.stderr) == (0, ""), res.stderr
    cfg = config_from_dict(read_config_document(run / "config.yaml"))
    base = [c for c in ("imd_score", "ocu_count") if c in ev.columns]
    checks = calibration_table(
        alloc.merge(ev[["code", *base]], on="code"), years=cfg.allocation.resolved_years(),
        wave_streams=[s for s, sc in cfg.allocation.streams.items() if sc.eligible != "all"],
        ocu_note=f"OCU period {ev['ocu_count_year'].iloc[0]}" if "ocu_count_year" in ev else "")
    deciles = per_head_by_decile(alloc[["code", "total"]].merge(
        ev[["code", "rank", "pop_all"]], on="code"))
    assert res.stdout == (to_text(checks) + "\n\npounds per head by need decile (1 = highest "
                          "need):\n" + deciles.to_string(index=False) + "\n")
    res = run_cli("rollup", run, "--quiet")
    assert (res.returncode, res.stderr) == (0, ""), res.stderr
    regions = pd.DataFrame({"code": alloc["code"], "group": alloc["region"],
                            "share": [Fraction(1)] * len(alloc)})
    money = [c for c in alloc.columns if c.startswith("total_")] + ["total"]
    expected = rollup(alloc, regions, money=money, population=ev.set_index("code")["pop_all"])
    assert res.stdout == expected.to_string(index=False) + "\n"
    for args in (["explain", run, "Manchester"], ["diff", run, run]):
        res = run_cli(*args, "--quiet")
        assert (res.returncode, res.stderr) == (0, ""), res.stderr
        assert res.stdout


def test_a_folder_without_manifest_is_read_unchecked_and_says_so(baseline: Baseline,
                                                                 tmp_path: Path) -> None:
    """Tables without a manifest.json are read as before (nothing to check them against), with a
    note on stderr; map and uncertainty, which need the manifest, refuse as before."""
    run = _copy(baseline, tmp_path)
    (run / "manifest.json").unlink()
    for args in (["calibrate", run], ["rollup", run], ["explain", run, "Manchester"],
                 ["diff", baseline.run_dir, run]):
        res = run_cli(*args, "--quiet")
        assert res.returncode == 0, res.stderr
        assert res.stdout == run_cli(*[baseline.run_dir if a == run else a for a in args],
                                     "--quiet").stdout
        assert res.stderr == (f"note: {run} has no manifest.json, so its files were read as they "
                              "are, not checked against the files a run wrote (a run directory "
                              "of `allocator run` or `allocator amend` always has one)\n")
    assert_clean_error(run_cli("map", "--compare", baseline.run_dir, run, "--out",
                               tmp_path / "m.html"), "manifest not found")


def test_a_missing_or_added_file_is_named(baseline: Baseline, tmp_path: Path) -> None:
    """index.csv removed (explain used to drop the need rank without a word), a file the run
    never wrote put in its place."""
    run = _copy(baseline, tmp_path)
    (run / "index.csv").unlink()
    assert_clean_error(run_cli("explain", run, "Manchester"), f"{run / 'index.csv'}: missing",
                       "removed after the run")
    (run / "index.csv").write_text("code,rank\n")
    manifest = (run / "manifest.json").read_text(encoding="utf-8")
    (run / "manifest.json").write_text(manifest.replace('"index.csv"', '"index-old.csv"'),
                                       encoding="utf-8")
    assert_clean_error(run_cli("explain", run, "Manchester"),
                       f"{run / 'index.csv'}: not a file the run wrote")
