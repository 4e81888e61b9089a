"""The re-boundary amendment end to end on the real data: the README's documented example (the
default run carried onto April 2023 boundaries for 2023-24 and 2024-25), exact totals, the
ledger, the outputs on the new boundaries, replay and tampering, and bad share files.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from allocator.cli import main
from allocator.paths import default_data_dir

ROOT = Path(__file__).resolve().parents[1]
DATA = default_data_dir()
EXAMPLE = ROOT / "configs" / "amendments" / "reboundary-april-2023.yaml"
pytestmark = [pytest.mark.skipif(DATA is None, reason="the official data is not present"),
              pytest.mark.slow]

STREAMS = ["continuation", "place_based"]
YEARS = ["2022-23", "2023-24", "2024-25"]
CUMBRIA, CUMBERLAND, WESTMORLAND = "E10000006", "E06000063", "E06000064"
MOVED = {"E10000023": "E06000065", "E10000027": "E06000066"}  # North Yorkshire, Somerset


def col(s: str, y: str) -> str:
    return f"{s}_{y.replace('-', '_')}"


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, comment="#", dtype={"code": str})


def cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, [*args, "--quiet"])
    return res.exit_code, res.output


def readme_block() -> list[list[str]]:
    """The README's re-boundary example: its commands, split into words."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Boundary changes"):]
    body = re.search(r"^```bash\n(.*?)^```", section, re.S | re.M).group(1)  # type: ignore[union-attr]
    return [shlex.split(ln.split("#")[0]) for ln in body.splitlines() if ln.strip()]


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The README example, run as written (paths placed in a temporary folder)."""
    out = tmp_path_factory.mktemp("reboundary")
    cmds = readme_block()
    assert [c[:2] for c in cmds] == [["allocator", "run"], ["allocator", "amend"],
                                     ["allocator", "replay"]]
    code, text = cli(*cmds[0][1:], "--out", str(out))
    assert code == 0, text
    (v1,) = [p for p in out.iterdir() if p.is_dir()]
    amend = [w.replace("outputs/<run>", str(v1)) for w in cmds[1][1:]]
    code, text = cli(*[str(ROOT / w) if w.startswith("configs/") else w for w in amend])
    assert code == 0, text
    v2 = Path(text.strip().splitlines()[-1].removeprefix("new version: "))
    assert v2.is_dir()
    return v1, v2


def test_every_stream_year_sums_exactly_and_2022_23_is_untouched(versions) -> None:  # type: ignore[no-untyped-def]
    v1, v2 = (read(v / "allocation.csv") for v in versions)
    for s in STREAMS:
        for y in YEARS:
            assert int(v2[col(s, y)].sum()) == int(v1[col(s, y)].sum())
    a1, a2 = v1.set_index("code"), v2.set_index("code")
    for s in STREAMS:
        assert (a2.loc[a1.index, col(s, "2022-23")] == a1[col(s, "2022-23")]).all()
        for new in (CUMBERLAND, WESTMORLAND, *MOVED.values()):
            assert a2.at[new, col(s, "2022-23")] == 0


def test_cumbria_is_split_and_north_yorkshire_and_somerset_carried(versions) -> None:  # type: ignore[no-untyped-def]
    a1, a2 = (read(v / "allocation.csv").set_index("code") for v in versions)
    for s in STREAMS:
        for y in YEARS[1:]:
            c = col(s, y)
            assert a2.at[CUMBERLAND, c] + a2.at[WESTMORLAND, c] == a1.at[CUMBRIA, c]
            assert a2.at[CUMBRIA, c] == 0
            for old, new in MOVED.items():
                assert a2.at[new, c] == a1.at[old, c] and a2.at[old, c] == 0
    # by mid-2020 population: Cumberland 274,396 of Cumbria's 499,781 people
    c = col("continuation", "2023-24")
    exact = a1.at[CUMBRIA, c] * 274_396 / 499_781
    assert abs(a2.at[CUMBERLAND, c] - exact) < 1


def test_the_ledger_has_every_affected_cell(versions) -> None:  # type: ignore[no-untyped-def]
    a1 = read(versions[0] / "allocation.csv").set_index("code")
    led = read(versions[1] / "ledger.csv")
    assert set(led["year"]) == {"2023-24", "2024-25"}
    assert set(led["code"]) == {CUMBRIA, CUMBERLAND, WESTMORLAND, *MOVED, *MOVED.values()}
    assert (led["published"] + led["amendment"] == led["new_amount"]).all()
    assert led.groupby(["stream", "year"])["amendment"].sum().eq(0).all()
    row = led[(led["code"] == CUMBRIA) & (led["stream"] == "continuation")
              & (led["year"] == "2023-24")].iloc[0]
    assert row["published"] == a1.at[CUMBRIA, col("continuation", "2023-24")]
    assert row["new_amount"] == 0
    assert f"{CUMBRIA} -> {CUMBERLAND} + {WESTMORLAND}" in row["reason"]


def test_outputs_show_the_153_april_2023_las(versions) -> None:  # type: ignore[no-untyped-def]
    v2 = versions[1]
    new = read(v2 / "allocation_new_boundaries.csv")
    assert len(new) == 153 and CUMBRIA not in set(new["code"]) and CUMBERLAND in set(new["code"])
    head = (v2 / "allocation_new_boundaries.csv").read_text(encoding="utf-8")
    assert "boundaries: ONS, April 2023" in head and "not a re-run of the need index" in head
    from openpyxl import load_workbook

    book = load_workbook(v2 / "allocation_new_boundaries.xlsx", read_only=True)
    assert book.sheetnames == ["Cover", "Allocation April 2023"]
    rows = list(book["Allocation April 2023"].iter_rows(values_only=True))
    codes = [r[0] for r in rows if r[0] and str(r[0]).startswith("E")]
    assert len(codes) == 153 and CUMBERLAND in codes and CUMBRIA not in codes
    england = next(r for r in rows if r[1] == "England")
    assert int(england[-3]) == int(new["total"].sum())  # the England row equals the whole grant
    about = " ".join(str(r[0]) for r in book["Cover"].iter_rows(values_only=True) if r[0])
    assert "boundaries: ONS, April 2023" in about and "not a re-run of the need index" in about
    page = (v2 / "map.html").read_text(encoding="utf-8")
    assert "153 local authorities" in page and "April 2023" in page
    assert "not a re-run of the need index" in page and "Westmorland and Furness" in page
    for stem in ("map_wave", "map_per_head", "map_wave_hex", "map_per_head_hex"):
        assert (v2 / f"{stem}.png").is_file() and (v2 / f"{stem}.pdf").is_file()
    # drawn on the April 2023 boundaries: their licence names that vintage, not 2021's
    assert "database right 2023" in page and "database right 2021" not in page
    assert "database right 2023" in head and "database right 2021" not in head
    assert "database right 2023" in about
    summary = (v2 / "summary.md").read_text(encoding="utf-8")
    assert "not a re-run of the need index" in summary and "April 2023" in summary
    assert "mid-2020" in summary


def test_replay_of_the_amended_version_and_tampering(versions, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    v1, v2 = versions
    replay = [w.replace("outputs/<v2>", str(v2)) for w in readme_block()[2][1:]]
    code, text = cli(*replay)
    assert code == 0, text
    assert "byte-identical" in text
    copy = tmp_path / "chain"
    shutil.copytree(v1, copy / v1.name)
    shutil.copytree(v2, copy / v2.name)
    target = copy / v2.name / "allocation_new_boundaries.csv"
    text = target.read_text(encoding="utf-8").replace(",Cumberland,", ",Cumberland ,", 1)
    target.write_text(text, encoding="utf-8")
    code, out = cli("replay", str(copy / v2.name / "manifest.json"))
    assert code == 3, out
    assert "allocation_new_boundaries.csv" in out


def with_share_file(folder: Path, cumberland: str, westmorland: str) -> Path:
    """The documented example with ``basis: file``: Cumbria's two shares in ``shares.csv``."""
    doc = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    doc["changes"][0].update({"basis": "file", "file": "shares.csv"})
    (folder / "shares.csv").write_text(f"old_code,new_code,share\nE10000006,E06000063,"
                                       f"{cumberland}\nE10000006,E06000064,{westmorland}\n",
                                       encoding="utf-8")
    path = folder / "amend.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_bad_share_file_is_exit_2_naming_file_and_row(versions, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    v1 = versions[0]
    path = with_share_file(tmp_path, "0.6", "0.3")
    code, out = cli("amend", str(v1), str(path), "--out", str(tmp_path / "v"))
    assert code == 2 and out.count("error:") == 1 and "Traceback" not in out
    assert "shares.csv" in out and "E10000006" in out and "sum to 0.9" in out
    assert not (tmp_path / "v").exists() or not any((tmp_path / "v").iterdir())
    # shares that do add up work, and the split follows them exactly
    path = with_share_file(tmp_path, "1/2", "1/2")
    code, out = cli("amend", str(v1), str(path), "--out", str(tmp_path / "v"))
    assert code == 0, out
    v = Path(out.strip().splitlines()[-1].removeprefix("new version: "))
    a1, a2 = read(v1 / "allocation.csv").set_index("code"), read(v / "allocation.csv").set_index("code")
    c = col("continuation", "2024-25")
    half, odd = divmod(int(a1.at[CUMBRIA, c]), 2)
    assert (a2.at[CUMBERLAND, c], a2.at[WESTMORLAND, c]) == (half + odd, half)  # tie -> lower code
    assert json.loads((v / "manifest.json").read_text())["ledger"]["version"] == 2


