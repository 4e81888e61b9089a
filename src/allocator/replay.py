"""Replay, diff and explain: what an auditor does with a published run directory.

* :func:`replay` (implemented in :mod:`allocator.audit`) re-creates the run directory from its
  recorded config and the data and compares every file, both ways, byte for byte.
* :func:`diff_runs` lists gainers and losers in pounds and wave moves between two runs.
* :func:`explain_la` tells one LA's waterfall in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .audit import ReplayReport
from .audit import replay as replay_run_only
from .columns import MONEY_PATTERN
from .errors import DataError
from .provenance import MANIFEST_NAME, Manifest
from .runtable import check_run_files, find_la, header_values, read_table
from .runtable import header_lines as _header_lines


@dataclass
class RunDiff:
    """Differences between two runs' allocations and waves.

    Attributes
    ----------
    changes : DataFrame
        One row per LA: code, name, wave_a, wave_b, total_a, total_b, change.
    year_totals : DataFrame
        One row per money column (each stream and year, each year's total, the grand total):
        column, stream, year, a, b, change, las_changed.
    wave_moves : DataFrame
        LAs whose wave differs.
    """

    run_a: Path
    run_b: Path
    changes: pd.DataFrame
    year_totals: pd.DataFrame
    wave_moves: pd.DataFrame

    @property
    def identical(self) -> bool:
        """True when every LA gets the same pounds in every stream and year, in the same wave."""
        one_side = self.changes["wave_a"].isna() | self.changes["wave_b"].isna()
        return bool((self.year_totals["las_changed"] == 0).all() and self.wave_moves.empty
                    and not one_side.any())

    def to_text(self, top: int = 10) -> str:
        """Totals by stream and year, gainers, losers and wave moves, in pounds."""
        from .columns import stream_label

        ch = self.changes
        lines = [f"From run A: {self.run_a.name}", f"  to run B: {self.run_b.name}", ""]
        if self.identical:
            lines.append(
                "The two runs allocate exactly the same pounds to every LA in every stream and "
                "year, and every LA is in the same wave: the change between them makes no difference."
            )
            return "\n".join(lines)
        yt = self.year_totals
        rows = [("Stream", "Year", "Run A", "Run B", "Change", "LAs changed")]
        for r in yt.itertuples():
            stream = "All streams" if r.stream == "total" else stream_label(r.stream)
            rows.append((stream, r.year or "all years", _gbp(r.a), _gbp(r.b), _gbp(r.change, sign=True),
                         str(r.las_changed)))
        lines.append("Totals by stream and year")
        lines += _table(rows, right_from=2)
        moved = int((ch["change"] != 0).sum())
        n_gain, n_lose = int((ch["change"] > 0).sum()), int((ch["change"] < 0).sum())
        lines += ["", f"{moved} of {len(ch)} LAs change their total over the period: {n_gain} gain, "
                      f"{n_lose} lose."]
        for title, part in (
            ("Largest gainers", ch[ch["change"] > 0].sort_values(["change", "code"], ascending=[False, True])),
            ("Largest losers", ch[ch["change"] < 0].sort_values(["change", "code"], ascending=[True, True])),
        ):
            part = part.head(top)
            if part.empty:
                lines += ["", f"{title}: none."]
                continue
            rows = [("Local authority", "ONS code", "Run A", "Run B", "Change", "Change %")]
            for r in part.itertuples():
                pct = f"{100 * r.change / r.total_a:+.1f}%" if r.total_a else "new"
                rows.append((r.name, r.code, _gbp(r.total_a), _gbp(r.total_b), _gbp(r.change, sign=True), pct))
            lines += ["", f"{title} (top {len(part)}, total over the period)"]
            lines += _table(rows, right_from=2)
        lines.append("")
        if len(self.wave_moves):
            lines.append(f"Wave moves ({len(self.wave_moves)})")
            lines.extend(
                f"  {r.name} ({r.code}): wave {r.wave_a} -> wave {r.wave_b}"
                for r in self.wave_moves.itertuples()
            )
        else:
            lines.append("No LA changes wave.")
        for side, other, title in (("a", "b", "Only in run A"), ("b", "a", "Only in run B")):
            only = ch[ch[f"wave_{side}"].notna() & ch[f"wave_{other}"].isna()]
            if len(only):
                lines += ["", f"{title} ({len(only)}; e.g. a boundary change):"]
                lines += [f"  {r.name} ({r.code})" for r in only.itertuples()]
        return "\n".join(lines)


def _gbp(x: float, *, sign: bool = False) -> str:
    v = int(round(float(x)))
    if sign and v == 0:
        return "£0"
    s = f"£{abs(v):,}"
    return ("-" if v < 0 else "+" if sign else "") + s


def _table(rows: list[tuple[str, ...]], *, right_from: int) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for k, r in enumerate(rows):
        cells = [f"{c:<{w}}" if i < right_from else f"{c:>{w}}" for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        out.append("  " + "  ".join(cells).rstrip())
        if k == 0:
            out.append("  " + "  ".join("-" * w for w in widths))
    return out


def replay(
    manifest_path: str | Path, data_dir: str | Path | None = None, *, progress: bool = False
) -> ReplayReport:
    """Replay a run (:func:`allocator.audit.replay`) or, for an amended version, its whole
    chain (:func:`allocator.ledger.chain.replay_chain`); same arguments and report.

    Folders of killed replays are swept first, even when the manifest turns out unreadable.
    """
    import tempfile

    from .rundir import REPLAY_PREFIX, sweep_stale

    sweep_stale(Path(tempfile.gettempdir()), REPLAY_PREFIX)
    path = Path(manifest_path)
    try:
        manifest = Manifest.read(path)
    except DataError:  # a run's replay sweeps killed replays' folders, then says the same
        return replay_run_only(manifest_path, data_dir, progress=progress)
    if manifest.ledger is None:
        return replay_run_only(manifest_path, data_dir, progress=progress)
    from .ledger.chain import replay_chain

    return replay_chain(path, data_dir, progress=progress)


def _check_run_dir(path: Path) -> Path:
    if not (path / "allocation.csv").is_file():
        raise DataError("not a run directory (no allocation.csv)", file=path)
    return path


def diff_runs(run_a: str | Path, run_b: str | Path) -> RunDiff:
    """Compare two run directories: pounds per LA, totals by stream and year, wave moves.

    Each run's ``allocation.csv`` is checked against its ``manifest.json``
    (:func:`~allocator.runtable.check_run_files`; a folder without one is read unchecked).
    """
    from .columns import TOTAL, split_money_columns

    a_dir, b_dir = _check_run_dir(Path(run_a)), _check_run_dir(Path(run_b))
    a, b = (read_table(d / "allocation.csv", required=("code", "name", "wave", TOTAL),
                       integers=("wave", TOTAL, MONEY_PATTERN)) for d in (a_dir, b_dir))
    for d in (a_dir, b_dir):
        check_run_files(d, ("allocation.csv",))
    merged = a[["code", "name", "wave", TOTAL]].merge(
        b[["code", "name", "wave", TOTAL]], on="code", how="outer", suffixes=("_a", "_b")
    )
    # an LA only in one run (a boundary change) keeps the name that run gives it
    merged["name"] = merged["name_a"].fillna(merged["name_b"]).fillna("")
    merged = merged.drop(columns=["name_a", "name_b"])
    merged[["total_a", "total_b"]] = merged[["total_a", "total_b"]].fillna(0).astype("int64")
    merged["change"] = merged["total_b"] - merged["total_a"]
    cols = list(dict.fromkeys(c for c in [*a.columns, *b.columns]))
    money = split_money_columns(cols)
    money.sort(key=lambda t: (t[1] == TOTAL, t[1], t[2]))  # streams, then year totals
    money.append((TOTAL, TOTAL, ""))
    both = a[["code"]].merge(b[["code"]], on="code", how="outer")
    rows = []
    for col, stream, year in money:
        va = both["code"].map(a.set_index("code")[col]) if col in a else pd.Series(0, index=both.index)
        vb = both["code"].map(b.set_index("code")[col]) if col in b else pd.Series(0, index=both.index)
        va, vb = va.fillna(0).astype("int64"), vb.fillna(0).astype("int64")
        rows.append({"column": col, "stream": stream, "year": year, "a": int(va.sum()),
                     "b": int(vb.sum()), "las_changed": int((va != vb).sum())})
    year_totals = pd.DataFrame(rows)
    year_totals["change"] = year_totals["b"] - year_totals["a"]
    merged[["wave_a", "wave_b"]] = merged[["wave_a", "wave_b"]].astype("Int64")
    in_both = merged["wave_a"].notna() & merged["wave_b"].notna()
    moves = merged[in_both & (merged["wave_a"] != merged["wave_b"])][["code", "name", "wave_a", "wave_b"]]
    return RunDiff(a_dir, b_dir, merged.sort_values("code").reset_index(drop=True), year_totals, moves)


def _run_map_inputs(run_dir: Path):  # type: ignore[no-untyped-def]
    """The map frame (from ``allocation.gpkg``) and map metadata of a run directory, its files
    checked against its manifest."""
    import geopandas as gpd

    from .config import config_from_dict, read_config_document
    from .report.caveats import la_names, plain_caveats
    from .report.map import MapMeta

    gpkg = run_dir / "allocation.gpkg"
    if not gpkg.is_file():
        raise DataError("run directory has no allocation.gpkg (written when output.gpkg is true)", file=run_dir)
    manifest = Manifest.read(run_dir / MANIFEST_NAME)
    check_run_files(run_dir, ("allocation.gpkg", "allocation.csv", manifest.config_file),
                    manifest=manifest)
    cfg = config_from_dict(read_config_document(run_dir / manifest.config_file), source=str(run_dir))
    frame = gpd.read_file(gpkg)
    meta = MapMeta(
        config_name=cfg.name,
        config_hash=manifest.config_hash,
        streams=list(cfg.allocation.streams),
        years=cfg.allocation.resolved_years(),
        sources=header_values(_header_lines(run_dir / "allocation.csv"), "Source"),
        notes=plain_caveats(manifest.data_notes, la_names(frame)),
    )
    return frame, meta


def compare_map(run_a: str | Path, run_b: str | Path, out: str | Path) -> Path:
    """Write a map of the differences between two runs to ``out`` (never overwriting a file)."""
    from .report.map import write_compare_map
    from .rundir import check_new_file, publish_file

    out = Path(out)
    check_new_file(out)  # before the work: fail at once
    fa, ma = _run_map_inputs(_check_run_dir(Path(run_a)))
    fb, mb = _run_map_inputs(_check_run_dir(Path(run_b)))
    return publish_file(out, lambda tmp: write_compare_map(fa, fb, ma, mb, tmp))


def _money(x: float) -> str:
    return f"£{x:,.0f}"


def explain_la(run_dir: str | Path, la: str) -> str:
    """One LA's waterfall in words, stream by stream and year by year.

    Parameters
    ----------
    run_dir : path-like
        A run directory; the files read (``allocation.csv``, ``explain.csv``, ``index.csv``) are
        checked against its ``manifest.json`` (:func:`~allocator.runtable.check_run_files`; a
        folder without one is read unchecked).
    la : str
        ONS code or name (case-insensitive; a unique part of a name is enough).
    """
    run = _check_run_dir(Path(run_dir))
    alloc = read_table(run / "allocation.csv", required=("code", "name", "region", "wave", "total"),
                       integers=("wave", "total"))
    explain = read_table(run / "explain.csv", required=("code", "stream", "year", "eligible"),
                         unique_codes=False)
    check_run_files(run, ("allocation.csv", "explain.csv", "index.csv"))
    row = find_la(alloc, la)
    mine = explain[explain["code"] == row["code"]]
    index_path = run / "index.csv"
    lines = [f"{row['name']} ({row['code']}), {row['region']}: wave {int(row['wave'])}."]
    if index_path.is_file():
        idx = read_table(index_path, required=("code", "rank", "score", "need_factor"),
                         integers=("rank",),
                         numbers=("score", "need_factor", "rank_p05", "rank_p95", "p_wave_1"))
        hit = idx[idx["code"] == row["code"]]
        if not hit.empty:
            r = hit.iloc[0]
            text = f"Need rank {int(r['rank'])} of {len(idx)} (score {r['score']:.3f}, need factor {r['need_factor']:.3f})"
            if "rank_p05" in r and r["rank_p05"] == r["rank_p05"]:
                text += (
                    f"; under the Monte Carlo its rank lies between {r['rank_p05']:.0f} and "
                    f"{r['rank_p95']:.0f} (5-95%), P(wave 1) = {r['p_wave_1']:.2f}"
                )
                if bool(r.get("borderline", False)):
                    text += " — a borderline LA"
            lines.append(text + ".")
    for rec in mine.itertuples(index=False):
        r = rec._asdict()
        head = f"{r['stream']} {r['year']}: "
        if not bool(r["eligible"]):
            lines.append(head + "not eligible for this stream in this year; £0.")
            continue
        steps = [
            f"need share {100 * r['need_share']:.3f}% of the stream gives a target of {_money(r['target'])}"
        ]
        for col, words in (
            ("floor_uplift", "raised to its floor"),
            ("cap_trim", "trimmed to its cap"),
            ("lock_adjustment", "set by a lock"),
            ("pace_adjustment", "moved by the pace-of-change rule"),
            ("rebalance", "scaled pro rata with every other LA so the stream sums to its budget"),
            ("knock_on", "moved to make room for other LAs' pace rules"),
        ):
            v = float(r.get(col, 0) or 0)
            if abs(v) >= 0.5:
                if col == "rebalance" and r.get("scale_factor") == r.get("scale_factor"):
                    words += f" (factor {float(r['scale_factor']):.6f})"
                steps.append(f"{words} ({'+' if v > 0 else '-'}{_money(abs(v))})")
        rnd = float(r.get("rounding", 0) or 0)
        steps.append(f"rounded to whole pounds ({rnd:+.2f})")
        text = head + "; ".join(steps) + f"; final {_money(r['final'])}."
        binding = r.get("binding")
        if isinstance(binding, str) and binding:
            text += f" Binding: {binding}."
        lines.append(text)
    lines.append(f"Total over the period: {_money(row['total'])}.")
    return "\n".join(lines)


__all__ = ["ReplayReport", "replay", "read_table", "diff_runs", "explain_la", "compare_map"]
