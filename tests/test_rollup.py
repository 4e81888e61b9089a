"""Roll-ups by a user-supplied grouping (SYNTHETIC LAs and lookups) and by region on a real run."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest

from allocator.errors import DataError
from allocator.report.rollup import read_lookup, rollup

NAMES = {"E06000001": "Hartlepool", "E06000002": "Middlesbrough", "E06000003": "Redcar"}
ALLOC = pd.DataFrame({"code": list(NAMES), "total_2022_23": [100, 201, 7],
                      "total": [1000, 2001, 9]})
POP = pd.Series({"E06000001": 1000, "E06000002": 2000, "E06000003": 500})


def lookup(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cdp.csv"
    p.write_text(text, encoding="utf-8")
    return p


def test_each_la_once(tmp_path):
    lk = read_lookup(lookup(tmp_path, "code,group\nE06000001,Tees\nE06000002,Tees\n"
                                      "E06000003,Redcar CDP\n"), NAMES)
    out = rollup(ALLOC, lk, money=["total_2022_23", "total"], population=POP).set_index("group")
    assert out.loc["Tees", "las"] == 2 and out.loc["Tees", "total"] == 3001
    assert out.loc["Redcar CDP", "total_2022_23"] == 7
    assert out.loc["Tees", "population"] == 3000
    assert out.loc["Tees", "per_head"] == round(3001 / 3000, 2)


def test_declared_shares_split_money_exactly(tmp_path):
    lk = read_lookup(lookup(tmp_path, "code,group,share\nE06000001,A,\nE06000002,A,1/3\n"
                                      "E06000002,B,2/3\nE06000003,B,0.5\nE06000003,C,0.5\n"), NAMES)
    assert lk["share"].tolist() == [1, Fraction(1, 3), Fraction(2, 3), Fraction(1, 2),
                                    Fraction(1, 2)]
    out = rollup(ALLOC, lk, money=["total_2022_23", "total"], population=POP).set_index("group")
    # 2022-23: A = 100 + 201/3 = 167; B = 134 + 3.5; C = 3.5 -> largest remainder, sum 308
    assert out["total_2022_23"].sum() == 308 and out["total"].sum() == 3010
    assert out.loc["A", "total_2022_23"] == 167
    assert sorted(out.loc[["B", "C"], "total_2022_23"]) == [3, 138]  # 137.5 / 3.5, tie to B
    assert out.loc["B", "las"] == 2


@pytest.mark.parametrize("text, message", [
    ("code,grp\nE06000001,A\n", "column 'group'"),
    ("code,group\nE06000001,A\nE06000002,A\n", "E06000003 Redcar"),
    ("code,group\nE06000001,A\nE06000002,A\nE06000003,A\nE09999999,B\n", "row 5 'E09999999'"),
    ("code,group\nE06000001,A\nE06000001,B\nE06000002,A\nE06000003,A\n",
     "E06000001 Hartlepool \\(listed 2 times"),
    ("code,group,share\nE06000001,A,0.5\nE06000001,B,0.4\nE06000002,A,\nE06000003,A,\n",
     "E06000001 Hartlepool \\(shares sum to 0.9\\)"),
    ("code,group,share\nE06000001,A,1.5\nE06000002,A,\nE06000003,A,\n", "not in \\(0, 1\\]"),
    ("code,group,share\nE06000001,A,half\nE06000002,A,\nE06000003,A,\n", "row 2 E06000001"),
    ("code,group\nE06000001,\nE06000002,A\nE06000003,A\n", "empty code or group"),
])
def test_lookup_errors_name_the_la(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        read_lookup(lookup(tmp_path, text), NAMES)


def test_rollup_argument_errors():
    lk = pd.DataFrame({"code": list(NAMES), "group": "A", "share": [Fraction(1)] * 3})
    with pytest.raises(ValueError, match="'nope'"):
        rollup(ALLOC, lk, money=["nope"])


def test_cli_rollup_by_region_and_lookup(tmp_path):
    """On a real run written by the README's main job (shared module fixture)."""
    from allocator.paths import default_data_dir

    if default_data_dir() is None:
        pytest.skip("shared/geodata not present")
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from click.testing import CliRunner

    from allocator import cli
    from allocator.config import config_from_dict, read_config_document
    from allocator.pipeline import run

    root = Path(__file__).resolve().parents[1]
    doc = read_config_document(root / "configs" / "ssmtrg-2022-25.yaml")
    doc["uncertainty"]["draws"] = 128  # (uncertainty.enabled: false breaks summary.md today)
    doc["output"] = {**doc.get("output", {}), "map": False, "static_maps": False,
                     "excel": False, "gpkg": False}
    res = run(config_from_dict(doc))
    rd = res.write(tmp_path / "runs")
    runner = CliRunner()
    out = runner.invoke(cli.main, ["rollup", str(rd)])
    assert out.exit_code == 0, out.output
    assert "North East" in out.output and "Yorkshire and The Humber" in out.output
    codes = res.allocation["code"].tolist()
    lk = tmp_path / "pfa.csv"
    lk.write_text("code,group\n" + "".join(f"{c},{'North' if c < 'E08' else 'Rest'}\n"
                                         for c in codes), encoding="utf-8")
    target = tmp_path / "pfa_rollup.csv"
    out = runner.invoke(cli.main, ["rollup", str(rd), "--lookup", str(lk), "--out", str(target)])
    assert out.exit_code == 0, out.output
    table = pd.read_csv(target)
    assert table["total"].sum() == res.allocation["total"].sum()
    assert table["total_2022_23"].sum() == 100_000_000
    out = runner.invoke(cli.main, ["rollup", str(rd), "--lookup", str(lk), "--out", str(target)])
    assert out.exit_code == 2 and "never overwritten" in out.output
    lk.write_text("code,group\n" + "".join(f"{c},X\n" for c in codes[1:]), encoding="utf-8")
    out = runner.invoke(cli.main, ["rollup", str(rd), "--lookup", str(lk)])
    assert out.exit_code == 2 and codes[0] in out.output and "missing from the lookup" in out.output


