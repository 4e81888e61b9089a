"""``allocation.xlsx``: the publication workbook, in the style of GOV.UK grant allocation tables.

Sheets: ``Cover`` (title, grant, years, method in five lines, sources with years, caveats once,
licence, config hash, contents), ``Allocation`` (one row per LA with readable headers, population
and pounds per head, an England totals row equal to each budget, autofilter, frozen panes, print
titles, landscape fit to width), ``By region``, ``By IMD decile``, ``By wave`` (totals and pounds
per head), one ``By <label>`` sheet per configured roll-up (``output.rollups``, e.g. Combating
Drugs Partnerships, with the grouping's source under the table) and ``Need index`` (formatted
numbers). Cells hold values, never formulas; text that a
spreadsheet would evaluate is stored as text. Bytes are deterministic (fixed dates, fixed zip
order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..columns import PER_HEAD, POPULATION, TOTAL, column_label, money_columns, total_columns
from .tables import FORMULA_PREFIXES, save_workbook

if TYPE_CHECKING:
    from .publication import Publication
    from .rollup import GroupRollup

POUNDS = '"£"#,##0'
PER_HEAD_FMT = '"£"#,##0.00'
COUNT = "#,##0"
SCORE = "0.0"
SHARE = "0%"
RANK = "0"

POPULATION_HEADER = "Population, mid-2020 (all ages)"
PER_HEAD_HEADER = "£ per head (all ages)"


@dataclass
class Col:
    """One column of a published sheet: source column, header, number format, width."""

    key: str
    header: str
    fmt: str | None = None
    width: float | None = None


def _cell_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is pd.NA or value is None:
        return None
    return value


def _put(ws: Any, row: int, col: int, value: Any) -> Any:
    value = _cell_value(value)
    cell = ws.cell(row=row, column=col)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula
        if value.startswith(FORMULA_PREFIXES):
            cell.quotePrefix = True
    return cell


def _table_sheet(
    wb: Any,
    name: str,
    frame: pd.DataFrame,
    cols: Sequence[Col],
    *,
    title: str,
    totals: dict[str, Any] | None = None,
    freeze_col: int = 1,
) -> Any:
    """A sheet: a title line, a header row, one row per record, an optional totals row."""
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(name)
    _put(ws, 1, 1, title).font = Font(bold=True, size=12)
    head_row = 2
    fill = PatternFill("solid", fgColor="DDE3EA")
    for j, c in enumerate(cols, start=1):
        cell = _put(ws, head_row, j, c.header)
        cell.font = Font(bold=True)
        cell.fill = fill
        cell.alignment = Alignment(wrap_text=True, vertical="bottom", horizontal="left" if c.fmt is None else "right")
    values = frame[[c.key for c in cols]].to_numpy(dtype=object)
    for i, row in enumerate(values, start=head_row + 1):
        for j, (c, v) in enumerate(zip(cols, row, strict=True), start=1):
            cell = _put(ws, i, j, v)
            if c.fmt:
                cell.number_format = c.fmt
    last = head_row + len(frame)
    if totals is not None:
        top = Border(top=Side(style="thin"), bottom=Side(style="double"))
        for j, c in enumerate(cols, start=1):
            cell = _put(ws, last + 1, j, totals.get(c.key))
            cell.font = Font(bold=True)
            cell.border = top
            if c.fmt:
                cell.number_format = c.fmt
    for j, c in enumerate(cols, start=1):
        if c.width is not None:
            width = c.width
        else:
            texts = [c.header.split(" (")[0]] + [
                f"{v:,.0f}" if isinstance(v, int | float | np.number) and not isinstance(v, bool) else str(v)
                for v in frame[c.key].tolist()
            ]
            width = max(len(t) for t in texts) + (3 if c.fmt else 2)
        ws.column_dimensions[get_column_letter(j)].width = float(min(max(width, 8), 48))
    ws.row_dimensions[head_row].height = 45
    ref_end = get_column_letter(len(cols))
    ws.auto_filter.ref = f"A{head_row}:{ref_end}{last}"
    ws.freeze_panes = f"{get_column_letter(freeze_col + 1)}{head_row + 1}"
    ws.print_title_rows = f"{head_row}:{head_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    return ws


def _money_cols(streams: Sequence[str], years: Sequence[str], period: str) -> list[Col]:
    """Each stream by year, each year's total, then the total over the period."""
    keys = money_columns(streams, years) + total_columns(years)[:-1]
    cols = [Col(k, column_label(k, streams, years), POUNDS) for k in keys]
    return [*cols, Col(TOTAL, f"Total {period} (£)", POUNDS)]


