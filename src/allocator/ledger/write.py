"""Write an amended version: a new run directory, atomically, never overwriting anything.

Files: ``allocation.csv`` (the layout of a run's, so ``allocator diff`` compares any two
versions), ``ledger.csv`` (:data:`allocator.columns.LEDGER_COLUMNS`), ``amendment.yaml`` (the
amendment file, byte for byte), ``config.yaml`` (the run's config, byte for byte),
``summary.md`` (what changed, in plain English), ``allocation.xlsx`` (Cover, Allocation and
Ledger sheets) and ``manifest.json`` (written last; hashes every other file and links to the
parent). No file holds a date or a timing, so a replay reproduces every byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..columns import LEDGER_COLUMNS, LEDGER_LABELS, money_column, stream_label
from ..provenance import MANIFEST_NAME, Manifest, collect_versions, hash_tree
from ..report.caveats import LICENCE
from ..report.tables import provenance_line, write_csv
from ..rundir import atomic_run_dir


@dataclass
class Amended:
    """Everything an amended version holds, before it is written."""

    number: int
    title: str
    config_name: str
    run_hash: str
    allocation: pd.DataFrame
    ledger: pd.DataFrame
    amendment_bytes: bytes
    config_bytes: bytes
    manifest: Manifest
    streams: list[str]
    years: list[str]
    locked: list[str]
    words: list[str] = field(default_factory=list)
    budgets_before: dict[tuple[str, str], int] = field(default_factory=dict)
    budgets_after: dict[tuple[str, str], int] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    #: The kinds' own files (:attr:`allocator.ledger.base.Outcome.files`), written in order.
    files: list[Any] = field(default_factory=list)

    @property
    def info(self) -> dict[str, Any]:
        return self.manifest.ledger or {}


def _header(a: Amended) -> list[str]:
    am = a.info["amendment"]
    return [
        f"allocator amended allocation, version {a.number} of config '{a.config_name}' "
        f"(amendment '{am['name']}', run hash {a.run_hash[:16]}, amending run hash "
        f"{a.info['parent']['run_hash'][:16]})",
        f"Amendment: {am['reason']}",
        *(f"Source: {s}" for s in a.sources),
        *(f"Caveat: {c}" for c in a.caveats),
        f"Licence: {LICENCE}",
    ]


def write_commented_csv(frame: pd.DataFrame, path: Path, header: list[str]) -> None:
    """A CSV table led by ``#`` provenance lines (as a run's tables are)."""
    write_csv(frame, path)
    body = path.read_text(encoding="utf-8")
    path.write_text("".join(provenance_line(h) + "\n" for h in header) + body, encoding="utf-8")


def _gbp(v: int, sign: bool = False) -> str:
    s = f"£{abs(int(v)):,}"
    return ("-" if v < 0 else "+" if sign and v > 0 else "") + s


def _when(am: dict[str, Any]) -> str:
    if am.get("effective"):
        return f"effective {am['effective']}"
    return "for " + ", ".join(am.get("years") or [])


def summary_text(a: Amended) -> str:
    """``summary.md``: what the amendment changed, in plain English, with its ledger."""
    am, parent = a.info["amendment"], a.info["parent"]
    lines = [f"# {a.title}: amended allocation, version {a.number}", "",
             f"Amendment \"{am['name']}\" ({_when(am)}) of version {a.number - 1} "
             f"({parent.get('dir', '')}, run hash {parent['run_hash'][:16]}). This version's run "
             f"hash is {a.run_hash[:16]}; `allocator history` prints the whole chain and "
             "`allocator replay` re-creates every version of it.", "",
             f"Reason: {am['reason']}", "", "## What changed", ""]
    lines += [f"- {w}" for w in a.words]
    led = a.ledger
    if led.empty:
        lines.append("- No LA's amount changed.")
    else:
        up, down = led[led["amendment"] > 0], led[led["amendment"] < 0]
        lines.append(f"- {led['code'].nunique()} LAs change: £{int(up['amendment'].sum()):,} more "
                     f"in {len(up)} LA-stream-years, £{int(-down['amendment'].sum()):,} less in "
                     f"{len(down)}.")
    if a.locked:
        lines.append(f"- Years already paid, left exactly as published: {', '.join(a.locked)}.")
    lines += ["", "## Budgets after this amendment", "",
              "| Stream | " + " | ".join(a.years) + " |", "|---|" + "---:|" * len(a.years)]
    for s in a.streams:
        cells = []
        for y in a.years:
            before, after = a.budgets_before[(s, y)], a.budgets_after[(s, y)]
            moved = f" ({_gbp(after - before, sign=True)})" if after != before else ""
            cells.append(f"{_gbp(after)}{moved}")
        lines.append(f"| {stream_label(s)} | " + " | ".join(cells) + " |")
    lines += ["", "Every stream-year sums exactly to its budget in whole pounds, and every rule of "
              "the run (floors, caps, pace of change, locks, eligibility) was re-checked on the "
              "final whole pounds.", "", "## Ledger", ""]
    if led.empty:
        lines.append("No LA's amount changed.")
    else:
        heads = [LEDGER_LABELS[c] for c in LEDGER_COLUMNS]
        lines += ["| " + " | ".join(heads) + " |", "|" + "---|" * 4 + "---:|" * 3 + "---|"]
        for r in led.itertuples(index=False):
            lines.append(f"| {r.code} | {r.name} | {stream_label(r.stream)} | {r.year} | "
                         f"{_gbp(r.published)} | {_gbp(r.amendment, sign=True)} | "
                         f"{_gbp(r.new_amount)} | {r.reason} |")
    lines += ["", "## Sources and data years", ""] + [f"- {s}" for s in a.sources]
    if a.caveats:
        lines += ["", "## Caveats", ""] + [f"- {c}" for c in a.caveats]
    lines += ["", LICENCE, ""]
    return "\n".join(lines)


