"""Floors, caps and pace of change on an LA's *total* over a group of streams.

A floor, cap or pace block with ``applies_to: total`` binds the sum of its streams for each LA
and year, not each stream on its own. The NAO Figure 8 grant is the example: each LA keeps at
least its 2021/22 level on awaiting roll-out + targeted together (the level moves from one
stream to the other when the LA's wave starts), and that total never falls once funded.

Built here, as plain numbers (no solver objects):

* **total floors and caps** (:func:`total_bounds`): per LA x year, the largest floor (smallest
  cap) that applies to the total of its open cells in the group. Where the LA has exactly one
  open cell in the group that year, the total *is* that cell, so the floor or cap is returned as
  a bound on the cell (the pro-rata tie-break and the waterfall then treat it like any floor or
  cap, on the stream that carries it); otherwise it is a row ``sum(cells) >= floor``
  (``floor_total``) or ``<= cap`` (``cap_total``).
* **total pace** (:func:`total_pace_rows`): per LA with open cells in the group in two
  consecutive years, ``sum(now) - r * sum(previous) >= 0`` (``pace_total_no_cash_cut``,
  ``pace_total_min_uplift``) or ``<= 0`` (``pace_total_max_growth``).

Rows carry exact numbers in ``meta`` (``rhs_int``: whole-pound right-hand sides; ``ratio``: the
pace factor as a Fraction; ``now``/``prev``: the cells of each side) so :func:`row_violations`
re-checks them on the final whole pounds with integer arithmetic and :func:`round_bounds`
keeps them through whole-pound rounding: the last cell of a row to be rounded gets the bound
that the already-rounded cells leave it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .cells import Layout
from .config import CapConfig, FloorConfig, PaceConfig, year_key
from .exact import ceil_product, floor_product, pace_gaps, ratio


@dataclass(frozen=True)
class TotalRows:
    """Rows over the cells of a group of streams, one per LA x year (or LA x year pair).

    Attributes
    ----------
    name : str
        ``floor_total``, ``cap_total``, ``pace_total_no_cash_cut``, ...
    names : list of str
        One unique constraint name per row.
    now, prev : list of ndarray
        Per row, the cells summed with coefficient 1 (``now``) and with ``-ratio`` (``prev``,
        pace rows only).
    sense : {">=", "<="}
    rhs_int : ndarray of int64
        Whole-pound right-hand side per row (0 for pace rows).
    ratio : Fraction
        Pace factor ``1 + rate`` exactly (1 for floors and caps).
    raw : ndarray of float
        Unrounded right-hand side per row (for messages).
    area, year : ndarray of int
        The LA and the (later) year of each row.
    streams : list of str
        The group of streams.
    rule : str
    """

    name: str
    names: list[str]
    now: list[np.ndarray]
    prev: list[np.ndarray]
    sense: str
    rhs_int: np.ndarray
    ratio: Fraction
    raw: np.ndarray
    area: np.ndarray
    year: np.ndarray
    streams: list[str]
    rule: str
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(self.names)

    def csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``indptr, indices, data`` of the rows over cells (``+1`` now, ``-ratio`` previous)."""
        lengths = [len(a) + len(b) for a, b in zip(self.now, self.prev, strict=True)]
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        parts = [np.concatenate([a, b]) for a, b in zip(self.now, self.prev, strict=True)]
        indices = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
        f = float(self.ratio)
        data = np.concatenate([np.concatenate([np.ones(len(a)), np.full(len(b), -f)])
                               for a, b in zip(self.now, self.prev, strict=True)]) \
            if parts else np.zeros(0)
        return indptr, indices, data

    def sums(self, x: np.ndarray) -> tuple[list[int], list[int]]:
        """Whole-pound sums of each row's ``now`` and ``prev`` cells (Python ints, exact)."""
        xs = [int(v) for v in np.asarray(x).tolist()]
        return ([sum(xs[c] for c in cells.tolist()) for cells in self.now],
                [sum(xs[c] for c in cells.tolist()) for cells in self.prev])

    def label(self, layout: Layout, r: int) -> str:
        """``"Name (CODE) stream+stream 2023-24"`` for row ``r``."""
        i, y = int(self.area[r]), int(self.year[r])
        return (f"{layout.area_names[i]} ({layout.area_codes[i]}) {'+'.join(self.streams)} "
                f"{layout.years[y]}")


def stream_group(layout: Layout, streams: list[str] | None) -> list[int]:
    names = streams or layout.streams
    return [s for s, name in enumerate(layout.streams) if name in names]


