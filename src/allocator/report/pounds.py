"""The pounds-uncertainty directory: CSV, chart, map layer, summary and manifest.

Written next to (never into) the run it describes, atomically (:func:`allocator.rundir.
atomic_run_dir`), never overwriting: ``pounds_uncertainty.csv`` (one row per LA x stream x year
and per LA total), ``pounds_attribution.csv`` (which uncertain choice moves the pounds, over
all LAs), ``chart_pounds_range.png``, ``pounds_map.html`` (one layer: the P5-P95 width of
each LA's total per head), ``summary.md`` and ``manifest.json`` linking to the run's manifest
by its SHA-256. Every file a person reads names the run's data sources and years, its caveats
and the licence. No file holds timings or the worker count, so the directory is the same
whatever ran it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..columns import TOTAL, below_share_column, share_percent
from ..rundir import atomic_run_dir
from .caveats import LICENCE, plain_caveats
from .figsave import house_style
from .mapbase import MapMeta
from .tables import provenance_line, write_csv

CSV_NAME = "pounds_uncertainty.csv"
CHART_NAME = "chart_pounds_range"
MAP_NAME = "pounds_map.html"


@dataclass
class RunInfo:
    """What the output says about the run it describes.

    Attributes
    ----------
    run_dir : Path
    manifest_sha256 : str
        SHA-256 of the run's ``manifest.json``.
    meta : MapMeta
        Config name and hash, streams, years, sources (with data years) and caveats.
    geometry : GeoDataFrame or None
        The run's ``allocation.gpkg`` (for the map layer), when it has one.
    """

    run_dir: Path
    manifest_sha256: str
    meta: MapMeta
    geometry: Any = None


def method_lines(est: Any) -> list[str]:
    """How the figures were made, in plain words (CSV header, summary)."""
    share = share_percent(est.share)
    fails = sum(est.failures_.values())
    lines = [
        f"Pounds uncertainty of this run: {est.n_draws:,} Monte Carlo draws (seed "
        f"{est.random_state_}) of " + (
            "the same uncertain choices as the run's rank uncertainty "
            if getattr(est, "run_had_rank_uncertainty_", True) else
            "the uncertain choices set in its config's uncertainty section (the run itself had "
            "its rank uncertainty switched off) ") + "(indicator weights, normaliser, aggregator, noise on every indicator"
        + (", and the target elasticity drawn from {:g} to {:g}".format(*est.elasticity)
           if getattr(est, "elasticity", None) is not None else "") + "), each carried "
        "through the need index, the waves, the targets, the staged linear programme (HiGHS) and "
        "whole-pound rounding.",
        f"Every draw's whole pounds were re-checked against every rule with integer arithmetic; "
        f"{est.draws_ok_:,} draws were allocated and {fails:,} failed"
        + (" (" + ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in est.failures_.items())
           + "); failed draws are left out of the figures and listed in summary.md"
           if fails else "") + ". The CBC cross-check of a run is not repeated per draw.",
        "p05, p50, p95: the 5th, 50th and 95th percentiles over the draws (numpy's inverted_cdf "
        "definition), each an amount some draw received: exact below £1,000 and at most 0.1% "
        f"below the exact percentile above. {below_share_column(est.share)}: share of draws in "
        f"which the amount was below {share} of the published amount.",
    ]
    if est.attribution_ is not None:
        lines.append(
            "moved_most_by: the uncertain choice with the largest total-order Sobol' index of "
            f"that amount (moved_most_st), from a Saltelli design with N = {est.sobol_samples} "
            f"({est.design_runs_:,} allocations); with N this small an index is accurate to "
            "about ±0.1-0.2, so read it as a ranking, not a measurement.")
    return lines


def too_few_draws(est: Any, *, short: bool = False) -> str | None:
    """The warning every output carries when too few draws were allocated to support P5 and
    P95 (:func:`allocator.pounds.estimator.percentile_caveat`), as a sentence; else ``None``."""
    from ..pounds.precision import percentile_caveat

    text = percentile_caveat(int(est.draws_ok_), short=short)
    return None if text is None else text[0].upper() + text[1:].rstrip(".") + "."


def header_lines(est: Any, info: RunInfo) -> list[str]:
    """The ``#`` lines of the CSV files: run, (too few draws), method, sources, caveats,
    licence."""
    m = info.meta
    lines = [f"allocator pounds uncertainty of the run '{m.config_name}' (config sha256 "
             f"{m.config_hash[:16]}, run manifest sha256 {info.manifest_sha256[:16]})"]
    warning = too_few_draws(est)
    if warning:
        lines.append(f"Caveat: {warning}")
    lines += method_lines(est)
    lines += [f"Source: {s}" for s in m.sources]
    lines += [f"Caveat: {n}" for n in plain_caveats(m.notes)]
    lines.append(f"Licence: {LICENCE}")
    return lines


def output_table(est: Any) -> pd.DataFrame:
    """``pounds_uncertainty.csv``'s columns (names from :mod:`allocator.columns`)."""
    return est.results_.rename(columns={"p_below": below_share_column(est.share)})