def _workbook(a: Amended, path: Path) -> None:
    """``allocation.xlsx``: Cover (what changed, sources, caveats), Allocation and Ledger."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from ..report.tables import save_workbook
    from ..report.workbook import POUNDS, Col, _money_cols, _put, _table_sheet

    wb = Workbook()
    ws = wb.active
    ws.title = "Cover"
    am = a.info["amendment"]
    rows = [f"{a.title}: amended allocation, version {a.number}",
            f"Amendment: {am['name']} ({_when(am)})", f"Reason: {am['reason']}", "",
            *a.words, "", "Sources and data years:", *a.sources, "", "Caveats:", *a.caveats, "",
            f"Run hash {a.run_hash}", LICENCE]
    for i, text in enumerate(rows, start=1):
        cell = _put(ws, i, 1, text)
        if i == 1:
            cell.font = Font(bold=True, size=12)
    ws.column_dimensions["A"].width = 120
    period = f"{a.years[0]} to {a.years[-1]}"
    cols = [Col("code", "ONS code"), Col("name", "Local authority"), Col("region", "Region"),
            Col("wave", "Wave"), *_money_cols(a.streams, a.years, period)]
    _table_sheet(wb, "Allocation", a.allocation, cols,
                 title=f"Allocation after amendment '{am['name']}' (whole pounds)",
                 totals={"name": "England", **{c.key: int(a.allocation[c.key].sum())
                                               for c in cols if c.fmt}})
    led_cols = [Col(c, LEDGER_LABELS[c], POUNDS if c in ("published", "amendment", "new_amount")
                    else None) for c in LEDGER_COLUMNS]
    _table_sheet(wb, "Ledger", a.ledger, led_cols,
                 title=f"Ledger: what amendment '{am['name']}' changed")
    save_workbook(wb, path, f"{a.title} (version {a.number})")


def write_version(a: Amended, parent: Path, name: str) -> Path:
    """Write ``a`` as a new run directory under ``parent``; return its path."""
    header = _header(a)
    with atomic_run_dir(parent, name) as (tmp, final):
        (tmp / "config.yaml").write_bytes(a.config_bytes)
        (tmp / "amendment.yaml").write_bytes(a.amendment_bytes)
        write_commented_csv(a.allocation, tmp / "allocation.csv", header)
        write_commented_csv(a.ledger[list(LEDGER_COLUMNS)], tmp / "ledger.csv", header)
        (tmp / "summary.md").write_text(summary_text(a), encoding="utf-8")
        _workbook(a, tmp / "allocation.xlsx")
        for write in a.files:
            write(tmp, header)
        a.manifest.outputs = hash_tree(tmp)
        a.manifest.versions = collect_versions()
        (tmp / MANIFEST_NAME).write_text(a.manifest.to_json(), encoding="utf-8")
    return final[0]


def ledger_rows(before: pd.DataFrame, after: pd.DataFrame, streams: list[str],
                years: list[str], reason: str) -> pd.DataFrame:
    """One row per LA x stream x year whose pounds differ from ``before`` to ``after``."""
    rows = []
    b, a = before.set_index("code"), after.set_index("code")
    for s in streams:
        for y in years:
            col = money_column(s, y)
            was = b[col].reindex(a.index).fillna(0).astype("int64")
            diff = a[col] - was
            for code in diff.index[diff.to_numpy() != 0]:
                rows.append({"code": code, "name": a.at[code, "name"], "stream": s, "year": y,
                             "published": int(was[code]), "amendment": int(diff[code]),
                             "new_amount": int(a.at[code, col]), "reason": reason})
    return pd.DataFrame(rows, columns=list(LEDGER_COLUMNS))


__all__ = ["Amended", "ledger_rows", "summary_text", "write_commented_csv", "write_version"]