def open_cells_of(layout: Layout, group: list[int], y: int) -> list[np.ndarray]:
    """Per area, its open cells of the group in year ``y`` (stream order)."""
    pos = layout.position[group, y, :]  # (n_group, n_areas)
    return [col[col >= 0] for col in pos.T]


def read_total_file(path: Path, layout: Layout) -> np.ndarray:
    """Per year x area pounds (NaN = none) from a CSV with ``code`` and ``amount`` or
    ``total_<year>`` columns (e.g. ``total_2023_24``).

    Raises
    ------
    DataError
        Missing file or columns, unknown or duplicate codes, amounts that are not numbers >= 0.
    """
    if not path.is_file():
        raise DataError("floor file not found", file=path)
    frame = pd.read_csv(path, dtype={"code": str})
    if "code" not in frame.columns:
        raise DataError("floor file needs a 'code' column", file=path, column="code")
    dup = frame["code"][frame["code"].duplicated()]
    if len(dup):
        raise DataError("duplicate codes in floor file", file=path, column="code", codes=dup)
    codes = layout.areas["code"].astype(str).tolist()
    unknown = sorted(set(frame["code"]) - set(codes))
    if unknown:
        raise DataError("floor file names codes not in the areas table", file=path,
                        column="code", codes=unknown)
    where = {c: i for i, c in enumerate(codes)}
    rows = np.array([where[c] for c in frame["code"]], dtype=np.int64)
    out = np.full((len(layout.years), len(codes)), np.nan)
    found = False
    for y, year in enumerate(layout.years):
        col = f"total_{year_key(year)}" if f"total_{year_key(year)}" in frame.columns else "amount"
        if col not in frame.columns:
            continue
        vals = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(vals) | (vals < 0)
        if bad.any():
            raise DataError("floor amounts must be numbers >= 0", file=path, column=col,
                            codes=frame["code"][bad])
        out[y, rows] = vals
        found = True
    if not found:
        raise DataError("a floor on the total needs an 'amount' column or 'total_<year>' columns "
                        "(e.g. total_2023_24)", file=path)
    return out


@dataclass(frozen=True)
class TotalBounds:
    """What the total floors (or caps) add: cell bounds, rows, and floors with nowhere to go."""

    cells: np.ndarray
    values: np.ndarray
    raw: np.ndarray
    rows: TotalRows | None
    orphans: list[tuple[int, int, int, float]]
    rule: str


def _amounts(layout: Layout, item: FloorConfig | CapConfig, up: bool,
             base_dir: Path | None) -> tuple[np.ndarray, np.ndarray, str]:
    """Raw and whole-pound amount per year x area (NaN / no bound where none)."""
    n_y, n_a = len(layout.years), len(layout.areas)
    if isinstance(item, FloorConfig):
        if item.kind == "fixed":
            raw = np.full((n_y, n_a), float(item.amount or 0.0))
            whole = np.full((n_y, n_a), int(ceil_product(item.amount or 0.0, np.ones(1))[0]))
            return raw, whole, f"fixed £{item.amount:,.0f} on the total"
        if item.kind == "per_head":
            pop = layout.areas[item.population].to_numpy(float)
            raw = np.tile(float(item.amount or 0.0) * pop, (n_y, 1))
            whole = np.tile(ceil_product(item.amount or 0.0, pop), (n_y, 1))
            return raw, whole, f"£{item.amount:g} per head ({item.population}) on the total"
        path = Path(item.path) if item.path is not None else Path()
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        raw = read_total_file(path, layout)
        whole = np.array([[math.ceil(Fraction(repr(v))) if np.isfinite(v) else -1 for v in row]
                          for row in raw.tolist()], dtype=np.int64)
        return raw, whole, f"from file {path.name}, on the total"
    raw = np.full((n_y, n_a), np.inf)
    whole = np.full((n_y, n_a), np.iinfo(np.int64).max, dtype=np.int64)
    words = []
    if item.per_head is not None:
        pop = layout.areas[item.population].to_numpy(float)
        raw = np.minimum(raw, np.tile(item.per_head * pop, (n_y, 1)))
        whole = np.minimum(whole, np.tile(floor_product(item.per_head, pop), (n_y, 1)))
        words.append(f"£{item.per_head:g} per head ({item.population})")
    if item.share_of_stream is not None:
        group = stream_group(layout, item.streams)
        budget_sum = layout.budget[group].sum(axis=0)  # per year
        vals = item.share_of_stream * budget_sum.astype(float)
        whole_b = floor_product(item.share_of_stream, budget_sum.astype(float))
        raw = np.minimum(raw, vals[:, None])
        whole = np.minimum(whole, whole_b[:, None])
        words.append(f"{item.share_of_stream:.2%} of the streams' combined budget")
    return raw, whole, " and ".join(words) + " on the total"


