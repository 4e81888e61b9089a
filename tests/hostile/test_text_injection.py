"""Text that ends up in HTML and Excel: shown as text, never run.

One real run on a mirror of the official data whose boundary file renames three LAs (the
names are the only thing changed), with a config whose title, a stream source and a wave-lock
reason are formula-like or HTML. Every output must carry the text as text: escaped in the map
and the summary, stored as strings (never formulas) in the workbook, neutralised in the CSVs.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from .helpers import DATA_DIR, Baseline, make_mirror, read_table, run_cli, write_config

pytestmark = pytest.mark.skipif(DATA_DIR is None, reason="shared/geodata not present")

SCRIPT = '<script>alert("pwned")</script>'
IMG = "<img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("http://evil.example","click")'
NAMES = {"E06000001": SCRIPT, "E06000002": FORMULA, "E06000003": IMG}
TITLE = "=1+2"
SOURCE = "@SUM(1+1)*cmd|' /C calc'!A0"
REASON = '=cmd|" /C calc"!A0 <b>bold</b>'
LOCKED = "E06000004"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("injection")
    mirror = make_mirror(root / "geodata")
    mirror.edit_boundaries(lambda g: g.assign(
        utla21_name=[NAMES.get(c, n) for c, n in zip(g["utla21_code"], g["utla21_name"],
                                                      strict=True)]))
    cfg = write_config(root / "inject.yaml", {
        "title": TITLE,
        "allocation": {"streams": {"continuation": {"source": SOURCE}}},
        "waves": {"locks": [{"code": LOCKED, "wave": 1, "reason": REASON}]},
    }, mirror=True)
    res = run_cli("run", cfg, "--data-dir", mirror, "--out", root / "outputs", "--quiet")
    assert res.returncode == 0, res.stderr
    (out,) = (root / "outputs").iterdir()
    return out


def _js_unescape(text: str) -> str:
    return (text.replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&")
            .replace('\\"', '"'))


# ----------------------------------------------------------------------------- map
def test_map_has_no_injected_markup(run_dir: Path, baseline: Baseline):
    html = (run_dir / "map.html").read_text(encoding="utf-8")
    for raw in (SCRIPT, IMG, "<b>bold</b>"):
        assert raw not in html
    # no extra <script> element: the same number as in a map of ordinary names
    ordinary = (baseline.run_dir / "map.html").read_text(encoding="utf-8")
    assert html.count("<script") == ordinary.count("<script")
    assert html.lower().count("</script") == ordinary.lower().count("</script")


def test_map_tooltip_shows_the_name_as_escaped_text(run_dir: Path):
    html = _js_unescape((run_dir / "map.html").read_text(encoding="utf-8"))
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_map_keeps_the_formula_like_name_verbatim(run_dir: Path):
    """A map is not a spreadsheet: the name is shown as typed (JSON-escaped, not altered)."""
    html = (run_dir / "map.html").read_text(encoding="utf-8")
    assert json.dumps(FORMULA)[1:-1] in html


# ----------------------------------------------------------------------------- Excel
def _sheet_xml(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/")}


def test_xlsx_has_no_formula_anywhere(run_dir: Path):
    sheets = _sheet_xml(run_dir / "allocation.xlsx")
    assert sheets
    for name, xml in sheets.items():
        assert not re.search(rb"<f[ >/]", xml), name


def test_xlsx_names_are_strings(run_dir: Path):
    from openpyxl import load_workbook

    wb = load_workbook(run_dir / "allocation.xlsx")
    for sheet in ("Allocation", "Need index"):
        ws = wb[sheet]
        header = [c.value for c in ws[2]]  # row 1 is the sheet's title
        code_col, name_col = header.index("ONS code"), header.index("Local authority")
        found = {}
        for row in ws.iter_rows(min_row=3):
            if row[code_col].value in NAMES:
                found[row[code_col].value] = row[name_col]
        assert {c: cell.value for c, cell in found.items()} == NAMES, sheet
        for cell in found.values():
            assert cell.data_type == "s"
        assert found["E06000002"].quotePrefix  # Excel shows it as text, even when edited


def test_xlsx_cover_keeps_formula_like_title_as_text(run_dir: Path):
    from openpyxl import load_workbook

    wb = load_workbook(run_dir / "allocation.xlsx")
    title = wb["Cover"]["A1"]
    assert title.value == TITLE and title.data_type == "s" and title.quotePrefix
    # config source: fields (where internal citations live) are not published at all
    text = [str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert SOURCE not in text


# ----------------------------------------------------------------------------- CSV
@pytest.mark.parametrize("table", ["allocation.csv", "index.csv", "explain.csv"])
def test_csv_neutralises_formula_like_names(run_dir: Path, table: str):
    df = read_table(run_dir / table)
    names = dict(zip(df["code"], df["name"], strict=False))
    assert names["E06000002"] == "'" + FORMULA
    assert names["E06000001"] == SCRIPT  # not a formula: left as it is
    for col in df.columns:
        if df[col].dtype == object:
            assert not df[col].str.startswith(("=", "+", "@")).any(), col


# ----------------------------------------------------------------------------- summary
def test_summary_escapes_html_in_names_and_reasons(run_dir: Path):
    text = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert SCRIPT not in text and IMG not in text and "<b>bold</b>" not in text
    assert LOCKED in text  # the override is listed ...
    assert "&lt;b>bold&lt;/b>" in text  # ... with its reason kept, the tags neutralised
