"""What a grant team publishes, from one real run: the workbook (headers, formats, totals equal to
each budget, autofilter, print set-up, population and per head), the CSV's population and per-head
columns, and no internal citation or developer instruction in any published file."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest

from allocator.paths import default_data_dir
from allocator.report.caveats import internal_references

ROOT = Path(__file__).resolve().parents[1]
DATA = default_data_dir()
pytestmark = pytest.mark.skipif(DATA is None, reason="the official data (../shared/geodata) is not present")

BUDGETS = {
    "continuation": {"2022-23": 80_000_000, "2023-24": 80_000_000, "2024-25": 80_000_000},
    "place_based": {"2022-23": 20_000_000, "2023-24": 81_000_000, "2024-25": 192_000_000},
}
PUBLISHED = (".csv", ".xlsx", ".html", ".md", ".pdf")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from allocator import load_config, run

    result = run(load_config(ROOT / "configs" / "ssmtrg-2022-25.yaml"), data_dir=DATA)
    return result.write(tmp_path_factory.mktemp("runs"))


def published_text(path: Path) -> str:
    """Every piece of text a reader can see in a published file."""
    if path.suffix == ".xlsx":
        import openpyxl

        book = openpyxl.load_workbook(path)
        return "\n".join(
            str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None
        )
    if path.suffix == ".pdf":
        import pypdf

        return "\n".join(p.extract_text() for p in pypdf.PdfReader(path).pages)
    return path.read_text(encoding="utf-8")


def leaks(run_dir: Path) -> dict[str, list[str]]:
    out = {}
    for p in sorted(run_dir.iterdir()):
        if p.suffix in PUBLISHED:
            found = internal_references(published_text(p))
            if found:
                out[p.name] = found
    return out


def test_no_internal_reference_in_any_published_file(run_dir: Path, tmp_path: Path) -> None:
    names = {p.suffix for p in run_dir.iterdir()}
    assert {".csv", ".xlsx", ".html", ".md", ".pdf"} <= names
    assert leaks(run_dir) == {}
    # the check fails on a published file that carries one
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "summary.md").write_text("weights (seeds-digest §6.2); pass data.ocu_file to add OCU", encoding="utf-8")
    assert set(leaks(bad)) == {"summary.md"}


def _sheet(run_dir: Path, name: str):  # type: ignore[no-untyped-def]
    import openpyxl

    return openpyxl.load_workbook(run_dir / "allocation.xlsx")[name]


def test_workbook_allocation_sheet(run_dir: Path) -> None:
    ws = _sheet(run_dir, "Allocation")
    header = [c.value for c in ws[2]]
    assert header[:4] == ["Local authority", "ONS code", "Region", "Wave (start year)"]
    assert "2022-23 continuation (£)" in header and "2024-25 place based (£)" in header
    assert "Population, mid-2020 (all ages)" in header
    per_head = [h for h in header if h.startswith("£ per head")]
    assert per_head == ["£ per head (all ages), 2022-23 to 2024-25"]
    assert not any("_" in h for h in header)  # readable, no column keys
    col = {h: i for i, h in enumerate(header)}
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    body, total = rows[:-1], rows[-1]
    assert len(body) == 152 and total[0] == "England"
    for stream, by_year in BUDGETS.items():
        label = stream.replace("_", " ")
        for year, budget in by_year.items():
            j = col[f"{year} {label} (£)"]
            assert total[j] == budget == sum(r[j] for r in body)
            assert isinstance(total[j], int)
    assert total[col["Total 2022-23 to 2024-25 (£)"]] == 533_000_000
    # formats: pounds, counts, pence per head; names not cut off
    third = ws[3]
    assert third[col["2022-23 continuation (£)"]].number_format == '"£"#,##0'
    assert third[col["Population, mid-2020 (all ages)"]].number_format == "#,##0"
    assert third[col[per_head[0]]].number_format == '"£"#,##0.00'
    longest = max(len(r[0]) for r in body)
    assert ws.column_dimensions["A"].width >= longest
    # per head = total / population
    for r in body:
        assert r[col[per_head[0]]] == pytest.approx(r[col["Total 2022-23 to 2024-25 (£)"]] / r[col["Population, mid-2020 (all ages)"]], abs=0.006)
    # filter, panes, print set-up
    assert ws.auto_filter.ref == f"A2:{ws.cell(row=2, column=len(header)).column_letter}154"
    assert ws.freeze_panes == "B3"
    assert ws.print_title_rows == "$2:$2"
    assert ws.page_setup.orientation == "landscape"
    assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
    assert ws.sheet_properties.pageSetUpPr.fitToPage


def test_workbook_cover_and_rollups(run_dir: Path) -> None:
    import openpyxl

    book = openpyxl.load_workbook(run_dir / "allocation.xlsx")
    assert book.sheetnames == ["Cover", "Allocation", "By region", "By IMD decile", "By wave", "Need index"]
    cover = {r[0]: r[1] for r in book["Cover"].iter_rows(min_row=2, values_only=True) if r[0]}
    for label in ("Grant", "Years", "Budgets", "Method", "Units", "Sources", "Caveats", "Licence", "Configuration"):
        assert label in cover, label
    text = published_text(run_dir / "allocation.xlsx")
    assert text.count("opiate and crack cocaine use (OCU) prevalence") == 1  # each caveat once
    assert text.count("Open Government Licence") == 1
    for name, key_rows in (("By region", 9), ("By IMD decile", 10), ("By wave", 3)):
        rows = list(book[name].iter_rows(min_row=3, values_only=True))
        assert len(rows) == key_rows + 1 and rows[-1][0] == "England"
        assert sum(r[5] for r in rows[:-1]) == rows[-1][5] == 533_000_000
        assert book[name]["H3"].number_format == '"£"#,##0.00'
    idx = book["Need index"]
    assert idx["E3"].number_format == "0.0" and idx["I3"].number_format == "0%"


def test_csv_gains_population_and_per_head(run_dir: Path) -> None:
    a = pd.read_csv(run_dir / "allocation.csv", comment="#")
    assert list(a.columns[-3:]) == ["total", "pop_all", "per_head"]
    assert (a["per_head"] - (a["total"] / a["pop_all"]).round(2)).abs().max() < 1e-9
    assert int(a["total"].sum()) == 533_000_000


def test_workbook_bytes_are_reproducible(run_dir: Path) -> None:
    with zipfile.ZipFile(run_dir / "allocation.xlsx") as z:
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in z.infolist())


def test_summary_reads_as_plain_text(run_dir: Path) -> None:
    text = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert "\\_" not in text and "\\<" not in text and "\\|" not in text  # no Markdown escapes
    assert "imd_ratio_wave1_to_last" not in text and "{'" not in text  # no raw keys, no dicts
    assert "| Check | Strategy expects | This run | Verdict |" in text
    assert "| LAs in wave 1 | 50 | 50 | as expected |" in text
    assert text.count("mean IMD 2019 score of wave 1") == 1  # the deprivation check said once
    more = [ln for ln in text.splitlines() if ln.startswith("- £1m more")]
    assert len(more) == len(set(ln.split(" would go")[1] for ln in more)) == 4  # no repeats
    assert "£1m more in continuation 2022-23 (the same in 2023-24 and 2024-25) would go to 152 LAs" in text
    assert "## Solver" in text and "Stage " in text
    assert "## Who gets what" in text and "| **England** | 152 | £533,000,000 |" in text
    assert "1 (most deprived)" in text
    assert "The pace-of-change rule never binds in this run" in text


def test_explain_has_no_float_noise(run_dir: Path) -> None:
    e = pd.read_csv(run_dir / "explain.csv", comment="#")
    num = e.select_dtypes("number")
    tiny = (num.abs() > 0) & (num.abs() < 1e-6)
    assert not tiny.to_numpy().any()
    for col in ("target", "lp_value", "rounding", "floor_uplift", "cap_trim", "pace_adjustment"):
        assert ((e[col] * 100 - (e[col] * 100).round()).abs() < 1e-6).all(), col  # whole pence


# ---- the ministers' map in a real browser at 1400 x 1000 ---------------------------------------

from test_map_browser import ARTIFACTS, _load, driver  # noqa: E402, F401 - the shared chromium fixture


@pytest.mark.browser
def test_map_fills_a_1400x1000_window(driver: object, run_dir: Path) -> None:  # noqa: F811
    page = run_dir / "map.html"
    assert page.stat().st_size < 2_000_000
    driver.execute_cdp_cmd(  # type: ignore[attr-defined]
        "Emulation.setDeviceMetricsOverride", {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False}
    )
    try:
        _load(driver, page)
        geo = driver.execute_script(  # type: ignore[attr-defined]
            """
            var m = window.allocatorMap.map, r = document.querySelector('.folium-map').getBoundingClientRect();
            var b = window.allocatorMap.layers[0].layer.getBounds();
            var nw = m.latLngToContainerPoint(b.getNorthWest()), se = m.latLngToContainerPoint(b.getSouthEast());
            var head = document.getElementById('alloc-header').getBoundingClientRect();
            var att = document.querySelector('.leaflet-control-attribution');
            var ar = att.getBoundingClientRect();
            return {w: innerWidth, h: innerHeight, mw: r.width, mh: r.height,
                    ew: se.x - nw.x, eh: se.y - nw.y, head: head.width * head.height,
                    about_open: document.getElementById('alloc-about').open,
                    att_in: ar.left >= 0 && ar.right <= innerWidth && ar.bottom <= innerHeight,
                    att_clipped: att.scrollWidth > att.clientWidth + 1, att_px: parseFloat(getComputedStyle(att).fontSize),
                    labels: document.querySelectorAll('.alloc-label').length};
            """
        )
        assert (geo["w"], geo["h"]) == (1400, 1000)
        assert geo["mw"] * geo["mh"] >= 0.95 * geo["w"] * geo["h"]  # the map pane is the window
        assert geo["eh"] >= 0.85 * geo["h"]  # England fills the height (it took a third before)
        assert geo["head"] <= 0.08 * geo["w"] * geo["h"]  # title panel compact
        assert geo["about_open"] is False  # caveats folded away, one click to open
        assert geo["att_in"] and not geo["att_clipped"] and geo["att_px"] >= 11
        assert geo["labels"] == 0  # names only once zoomed in
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "map_1400x1000.png"))  # type: ignore[attr-defined]
        about = driver.execute_script(  # type: ignore[attr-defined]
            "var d = document.getElementById('alloc-about'); d.open = true; return d.innerText;"
        )
        assert "opiate and crack cocaine use (OCU) prevalence" in about and "Open Government Licence" in about
        # place names and an opaque tooltip in plain words, once zoomed in on Manchester
        tip = driver.execute_script(  # type: ignore[attr-defined]
            """
            var A = window.allocatorMap; A.map.setView([53.45, -2.2], A.labelZoom + 1, {animate: false});
            var f = A.layers[0].idx['E08000003']; f.openTooltip(L.latLng(53.47, -2.23));
            var t = document.querySelector('.leaflet-tooltip');
            return {labels: document.querySelectorAll('.alloc-label').length, text: t.innerText,
                    opacity: getComputedStyle(t).opacity, bg: getComputedStyle(t).backgroundColor};
            """
        )
        assert tip["labels"] > 20
        assert tip["opacity"] == "1" and tip["bg"] == "rgb(255, 255, 255)"
        assert "Chance of wave 1" in tip["text"] and "P(wave" not in tip["text"] and "-0.0%" not in tip["text"]
        driver.save_screenshot(str(ARTIFACTS / "map_zoomed_tooltip.png"))  # type: ignore[attr-defined]
        # what a reader with deuteranopia sees (Machado 2009 matrix as an SVG filter), for review
        driver.execute_script(  # type: ignore[attr-defined]
            """
            var A = window.allocatorMap; A.map.fitBounds(A.layers[0].layer.getBounds(), {animate: false});
            document.body.insertAdjacentHTML('beforeend', '<svg width="0" height="0"><filter id="deut">' +
              '<feColorMatrix type="matrix" values="0.367 0.861 -0.228 0 0 0.280 0.673 0.047 0 0 ' +
              '-0.012 0.043 0.969 0 0 0 0 0 1 0"/></filter></svg>');
            document.documentElement.style.filter = 'url(#deut)';
            """
        )
        driver.save_screenshot(str(ARTIFACTS / "map_deuteranopia.png"))  # type: ignore[attr-defined]
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})  # type: ignore[attr-defined]
