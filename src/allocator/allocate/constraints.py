"""Named constraint groups, each built by its own small function as plain numbers.

Every group is solver-independent: a :class:`BoundGroup` (a lower or upper bound per cell:
floors, caps, locks, pace entry) or a :class:`RowGroup` (sparse linear rows: the budget
ring-fence, pace of change). The LP builder (:mod:`.model`) turns them into PuLP objects, the
verifier (:mod:`.verify`) re-checks them on the final whole pounds, the elastic re-solve
(:mod:`.elastic`) relaxes them by name, and presolve (:mod:`.presolve`) reasons about them.

Group names: ``budget``, ``floor``, ``cap``, ``lock``, ``pace_min_uplift``, ``pace_no_cash_cut``,
``pace_max_growth``, ``pace_entry``. The ``eligibility`` group is structural (cells exist only
where an LA is eligible, see :func:`allocator.allocate.cells.eligibility`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from .cells import Layout
from .config import AllocationConfig, CapConfig, FloorConfig, year_key
from .exact import ceil_product, floor_product, ratio


@dataclass(frozen=True)
class BoundGroup:
    """A bound per cell.

    Attributes
    ----------
    name : str
        Group name (``floor``, ``cap``, ``lock``, ``pace_entry``).
    kind : {"lower", "upper", "fix"}
    cells : ndarray of int
        Cells the group bounds.
    values : ndarray of int64
        Whole-pound bound per cell: floors rounded up, caps rounded down, computed exactly on
        the decimals as written (see :mod:`.exact`).
    raw : ndarray of float
        The unrounded bound.
    rule : str
        How the bound was set, in words.
    """

    name: str
    kind: str
    cells: np.ndarray
    values: np.ndarray
    raw: np.ndarray
    rule: str

    def dense(self, n_cells: int, fill: float) -> np.ndarray:
        """Bound per cell as a float array, ``fill`` where the group does not apply."""
        out = np.full(n_cells, fill, dtype=float)
        out[self.cells] = self.values
        return out


@dataclass(frozen=True)
class RowGroup:
    """Sparse linear rows ``sum(coef * x[cell]) <sense> rhs``.

    Attributes
    ----------
    name : str
    names : list of str
        One constraint name per row (unique in the model).
    indptr, indices, data : ndarray
        CSR storage over cells.
    sense : str
        ``"=="``, ``">="`` or ``"<="`` (same for every row of the group).
    rhs : ndarray of float
    owner : ndarray of int
        The cell each row is "about" (for pace: the later year's cell; -1 for budget rows).
    rule : str
    meta : dict
        Pace groups: ``prev`` (the earlier year's cell per row), ``factor`` (float, for the
        solver) and ``ratio`` (the same factor as an exact Fraction, for whole-pound checks).
    """

    name: str
    names: list[str]
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    sense: str
    rhs: np.ndarray
    owner: np.ndarray
    rule: str
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(self.names)

    def activity(self, x: np.ndarray) -> np.ndarray:
        """Row left-hand sides for the cell values ``x``."""
        prod = self.data * np.asarray(x, dtype=float)[self.indices]
        return np.add.reduceat(prod, self.indptr[:-1]) if self.n_rows else np.zeros(0)


def _empty_bounds(name: str, kind: str, rule: str) -> BoundGroup:
    z = np.zeros(0, dtype=np.int64)
    return BoundGroup(name, kind, z, z, np.zeros(0), rule)


def budget_rows(layout: Layout) -> RowGroup:
    """The ring-fence: the cells of each stream-year sum exactly to its budget."""
    names, pieces, rhs = [], [], []
    for s, stream in enumerate(layout.streams):
        for y, year in enumerate(layout.years):
            cells = layout.block(s, y)
            if layout.budget[s, y] <= 0:
                continue
            names.append(f"budget_{stream}_{year_key(year)}")
            pieces.append(cells)
            rhs.append(float(layout.budget[s, y]))
    lengths = np.array([len(p) for p in pieces], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    indices = np.concatenate(pieces).astype(np.int64) if pieces else np.zeros(0, np.int64)
    return RowGroup(
        name="budget",
        names=names,
        indptr=indptr,
        indices=indices,
        data=np.ones(indices.size),
        sense="==",
        rhs=np.array(rhs, dtype=float),
        owner=np.full(len(names), -1, dtype=np.int64),
        rule="each stream-year's allocations sum exactly to its budget (ring-fence)",
    )


def _scope(layout: Layout, streams: list[str] | None, years: list[str] | None) -> np.ndarray:
    s_ok = np.isin(np.array(layout.streams), streams if streams else layout.streams)
    y_ok = np.isin(np.array(layout.years), years if years else layout.years)
    return s_ok[layout.stream] & y_ok[layout.year]


def read_floor_file(path: Path, layout: Layout, floor: FloorConfig) -> np.ndarray:
    """Read a floor CSV into an array ``(n_streams, n_years, n_areas)`` of pounds (NaN = none).

    The file has ``code`` and either ``amount`` (applied to every stream-year in the floor's
    scope) or ``<stream>_<year>`` columns.

    Raises
    ------
    DataError
        Missing file or columns, unknown or duplicate codes, negative or non-numeric amounts.
    """
    if not path.is_file():
        raise DataError("floor file not found", file=path)
    frame = pd.read_csv(path, dtype={"code": str})
    if "code" not in frame.columns:
        raise DataError("floor file needs a 'code' column", file=path, column="code")
    dup = frame["code"][frame["code"].duplicated()]
    if len(dup):
        raise DataError("duplicate codes in floor file", file=path, column="code", codes=dup)
    codes = layout.areas["code"]
    unknown = sorted(set(frame["code"]) - set(codes))
    if unknown:
        raise DataError("floor file names codes not in the areas table", file=path,
                        column="code", codes=unknown)
    out = np.full((len(layout.streams), len(layout.years), len(codes)), np.nan)
    where = codes.reset_index(drop=True).reset_index().set_index("code")["index"]
    rows = where.loc[frame["code"]].to_numpy()
    streams = floor.streams or layout.streams
    years = floor.years or layout.years
    for s, stream in enumerate(layout.streams):
        for y, year in enumerate(layout.years):
            if stream not in streams or year not in years:
                continue
            col = f"{stream}_{year_key(year)}"
            if col in frame.columns:
                use = col
            elif "amount" in frame.columns:
                use = "amount"
            else:
                continue
            vals = pd.to_numeric(frame[use], errors="coerce").to_numpy(float)
            bad = ~np.isfinite(vals) | (vals < 0)
            if bad.any():
                raise DataError("floor amounts must be numbers >= 0", file=path, column=use,
                                codes=frame["code"][bad])
            out[s, y, rows] = vals
    if np.isnan(out).all():
        raise DataError(
            "floor file has neither an 'amount' column nor '<stream>_<year>' columns for the "
            f"floor's streams {streams} and years {years}",
            file=path,
        )
    return out


@dataclass(frozen=True)
class FloorResult:
    """Floors on cells plus floors set on LA x stream x years that are not eligible."""

    group: BoundGroup
    orphans: list[tuple[int, int, int, float]]


def floors(layout: Layout, configs: list[FloorConfig], base_dir: Path | None = None) -> FloorResult:
    """The floor group: each cell at least the largest floor that applies to it.

    ``fixed`` and ``per_head`` floors apply to eligible cells only; a ``file`` floor that gives
    a positive amount to a non-eligible LA x stream x year is returned in ``orphans`` for
    presolve to report.
    """
    n = layout.n_cells
    raw = np.zeros(n)
    whole = np.zeros(n, dtype=np.int64)
    has = np.zeros(n, dtype=bool)
    orphans: list[tuple[int, int, int, float]] = []
    rules = []
    for f in configs:
        scope = _scope(layout, f.streams, f.years)
        if f.kind == "fixed":
            vals = np.full(n, float(f.amount or 0.0))
            up = np.full(n, ceil_product(f.amount or 0.0, np.ones(1))[0], dtype=np.int64)
            rules.append(f"fixed £{f.amount:,.0f}")
        elif f.kind == "per_head":
            pop = layout.areas[f.population].to_numpy(float)[layout.area]
            vals = float(f.amount or 0.0) * pop
            up = ceil_product(f.amount or 0.0, pop)
            rules.append(f"£{f.amount:g} per head ({f.population})")
        else:
            path = Path(f.path) if f.path is not None else Path()
            if base_dir is not None and not path.is_absolute():
                path = base_dir / path
            grid = read_floor_file(path, layout, f)
            vals = grid[layout.stream, layout.year, layout.area]
            scope = scope & np.isfinite(vals)
            vals = np.nan_to_num(vals)
            up = ceil_product(1, vals)
            bad = np.argwhere(np.nan_to_num(grid) > 0)
            for s, y, i in bad.tolist():
                if layout.position[s, y, i] < 0:
                    orphans.append((i, s, y, float(grid[s, y, i])))
            rules.append(f"from file {path.name}")
        raw = np.where(scope, np.maximum(raw, vals), raw)
        whole = np.where(scope, np.maximum(whole, up), whole)
        has |= scope
    cells = np.flatnonzero(has & (raw > 0))
    group = BoundGroup("floor", "lower", cells, whole[cells], raw[cells], "; ".join(rules))
    return FloorResult(group, orphans)


def caps(layout: Layout, configs: list[CapConfig]) -> BoundGroup:
    """The cap group: each cell at most the smallest cap that applies (rounded down)."""
    n = layout.n_cells
    raw = np.full(n, np.inf)
    whole = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    rules = []
    for c in configs:
        scope = _scope(layout, c.streams, c.years)
        if c.per_head is not None:
            pop = layout.areas[c.population].to_numpy(float)[layout.area]
            raw = np.where(scope, np.minimum(raw, c.per_head * pop), raw)
            whole = np.where(scope, np.minimum(whole, floor_product(c.per_head, pop)), whole)
            rules.append(f"£{c.per_head:g} per head ({c.population})")
        if c.share_of_stream is not None:
            budget = layout.budget[layout.stream, layout.year]
            raw = np.where(scope, np.minimum(raw, c.share_of_stream * budget), raw)
            down = floor_product(c.share_of_stream, budget.astype(float))
            whole = np.where(scope, np.minimum(whole, down), whole)
            rules.append(f"{c.share_of_stream:.2%} of the stream-year budget")
    cells = np.flatnonzero(np.isfinite(raw))
    return BoundGroup("cap", "upper", cells, whole[cells], raw[cells], "; ".join(rules))


@dataclass(frozen=True)
class LockResult:
    """Locks on cells plus locks on LA x stream x years that are not eligible."""

    group: BoundGroup
    orphans: list[tuple[int, int, int, float]]


def locks(layout: Layout, config: AllocationConfig) -> LockResult:
    """The lock group: fixed whole-pound amounts for named LA x stream x year.

    Raises
    ------
    ConfigError
        Unknown code, or the same cell locked twice.
    """
    codes = layout.areas["code"].tolist()
    where = {c: i for i, c in enumerate(codes)}
    seen: set[tuple[str, str, str]] = set()
    cells, values, orphans = [], [], []
    for lock in config.locks:
        if lock.code not in where:
            raise ConfigError(f"lock names code {lock.code} which is not in the areas table")
        key = (lock.code, lock.stream, lock.year)
        if key in seen:
            raise ConfigError(f"{lock.code} {lock.stream} {lock.year} is locked twice")
        seen.add(key)
        i, s, y = where[lock.code], layout.streams.index(lock.stream), layout.years.index(lock.year)
        k = int(layout.position[s, y, i])
        if k < 0:
            orphans.append((i, s, y, float(lock.amount)))
            continue
        cells.append(k)
        values.append(lock.amount)
    order = np.argsort(np.array(cells, dtype=np.int64), kind="mergesort")
    c = np.array(cells, dtype=np.int64)[order]
    v = np.array(values, dtype=np.int64)[order]
    group = BoundGroup("lock", "fix", c, v, v.astype(float), "locked amounts from the config")
    return LockResult(group, orphans)


def _pairs(layout: Layout, streams: list[str] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells (now, previous) for LA x stream funded in consecutive years, and entrants."""
    now, prev, entrants = [], [], []
    for s, stream in enumerate(layout.streams):
        if streams and stream not in streams:
            continue
        for y in range(1, len(layout.years)):
            cur, old = layout.position[s, y], layout.position[s, y - 1]
            both = (cur >= 0) & (old >= 0)
            now.append(cur[both])
            prev.append(old[both])
            entrants.append(cur[(cur >= 0) & (old < 0)])
    def cat(parts):
        return (np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64))
    return cat(now), cat(prev), cat(entrants)


