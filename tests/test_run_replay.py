"""End to end on the real data: a run directory, byte-identical reruns, and replay.

These tests run the default config (the grant as published) on the real 152 LAs, as the README's
first command does, then act as an auditor would.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from allocator.paths import default_data_dir

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "configs" / "ssmtrg-2022-25.yaml"
DATA = default_data_dir()
DEATHS = "ons_drug_deaths_la_2021reg/DERIVED_table6_drug_misuse_asmr_persons_long.csv"

pytestmark = pytest.mark.skipif(DATA is None, reason="the official data (../shared/geodata) is not present")

EXPECTED_FILES = {
    "allocation.csv",
    "allocation.xlsx",
    "allocation.gpkg",
    "index.csv",
    "explain.csv",
    "map.html",
    "summary.md",
    "model_policy.lp",
    "model_pro_rata.lp",
    "model_tie_break.lp",
    "config.yaml",
    "manifest.json",
    "map_wave.png",
    "map_per_head.png",
    "sensitivity.csv",
    "evaluation.csv",
    "calibration.csv",
}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("allocator")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=ROOT, timeout=600)


def assert_no_solver_log(proc: subprocess.CompletedProcess[str]) -> None:
    """HiGHS's banner and log, and CBC's, never reach stdout (nor stderr without solver.msg)."""
    for text in (proc.stdout, proc.stderr):
        assert "Running HiGHS" not in text and "HiGHS run time" not in text, text
        assert "Coin" not in text and "CBC" not in text, text


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, comment="#", dtype={"code": str})


def mirror(src: Path, dst: Path) -> Path:
    """A copy of the data directory made of symlinks (cheap), so one file can be replaced."""
    for p in src.rglob("*"):
        if p.is_file():
            target = dst / p.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(p)
    return dst


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's main job, run once on a mirror of the real data."""
    data = mirror(DATA, tmp_path_factory.mktemp("replay_data"))
    out = tmp_path_factory.mktemp("outputs")
    proc = cli("run", str(DEFAULT), "--out", str(out), "--data-dir", str(data), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert_no_solver_log(proc)
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1
    return runs[0]


def test_run_directory_has_every_output(published: Path) -> None:
    names = {p.name for p in published.iterdir()}
    assert names >= EXPECTED_FILES
    assert not [n for n in names if n.startswith(".")]
    manifest = json.loads((published / "manifest.json").read_text())
    assert published.name.endswith(f"-ssmtrg-2022-25-{manifest['run_hash'][:8]}")
    # the manifest hashes every other file in the directory, and they match
    assert set(manifest["outputs"]) == names - {"manifest.json"}
    for name, digest in manifest["outputs"].items():
        assert hashlib.sha256((published / name).read_bytes()).hexdigest() == digest, name
    assert manifest["solver"]["status"] == "optimal"
    assert manifest["seed"] == 20220413
    assert DEATHS in manifest["inputs"]


def test_published_profile_is_exact(published: Path) -> None:
    alloc = read(published / "allocation.csv")
    assert len(alloc) == 152
    assert alloc["code"].is_unique
    for col, expect in {
        "continuation_2022_23": 80_000_000,
        "continuation_2023_24": 80_000_000,
        "continuation_2024_25": 80_000_000,
        "place_based_2022_23": 20_000_000,
        "place_based_2023_24": 81_000_000,
        "place_based_2024_25": 192_000_000,
        "total_2022_23": 100_000_000,
        "total_2023_24": 161_000_000,
        "total_2024_25": 272_000_000,
        "total": 533_000_000,
    }.items():
        assert alloc[col].dtype.kind == "i", col
        assert int(alloc[col].sum()) == expect, col
    # continuation to every LA; place-based only once an LA's wave has started
    assert (alloc[["continuation_2022_23", "continuation_2023_24", "continuation_2024_25"]] > 0).all().all()
    assert (alloc.loc[alloc["wave"] > 1, "place_based_2022_23"] == 0).all()
    assert (alloc.loc[alloc["wave"] > 2, "place_based_2023_24"] == 0).all()
    assert (alloc.loc[alloc["wave"] == 1, "place_based_2022_23"] > 0).all()
    assert alloc["wave"].value_counts().sort_index().tolist() == [50, 50, 52]


def test_floors_and_caps_hold_on_the_published_pounds(published: Path) -> None:
    alloc = read(published / "allocation.csv")
    areas = read(published / "index.csv")[["code"]].merge(alloc, on="code")
    import geopandas as gpd

    pop = gpd.read_file(published / "allocation.gpkg")[["code", "pop_all"]]
    areas = areas.drop(columns="pop_all").merge(pop, on="code")  # population as mapped
    for y in ("2022_23", "2023_24", "2024_25"):
        assert (areas[f"continuation_{y}"] >= 0.85 * areas["pop_all"]).all()
        assert (areas[f"continuation_{y}"] <= 0.05 * 80_000_000).all()
    # no cash cut in place-based money once funded
    funded = areas[areas["wave"] == 1]
    assert (funded["place_based_2023_24"] >= funded["place_based_2022_23"]).all()
    assert (areas["place_based_2024_25"] >= areas["place_based_2023_24"]).all()


def test_every_output_names_sources_and_missing_ocu(published: Path) -> None:
    for name in ("allocation.csv", "index.csv", "explain.csv", "summary.md", "map.html"):
        text = (published / name).read_text(encoding="utf-8")
        assert "Office for National Statistics" in text, name
        assert "OCU" in text, name
        assert "2018-20" in text, name
    import openpyxl

    book = openpyxl.load_workbook(published / "allocation.xlsx")
    text = " ".join(str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row)
    assert "does not include opiate and crack cocaine use (OCU) prevalence" in text
    assert "Crown copyright" in text


def test_index_table_has_uncertainty_columns(published: Path) -> None:
    idx = read(published / "index.csv")
    for col in ("score", "rank", "wave", "rank_p05", "rank_p95", "p_wave_1", "p_wave_le_2", "borderline", "drug_deaths_rate_raw", "imd_score_norm", "crime_score_contrib", "drug_deaths_rate_flag"):
        assert col in idx.columns, col
    assert sorted(idx["rank"]) == list(range(1, 153))
    assert ((idx["rank_p05"] <= idx["rank"]) | (idx["rank_p95"] >= idx["rank"])).all()
    assert idx["p_wave_1"].between(0, 1).all()
    assert (idx["p_wave_le_2"] >= idx["p_wave_1"]).all()
    flagged = idx[idx["drug_deaths_rate_flag"].fillna("") != ""]["name"].tolist()
    assert {"Rutland", "Isles of Scilly", "City of London"} <= set(flagged)


def test_second_run_is_byte_identical(published: Path, tmp_path: Path) -> None:
    data = mirror(DATA, tmp_path / "data")
    proc = cli("run", str(DEFAULT), "--out", str(tmp_path / "out"), "--data-dir", str(data), "--quiet")
    assert proc.returncode == 0, proc.stderr
    (again,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    assert again.name == published.name
    for p in sorted(published.iterdir()):
        assert (again / p.name).read_bytes() == p.read_bytes(), p.name


def test_replay_of_an_untouched_run_exits_zero(published: Path) -> None:
    proc = cli("replay", str(published / "manifest.json"), "--data-dir", str(_data_of(published)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "byte-identical" in proc.stdout
    assert_no_solver_log(proc)


def _data_of(run: Path) -> Path:
    # the module fixture's data mirror sits beside its outputs folder
    # (its own name: other modules' fixtures make "data*" folders in the same base directory)
    candidates = sorted(run.parent.parent.glob("replay_data*"))
    return candidates[0]


def _copy_run(run: Path, dst: Path) -> Path:
    shutil.copytree(run, dst)
    return dst


def test_replay_names_an_edited_config_number(published: Path, tmp_path: Path) -> None:
    run = _copy_run(published, tmp_path / "run")
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["allocation"]["streams"]["place_based"]["budget"]["2022-23"] = 21_000_000
    (run / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=True))
    proc = cli("replay", str(run / "manifest.json"), "--data-dir", str(_data_of(published)))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    out = proc.stdout
    assert "allocation.streams.place_based.budget.2022-23: 20000000 -> 21000000" in out
    assert "published file config.yaml" in out
    assert "cell(s) differ" in out
    assert "place_based_2022_23" in out


def test_replay_names_an_edited_input_value(published: Path, tmp_path: Path) -> None:
    data = mirror(_data_of(published), tmp_path / "data")
    deaths = data / DEATHS
    text = deaths.read_text()
    deaths.unlink()
    line = next(ln for ln in text.splitlines() if ln.startswith("E06000010,") and ",2018-20," in ln)
    fields = line.split(",")  # ..., asmr_per_100k, rate_flag, lcl_95, ucl_95 (name is quoted)
    fields[-4] = fields[-2]  # the rate moves to its lower 95% limit: a plausible revision
    edited_line = ",".join(fields)
    assert edited_line != line
    deaths.write_text(text.replace(line, edited_line))
    proc = cli("replay", str(published / "manifest.json"), "--data-dir", str(data))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"input file {DEATHS}" in proc.stdout
    assert "the source data changed since the run" in proc.stdout
    assert "cell(s) differ" in proc.stdout


def test_replay_names_a_published_file_edited_after_the_run(published: Path, tmp_path: Path) -> None:
    run = _copy_run(published, tmp_path / "run")
    alloc = run / "allocation.csv"
    text = alloc.read_text()
    alloc.write_text(text.replace("\nE06000001,", "\nE06000001,", 1) + "")
    lines = text.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("E06000001,"))
    cells = lines[i].split(",")
    header = next(ln for ln in lines if ln.startswith("code,")).split(",")
    j = header.index("total")
    cells[j] = str(int(cells[j]) + 1000)
    lines[i] = ",".join(cells)
    alloc.write_text("\n".join(lines) + "\n")
    proc = cli("replay", str(run / "manifest.json"), "--data-dir", str(_data_of(published)))
    assert proc.returncode == 3
    assert "published file allocation.csv" in proc.stdout
    assert "edited after the run" in proc.stdout
    assert "E06000001 total" in proc.stdout


def test_diff_and_explain(published: Path, tmp_path: Path) -> None:
    proc = cli("explain", str(published), "E06000010")
    assert proc.returncode == 0, proc.stderr
    assert "Kingston upon Hull" in proc.stdout
    assert "place_based 2022-23" in proc.stdout
    assert "final £" in proc.stdout
    proc = cli("diff", str(published), str(published))
    assert proc.returncode == 0
    assert "exactly the same pounds to every LA" in proc.stdout
    assert "makes no difference" in proc.stdout
    proc = cli("explain", str(published), "Nowhere-on-Sea")
    assert proc.returncode == 2
    assert "no LA with code or name 'Nowhere-on-Sea'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_output_directory_that_exists_is_never_overwritten(published: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    existing = _copy_run(published, out / published.name)
    before = {p.name: p.read_bytes() for p in existing.iterdir()}
    proc = cli("run", str(DEFAULT), "--out", str(out), "--data-dir", str(_data_of(published)), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert (out / f"{published.name}-2").is_dir()
    assert {p.name: p.read_bytes() for p in existing.iterdir()} == before


def test_missing_config_and_manifest_are_clear_errors(tmp_path: Path) -> None:
    proc = cli("run", str(tmp_path / "nope.yaml"))
    assert proc.returncode == 2
    assert "config file not found" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = cli("replay", str(tmp_path / "manifest.json"))
    assert proc.returncode == 2
    assert "manifest not found" in proc.stderr


def test_map_compare_writes_an_offline_page_and_never_overwrites(published: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp.html"
    proc = cli("map", "--compare", str(published), str(published), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    html = out.read_text(encoding="utf-8")
    assert "ssmtrg-2022-25" in html
    import re

    # nothing is loaded from outside the file: no external script, stylesheet or image tags
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=[\"']https?:|<img[^>]+src=[\"']https?:", html)
    proc = cli("map", "--compare", str(published), str(published), "--out", str(out))
    assert proc.returncode == 2
    assert "already exists" in proc.stderr


def test_validate_checks_config_data_and_presolve(published: Path) -> None:
    proc = cli("validate", str(DEFAULT), "--data-dir", str(_data_of(published)))
    assert proc.returncode == 0, proc.stderr
    assert "is valid" in proc.stdout
    assert "152 LAs" in proc.stdout
    assert "passes every presolve check" in proc.stdout
    assert_no_solver_log(proc)


def test_stage_models_reproduce_the_manifest_objectives(published: Path, tmp_path: Path) -> None:
    """An auditor re-solves each stage's model with GLPK and gets the manifest's optimum."""
    from glpk import glpk_objective

    stages = json.loads((published / "manifest.json").read_text())["solver"]["stages"]
    assert list(stages) == ["policy", "pro_rata", "tie_break"]
    assert stages["policy"]["method"] == "solved"
    for stage, rec in stages.items():
        got = glpk_objective(published / f"model_{stage}.lp", tmp_path)
        tol = rec["cross_check_tolerance"] + 0.01  # the manifest rounds to pennies
        assert abs(got - rec["objective"]) <= tol, (stage, got, rec)
        assert abs(got - rec["cross_check_objective"]) <= 2 * tol, (stage, got, rec)