def test_a_later_amendment_on_the_new_boundaries_is_refused_clearly(versions, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    v2 = versions[1]
    doc = {"parent": json.loads((v2 / "manifest.json").read_text())["run_hash"],
           "name": "underspend", "reason": "a test", "years": ["2024-25"],
           "changes": [{"kind": "reallocate", "stream": "place_based", "year": "2024-25",
                        "returned": {"Manchester": 150_000}}]}
    path = tmp_path / "a3.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    code, out = cli("amend", str(v2), str(path), "--out", str(tmp_path / "v3"))
    assert code == 2 and out.count("error:") == 1, out
    assert "carried onto other boundaries" in out and "E06000063" in out


def test_a_split_that_breaks_a_floor_is_an_error_and_writes_nothing(versions, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # 999/1000 of Cumbria to Cumberland: Westmorland and Furness would get about £745 of
    # continuation money (floor £0.85 a head of its 225,385 people) and about £1,162 of
    # place-based money in 2023-24 (floor £20,000 per funded LA)
    path = with_share_file(tmp_path, "0.999", "0.001")
    code, out = cli("amend", str(versions[0]), str(path), "--out", str(tmp_path / "v"))
    assert code == 2 and out.count("error:") == 1 and "Traceback" not in out, out
    assert "breaks the run's rules on the new boundaries" in out
    assert "floor_continuation_2023_24_E06000064" in out
    assert "floor_place_based_2023_24_E06000064" in out
    assert not (tmp_path / "v").exists() or not any((tmp_path / "v").iterdir())


def test_an_edited_index_of_the_run_is_refused(versions, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The new-boundary map shows the run's need index: an index.csv edited after the run is
    refused (it was drawn as the run's), naming the file."""
    v1 = Path(shutil.copytree(versions[0], tmp_path / versions[0].name))
    index = v1 / "index.csv"
    index.write_text(index.read_text(encoding="utf-8").replace(",Cumbria,", ",Cumbria (edited),", 1),
                     encoding="utf-8")
    amend = [w.replace("outputs/<run>", str(v1)) for w in readme_block()[1][1:]]
    code, out = cli(*[str(ROOT / w) if w.startswith("configs/") else w for w in amend],
                    "--out", str(tmp_path / "v"))
    assert code == 2 and out.count("error:") == 1 and "Traceback" not in out, out
    assert f"{index}: not the file the run wrote" in " ".join(out.split()), out
    assert not (tmp_path / "v").exists() or not any((tmp_path / "v").iterdir())
