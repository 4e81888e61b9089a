"""``allocator uncertainty RUN`` on the REAL default run (skipped without ../shared/geodata).

The unperturbed draw must reproduce the run's allocation to the pound; the run directory is
never changed; bad input exits 2 with one ``error:`` paragraph; Ctrl-C stops the workers, writes
nothing and exits 130.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from allocator.columns import POUNDS_UNCERTAINTY_COLUMNS, below_share_column
from allocator.paths import default_data_dir
from allocator.provenance import hash_tree

ROOT = Path(__file__).resolve().parents[1]
DATA = default_data_dir()
pytestmark = pytest.mark.skipif(DATA is None, reason="the official data (../shared/geodata) is not present")
CLI = [sys.executable, "-m", "allocator.cli"]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "-q", *args], capture_output=True, text=True, timeout=600,
                          cwd=cwd or ROOT)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default config with a small rank Monte Carlo and no maps, written once."""
    from allocator.config import config_from_dict, read_config_document
    from allocator.pipeline import run

    doc = read_config_document(ROOT / "configs" / "ssmtrg-2022-25.yaml")
    doc["uncertainty"]["draws"] = 200
    doc["uncertainty"]["sensitivity"] = {"enabled": False}
    doc["output"].update({"map": False, "static_maps": False, "excel": False})
    doc["pounds_uncertainty"] = {"draws": 12, "sobol_samples": 2, "chunk_size": 4}
    parent = tmp_path_factory.mktemp("runs")
    return run(config_from_dict(doc)).write(parent)


def test_uncertainty_reproduces_the_run_and_never_touches_it(run_dir: Path,
                                                             tmp_path: Path) -> None:
    before = hash_tree(run_dir)
    res = cli("uncertainty", str(run_dir), "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert "12 of 12 draws allocated" in res.stdout
    # 12 draws cannot support P5 and P95: the console, the CSV, the map and the summary say so
    assert res.stderr.startswith("warning: only 12 allocated draws, too few to support the 5th "
                                 "and 95th percentiles") and "--draws 200 or more" in res.stderr
    assert hash_tree(run_dir) == before
    (out,) = tmp_path.iterdir()
    assert out.name == f"{run_dir.name}-pounds-12"
    names = {p.name for p in out.iterdir()}
    assert {"pounds_uncertainty.csv", "pounds_attribution.csv", "chart_pounds_range.png",
            "pounds_map.html", "summary.md", "manifest.json"} <= names
    text = (out / "pounds_uncertainty.csv").read_text(encoding="utf-8")
    assert "# Source: Office for National Statistics" in text and \
        "mid-2020" in text
    assert "# Caveat:" in text and "not repeated per draw" in text
    assert "# Caveat: Only 12 allocated draws, too few to support the 5th and 95th" in text
    table = pd.read_csv(out / "pounds_uncertainty.csv", comment="#", dtype={"code": str})
    want = [below_share_column(0.9) if c == "p_below" else c for c in POUNDS_UNCERTAINTY_COLUMNS]
    assert list(table.columns) == want
    alloc = pd.read_csv(run_dir / "allocation.csv", comment="#", dtype={"code": str})
    totals = table[table["stream"] == "total"].set_index("code")
    assert (totals.loc[alloc["code"], "published"].to_numpy() == alloc["total"].to_numpy()).all()
    assert len(table) == len(alloc) * (2 * 3 + 1)
    page = (out / "pounds_map.html").read_text(encoding="utf-8")
    assert "P5 to P95 width of the total" in page and "less than 90% of the published" in page
    assert "Office for National Statistics" in page  # sources with their years, in the footer
    assert "across the 12 allocated Monte Carlo draws" in page  # how many, as on the summary
    assert "Only 12 allocated draws: too few for 5th and 95th percentiles" in page
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "Across 12 allocated draws" in summary and "## Sources" in summary
    assert "**Too few draws.** Only 12 allocated draws" in summary
    # a second run never overwrites the first
    again = cli("uncertainty", str(run_dir), "--out", str(tmp_path), "--draws", "3",
                "--sobol-samples", "0")
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name, f"{run_dir.name}-pounds-3"]


