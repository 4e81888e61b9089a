"""``summary.md``: the headline figures, the strategy's own sanity checks, and every caveat.

Deterministic text: no dates or timings, so it hashes the same on every replay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd


def _pounds(x: float | int) -> str:
    return f"£{int(round(x)):,}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _md_escape(text: object) -> str:
    s = str(text)
    for ch in "\\`*_[]<>|":
        s = s.replace(ch, "\\" + ch)
    return s


def money_columns(frame: pd.DataFrame, streams: Sequence[str], years: Sequence[str]) -> list[str]:
    """``<stream>_<year>`` columns in stream-then-year order, as present in ``frame``."""
    cols = [f"{s}_{y.replace('-', '_')}" for s in streams for y in years]
    return [c for c in cols if c in frame.columns]


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
    index_notes: Sequence[str],
    solver: Mapping[str, Any],
    attribution: str,
    overrides: pd.DataFrame | None = None,
    marginal: Sequence[str] = (),
    reconciliation: Sequence[str] = (),
    sensitivity: pd.DataFrame | None = None,
    sensitivity_notes: Sequence[str] = (),
    calibration: Sequence[str] = (),
) -> str:
    """Render ``summary.md``.

    Parameters
    ----------
    allocation : DataFrame
        Allocation table (code, name, region, wave, money columns, totals, per_head).
    index : DataFrame
        Index table (code, name, rank, wave, p_wave_1, borderline...).
    checks : mapping
        Strategy checks (name -> value), reported not forced.
    sources : sequence of str
        One line per source file with its period.
    notes : sequence of str
        Statements from the data layer every output repeats (e.g. OCU not supplied).
    flags : DataFrame
        code, name, column, flag: every value imputed or derived.
    calibration : sequence of str
        Markdown lines of the calibration report (:func:`allocator.report.calibrate.markdown`).
    reconciliation : sequence of str
        Bullet lines reconciling the allocated money with its envelope
        (:func:`allocator.report.reconcile.reconciliation_lines`); a section when given.
    """
    out: list[str] = [f"# {_md_escape(title)}", ""]
    out.append(f"Config `{config_name}` (sha256 `{config_hash[:16]}`), run hash `{run_hash[:16]}`.")
    out.append("")
    if notes:
        out.append("## Read this first")
        out.append("")
        out.extend(f"- {_md_escape(n)}" for n in notes)
        out.extend(f"- {_md_escape(n)}" for n in index_notes)
        out.append("")

    out.append("## Headline figures")
    out.append("")
    header = "| stream | " + " | ".join(years) + " | total |"
    out.append(header)
    out.append("|" + "---|" * (len(years) + 2))
    for s in streams:
        cells = []
        tot = 0
        for y in years:
            col = f"{s}_{y.replace('-', '_')}"
            v = int(allocation[col].sum()) if col in allocation else 0
            tot += v
            cells.append(_pounds(v))
        out.append(f"| {s} | " + " | ".join(cells) + f" | {_pounds(tot)} |")
    year_tot = [int(allocation[f"total_{y.replace('-', '_')}"].sum()) for y in years]
    out.append("| **total** | " + " | ".join(_pounds(v) for v in year_tot) + f" | {_pounds(sum(year_tot))} |")
    out.append("")
    n = len(allocation)
    out.append(f"{n} local authorities. LAs per wave:")
    out.append("")
    for k, label in enumerate(wave_labels, start=1):
        members = allocation[allocation["wave"] == k]
        out.append(f"- wave {k} ({label}): {len(members)} LAs, {_pounds(members['total'].sum())} in total")
    out.append("")
    if "per_head" in allocation:
        ph = allocation["per_head"]
        lo, hi = allocation.loc[ph.idxmin()], allocation.loc[ph.idxmax()]
        out.append(
            f"Pounds per head over the period: median £{ph.median():.2f}; lowest "
            f"{_md_escape(lo['name'])} £{lo['per_head']:.2f}; highest {_md_escape(hi['name'])} "
            f"£{hi['per_head']:.2f}."
        )
        out.append("")

    if reconciliation:
        out.append("## How the money reconciles")
        out.append("")
        out.extend(f"- {_md_escape(line)}" for line in reconciliation)
        out.append("")

    out.append("## Checks against what the strategy says (reported, not forced)")
    out.append("")
    for key, value in checks.items():
        shown = f"{value:.3f}" if isinstance(value, float) else _md_escape(value)
        out.append(f"- {_md_escape(key)}: {shown}")
    out.append("")
    out.extend(calibration)  # report.calibrate.markdown: statements, expected, verdicts

    if "borderline" in index.columns:
        border = index[index["borderline"].astype(bool)].sort_values("rank")
        out.append("## Borderline LAs (wave uncertain under the Monte Carlo)")
        out.append("")
        if border.empty:
            out.append("None.")
        else:
            out.append("| code | name | rank | 5-95% rank | P(wave 1) | P(wave <= 2) | wave |")
            out.append("|---|---|---|---|---|---|---|")
            for r in border.itertuples():
                out.append(
                    f"| {r.code} | {_md_escape(r.name)} | {r.rank} | {r.rank_p05:.0f}-{r.rank_p95:.0f} "
                    f"| {r.p_wave_1:.2f} | {r.p_wave_le_2:.2f} | {r.wave} |"
                )
        out.append("")

    if sensitivity is not None and not sensitivity.empty:
        out.append("## Which choice moves wave 1 most (Sobol indices)")
        out.append("")
        out.append(
            "Share of the variance of wave-1 membership (summed over LAs) due to each uncertain "
            "choice: S1 alone, ST including its interactions; `LAs moved` is the expected number of "
            "LAs whose wave-1 membership changes when only that choice is redrawn."
        )
        out.append("")
        out.append("| choice | S1 | ST | LAs moved |")
        out.append("|---|---|---|---|")
        for r in sensitivity.sort_values("ST", ascending=False).itertuples():
            out.append(
                f"| {_md_escape(r.factor)} | {r.S1:.3f} ± {r.S1_conf:.3f} | {r.ST:.3f} ± "
                f"{r.ST_conf:.3f} | {r.las_moved:.1f} |"
            )
        out.append("")
        out.extend(f"- {_md_escape(n)}" for n in sensitivity_notes)
        out.append("")

    out.append("## Wave overrides (locks and lock-outs)")
    out.append("")
    if overrides is None or overrides.empty:
        out.append("None: every LA is in the wave its rank gives.")
    else:
        for r in overrides.itertuples():
            out.append(
                f"- {r.code} {_md_escape(r.name)}: wave {r.natural_wave} by rank, wave "
                f"{r.final_wave} in the allocation ({_md_escape(r.reason)})"
            )
    out.append("")
    if marginal:
        out.append("## Where more money would go (re-solved with £1m more per stream-year)")
        out.append("")
        out.extend(f"- {_md_escape(w)}" for w in marginal)
        out.append("")

    out.append("## Inputs missing, imputed or derived")
    out.append("")
    if flags is None or flags.empty:
        out.append("None.")
    else:
        for r in flags.sort_values(["column", "code"]).itertuples():
            out.append(f"- {r.code} {_md_escape(r.name)}, `{r.column}`: {_md_escape(r.flag)}")
    out.append("")

    out.append("## Solver")
    out.append("")
    from ..allocate.crosscheck import describe

    out.extend(f"- {_md_escape(line)}" for line in describe(dict(solver)))
    out.append("")
    out.append("## Sources and data years")
    out.append("")
    out.extend(f"- {_md_escape(s)}" for s in sources)
    out.append("")
    out.append(_md_escape(attribution))
    out.append("")
    return "\n".join(out)
