"""End to end on the real data: the grant as NAO Figure 8 describes it, run and replayed.

``configs/nao-figure-8-2022-25.yaml`` is run through the command line (with fewer Monte Carlo
draws and no maps, which do not touch the pounds) and every promise of the config is checked on
the written files: LA-facing totals, who may receive which stream, inpatient detoxification flat
and to every LA, each LA's floor on awaiting roll-out + targeted, the published layout, the
reconciliation and the floor caveat in every table a person reads; then ``allocator replay``.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from allocator.paths import default_data_dir

ROOT = Path(__file__).resolve().parents[1]
NAO = ROOT / "configs" / "nao-figure-8-2022-25.yaml"
DATA = default_data_dir()
YEARS = ["2022_23", "2023_24", "2024_25"]
LA_FACING = [96_000_000, 155_000_000, 267_000_000]
CAVEAT = "Each LA's floor (its 2021/22 level, which the grant promised to keep) is assumed"

pytestmark = pytest.mark.skipif(DATA is None, reason="the official data (../shared/geodata) is not present")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("allocator")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=ROOT, timeout=600)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("nao")
    quick = work / "nao-quick.yaml"
    quick.write_text(
        f"extends: {NAO}\n"
        "uncertainty: {draws: 400, sensitivity: {enabled: false}}\n"
        "output: {map: false, static_maps: false, gpkg: true}\n",
        encoding="utf-8",
    )
    proc = cli("run", str(quick), "--out", str(work / "out"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    (found,) = [p for p in (work / "out").iterdir() if p.is_dir()]
    return found


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, comment="#", dtype={"code": str})


def test_la_facing_totals_are_exact(run_dir: Path) -> None:
    alloc = read(run_dir / "allocation.csv")
    for y, expected in zip(YEARS, LA_FACING, strict=True):
        assert alloc[f"total_{y}"].dtype == "int64"
        assert int(alloc[f"total_{y}"].sum()) == expected
        assert int(alloc[f"inpatient_detox_{y}"].sum()) == 10_000_000
    assert int(alloc["awaiting_roll_out_2022_23"].sum()) == 46_000_000
    assert int(alloc["awaiting_roll_out_2023_24"].sum()) == 16_000_000
    assert "awaiting_roll_out_2024_25" not in alloc or int(alloc["awaiting_roll_out_2024_25"].sum()) == 0
    assert [int(alloc[f"targeted_{y}"].sum()) for y in YEARS] == [40_000_000, 129_000_000, 257_000_000]


def test_each_stream_only_where_eligible(run_dir: Path) -> None:
    alloc = read(run_dir / "allocation.csv")
    for k, y in enumerate(YEARS, start=1):
        started = alloc["wave"] <= k
        targeted = alloc[f"targeted_{y}"]
        assert (targeted[~started] == 0).all() and (targeted[started] > 0).all()
        col = f"awaiting_roll_out_{y}"
        if col in alloc:
            assert (alloc.loc[started, col] == 0).all()
            assert (alloc.loc[~started, col] > 0).all()


def test_inpatient_detox_flat_and_to_every_la(run_dir: Path) -> None:
    alloc = read(run_dir / "allocation.csv")
    detox = alloc[[f"inpatient_detox_{y}" for y in YEARS]]
    assert (detox > 0).all().all()
    assert (detox.nunique(axis=1) == 1).all()


def test_every_la_at_or_above_its_floor_every_year(run_dir: Path) -> None:
    import geopandas as gpd

    alloc = read(run_dir / "allocation.csv")
    pop = gpd.read_file(run_dir / "allocation.gpkg")[["code", "pop_all"]]
    both = alloc.drop(columns="pop_all", errors="ignore").merge(pop, on="code", validate="one_to_one")
    floor = [math.ceil(round(0.60 * p, 6)) for p in both["pop_all"]]  # £0.60 a head, rounded up
    for y in YEARS:
        group = both.get(f"awaiting_roll_out_{y}", 0) + both[f"targeted_{y}"]
        short = both.loc[group < floor, "name"].tolist()
        assert not short, f"{y}: below the floor: {short}"


def test_awaiting_plus_targeted_never_falls(run_dir: Path) -> None:
    alloc = read(run_dir / "allocation.csv")
    group = pd.DataFrame({y: alloc.get(f"awaiting_roll_out_{y}", 0) + alloc[f"targeted_{y}"]
                          for y in YEARS})
    falls = (group.diff(axis=1).iloc[:, 1:] < 0).any(axis=1)
    assert not falls.any(), alloc.loc[falls, "name"].tolist()
    # the last wave keeps (about) the £16m it holds in 2023-24 in 2022-23 too
    last = alloc["wave"] == alloc["wave"].max()
    assert 15_990_000 <= int(alloc.loc[last, "awaiting_roll_out_2022_23"].sum()) <= 16_000_000


def test_published_layout(run_dir: Path) -> None:
    table = pd.read_csv(run_dir / "allocation_published.csv", comment="#")
    assert table.columns.tolist() == [
        "Financial year", "Local authority name", "drug strategy allocation (£)",
        "inpatient detoxification allocation (£)", "Local authority code"]
    assert len(table) == 151 * 3  # Cornwall and the Isles of Scilly share a row
    by_year = table.groupby("Financial year")
    assert by_year["drug strategy allocation (£)"].sum().tolist() == [86_000_000, 145_000_000, 257_000_000]
    assert by_year["inpatient detoxification allocation (£)"].sum().tolist() == [10_000_000] * 3
    enhanced = table["Local authority name"].str.endswith(" (enhanced funding area)")
    assert enhanced.groupby(table["Financial year"]).sum().tolist() == [50, 50, 50]
    assert "Cornwall and Isles of Scilly" in set(table["Local authority name"].str.replace(
        " (enhanced funding area)", "", regex=False))


def test_reconciliation_and_caveat_everywhere(run_dir: Path) -> None:
    summary = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert "## How the money reconciles" in summary
    assert "£533,000,000, equal to the DHSC drug treatment and recovery grant" in summary
    assert "with £1,000,000 moved from 2023-24 into 2022-23" in summary
    assert "£96,000,000 / £155,000,000 for the money allocated to LAs in 2022-23, 2023-24: the same as this run" in summary
    for name in ("summary.md", "allocation.csv", "allocation_published.csv", "explain.csv", "index.csv"):
        assert CAVEAT in (run_dir / name).read_text(encoding="utf-8"), name
    from allocator.report.caveats import internal_references

    for name in ("summary.md", "allocation_published.csv"):
        assert internal_references((run_dir / name).read_text(encoding="utf-8")) == [], name
    from openpyxl import load_workbook

    wb = load_workbook(run_dir / "allocation.xlsx", read_only=True)
    assert "published" in wb.sheetnames
    notes = " ".join(str(c) for row in wb["Cover"].iter_rows(values_only=True) for c in row)  # the caveats
    assert CAVEAT in notes


def test_replay_reproduces_it(run_dir: Path) -> None:
    proc = cli("replay", str(run_dir / "manifest.json"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
