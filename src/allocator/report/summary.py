"""``summary.md``: the headline figures, who gets what, the strategy's own checks with a verdict,
what the rules changed, and every caveat, in plain words.

Deterministic text: no dates or timings, so it hashes the same on every replay. The raw file reads
as well as the rendered one: no Markdown escapes (labels replace column keys; a ``|`` inside a
table cell is the only character replaced).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..columns import PER_HEAD, POPULATION, TOTAL, money_column, stream_label, total_column
from .caveats import la_names, plain_flag
from .checks_text import check_rows, readable

__all__ = ["render_summary", "money_columns"]


def _pounds(x: float | int) -> str:
    return f"£{int(round(x)):,}"


def _cell(text: object) -> str:
    return str(text).replace("|", "/")


def money_columns(frame: pd.DataFrame, streams: Sequence[str], years: Sequence[str]) -> list[str]:
    """``<stream>_<year>`` columns in stream-then-year order, as present in ``frame``."""
    cols = [money_column(s, y) for s in streams for y in years]
    return [c for c in cols if c in frame.columns]


def _rollup_table(frame: pd.DataFrame, key: str, header: str, labels: Mapping[Any, str] | None = None) -> list[str]:
    out = [f"| {header} | LAs | Total | Population | £ per head |", "|---|---:|---:|---:|---:|"]
    for r in frame.itertuples(index=False):
        k = getattr(r, key)
        name = labels.get(k, str(k)) if labels else str(k)
        bold = "**" if k == "England" else ""
        out.append(
            f"| {bold}{_cell(name)}{bold} | {r.las} | {_pounds(getattr(r, TOTAL))} | "
            f"{int(getattr(r, POPULATION)):,} | £{getattr(r, PER_HEAD):.2f} |"
        )
    return out


def _marginal_lines(marginal: pd.DataFrame | Sequence[str]) -> list[str]:
    """Where £1m more would go: identical findings for several years said once."""
    if not isinstance(marginal, pd.DataFrame):
        return [f"- {w}" for w in marginal]
    if marginal.empty:
        return []
    groups: dict[tuple[str, str], list[str]] = {}
    for r in marginal.itertuples():
        head = f"£1m more in {r.stream} {r.year}"
        rest = str(r.words)[len(head):] if str(r.words).startswith(head) else f": {r.words}"
        groups.setdefault((r.stream, rest), []).append(r.year)
    out = []
    for (stream, rest), years in groups.items():
        others = years[1:]
        same = f" (the same in {', '.join(others[:-1]) + ' and ' if len(others) > 1 else ''}{others[-1]})" if others else ""
        rest = rest.replace(" (every target recomputed as its need share of the larger budget)", "")
        out.append(f"- £1m more in {stream_label(stream).lower()} {years[0]}{same}{readable(rest)}.")
    return out


def render_summary(
    *,
    title: str,
    config_name: str,
    config_hash: str,
    run_hash: str,
    allocation: pd.DataFrame,
    index: pd.DataFrame,
    streams: Sequence[str],
    years: Sequence[str],
    wave_labels: Sequence[str],
    checks: Mapping[str, Any],
    sources: Sequence[str],
    notes: Sequence[str],
    flags: pd.DataFrame,
    index_notes: Sequence[str] = (),
    solver: Mapping[str, Any],
    attribution: str,
    overrides: pd.DataFrame | None = None,
    marginal: pd.DataFrame | Sequence[str] = (),
    sensitivity: pd.DataFrame | None = None,
    sensitivity_notes: Sequence[str] = (),
    method: Sequence[str] = (),
    regions: pd.DataFrame | None = None,
    deciles: pd.DataFrame | None = None,
    rules: Sequence[str] = (),
    expected_wave1: int | None = None,
    reconciliation: Sequence[str] = (),
    calibration: Sequence[str] = (),
) -> str:
    """Render ``summary.md``.

    Parameters
    ----------
    allocation : DataFrame
        Published allocation table (code, name, region, wave, money columns, totals, pop_all,
        per_head).
    index : DataFrame
        Index table (code, name, rank, wave, p_wave_1, borderline...).
    checks : mapping
        Strategy checks (name -> value), reported not forced; shown with what the strategy
        expects and a verdict.
    notes : sequence of str
        Plain-English caveats (:func:`allocator.report.caveats.plain_caveats`).
    flags : DataFrame
        code, name, column, flag: every value imputed or derived.
    marginal : DataFrame or sequence of str
        Where £1m more would go (stream, year, words), or ready sentences.
    method : sequence of str
        The method in five sentences.
    regions, deciles : DataFrame, optional
        Roll-ups (:func:`allocator.report.frames.rollup`), last row England.
    rules : sequence of str
        What each allocation rule changed, in words.
    reconciliation : sequence of str
        Lines reconciling the allocated money with its envelope
        (:func:`allocator.report.reconcile.reconciliation_lines`); a section when given.
    calibration : sequence of str
        Markdown lines of the calibration report (:func:`allocator.report.calibrate.markdown`).
    """
    out: list[str] = [f"# {title}", ""]
    out.append(f"Configuration {config_name} (SHA-256 {config_hash[:16]}), run hash {run_hash[:16]}.")
    out.append("")
    if notes or index_notes:
        out += ["## Read this first", ""]
        out += [f"- {n}" for n in dict.fromkeys([*notes, *index_notes])]
        out.append("")
    if method:
        out += ["## Method", ""]
        out += [f"- {m}" for m in method]
        out.append("")

    out += ["## Headline figures", ""]
    out.append("| Stream | " + " | ".join(years) + " | Total |")
    out.append("|---|" + "---:|" * (len(years) + 1))
    for s in streams:
        vals = [int(allocation[money_column(s, y)].sum()) if money_column(s, y) in allocation else 0 for y in years]
        out.append(f"| {stream_label(s)} | " + " | ".join(_pounds(v) for v in vals) + f" | {_pounds(sum(vals))} |")
    year_tot = [int(allocation[total_column(y)].sum()) for y in years]
    out.append("| **Total** | " + " | ".join(_pounds(v) for v in year_tot) + f" | {_pounds(sum(year_tot))} |")
    out.append("")
    out.append(f"{len(allocation)} local authorities. LAs per wave:")
    out.append("")
    for k, label in enumerate(wave_labels, start=1):
        members = allocation[allocation["wave"] == k]
        out.append(f"- Wave {k} (from {label}): {len(members)} LAs, {_pounds(members[TOTAL].sum())} in total")
    out.append("")
    if PER_HEAD in allocation:
        ph = allocation[PER_HEAD]
        lo, hi = allocation.loc[ph.idxmin()], allocation.loc[ph.idxmax()]
        out.append(
            f"Pounds per head of the all-ages population (ONS mid-2020), over the whole period: "
            f"median £{ph.median():.2f}; lowest {lo['name']} £{lo[PER_HEAD]:.2f}; highest "
            f"{hi['name']} £{hi[PER_HEAD]:.2f}."
        )
        out.append("")

    if regions is not None and not regions.empty:
        out += ["## Who gets what", "", "By region (pounds per head of the all-ages population, whole period):", ""]
        out += _rollup_table(regions, "region", "Region")
        out.append("")
    if deciles is not None and not deciles.empty:
        labels = {1: "1 (most deprived)", 10: "10 (least deprived)"}
        out += ["By deprivation: LAs grouped into tenths by their IMD 2019 rank among the 152.", ""]
        out += _rollup_table(deciles, "imd_decile", "IMD 2019 decile", labels)
        out.append("")

    if reconciliation:
        out += ["## How the money reconciles", ""]
        out += [f"- {line}" for line in reconciliation]
        out.append("")

    out += ["## Checks against what the strategy says (reported, not forced)", ""]
    out.append("| Check | Strategy expects | This run | Verdict |")
    out.append("|---|---|---|---|")
    covered = ("Deprivation of wave 1", "Share of wave 1 in the North East") if calibration else ()
    for row in check_rows(checks, expected_wave1=expected_wave1, n_waves=len(wave_labels)):
        if row[0].startswith(covered):
            continue  # said once, with its source, in the calibration report below
        out.append("| " + " | ".join(_cell(c) for c in row) + " |")
    out.append("")
    out.extend(calibration)  # report.calibrate.markdown: statements, expected, verdicts

    if rules:
        out += ["## What the allocation rules changed", ""]
        out += [f"- {r}" for r in rules]
        out.append("")

    if "borderline" in index.columns and index["borderline"].notna().any():
        border = index[index["borderline"].fillna(False).astype(bool)].sort_values("rank")
        out += ["## Borderline LAs (wave uncertain under the Monte Carlo)", ""]
        if border.empty:
            out.append("None.")
        else:
            out.append("| LA | ONS code | Rank | Likely rank range (5-95%) | Chance of wave 1 | Chance of wave 1 or 2 | Wave |")
            out.append("|---|---|---:|---|---:|---:|---:|")
            for r in border.itertuples():
                out.append(
                    f"| {_cell(r.name)} | {r.code} | {r.rank} | {r.rank_p05:.0f} to {r.rank_p95:.0f} "
                    f"| {r.p_wave_1:.0%} | {r.p_wave_le_2:.0%} | {r.wave} |"
                )
        out.append("")

    if sensitivity is not None and not sensitivity.empty:
        out += ["## Which choice moves wave 1 most (Sobol indices)", ""]
        out.append(
            "Share of the variance of wave-1 membership (summed over LAs) due to each uncertain "
            "choice: S1 alone, ST including its interactions; LAs moved is the expected number of "
            "LAs whose wave-1 membership changes when only that choice is redrawn."
        )
        out += ["", "| Choice | S1 | ST | LAs moved |", "|---|---:|---:|---:|"]
        for r in sensitivity.sort_values("ST", ascending=False).itertuples():
            out.append(
                f"| {_cell(readable(r.factor))} | {r.S1:.3f} ± {r.S1_conf:.3f} | {r.ST:.3f} ± "
                f"{r.ST_conf:.3f} | {r.las_moved:.1f} |"
            )
        out.append("")
        extra = [readable(n) for n in sensitivity_notes if readable(n) not in notes]
        out += [f"- {n}" for n in extra if "built without" not in n]
        out.append("")

    out += ["## Wave overrides (locks and lock-outs)", ""]
    if overrides is None or overrides.empty:
        out.append("None: every LA is in the wave its rank gives.")
    else:
        for r in overrides.itertuples():
            out.append(
                f"- {r.name} ({r.code}): wave {r.natural_wave} by rank, wave {r.final_wave} in the "
                f"allocation ({readable(r.reason)})"
            )
    out.append("")
    lines = _marginal_lines(marginal)
    if lines:
        out += ["## Where more money would go", ""]
        out.append(
            "Each budget re-solved with £1m more, every target recomputed as its need share of the "
            "larger budget:"
        )
        out.append("")
        out += lines
        out.append("")

    out += ["## Inputs missing, imputed or derived", ""]
    if flags is None or flags.empty:
        out.append("None.")
    else:
        names = la_names(allocation)
        for r in flags.sort_values(["column", "code"]).itertuples():
            out.append(f"- {r.name} ({r.code}), {readable(r.column)}: "
                       f"{readable(plain_flag(r.flag, names))}")
    out.append("")

    from ..allocate.crosscheck import describe

    out += ["## Solver", ""]
    out += [f"- {line}" for line in describe(dict(solver))]
    out.append("")
    out += ["## Sources and data years", ""]
    out += [f"- {s}" for s in sources]
    out.append("")
    out.append(f"Licence: {attribution}")
    out.append("")
    return _no_markup("\n".join(out))


def _no_markup(text: str) -> str:
    """Names and reasons come from data and configs: a ``<`` that would open an HTML tag in a
    Markdown viewer is written as ``&lt;``; nothing else is escaped ("<10 deaths" stays as it is)."""
    import re

    return re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text)