def _two_term_rows(name: str, layout: Layout, now: np.ndarray, prev: np.ndarray, rate: float,
                   sense: str, rule: str) -> RowGroup:
    factor = 1.0 + rate
    names = [n.replace("x_", f"{name}_", 1) for n in np.array(layout.var_names(), dtype=object)[now]] \
        if now.size else []
    indptr = np.arange(0, 2 * now.size + 1, 2, dtype=np.int64)
    indices = np.empty(2 * now.size, dtype=np.int64)
    indices[0::2], indices[1::2] = now, prev
    data = np.empty(2 * now.size)
    data[0::2], data[1::2] = 1.0, -factor
    return RowGroup(name, names, indptr, indices, data, sense, np.zeros(now.size), now.copy(), rule,
                    {"factor": factor, "ratio": ratio(rate), "prev": prev.copy()})


def pace(layout: Layout, config: AllocationConfig) -> tuple[list[RowGroup], BoundGroup]:
    """The pace-of-change groups.

    Returns
    -------
    rows : list of RowGroup
        ``pace_no_cash_cut`` (``x[y] - x[y-1] >= 0``), ``pace_min_uplift``
        (``x[y] - (1+u) x[y-1] >= 0``) and ``pace_max_growth`` (``x[y] - (1+g) x[y-1] <= 0``),
        for each LA x stream eligible in both years.
    entry : BoundGroup
        ``pace_entry``: with ``entrants: from_zero`` and ``max_growth``, entrants are capped
        at £0.
    """
    p = config.pace
    if p is None:
        return [], _empty_bounds("pace_entry", "upper", "")
    now, prev, entrants = _pairs(layout, p.streams)
    rows = []
    if p.no_cash_cut:
        rows.append(_two_term_rows("pace_no_cash_cut", layout, now, prev, 0.0, ">=",
                                   "no cash cut once funded"))
    if p.min_uplift is not None:
        rows.append(_two_term_rows("pace_min_uplift", layout, now, prev, p.min_uplift, ">=",
                                   f"at least {p.min_uplift:+.2%} on the previous year"))
    if p.max_growth is not None:
        rows.append(_two_term_rows("pace_max_growth", layout, now, prev, p.max_growth, "<=",
                                   f"at most {p.max_growth:+.2%} on the previous year"))
    if p.max_growth is not None and p.entrants == "from_zero" and entrants.size:
        z = np.zeros(entrants.size, dtype=np.int64)
        entry = BoundGroup("pace_entry", "upper", np.sort(entrants), z, z.astype(float),
                           "max growth from £0 for LAs entering a stream")
    else:
        entry = _empty_bounds("pace_entry", "upper", "")
    return rows, entry