# ---------------------------------------------------------------------- roll-ups in a run's outputs
def _doc(rollups: list[dict] | None = None) -> dict:
    from allocator.config import read_config_document

    root = Path(__file__).resolve().parents[1]
    doc = read_config_document(root / "configs" / "ssmtrg-2022-25.yaml")
    doc["uncertainty"]["draws"] = 128
    doc["output"] = {**doc.get("output", {}), "map": False, "static_maps": False, "gpkg": False}
    if rollups is not None:
        doc["output"]["rollups"] = rollups
    return doc


def _item(lookup: object, **kw: object) -> dict:
    return {"name": "cdp", "label": "Combating Drugs Partnership", "lookup": str(lookup),
            "source": "a SYNTHETIC grouping written by the test, 2026", **kw}


@pytest.mark.parametrize("change, message", [
    ({"name": "CDP"}, r"output\.rollups\[0\]\.name.*lowercase identifier"),
    ({"label": "Police/force area"}, r"output\.rollups\[0\]\.label.*cannot name a workbook sheet"),
    ({"label": "Region"}, r"already has a sheet 'By Region'"),
    ({"label": "A" * 29}, r"output\.rollups\[0\]\.label"),
    ({"source": "seeds-digest §6.2"}, r"output\.rollups\[0\]\.source.*internal reference"),
    ({"source": " "}, r"output\.rollups\[0\]\.source"),
    ({"sheet": "x"}, r"output\.rollups\[0\]\.sheet"),
])
def test_rollup_config_is_strict(change, message):
    from allocator.config import config_from_dict
    from allocator.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        config_from_dict(_doc([_item("cdp.csv", **change)]))


def test_rollup_names_and_labels_are_distinct():
    from allocator.config import config_from_dict
    from allocator.errors import ConfigError

    with pytest.raises(ConfigError, match="two roll-ups share the name 'cdp'"):
        config_from_dict(_doc([_item("a.csv"), _item("b.csv", label="Police force area")]))
    with pytest.raises(ConfigError, match="two roll-ups share the label"):
        config_from_dict(_doc([_item("a.csv"), _item("b.csv", name="pfa",
                                                     label="combating drugs partnership")]))


def test_default_config_has_no_rollups_and_keeps_its_hash():
    from allocator.config import config_from_dict

    cfg = config_from_dict(_doc())
    assert cfg.output.rollups == ()
    assert "rollups" not in cfg.canonical()["output"]
    assert cfg.hash() == config_from_dict(_doc([])).hash()


