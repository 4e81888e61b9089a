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
    assert out.exit_code == 2 and "never overwrites" in out.output
    lk.write_text("code,group\n" + "".join(f"{c},X\n" for c in codes[1:]), encoding="utf-8")
    out = runner.invoke(cli.main, ["rollup", str(rd), "--lookup", str(lk)])
    assert out.exit_code == 2 and codes[0] in out.output and "missing from the lookup" in out.output