def _cover(wb: Any, pub: Publication, contents: list[tuple[str, str]]) -> Any:
    from openpyxl.styles import Alignment, Font

    ws = wb.create_sheet("Cover")
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 110
    _put(ws, 1, 1, pub.title).font = Font(bold=True, size=14)
    rows: list[tuple[str, str]] = []
    if pub.description:
        rows.append(("Grant", pub.description))
    budgets = []
    for s, by_year in pub.budgets.items():
        amounts = ", ".join(f"{y} £{v:,}" for y, v in by_year.items())
        budgets.append(f"{s.replace('_', '-')}: {amounts}")
    rows.append(("Years", f"{pub.period} (financial years, April to March)"))
    rows.append(("Budgets", "; ".join(budgets)))
    rows += [("Method" if i == 0 else "", line) for i, line in enumerate(pub.method)]
    rows.append(("Units", "Whole pounds. Every stream and year sums exactly to its budget (see the "
                          "England row of the Allocation sheet). £ per head divides an LA's total "
                          "over all years by its all-ages population (ONS mid-2020 estimates)."))
    rows += [("Sources" if i == 0 else "", s) for i, s in enumerate(pub.sources)]
    rows += [("Caveats" if i == 0 else "", c) for i, c in enumerate(pub.caveats)]
    rows.append(("Licence", pub.licence))
    rows.append(("Configuration", f"{pub.config_name}, SHA-256 {pub.config_hash}"))
    rows.append(("Run", f"run hash {pub.run_hash}: replay with `allocator replay` to reproduce every file"))
    rows += [("Contents" if i == 0 else "", f"{n}: {d}") for i, (n, d) in enumerate(contents)]
    r = 3
    for label, text in rows:
        if label:
            r += 1 if r > 3 else 0
        _put(ws, r, 1, label).font = Font(bold=True)
        cell = _put(ws, r, 2, text)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.cell(row=r, column=1).alignment = Alignment(vertical="top")
        ws.row_dimensions[r].height = 15 * max(1, -(-len(text) // 105))
        r += 1
    ws.page_setup.orientation = "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    return ws


def _rollup_sheet(wb: Any, name: str, frame: pd.DataFrame, key: Col, pub: Publication, title: str) -> Any:
    cols = [key, Col("las", "Local authorities", COUNT)]
    cols += _money_cols([], pub.years, pub.period)
    cols += [Col(POPULATION, POPULATION_HEADER, COUNT), Col(PER_HEAD, PER_HEAD_HEADER + f", {pub.period}", PER_HEAD_FMT)]
    body, total = frame.iloc[:-1], frame.iloc[-1].to_dict()
    return _table_sheet(wb, name, body, cols, title=title, totals=total)


def write_workbook(
    path: Path,
    pub: Publication,
    allocation: pd.DataFrame,
    index: pd.DataFrame,
    *,
    regions: pd.DataFrame,
    deciles: pd.DataFrame,
    waves: pd.DataFrame,
    wave_labels: Sequence[str] = (),
    extra: Sequence[tuple[str, pd.DataFrame, Sequence[str]]] = (),
    rollups: Sequence[GroupRollup] = (),
) -> Path:
    """Write the publication workbook.

    Parameters
    ----------
    path : pathlib.Path
        Destination ``.xlsx``.
    pub : Publication
        Title, method, sources, caveats, licence and hashes (:func:`~.publication.publication`).
    allocation : DataFrame
        :func:`~.frames.published_allocation`: code, name, region, wave, money columns, totals,
        ``pop_all``, ``per_head``.
    index : DataFrame
        The run's index table (rank, score, intervals, probabilities, raw indicators).
    regions, deciles, waves : DataFrame
        :func:`~.frames.rollup` tables, last row England.
    wave_labels : sequence of str
        Wave start years, for the wave column.
    extra : sequence of (name, DataFrame, money columns)
        Further sheets written as they are (e.g. the department's own layout), before the index.
    rollups : sequence of GroupRollup
        Configured roll-ups (:func:`~.rollup.run_rollups`), a sheet each after ``By wave``.
    """
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    years, streams = pub.years, pub.streams
    contents = [
        ("Allocation", "each local authority's allocation by stream and year, population and £ per head"),
        ("By region", "totals and £ per head by region"),
        ("By IMD decile", "totals and £ per head by deprivation decile (IMD 2019, 1 = most deprived)"),
        ("By wave", "totals and £ per head by delivery wave"),
        *[(f"By {g.config.label}", f"totals and £ per head by {g.config.label} (grouping from "
           f"{g.config.source})") for g in rollups],
        ("Need index", "each LA's need rank and score, its likely rank range and chance of wave 1"),
    ]
    _cover(wb, pub, contents)

    alloc = allocation.sort_values("name", kind="stable").reset_index(drop=True)
    label = dict(enumerate(wave_labels, start=1))
    alloc = alloc.assign(wave_text=[f"{w} (from {label[w]})" if w in label else str(w) for w in alloc["wave"]])
    cols = [
        Col("name", "Local authority"),
        Col("code", "ONS code", width=12),
        Col("region", "Region"),
        Col("wave_text", "Wave (start year)", width=14),
        *_money_cols(streams, years, pub.period),
        Col(POPULATION, POPULATION_HEADER, COUNT),
        Col(PER_HEAD, PER_HEAD_HEADER + f", {pub.period}", PER_HEAD_FMT),
    ]
    money = money_columns(streams, years) + total_columns(years)
    totals: dict[str, Any] = {"name": "England", "code": "E92000001"}
    totals.update({c: int(alloc[c].sum()) for c in [*money, POPULATION]})
    totals[PER_HEAD] = round(totals[TOTAL] / totals[POPULATION], 2)
    _table_sheet(wb, "Allocation", alloc, cols, title=f"{pub.title}: allocation by local authority", totals=totals)

    period = pub.period
    _rollup_sheet(wb, "By region", regions, Col("region", "Region"), pub, f"Allocation by region, {period}")
    if not deciles.empty:
        d = deciles.copy()
        d["imd_decile"] = [
            v if v == "England" else f"{int(v)}{' (most deprived)' if int(v) == 1 else ' (least deprived)' if int(v) == 10 else ''}"
            for v in d["imd_decile"]
        ]
        _rollup_sheet(wb, "By IMD decile", d, Col("imd_decile", "IMD 2019 decile of LAs", width=20), pub,
                      f"Allocation by deprivation decile of local authorities (IMD 2019), {period}")
    w = waves.copy()
    w["wave"] = [v if v == "England" else f"{v} (from {label.get(v, v)})" for v in w["wave"]]
    _rollup_sheet(wb, "By wave", w, Col("wave", "Wave (start year)", width=16), pub, f"Allocation by delivery wave, {period}")
    for g in rollups:
        _group_sheet(wb, g, alloc, pub)

    for name, frame, money_cols in extra:
        keep = [c for c in frame.columns if c != "geometry"]
        cols_x = [Col(c, str(c), POUNDS if c in set(money_cols) else None) for c in keep]
        _table_sheet(wb, name[:31], frame, cols_x, title=f"{pub.title}: {name}")
    _index_sheet(wb, index)

    return save_workbook(wb, path, pub.title)


def _group_sheet(wb: Any, group: GroupRollup, alloc: pd.DataFrame, pub: Publication) -> Any:
    """A configured roll-up (:mod:`.rollup`): groups, an England row, then what the grouping is."""
    from openpyxl.styles import Alignment

    from .rollup import rollup_notes

    label = group.config.label
    body = group.table.rename(columns={"population": POPULATION, "per_head": PER_HEAD})
    money = total_columns(pub.years)
    england: dict[str, Any] = {"group": "England", "las": len(alloc)}
    england.update({c: int(alloc[c].sum()) for c in [*money, POPULATION]})
    england[PER_HEAD] = round(england[TOTAL] / england[POPULATION], 2)
    frame = pd.concat([body, pd.DataFrame([england])], ignore_index=True)
    ws = _rollup_sheet(wb, f"By {label}", frame, Col("group", label), pub,
                       f"Allocation by {label}, {pub.period}")
    row = ws.max_row + 2
    for line in rollup_notes(group, pub.period):
        _put(ws, row, 1, line).alignment = Alignment(wrap_text=False)
        row += 1
    return ws


_INDEX_COLS = [
    Col("name", "Local authority"),
    Col("code", "ONS code", width=12),
    Col("region", "Region"),
    Col("rank", "Need rank (1 = highest)", RANK, 11),
    Col("score", "Need score (0-100)", SCORE, 11),
    Col("wave", "Wave", RANK, 8),
    Col("rank_p05", "Likely rank range: from", RANK, 12),
    Col("rank_p95", "Likely rank range: to", RANK, 12),
    Col("p_wave_1", "Chance of wave 1", SHARE, 11),
    Col("p_wave_le_2", "Chance of wave 1 or 2", SHARE, 11),
    Col("borderline_text", "Wave uncertain", None, 11),
    Col("drug_deaths_rate_raw", "Drug-misuse deaths per 100,000", "0.0", 13),
    Col("imd_score_raw", "IMD 2019 average score", "0.0", 13),
    Col("crime_score_raw", "Crime score", "0.000", 11),
    Col("ocu_rate_raw", "OCU prevalence per 1,000", "0.0", 13),
]


def _index_sheet(wb: Any, index: pd.DataFrame) -> Any:
    idx = index.sort_values("rank", kind="stable").reset_index(drop=True)
    if "borderline" in idx:
        idx = idx.assign(borderline_text=np.where(idx["borderline"].fillna(False).astype(bool), "yes", ""))
    cols = [c for c in _INDEX_COLS if c.key in idx.columns]
    return _table_sheet(wb, "Need index", idx, cols, title="Need index: rank, score and uncertainty")