def _split_lookup(path: Path, codes: list[str], regions: list[str]) -> Path:
    rows = ["code,group,share", f"{codes[0]},CDP North,1/3", f"{codes[0]},CDP {regions[0]},2/3"]
    rows += [f"{c},CDP {r}," for c, r in zip(codes[1:], regions[1:], strict=True)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def grouped_run(tmp_path_factory):
    from allocator.config import config_from_dict
    from allocator.paths import default_data_dir
    from allocator.pipeline import run

    if default_data_dir() is None:
        pytest.skip("shared/geodata not present")
    tmp = tmp_path_factory.mktemp("grouped")
    plain = run(config_from_dict(_doc()))
    alloc = plain.allocation
    lk = _split_lookup(tmp / "cdp.csv", alloc["code"].tolist(), alloc["region"].tolist())
    res = run(config_from_dict(_doc([_item(lk)])))
    return res, res.write(tmp / "runs"), plain.write(tmp / "plain"), lk


def test_run_writes_the_rollup_sheet_and_csv(grouped_run):
    import json

    import openpyxl

    res, rd, _, lk = grouped_run
    csv = pd.read_csv(rd / "rollup_cdp.csv", comment="#")
    head = [line for line in (rd / "rollup_cdp.csv").read_text(encoding="utf-8").splitlines()
            if line.startswith("#")]
    assert any("grouping of local authorities from a SYNTHETIC grouping" in h for h in head)
    assert any("ONS mid-2020" in h for h in head) and any("2022-23 to 2024-25" in h for h in head)
    assert any("split between groups" in h for h in head)
    for col in ["total_2022_23", "total_2023_24", "total_2024_25", "total"]:
        assert csv[col].sum() == res.allocation[col].sum()  # exact whole pounds
    assert csv["total_2022_23"].sum() == 100_000_000
    assert csv.loc[csv["group"] == "CDP North", "las"].item() == 1

    wb = openpyxl.load_workbook(rd / "allocation.xlsx")
    assert wb.sheetnames.index("By Combating Drugs Partnership") == wb.sheetnames.index("By wave") + 1
    ws = wb["By Combating Drugs Partnership"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "Allocation by Combating Drugs Partnership, 2022-23 to 2024-25"
    assert rows[1][:2] == ("Combating Drugs Partnership", "Local authorities")
    assert rows[1][6] == "Population, mid-2020 (all ages)"
    body = [r for r in rows[2:] if r[0] and str(r[0]).startswith("CDP ")]
    england = next(r for r in rows if r[0] == "England")
    assert len(body) == len(csv)
    assert england[1] == 152 and england[2] == 100_000_000
    for j in range(2, 7):
        assert sum(r[j] for r in body) == england[j] or j == 6  # population is rounded per group
    notes = [r[0] for r in rows if r[0] and str(r[0]).startswith(("Groups:", "Money:"))]
    assert notes[0].startswith("Groups: Combating Drugs Partnership (grouping of local "
                               "authorities from a SYNTHETIC grouping written by the test, 2026)")
    assert "ONS mid-2020" in notes[1]
    assert not any("[001 L" in str(c) for r in rows for c in r if c)
    cover = [r[1] for r in wb["Cover"].iter_rows(values_only=True) if r[1]]
    assert any(str(c).startswith("By Combating Drugs Partnership: totals") for c in cover)
    manifest = json.loads((rd / "manifest.json").read_text(encoding="utf-8"))
    assert str(lk) in manifest["inputs"] and "rollup_cdp.csv" in manifest["outputs"]


def test_default_run_writes_no_rollup(grouped_run):
    import openpyxl

    _, _, plain, _ = grouped_run
    assert not list(plain.glob("rollup_*"))
    assert not [s for s in openpyxl.load_workbook(plain / "allocation.xlsx").sheetnames
                if s not in {"Cover", "Allocation", "By region", "By IMD decile", "By wave",
                             "Need index"}]


def test_bad_rollup_lookup_stops_the_run_with_exit_2(grouped_run, tmp_path):
    """The lookup check can fail: shares of one LA summing to 0.9 stop `allocator run` (and
    `allocator validate`) before any work, naming the config item, the file and the LA."""
    import yaml
    from click.testing import CliRunner

    from allocator import cli

    res = grouped_run[0]
    codes, names = res.allocation["code"].tolist(), res.allocation["name"].tolist()
    bad = tmp_path / "bad.csv"
    bad.write_text("code,group,share\n" + f"{codes[0]},A,0.5\n{codes[0]},B,0.4\n"
                   + "".join(f"{c},A,\n" for c in codes[1:]), encoding="utf-8")
    config = tmp_path / "grouped.yaml"
    config.write_text(yaml.safe_dump(_doc([_item(bad)])), encoding="utf-8")
    runner = CliRunner()
    for args in (["run", str(config), "--out", str(tmp_path / "runs")], ["validate", str(config)]):
        out = runner.invoke(cli.main, args)
        assert out.exit_code == 2, out.output
        assert "output.rollups[0] (cdp) lookup" in out.output and str(bad) in out.output
        assert f"{codes[0]} {names[0]} (shares sum to 0.9)" in out.output
        assert "Traceback" not in out.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    missing = tmp_path / "missing.yaml"
    missing.write_text(yaml.safe_dump(_doc([_item(tmp_path / "nope.csv")])), encoding="utf-8")
    out = runner.invoke(cli.main, ["validate", str(missing)])
    assert out.exit_code == 2 and "output.rollups[0] (cdp) lookup" in out.output
    assert "nope.csv" in out.output


def test_readme_rollup_config_example_validates():
    """The README's ``output.rollups`` example is a valid config section."""
    import re

    import yaml

    from allocator.config import config_from_dict

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Roll-ups by partnership or force area"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    example = yaml.safe_load(block)["output"]["rollups"]
    cfg = config_from_dict(_doc(example))
    assert [(r.name, r.label, r.lookup) for r in cfg.output.rollups] == [
        ("cdp", "Combating Drugs Partnership", "lookups/cdp.csv")]