def test_a_run_whose_money_cannot_be_reproduced_is_refused(run_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "tampered"
    shutil.copytree(run_dir, bad)
    path = bad / "allocation.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    frame = pd.read_csv(path, comment="#", dtype={"code": str})
    col = next(c for c in frame.columns if c.startswith("continuation_"))
    frame.loc[0, col] += 1
    head = "".join(x for x in lines if x.startswith("#"))
    path.write_text(head + frame.to_csv(index=False), encoding="utf-8")
    # as if the data or the engine had changed: the manifest agrees with the file, the engine not
    import json

    from allocator.provenance import sha256_file

    raw = json.loads((bad / "manifest.json").read_text(encoding="utf-8"))
    raw["outputs"]["allocation.csv"] = sha256_file(path)
    (bad / "manifest.json").write_text(json.dumps(raw), encoding="utf-8")
    res = cli("uncertainty", str(bad), "--draws", "2", "--out", str(tmp_path / "o"))
    assert res.returncode == 2
    assert res.stderr.startswith("error: ") and res.stderr.count("\n") == 1
    assert "does not reproduce the run's allocation.csv" in res.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@pytest.mark.parametrize("args, words", [
    (["--draws", "0"], "--draws"),
    (["--workers", "0"], "--workers"),
    (["--share", "1.5"], "--share"),
])
def test_bad_options_exit_2_with_one_error_paragraph(run_dir: Path, args: list[str],
                                                     words: str) -> None:
    res = cli("uncertainty", str(run_dir), *args)
    assert res.returncode == 2
    assert res.stderr.startswith("error: ") and res.stderr.count("\n") == 1
    assert words in res.stderr and "Traceback" not in res.stderr


def test_a_scheduler_that_refuses_connections_is_exit_2_naming_it(run_dir: Path,
                                                                  tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    res = cli("uncertainty", str(run_dir), "--scheduler", address, "--draws", "2",
              "--out", str(tmp_path))
    assert res.returncode == 2, res.stdout
    assert res.stderr.startswith("error: ") and res.stderr.count("\n") == 1
    assert f"--scheduler: cannot reach the Dask scheduler at {address}: the connection was " \
           "refused" in res.stderr and "Traceback" not in res.stderr
    assert not any(tmp_path.iterdir())


def test_out_inside_the_run_directory_is_refused_and_the_run_is_untouched(run_dir: Path) -> None:
    before = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*"))
    for out in (run_dir, run_dir / "sub" / "deeper"):
        res = cli("uncertainty", str(run_dir), "--out", str(out), "--sobol-samples", "0")
        assert res.returncode == 2, res.stdout
        assert res.stderr.startswith("error: ") and res.stderr.count("\n") == 1
        assert "inside the run directory" in res.stderr and "Traceback" not in res.stderr
    assert sorted(p.relative_to(run_dir) for p in run_dir.rglob("*")) == before


def test_run_given_as_dot_from_inside_it_writes_beside_it(run_dir: Path) -> None:
    before = hash_tree(run_dir)
    res = cli("uncertainty", ".", "--draws", "2", "--sobol-samples", "0", cwd=run_dir)
    assert res.returncode == 0, res.stderr
    assert hash_tree(run_dir) == before
    made = run_dir.parent / f"{run_dir.name}-pounds-2"
    assert made.is_dir() and str(made) in res.stdout
    shutil.rmtree(made)


def test_an_amended_version_is_refused_in_plain_words(run_dir: Path, tmp_path: Path) -> None:
    import json

    run_hash = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))["run_hash"]
    amendment = tmp_path / "underspend.yaml"
    amendment.write_text(
        (ROOT / "configs" / "amendments" / "underspend-2022-23.yaml").read_text(encoding="utf-8")
        .replace("parent: de0ce9037c881f0c1e8f197eea1bda40eb2f7eef793822bfb5b900569cf8e53c",
                 f"parent: {run_hash}"), encoding="utf-8")
    res = cli("amend", str(run_dir), str(amendment), "--out", str(tmp_path / "v"))
    assert res.returncode == 0, res.stderr
    (version,) = (tmp_path / "v").iterdir()
    res = cli("uncertainty", str(version), "--sobol-samples", "0")
    assert res.returncode == 2
    assert res.stderr.startswith("error: ") and res.stderr.count("\n") == 1
    assert "is version 2 of a run, amended by '2022-23 underspend reallocated'" in res.stderr
    assert str(run_dir.name) in res.stderr and "engine changed" not in res.stderr


def test_an_edited_allocation_csv_is_named_as_edited(run_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    text = (copy / "allocation.csv").read_text(encoding="utf-8")
    (copy / "allocation.csv").write_text(text.replace(",Hartlepool,", ",Hartlepool (edited),"),
                                         encoding="utf-8")
    res = cli("uncertainty", str(copy), "--sobol-samples", "0")
    assert res.returncode == 2
    assert res.stderr.startswith("error: ") and res.stderr.count("\n") == 1
    assert "allocation.csv: not the file the run wrote" in res.stderr
    assert "edited after the run" in res.stderr and "allocator replay" in res.stderr
    assert "engine changed" not in res.stderr


def test_not_a_run_directory_exits_2(tmp_path: Path) -> None:
    res = cli("uncertainty", str(tmp_path))
    assert res.returncode == 2
    assert res.stderr.startswith("error: ") and "is not a run directory" in res.stderr
    res = cli("uncertainty", str(tmp_path / "missing"))
    assert res.returncode == 2 and res.stderr.startswith("error: ")


def _descendants(pid: int) -> set[int]:
    out: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                kids = Path(f"/proc/{p}/task/{t}/children").read_text().split()
            except OSError:
                continue
            for k in map(int, kids):
                if k not in out:
                    out.add(k)
                    todo.append(k)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_stops_the_workers_and_writes_nothing(run_dir: Path, tmp_path: Path,
                                                        sig: signal.Signals) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen([*CLI, "-q", "uncertainty", str(run_dir), "--draws", "5000",
                             "--workers", "2", "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers: set[int] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(workers) < 3:  # forkserver + 2 pool workers
        time.sleep(0.2)
        workers = _descendants(proc.pid)
        assert proc.poll() is None, proc.communicate()
    time.sleep(1.0)  # the workers are allocating draws
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.startswith("error: interrupted") and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.2)
    assert not [p for p in workers if _alive(p)]
