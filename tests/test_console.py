"""The console: options on every subcommand, usage errors as one `error:` paragraph, progress
lines, `data check` alignment and `diff` in pounds by stream and year."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner

from allocator.cli import main
from allocator.replay import diff_runs


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out += _commands(cmd, (*prefix, name))
        else:
            out.append((*prefix, name))
    return out


def test_every_subcommand_accepts_debug_and_quiet() -> None:
    runner = CliRunner()
    cmds = _commands(main)
    assert len(cmds) >= 8
    for cmd in cmds:
        res = runner.invoke(main, [*cmd, "--help"])
        assert res.exit_code == 0, cmd
        assert "--debug" in res.output and "--quiet" in res.output, cmd
    res = runner.invoke(main, ["--help"])
    assert "--debug" in res.output and "--quiet" in res.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "--bogus"], "allocator run: No such option '--bogus'"),
        (["run"], "allocator run: Missing argument 'CONFIG'"),
        (["nosuch"], "allocator: No such command 'nosuch'"),
        (["diff", "/nonexistent-a", "/nonexistent-b"], "allocator diff: Invalid value for 'RUN_A'"),
        (["data", "check", "--top"], "allocator data check: No such option '--top'"),
    ],
)
def test_usage_errors_are_one_error_paragraph_with_exit_2(args: list[str], expected: str) -> None:
    res = CliRunner().invoke(main, args, prog_name="allocator")
    assert res.exit_code == 2
    text = res.output
    assert text.startswith("error: " + expected), text
    assert "Usage:" not in text and "Error:" not in text
    assert text.strip().count("\n") == 0  # one paragraph
    assert "--help'" in text


def test_debug_after_the_subcommand_shows_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    quiet = CliRunner().invoke(main, ["validate", str(bad)])
    assert quiet.exit_code == 2 and "Traceback" not in quiet.output
    loud = CliRunner().invoke(main, ["validate", str(bad), "--debug"])
    assert loud.exit_code == 2 and "Traceback" in loud.output


def _run_dir(path: Path, rows: list[tuple[str, str, int, int, int, int]]) -> Path:
    path.mkdir()
    frame = pd.DataFrame(rows, columns=["code", "name", "wave", "continuation_2022_23", "place_based_2022_23", "x"])
    frame = frame.drop(columns="x")
    frame["total_2022_23"] = frame["continuation_2022_23"] + frame["place_based_2022_23"]
    frame["total"] = frame["total_2022_23"]
    (path / "allocation.csv").write_text("# a comment\n" + frame.to_csv(index=False), encoding="utf-8")
    return path


def test_diff_in_pounds_by_stream_and_year(tmp_path: Path) -> None:
    a = _run_dir(tmp_path / "a", [("E1", "Aville", 1, 100, 50, 0), ("E2", "Btown", 2, 100, 0, 0)])
    b = _run_dir(tmp_path / "b", [("E1", "Aville", 1, 90, 50, 0), ("E2", "Btown", 1, 110, 0, 0)])
    d = diff_runs(a, b)
    assert not d.identical
    text = d.to_text()
    assert "Totals by stream and year" in text
    assert "Continuation" in text and "Place based" in text and "2022-23" in text
    assert "Largest gainers" in text and "Btown" in text and "+£10" in text
    assert "Largest losers" in text and "-£10" in text
    assert "Btown (E2): wave 2 -> wave 1" in text
    row = d.year_totals.set_index("column").loc["continuation_2022_23"]
    assert (row["a"], row["b"], row["las_changed"]) == (200, 200, 2)
    assert "_2022_23" not in text  # readable headings, no column keys


def test_diff_of_identical_runs_says_so(tmp_path: Path) -> None:
    rows = [("E1", "Aville", 1, 100, 50, 0), ("E2", "Btown", 2, 100, 0, 0)]
    d = diff_runs(_run_dir(tmp_path / "a", rows), _run_dir(tmp_path / "b", rows))
    assert d.identical
    assert "exactly the same pounds" in d.to_text()


def test_diff_across_a_boundary_change_names_las_on_one_side_only(tmp_path: Path) -> None:
    """SYNTHETIC: E3 is replaced by E4 and E5 (a split); names come from the run that has the
    LA, and no "wave <NA>" move is printed for an LA missing from one run."""
    a = _run_dir(tmp_path / "a", [("E1", "Aville", 1, 100, 50, 0), ("E3", "Ccounty", 2, 90, 0, 0)])
    b = _run_dir(tmp_path / "b", [("E1", "Aville", 1, 100, 50, 0), ("E4", "Dnorth", 2, 50, 0, 0),
                                  ("E5", "Esouth", 2, 40, 0, 0)])
    d = diff_runs(a, b)
    text = d.to_text()
    assert not d.identical and d.wave_moves.empty
    assert "Dnorth" in text and "Esouth" in text and "nan" not in text and "<NA>" not in text
    assert "Only in run A (1; e.g. a boundary change):\n  Ccounty (E3)" in text
    assert "Only in run B (2; e.g. a boundary change):\n  Dnorth (E4)\n  Esouth (E5)" in text
    # an LA new in B with no money at all still makes the two runs differ
    z = _run_dir(tmp_path / "z", [("E1", "Aville", 1, 100, 50, 0), ("E3", "Ccounty", 2, 90, 0, 0),
                                  ("E9", "Zero", 3, 0, 0, 0)])
    assert not diff_runs(a, z).identical


def test_progress_lines_go_to_stderr_and_quiet_silences_them(tmp_path: Path) -> None:
    """Long steps announce themselves on stderr (never stdout); --quiet, anywhere, silences them."""
    from allocator.paths import default_data_dir

    if default_data_dir() is None:
        pytest.skip("the official data (../shared/geodata) is not present")
    runner = CliRunner(mix_stderr=False) if "mix_stderr" in CliRunner.__init__.__code__.co_varnames else CliRunner()
    loud = runner.invoke(main, ["data", "check"])
    assert loud.exit_code == 0
    assert "loading and checking the source data" in loud.stderr
    assert "loading and checking" not in loud.stdout
    quiet = runner.invoke(main, ["data", "check", "--quiet"])
    assert "loading and checking" not in quiet.stderr
    quiet2 = runner.invoke(main, ["--quiet", "data", "check"])
    assert "loading and checking" not in quiet2.stderr


def test_progress_with_stderr_closed_goes_nowhere(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    # with fd 2 closed (a cron job, `2>&-`) sys.stderr is None: print(file=None) wrote the
    # progress lines into stdout, the results channel, and isatty() crashed the Monte Carlo
    import sys

    from allocator.progress import progress_bar, progress_line

    monkeypatch.setattr(sys, "stderr", None)
    progress_line(True, "loading")
    with progress_bar(None, 10, "draws") as bar:
        bar.update(10)
    assert capsys.readouterr().out == ""


@pytest.mark.skipif(__import__("allocator.paths").paths.default_data_dir() is None,
                    reason="the official data (../shared/geodata) is not present")
def test_a_run_with_stderr_closed_completes_and_keeps_stdout_for_results(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "allocator.cli", "run", str(_small_config(tmp_path)), "--out",
         str(tmp_path / "out")],
        stdout=subprocess.PIPE, text=True, preexec_fn=lambda: os.close(2), timeout=300)
    assert res.returncode == 0, res.stdout
    lines = res.stdout.splitlines()
    assert len(lines) == 2 and lines[1].startswith("run directory: "), lines


def _small_config(tmp_path: Path) -> Path:
    import yaml

    repo = Path(__file__).resolve().parents[1]
    cfg = yaml.safe_load((repo / "configs" / "ssmtrg-2022-25.yaml").read_text())
    cfg["uncertainty"].update(draws=50, sensitivity={"enabled": False})
    cfg["output"] = {**cfg.get("output", {}), "static_maps": False, "map": False}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path / "c.yaml"


@pytest.mark.skipif(__import__("allocator.paths").paths.default_data_dir() is None,
                    reason="the official data (../shared/geodata) is not present")
def test_stdout_closed_by_its_reader_is_not_reported_as_a_bug(tmp_path: Path) -> None:
    # `allocator run c.yaml | head -0`: the run was written, then "unexpected internal error
    # (BrokenPipeError ...). This is a bug in allocator"
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", "from allocator.console import console; console()", "run",
         str(_small_config(tmp_path)), "--out", str(tmp_path / "out"), "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.close()  # the reader has gone
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    assert "bug" not in err and "Traceback" not in err
    assert err.startswith("error: ") and "broken pipe" in err and len(err.splitlines()) == 1