def total_bounds(layout: Layout, items: list[FloorConfig] | list[CapConfig], kind: str,
                 base_dir: Path | None = None) -> TotalBounds:
    """Total floors (``kind="floor"``) or caps (``"cap"``) with ``applies_to: total``.

    Each block's streams form its group; blocks with the same group combine (largest floor,
    smallest cap). A floor on an LA x year with no open cell in its group is left out for
    ``fixed``/``per_head`` floors (the LA is not funded from these streams that year) and
    reported in ``orphans`` (area, index of the block in ``items``, year, pounds) for file
    floors (money promised where none can go).
    """
    up = kind == "floor"
    n = layout.n_cells
    cell_raw = np.full(n, 0.0 if up else np.inf)
    cell_whole = np.full(n, 0 if up else np.iinfo(np.int64).max, dtype=np.int64)
    cell_has = np.zeros(n, dtype=bool)
    rows: dict[tuple[tuple[int, ...], int, int], list] = {}
    orphans: list[tuple[int, int, int, float]] = []  # (area, item index, year, pounds)
    words = []
    for n_item, item in enumerate(items):
        group = stream_group(layout, item.streams)
        years = [y for y, name in enumerate(layout.years) if not item.years or name in item.years]
        raw, whole, rule = _amounts(layout, item, up, base_dir)
        words.append(rule)
        for y in years:
            open_cells = open_cells_of(layout, group, y)
            for i, cells in enumerate(open_cells):
                r, w = raw[y, i], int(whole[y, i])
                if up and not (np.isfinite(r) and r > 0):
                    continue
                if not up and not np.isfinite(r):
                    continue
                if cells.size == 0:
                    if up and isinstance(item, FloorConfig) and item.kind == "file":
                        orphans.append((i, n_item, y, float(r)))
                    continue
                if cells.size == 1:
                    k = int(cells[0])
                    if up:
                        cell_raw[k], cell_whole[k] = max(cell_raw[k], r), max(cell_whole[k], w)
                    else:
                        cell_raw[k], cell_whole[k] = min(cell_raw[k], r), min(cell_whole[k], w)
                    cell_has[k] = True
                    continue
                key = (tuple(group), y, i)
                old = rows.get(key)
                if old is None:
                    rows[key] = [cells, r, w]
                elif up:
                    old[1], old[2] = max(old[1], r), max(old[2], w)
                else:
                    old[1], old[2] = min(old[1], r), min(old[2], w)
    cells = np.flatnonzero(cell_has)
    name = f"{kind}_total"
    built = None
    if rows:
        keys = sorted(rows, key=lambda k: (k[1], k[2], k[0]))
        built = TotalRows(
            name=name,
            names=[f"{name}_{'_'.join(layout.streams[s] for s in k[0])}_{year_key(layout.years[k[1]])}"
                   f"_{layout.area_codes[k[2]]}" for k in keys],
            now=[rows[k][0] for k in keys],
            prev=[np.zeros(0, np.int64) for _ in keys],
            sense=">=" if up else "<=",
            rhs_int=np.array([rows[k][2] for k in keys], dtype=np.int64),
            ratio=Fraction(1),
            raw=np.array([rows[k][1] for k in keys], dtype=float),
            area=np.array([k[2] for k in keys], dtype=np.int64),
            year=np.array([k[1] for k in keys], dtype=np.int64),
            streams=sorted({layout.streams[s] for k in keys for s in k[0]}),
            rule="; ".join(words),
        )
    return TotalBounds(cells, cell_whole[cells], cell_raw[cells], built, orphans, "; ".join(words))