def _commented_csv(frame: pd.DataFrame, path: Path, header: Sequence[str]) -> None:
    write_csv(frame, path)
    body = path.read_text(encoding="utf-8")
    path.write_text("".join(provenance_line(h) + "\n" for h in header) + body, encoding="utf-8")


def write_pounds_dir(est: Any, info: RunInfo, parent: Path, name: str) -> Path:
    """Write the pounds-uncertainty directory under ``parent``; return its path."""
    from ..provenance import collect_versions, hash_tree

    header = header_lines(est, info)
    table = output_table(est)
    with atomic_run_dir(parent, name) as (tmp, final):
        _commented_csv(table, tmp / CSV_NAME, header)
        if est.attribution_ is not None:
            _commented_csv(est.attribution_.round(6), tmp / "pounds_attribution.csv", header)
        write_chart(table, info.meta, tmp, too_few_draws(est, short=True))
        if info.geometry is not None:
            write_width_map(table, info, tmp / MAP_NAME, float(est.share), est.draws_ok_,
                            too_few_draws(est, short=True))
        (tmp / "summary.md").write_text(summary_text(est, info, table), encoding="utf-8")
        manifest = {
            "kind": "pounds_uncertainty",
            "run": {"directory": info.run_dir.name, "manifest_sha256": info.manifest_sha256,
                    "config_name": info.meta.config_name, "config_hash": info.meta.config_hash},
            "parameters": {"draws": est.n_draws, "seed": est.random_state_,
                           "share": str(est.share), "sobol_samples": est.sobol_samples,
                           "chunk_size": est.chunk_size,
                           "elasticity": None if est.elasticity is None else
                           [float(x) for x in est.elasticity],
                           "solver": "highs (no per-draw CBC "
                           "cross-check)"},
            "draws_allocated": est.draws_ok_, "draws_failed": est.failures_,
            "too_few_draws": too_few_draws(est),
            "failed_draws": [list(f) for f in est.failed_draws_],
            "outputs": hash_tree(tmp), "versions": collect_versions(),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                           encoding="utf-8")
    return final[0]


def _totals(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["stream"] == TOTAL].reset_index(drop=True)


@house_style()
def write_chart(table: pd.DataFrame, meta: MapMeta, out_dir: Path,
                warning: str | None = None) -> list[Path]:
    """``chart_pounds_range.png``: each LA's P5-P95 range of its total, per head, by need
    (``warning``: printed above the plot, e.g. too few draws for P5 and P95)."""
    from .charts import BAR, _page
    from .figsave import PNG_DPI, save_figure

    tot = _totals(table)
    pop = tot["pop_all"].to_numpy(dtype=float)
    order = np.argsort(-tot["published"].to_numpy() / pop, kind="stable")
    fig = _page("Range of each LA's total over the draws, £ per head", meta, height=7.5)
    ax = fig.add_axes((0.1, 0.2, 0.86, 0.65))
    if warning:
        fig.text(0.04, 0.895, warning, fontsize=8, va="top", color="#b00020", wrap=True)
    x = np.arange(len(tot))
    lo, hi = tot["p05"].to_numpy() / pop, tot["p95"].to_numpy() / pop
    ax.vlines(x, lo[order], hi[order], color=BAR, linewidth=1.6, label="P5 to P95 of the draws")
    ax.plot(x, (tot["published"].to_numpy() / pop)[order], "k.", markersize=3,
            label="published allocation")
    ax.set_xlabel("local authorities, highest published £ per head first", fontsize=8)
    ax.set_ylabel(f"£ per head (all ages, mid-2020), {meta.period}", fontsize=8)
    ax.tick_params(labelsize=7.5)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7.5, frameon=False)
    return save_figure(fig, out_dir / CHART_NAME, ("png",), PNG_DPI)