@dataclass(frozen=True)
class Groups:
    """All constraint groups of a problem."""

    budget: RowGroup
    floor: BoundGroup
    cap: BoundGroup
    lock: BoundGroup
    pace_entry: BoundGroup
    pace_rows: list[RowGroup]
    floor_orphans: list[tuple[int, int, int, float]]
    lock_orphans: list[tuple[int, int, int, float]]

    @property
    def rows(self) -> list[RowGroup]:
        """Row groups in model order."""
        return [self.budget, *self.pace_rows]

    @property
    def bounds(self) -> list[BoundGroup]:
        """Bound groups."""
        return [self.floor, self.cap, self.lock, self.pace_entry]

    def lower(self, n: int) -> np.ndarray:
        """Effective whole-pound lower bound per cell (floors, locks; 0 otherwise)."""
        lo = np.maximum(self.floor.dense(n, 0.0), 0.0)
        lo[self.lock.cells] = self.lock.values
        return lo

    def upper(self, n: int) -> np.ndarray:
        """Effective whole-pound upper bound per cell (caps, locks, pace entry; inf otherwise)."""
        up = np.minimum(self.cap.dense(n, math.inf), self.pace_entry.dense(n, math.inf))
        up[self.lock.cells] = self.lock.values
        return up


def build_groups(layout: Layout, config: AllocationConfig, base_dir: Path | None = None) -> Groups:
    """Build every constraint group for ``layout``."""
    fl = floors(layout, list(config.floors), base_dir)
    lk = locks(layout, config)
    pace_rows, entry = pace(layout, config)
    return Groups(
        budget=budget_rows(layout),
        floor=fl.group,
        cap=caps(layout, list(config.caps)),
        lock=lk.group,
        pace_entry=entry,
        pace_rows=pace_rows,
        floor_orphans=fl.orphans,
        lock_orphans=lk.orphans,
    )