def total_pace_rows(layout: Layout, pace: PaceConfig | None) -> tuple[list[TotalRows], np.ndarray]:
    """Pace rows on each LA's total over the pace block's streams (``applies_to: total``).

    Returns
    -------
    rows : list of TotalRows
    entry : ndarray of int
        With ``max_growth`` and ``entrants: from_zero``: the cells of LAs entering the group
        (no open cell the year before), capped at £0.
    """
    if pace is None or pace.applies_to != "total":
        return [], np.zeros(0, np.int64)
    group = stream_group(layout, pace.streams)
    pairs: list[tuple[int, int, np.ndarray, np.ndarray]] = []
    entrants: list[np.ndarray] = []
    for y in range(1, len(layout.years)):
        now_cells, prev_cells = open_cells_of(layout, group, y), open_cells_of(layout, group, y - 1)
        for i in range(len(layout.areas)):
            if now_cells[i].size and prev_cells[i].size:
                pairs.append((y, i, now_cells[i], prev_cells[i]))
            elif now_cells[i].size:
                entrants.append(now_cells[i])
    streams = [layout.streams[s] for s in group]
    rules = []
    if pace.no_cash_cut:
        rules.append(("no_cash_cut", Fraction(1), ">=", "the total does not fall once funded"))
    if pace.min_uplift is not None:
        rules.append(("min_uplift", ratio(pace.min_uplift), ">=",
                      f"the total rises at least {pace.min_uplift:+.2%} a year once funded"))
    if pace.max_growth is not None:
        rules.append(("max_growth", ratio(pace.max_growth), "<=",
                      f"the total grows at most {pace.max_growth:+.2%} a year once funded"))
    out = []
    for kind, r, sense, words in rules:
        name = f"pace_total_{kind}"
        out.append(TotalRows(
            name=name,
            names=[f"{name}_{'_'.join(streams)}_{year_key(layout.years[y])}_{layout.area_codes[i]}"
                   for y, i, _, _ in pairs],
            now=[p[2] for p in pairs],
            prev=[p[3] for p in pairs],
            sense=sense,
            rhs_int=np.zeros(len(pairs), dtype=np.int64),
            ratio=r,
            raw=np.zeros(len(pairs)),
            area=np.array([p[1] for p in pairs], dtype=np.int64),
            year=np.array([p[0] for p in pairs], dtype=np.int64),
            streams=streams,
            rule=words,
        ))
    entry = (np.sort(np.concatenate(entrants)).astype(np.int64)
             if pace.max_growth is not None and pace.entrants == "from_zero" and entrants
             else np.zeros(0, np.int64))
    return out, entry


def row_violations(layout: Layout, rows: TotalRows, x: np.ndarray) -> list[str]:
    """Every row broken by the whole pounds ``x``, checked with integer arithmetic."""
    now, prev = rows.sums(x)
    out = []
    if rows.ratio == 1 and not any(len(p) for p in rows.prev):
        for r, (a, b) in enumerate(zip(now, rows.rhs_int.tolist(), strict=True)):
            if (rows.sense == ">=" and a < b) or (rows.sense == "<=" and a > b):
                what = "floor" if rows.sense == ">=" else "cap"
                out.append(f"{rows.names[r]}: {rows.label(layout, r)} total £{a:,} "
                           f"{'<' if rows.sense == '>=' else '>'} {what} £{b:,}")
        return out
    bad, gaps = pace_gaps(np.array(now, dtype=object), np.array(prev, dtype=object), rows.ratio,
                          rows.sense)
    for r, gap in zip(bad.tolist(), gaps, strict=True):
        out.append(f"{rows.names[r]}: {rows.label(layout, r)}: {rows.rule} broken by "
                   f"£{float(gap):,.2f} (£{prev[r]:,} -> £{now[r]:,})")
    return out


def round_bounds(rows: list[TotalRows], out: np.ndarray, cells: np.ndarray, lo: np.ndarray,
                 hi: np.ndarray) -> None:
    """Tighten ``lo``/``hi`` (aligned with ``cells``, one stream-year block) so that each row
    whose *last* cell (highest cell number: rounded last) is in this block still holds on
    whole pounds, given the already rounded pounds ``out`` of its other cells."""
    local = {int(c): j for j, c in enumerate(cells.tolist())}
    for g in rows:
        num, den = g.ratio.numerator, g.ratio.denominator
        for r in range(g.n_rows):
            now, prev = g.now[r].tolist(), g.prev[r].tolist()
            last = max(now + prev)
            j = local.get(last)
            if j is None:
                continue
            s_now = sum(int(out[c]) for c in now if c != last)
            s_prev = sum(int(out[c]) for c in prev if c != last)
            rhs = int(g.rhs_int[r])
            if last in now:
                # den * (s_now + x) (sense) num * s_prev + den * rhs
                need = Fraction(num * s_prev + den * rhs - den * s_now, den)
                if g.sense == ">=":
                    lo[j] = max(lo[j], math.ceil(need))
                else:
                    hi[j] = min(hi[j], math.floor(need))
            else:
                # den * s_now (sense) num * (s_prev + x) + den * rhs
                lim = Fraction(den * s_now - den * rhs - num * s_prev, num)
                if g.sense == ">=":
                    hi[j] = min(hi[j], math.floor(lim))
                else:
                    lo[j] = max(lo[j], math.ceil(lim))
