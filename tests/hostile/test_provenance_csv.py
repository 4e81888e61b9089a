"""Issue 14: the ``#`` provenance lines of the CSVs can never become a formula cell.

A source text of ``OHID,=cmd|' /C calc'!A0,`` (from a user's OCU file) used to become the cell
``=cmd|' /C calc'!A0`` in allocation.csv, index.csv and explain.csv when opened in a
spreadsheet. Every file is read back here with the csv module (comma and semicolon dialects,
as spreadsheets do by locale) and no cell may start with ``=``, ``+``, ``-`` or ``@`` followed
by text.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import pytest

from allocator.report.tables import provenance_line

from .helpers import DATA_DIR, run_cli, write_config

pytestmark = pytest.mark.skipif(DATA_DIR is None, reason="shared/geodata not present")

EVIL = "OHID,=cmd|' /C calc'!A0,"
#: A cell a spreadsheet evaluates: a formula sign followed by text (a negative number is fine).
FORMULA = re.compile(r"^\s*[=+\-@](?![\d.]|$)")


def formula_cells(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    bad = []
    for delimiter in (",", ";", "\t"):
        for row in csv.reader(text.splitlines(), delimiter=delimiter):
            bad += [cell for cell in row if FORMULA.match(cell)]
    return bad


@pytest.mark.parametrize("line", [
    EVIL,
    "a;=1+1;b",
    'x,"=HYPERLINK(""http://evil.example"")",y',
    "tab\t=cmd",
    "new\nline,@SUM(A1)",
    "  , +cmd, -cmd, @cmd",
])
def test_provenance_line_has_no_formula_cell(tmp_path: Path, line: str):
    p = tmp_path / "t.csv"
    p.write_text(provenance_line(line) + "\ncode,total\nE06000001,5\n", encoding="utf-8")
    assert formula_cells(p) == []
    assert provenance_line(line).startswith("# ")
    assert "\n" not in provenance_line(line)
    assert list(pd.read_csv(p, comment="#")["total"]) == [5]


def test_the_check_itself_finds_the_old_unquoted_line(tmp_path: Path):
    """Control: the old writer's line ('# ' + text) does produce the formula cell."""
    p = tmp_path / "old.csv"
    p.write_text("# Source: " + EVIL + "\n", encoding="utf-8")
    assert formula_cells(p) == ["=cmd|' /C calc'!A0"]


def test_run_with_a_hostile_ocu_source_writes_no_formula_cell(tmp_path: Path):
    import geopandas as gpd

    from .helpers import BOUNDARIES

    codes = sorted(c for c in gpd.read_file(DATA_DIR / BOUNDARIES, ignore_geometry=True)
                   ["utla21_code"] if c.startswith("E"))
    ocu = tmp_path / "ocu.csv"
    pd.DataFrame({"code": codes, "rate_per_1000_15_64": 8.0, "count": 1000, "year": "2016-17",
                  "source": EVIL}).to_csv(ocu, index=False)
    cfg = write_config(tmp_path / "c.yaml", {
        "data": {"ocu_file": str(ocu)},
        "uncertainty": {"draws": 20, "sensitivity": {"enabled": False}},
        "output": {"map": False, "gpkg": False, "excel": False},
    })
    res = run_cli("run", cfg, "--data-dir", DATA_DIR, "--out", tmp_path / "out", "--quiet")
    assert res.returncode == 0, res.stderr
    (run,) = (tmp_path / "out").iterdir()
    csvs = sorted(run.glob("*.csv"))
    assert {p.name for p in csvs} >= {"allocation.csv", "index.csv", "explain.csv"}
    for p in csvs:
        text = p.read_text(encoding="utf-8")
        assert "cmd|' /C calc'!A0" in text, p.name  # the source is still stated...
        assert formula_cells(p) == [], p.name     # ...as text
