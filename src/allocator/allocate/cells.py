"""The grid of LA x stream x year cells, eligibility and need-based targets.

A *cell* is one LA x stream x year that may receive money (the LA is eligible for the stream in
that year and the stream has a budget that year). Only cells become LP variables; every other
LA x stream x year is £0 by construction (the eligibility group). Cells are stored in
(stream, year, ONS code) order so each stream-year is one contiguous block.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .config import AllocationConfig, TargetConfig, year_key
from .eligible import eligible_mask
from .targets import OPTIONAL_COLUMNS, describe, target_basis

AREA_COLUMNS = ["code", "name", "region", "pop_all", "pop_15_64", "need_factor", "wave"]


def check_areas(areas: pd.DataFrame) -> pd.DataFrame:
    """Validate the areas table and return a copy sorted by ``code`` with a fresh index.

    Raises
    ------
    DataError
        Naming the column and codes at fault.
    """
    missing = [c for c in AREA_COLUMNS if c not in areas.columns]
    if missing:
        raise DataError(f"areas table lacks columns {missing} needed by the allocator")
    frame = pd.DataFrame(areas[AREA_COLUMNS + [c for c in OPTIONAL_COLUMNS if c in areas]]).copy()
    if frame["code"].isna().any():
        raise DataError("missing area code", column="code", codes=frame.index[frame["code"].isna()])
    frame["code"] = frame["code"].astype(str)
    dup = frame["code"][frame["code"].duplicated()]
    if len(dup):
        raise DataError("duplicate area codes", column="code", codes=sorted(set(dup)))
    for col in ("pop_all", "pop_15_64", "need_factor"):
        values = pd.to_numeric(frame[col], errors="coerce").astype(float)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            raise DataError(
                "must be a finite number >= 0", column=col, codes=frame.loc[bad, "code"]
            )
        frame[col] = values
    wave = pd.to_numeric(frame["wave"], errors="coerce")
    bad = wave.isna() | (wave < 1) | (wave != np.floor(wave))
    if bad.any():
        raise DataError("wave must be an integer >= 1", column="wave", codes=frame.loc[bad, "code"])
    frame["wave"] = wave.astype(np.int64)
    return frame.sort_values("code", kind="mergesort").reset_index(drop=True)


@dataclass(frozen=True)
class Layout:
    """Cells, budgets and targets of one allocation problem.

    Attributes
    ----------
    areas : DataFrame
        Validated areas sorted by code (row ``i`` is area index ``i``).
    streams, years : list of str
    area, stream, year : ndarray of int
        Per cell: area index, stream index, year index.
    budget : ndarray of int64, shape (n_streams, n_years)
        Whole pounds; 0 where the stream has no money that year.
    position : ndarray of int, shape (n_streams, n_years, n_areas)
        Cell number of each LA x stream x year, -1 where not eligible.
    basis : ndarray of float
        Per cell, the target basis value (need x population, ...).
    share : ndarray of float
        Per cell, ``basis / sum(basis)`` over the cell's stream-year.
    target : ndarray of float
        Per cell, ``share x budget`` in pounds.
    basis_name : list of str
        Per stream, the basis used.
    """

    areas: pd.DataFrame
    streams: list[str]
    years: list[str]
    area: np.ndarray
    stream: np.ndarray
    year: np.ndarray
    budget: np.ndarray
    position: np.ndarray
    basis: np.ndarray
    share: np.ndarray
    target: np.ndarray
    basis_name: list[str]

    @property
    def n_cells(self) -> int:
        """Number of cells (LP money variables)."""
        return int(self.area.size)

    @property
    def codes(self) -> np.ndarray:
        """ONS code per cell."""
        return self.areas["code"].to_numpy()[self.area]

    @cached_property
    def area_codes(self) -> list[str]:
        """ONS code per area index."""
        return self.areas["code"].astype(str).tolist()

    @cached_property
    def area_names(self) -> list[str]:
        """Name per area index."""
        return self.areas["name"].astype(str).tolist()

    def label(self, k: int) -> str:
        """Human label of cell ``k``: ``"Name (CODE) place_based 2023-24"``."""
        i = int(self.area[k])
        return (
            f"{self.area_names[i]} ({self.area_codes[i]}) "
            f"{self.streams[int(self.stream[k])]} {self.years[int(self.year[k])]}"
        )

    def var_names(self) -> list[str]:
        """LP variable name per cell: ``x_<stream>_<year>_<code>`` (sorts in cell order)."""
        return list(self._var_names)

    @cached_property
    def _var_names(self) -> tuple[str, ...]:
        codes = self.areas["code"].to_numpy()
        keys = [f"x_{s}_{year_key(y)}_" for s in self.streams for y in self.years]
        n_years = len(self.years)
        return tuple(
            keys[s * n_years + y] + codes[i]
            for s, y, i in zip(self.stream.tolist(), self.year.tolist(), self.area.tolist(), strict=True)
        )

    def block(self, s: int, y: int) -> np.ndarray:
        """Cell numbers of stream ``s`` in year ``y`` (ascending code order)."""
        row = self.position[s, y]
        return row[row >= 0]


def eligibility(config: AllocationConfig, areas: pd.DataFrame, base_dir: Path | None = None
                ) -> np.ndarray:
    """The eligibility group: which LA may receive which stream in which year.

    Parameters
    ----------
    config : AllocationConfig
    areas : DataFrame
        Validated (:func:`check_areas`).
    base_dir : path, optional
        Folder that relative eligibility files are read from.

    Returns
    -------
    ndarray of bool, shape (n_streams, n_years, n_areas)
        ``True`` where the stream has a budget that year and the LA is eligible: always for
        ``eligible: all``; from year ``wave`` on (1-based) for ``eligible: wave_started``; before
        year ``wave`` for ``eligible: wave_not_started``; listed LAs and combinations as
        :mod:`allocator.allocate.eligible` describes.
    """
    years = config.resolved_years()
    out = np.zeros((len(config.streams), len(years), len(areas)), dtype=bool)
    for s, (name, stream) in enumerate(config.streams.items()):
        for y, year in enumerate(years):
            if year not in stream.budget:
                continue
            out[s, y] = eligible_mask(stream.eligible, areas, y, stream=name, base_dir=base_dir)
    return out


def basis_values(areas: pd.DataFrame, basis: str) -> np.ndarray:
    """Per-area target basis of a basis name with default parameters (see ``targets``)."""
    return target_basis(areas, TargetConfig(basis=basis))  # type: ignore[arg-type]


def build_layout(config: AllocationConfig, areas: pd.DataFrame, base_dir: Path | None = None,
                 *, checked: bool = False) -> Layout:
    """Build the cells and their targets (need share x stream-year budget).

    ``checked=True`` skips :func:`check_areas` for a table that already passed it (the pounds
    Monte Carlo checks the table once and then changes only ``need_factor`` and ``wave``,
    which it checks itself).

    Raises
    ------
    DataError
        When a stream-year's target basis sums to zero over its eligible LAs.
    """
    areas = areas if checked else check_areas(areas)
    years = config.resolved_years()
    streams = list(config.streams)
    elig = eligibility(config, areas, base_dir)
    budget = np.zeros((len(streams), len(years)), dtype=np.int64)
    for s, stream in enumerate(config.streams.values()):
        for y, year in enumerate(years):
            budget[s, y] = stream.budget.get(year, 0)
    s_idx, y_idx, a_idx = np.nonzero(elig)  # C order: stream, year, area (= code order)
    position = np.full(elig.shape, -1, dtype=np.int64)
    position[s_idx, y_idx, a_idx] = np.arange(s_idx.size)
    targets = [st.target or config.target for st in config.streams.values()]
    basis_name = [describe(t) for t in targets]
    per_stream = np.stack([target_basis(areas, t) for t in targets]) if streams else None
    basis = per_stream[s_idx, a_idx] if per_stream is not None else np.zeros(0)
    sy = s_idx * len(years) + y_idx
    sums = np.bincount(sy, weights=basis, minlength=len(streams) * len(years))
    for s in range(len(streams)):
        for y in range(len(years)):
            if elig[s, y].any() and sums[s * len(years) + y] <= 0:
                raise DataError(
                    f"target basis '{basis_name[s]}' sums to zero over the LAs eligible for "
                    f"{streams[s]} {years[y]}, so no need-based target can be set",
                    column="need_factor",
                )
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(sums[sy] > 0, basis / sums[sy], 0.0)
    target = share * budget[s_idx, y_idx]
    return Layout(
        areas=areas,
        streams=streams,
        years=years,
        area=a_idx,
        stream=s_idx,
        year=y_idx,
        budget=budget,
        position=position,
        basis=basis,
        share=share,
        target=target,
        basis_name=basis_name,
    )