def write_width_map(table: pd.DataFrame, info: RunInfo, path: Path, share: float = 0.9,
                    draws: int | None = None, warning: str | None = None) -> Path:
    """The map layer: P5-P95 width of each LA's total per head (run map machinery)."""
    from ._html import esc
    from .mapbase import DEFAULT_PRECISION_DEG, DEFAULT_TOLERANCE_M, simplify_for_web
    from .mapfmt import fmt_pounds
    from .mappage import _build_page, _footer, _ndigits, _ocu_notes, _row, _write
    from .scales import quantile_scale

    meta = info.meta
    tot = _totals(table).set_index("code")
    geo = info.geometry[["code", "name", "geometry"]].copy()
    geo["code"] = geo["code"].astype(str)
    geo = geo[geo["code"].isin(tot.index)]
    for col in ("published", "p05", "p50", "p95", "width_per_head"):
        geo[col] = tot.loc[geo["code"], col].to_numpy()
    geo = simplify_for_web(geo, tolerance_m=DEFAULT_TOLERANCE_M, precision=DEFAULT_PRECISION_DEG)
    geo = geo.sort_values("code", kind="stable").reset_index(drop=True)
    below = [c for c in table.columns if c.startswith("p_below")][0]
    scale = quantile_scale("width_per_head", f"P5 to P95 width of the total {meta.period}, "
                           "£ per head", geo["width_per_head"], lambda v: f"£{float(v):.2f}",
                           cmap="Oranges", step=0.01)
    tips = []
    for _, row in geo.iterrows():
        extra = tot.loc[row["code"]]
        tips.append("<table>" + "".join([
            _row("Area", esc(f"{row['name']} ({row['code']})")),
            _row(f"Published total {meta.period}", fmt_pounds(float(row["published"]))),
            _row("P5 / P50 / P95", " / ".join(fmt_pounds(float(row[c]))
                                              for c in ("p05", "p50", "p95"))),
            _row("P5 to P95 width per head", f"£{float(row['width_per_head']):.2f}"),
            _row(f"Chance of less than {share_percent(share)} of the published total",
                 f"{float(extra[below]):.0%}"),
            _row("Moved most by", esc(str(extra.get("moved_most_by", "not attributed")))),
        ]) + "</table>")
    text = _build_page(
        geo, [scale], tips, title=f"{meta.title}: how uncertain is each LA's money?",
        subtitle=(f"{len(geo)} local authorities \u00b7 {meta.period} \u00b7 configuration "
                  f"{meta.config_name} \u00b7 darker: wider range of pounds per head across the "
                  f"{'' if draws is None else f'{draws:,} allocated '}Monte Carlo draws. Hover over an area "
                  "for its figures." + (f" {warning}" if warning else "")),
        header_notes=_ocu_notes(meta.notes), footer_html=_footer([("", meta)]),
        attribution=" ".join(meta.attribution_lines()), borderline=None, outline_title=None,
        tiles=None, ndigits=_ndigits(DEFAULT_PRECISION_DEG))
    return _write(path, text)


def summary_paragraph(est: Any, table: pd.DataFrame) -> str:
    """The plain-words paragraph: how much money is uncertain, for whom, and why."""
    tot = _totals(table)
    share = share_percent(est.share)
    below = below_share_column(est.share)
    if est.draws_ok_ == 0:
        return (f"None of the {est.n_draws:,} draws could be allocated (see the list below), so "
                "nothing can be said about how uncertain the pounds are.")
    pub = tot["published"].to_numpy(dtype=float)
    rel = (tot["p95"] - tot["p05"]).to_numpy(dtype=float) / np.where(pub > 0, pub, np.nan)
    widest = tot.iloc[int(np.nanargmax(rel))] if np.isfinite(rel).any() else None
    risky = int((tot[below] >= 0.05).sum())
    text = (f"Across {est.draws_ok_:,} allocated draws of the uncertain choices behind the need "
            f"index, the typical LA's total over the period ranges from "
            f"{np.nanmedian((tot['p05'] / tot['published']).to_numpy()):.0%} to "
            f"{np.nanmedian((tot['p95'] / tot['published']).to_numpy()):.0%} of its published "
            f"amount (median of the LAs' 5th and 95th percentiles). {risky} of {len(tot)} LAs "
            f"have at least a 5% chance of receiving less than {share} of their published total.")
    if widest is not None:
        text += (f" The widest range relative to its allocation is {widest['name']}'s: "
                 f"£{int(widest['p05']):,} to £{int(widest['p95']):,} against £"
                 f"{int(widest['published']):,} published.")
    if est.attribution_ is not None:
        top = est.attribution_.sort_values("ST", ascending=False).iloc[0]
        text += (f" Over all LAs the choice that moves the pounds most is the "
                 f"{top['factor']} (total-order index {top['ST']:.2f}).")
    return text


def summary_text(est: Any, info: RunInfo, table: pd.DataFrame) -> str:
    """``summary.md``."""
    m = info.meta
    lines = [f"# How uncertain is each LA's money? ({m.config_name})", ""]
    warning = too_few_draws(est)
    if warning:
        lines += [f"**Too few draws.** {warning}", ""]
    lines += [summary_paragraph(est, table), "", "## Method", ""]
    lines += [f"- {x}" for x in method_lines(est)]
    lines += ["", f"Run: `{info.run_dir.name}` (manifest SHA-256 `{info.manifest_sha256}`); "
              f"config hash `{m.config_hash}`.", ""]
    if est.failed_draws_:
        lines += ["## Draws that could not be allocated", ""]
        lines += [f"- draw {i}: {kind.replace('_', ' ')}: {why}" for i, kind, why in
                  est.failed_draws_]
        lines.append("")
    if est.attribution_ is not None:
        lines += ["## Which choice moves the pounds (all LAs)", "",
                  "| choice | first-order | total-order |", "|---|---|---|"]
        for _, r in est.attribution_.iterrows():
            lines.append(f"| {r['factor']} | {r['S1']:.2f} ± {r['S1_conf']:.2f} | "
                         f"{r['ST']:.2f} ± {r['ST_conf']:.2f} |")
        lines.append("")
    lines += ["## Sources", ""] + [f"- {s}" for s in m.sources]
    lines += ["", "## Caveats", ""] + [f"- {c}" for c in plain_caveats(m.notes)]
    lines += ["", f"Licence: {LICENCE}", ""]
    return "\n".join(lines)


__all__ = ["RunInfo", "write_pounds_dir", "summary_paragraph", "CSV_NAME", "MAP_NAME"]
