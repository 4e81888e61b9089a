"""Apportion a table from one set of areas to another (boundary changes, district -> county).

Every method first builds a **weights table**: one row per *piece* (a source area's part lying
in a target area) with the piece's *measure*:

``area``
    Area of the source-target polygon intersection, computed in a projected CRS
    (EPSG:27700, British National Grid, by default).
``population``
    Dasymetric: the amount of a population raster (people per cell) inside each piece, by
    :func:`allocator.raster.zonal_stats` with exact cell fractions. A source whose pieces hold
    no population at all is split by area for extensive columns (and named in ``notes_``).
``lookup``
    A table ``source, target[, weight]`` where ``weight`` is the measure of the piece (e.g. the
    population of the part of the source in the target). Without a ``weight`` column each source
    must map to exactly one target and every piece weighs 1.

Then, with ``w[s, t]`` the measure of piece ``(s, t)``:

* **extensive** columns (counts, pounds, people) are split in proportion to the pieces,
  ``x[t] = sum_s x[s] * w[s, t] / sum_t' w[s, t']``, so the total over targets equals the total
  over sources (conservation);
* **intensive** columns (rates, scores, shares) become weighted means,
  ``y[t] = sum_s y[s] * w[s, t] / sum_s' w[s', t]`` (population-weighted means with the
  ``population`` or a population-weighted ``lookup``).

A missing source value makes every target it contributes to missing (never a silent zero).

:func:`split_northamptonshire` applies the ``lookup`` method to the April 2021 split of
Northamptonshire's seven districts into North and West Northamptonshire.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
import pyproj

from .data.schema import ANALYSIS_CRS
from .errors import ConfigError, DataError
from .pieces import EPS, area_codes, lookup_weights, overlay_weights, polygons

Method = Literal["area", "population", "lookup"]

#: ONS: Northamptonshire's districts (2019 codes) and the unitary authority each joined on
#: 1 April 2021 (ONS code changes, geodata/ons_boundaries_topojson/changes.csv, "merger" 2021).
NORTHAMPTONSHIRE_2021: dict[str, str] = {
    "E07000150": "E06000061",  # Corby -> North Northamptonshire
    "E07000151": "E06000062",  # Daventry -> West Northamptonshire
    "E07000152": "E06000061",  # East Northamptonshire -> North Northamptonshire
    "E07000153": "E06000061",  # Kettering -> North Northamptonshire
    "E07000154": "E06000062",  # Northampton -> West Northamptonshire
    "E07000155": "E06000062",  # South Northamptonshire -> West Northamptonshire
    "E07000156": "E06000061",  # Wellingborough -> North Northamptonshire
}
NORTH_NORTHAMPTONSHIRE = "E06000061"
WEST_NORTHAMPTONSHIRE = "E06000062"

__all__ = [
    "NORTHAMPTONSHIRE_2021",
    "Apportioner",
    "apportion",
    "northamptonshire_lookup",
    "split_northamptonshire",
]


class Apportioner:
    """Weights for moving a table from source areas to target areas.

    Parameters
    ----------
    method : {"area", "population", "lookup"}
        How pieces are measured (see the module docstring).
    weights_raster : path-like, optional
        Population raster (amount per cell) for ``method="population"``.
    lookup : pandas.DataFrame, optional
        For ``method="lookup"``: columns ``source``, ``target`` and optionally ``weight``.
    source_code, target_code : str
        Code columns of the source and target tables.
    crs : str
        Projected CRS in which polygon areas and overlaps are computed.
    min_coverage : float
        Smallest acceptable share of a source's measure (area or population) that falls inside
        the targets. Sources below it are a :class:`~allocator.errors.DataError`; with 0, sources
        entirely outside the targets are dropped (and named in ``notes_``). A source partly
        outside the targets has its whole value split among the targets it overlaps.

    Attributes
    ----------
    weights_ : pandas.DataFrame
        ``source``, ``target``, ``weight`` (measure of the piece), ``share`` (of the source's
        pieces used to split extensive columns).
    source_coverage_ : pandas.Series
        Share of each source's measure inside the targets (1 for ``lookup``).
    target_coverage_ : pandas.Series
        Share of each target's measure covered by sources (area and population methods only;
        NaN for ``lookup``).
    targets_ : list of str
        Target codes in output order.
    notes_ : list of str
        Statements about partial coverage, dropped sources and area fall-backs.
    """

    def __init__(
        self,
        method: Method = "area",
        *,
        weights_raster: str | os.PathLike[str] | None = None,
        lookup: pd.DataFrame | None = None,
        source_code: str = "code",
        target_code: str = "code",
        crs: str = ANALYSIS_CRS,
        min_coverage: float = 0.9,
    ) -> None:
        self.method = method
        self.weights_raster = weights_raster
        self.lookup = lookup
        self.source_code = source_code
        self.target_code = target_code
        self.crs = crs
        self.min_coverage = min_coverage

    # -- fitting -----------------------------------------------------------------------------

    def _check_params(self) -> pyproj.CRS:
        if self.method not in ("area", "population", "lookup"):
            raise ConfigError(
                f"unknown apportionment method {self.method!r}; choose area, population or lookup"
            )
        if (self.method == "population") != (self.weights_raster is not None):
            raise ConfigError(
                "weights_raster is required for method 'population' and not allowed otherwise"
            )
        if (self.method == "lookup") != (self.lookup is not None):
            raise ConfigError("lookup is required for method 'lookup' and not allowed otherwise")
        if not 0.0 <= self.min_coverage <= 1.0:
            raise ConfigError(f"min_coverage must be in [0, 1], got {self.min_coverage}")
        crs = pyproj.CRS.from_user_input(self.crs)
        if not crs.is_projected:
            raise ConfigError(
                f"apportionment CRS {self.crs} is not projected; areas need a projected CRS "
                "such as EPSG:27700"
            )
        return crs

    def fit(
        self,
        source: pd.DataFrame | None = None,
        target: pd.DataFrame | None = None,
    ) -> Apportioner:
        """Build the weights table.

        Parameters
        ----------
        source : GeoDataFrame or DataFrame
            Source areas (polygons for ``area``/``population``; for ``lookup`` optional, and when
            given its codes must all be in the lookup).
        target : GeoDataFrame or DataFrame
            Target areas (polygons for ``area``/``population``; for ``lookup`` optional, and when
            given it fixes the output rows and every lookup target must be in it).

        Returns
        -------
        Apportioner
            ``self``.
        """
        crs = self._check_params()
        self.notes_: list[str] = []
        if self.method == "lookup":
            self._fit_lookup(source, target)
        else:
            self._fit_geometric(source, target, crs)
        return self

    def _fit_lookup(self, source: pd.DataFrame | None, target: pd.DataFrame | None) -> None:
        assert self.lookup is not None
        self.weights_, self.targets_, self.source_coverage_, self.target_coverage_ = (
            lookup_weights(self.lookup, source, target, self.source_code, self.target_code,
                           self.notes_))

    def _fit_geometric(self, source: object, target: object, crs: pyproj.CRS) -> None:
        if source is None or target is None:
            raise ConfigError(f"method {self.method!r} needs source and target polygons")
        src = polygons(source, self.source_code, "source", crs)
        tgt = polygons(target, self.target_code, "target", crs)
        self.targets_ = tgt["code"].tolist()
        self.weights_, self.source_coverage_, self.target_coverage_ = overlay_weights(
            self.method, src, tgt, crs, self.weights_raster, self.min_coverage,
            self.source_code, self.notes_)

    # -- applying ----------------------------------------------------------------------------

    def transform(
        self,
        values: pd.DataFrame,
        columns: Sequence[str],
        extensive: bool | Mapping[str, bool] = True,
    ) -> pd.DataFrame:
        """Move ``columns`` of ``values`` (keyed by source code) onto the targets.

        Parameters
        ----------
        values : pandas.DataFrame
            One row per source area, with ``source_code`` and the ``columns``.
        columns : sequence of str
            Numeric columns to apportion.
        extensive : bool or mapping of str to bool
            True for counts (split, totals conserved), False for rates/scores (weighted means);
            a mapping gives it per column.

        Returns
        -------
        pandas.DataFrame
            ``code`` (target, in :attr:`targets_` order) and the ``columns``. A target no source
            reaches is NaN.
        """
        if not hasattr(self, "weights_"):
            raise ConfigError("Apportioner.transform called before fit")
        codes = area_codes(values, self.source_code, "source values")
        table = values.assign(**{"__code": codes.to_numpy()}).set_index("__code")
        needed = sorted(set(self.weights_["source"]))
        missing = sorted(set(needed) - set(table.index))
        if missing:
            raise DataError("the values table has no row for source areas in the weights",
                            column=self.source_code, codes=missing)
        out = pd.DataFrame({"code": self.targets_})
        for col in columns:
            if col not in table.columns:
                raise DataError("column to apportion not found", column=col)
            x = pd.to_numeric(table[col], errors="coerce")
            bad = x.isna() & table[col].notna()
            if bad.any():
                raise DataError("non-numeric values", column=col, codes=x.index[bad])
            ext = extensive.get(col, True) if isinstance(extensive, Mapping) else extensive
            w = self.weights_
            xv = x.reindex(w["source"]).to_numpy(dtype="float64")
            coef = (w["share"] if ext else w["weight"]).to_numpy(dtype="float64")
            used = coef > 0
            contrib = np.where(used, xv * coef, 0.0)
            nan_hit = used & np.isnan(xv)
            g = pd.DataFrame({"target": w["target"], "c": np.nan_to_num(contrib),
                              "d": np.where(used, coef, 0.0), "nan": nan_hit})
            agg = g.groupby("target").agg(c=("c", "sum"), d=("d", "sum"), nan=("nan", "any"))
            agg = agg.reindex(self.targets_)
            if ext:
                res = agg["c"].where(agg["d"] > 0)
            else:
                res = (agg["c"] / agg["d"]).where(agg["d"] > EPS)
            res = res.where(~agg["nan"].fillna(False).astype(bool))
            out[col] = res.to_numpy(dtype="float64")
        return out


def apportion(
    source: pd.DataFrame,
    target: pd.DataFrame | None,
    columns: Sequence[str],
    method: Method = "area",
    weights_raster: str | os.PathLike[str] | None = None,
    lookup: pd.DataFrame | None = None,
    extensive: bool | Mapping[str, bool] = True,
    *,
    source_code: str = "code",
    target_code: str = "code",
    crs: str = ANALYSIS_CRS,
    min_coverage: float = 0.9,
) -> pd.DataFrame:
    """Apportion ``columns`` of ``source`` onto ``target`` in one call.

    ``source`` holds both the areas (geometry, for ``area``/``population``) and the values. See
    :class:`Apportioner` for the parameters and the module docstring for the formulas.

    Returns
    -------
    pandas.DataFrame
        ``code`` of each target and the apportioned ``columns``.
    """
    ap = Apportioner(
        method, weights_raster=weights_raster, lookup=lookup, source_code=source_code,
        target_code=target_code, crs=crs, min_coverage=min_coverage,
    ).fit(source, target)
    return ap.transform(source, columns, extensive)


def northamptonshire_lookup(population: Mapping[str, float] | pd.Series) -> pd.DataFrame:
    """Lookup (``source``, ``target``, ``weight``) for Northamptonshire's 2021 split.

    Parameters
    ----------
    population : mapping or Series
        Population of each of the seven districts (2019 codes E07000150..E07000156), e.g. ONS
        mid-year estimates on 2019 geography; used as the weight of intensive means.

    Returns
    -------
    pandas.DataFrame
        Seven rows, one per district.
    """
    pop = pd.Series(population, dtype="float64") if not isinstance(population, pd.Series) \
        else pd.to_numeric(population, errors="coerce").astype("float64")
    pop.index = pop.index.astype(str)
    missing = sorted(set(NORTHAMPTONSHIRE_2021) - set(pop.index))
    if missing:
        raise DataError("population missing for Northamptonshire districts", codes=missing)
    sel = pop.reindex(list(NORTHAMPTONSHIRE_2021))
    bad = sel[~(np.isfinite(sel.to_numpy()) & (sel.to_numpy() > 0))]
    if len(bad):
        raise DataError("Northamptonshire district populations must be positive numbers",
                        codes=bad.index)
    return pd.DataFrame({
        "source": list(NORTHAMPTONSHIRE_2021),
        "target": list(NORTHAMPTONSHIRE_2021.values()),
        "weight": sel.to_numpy(),
    })


def split_northamptonshire(
    values: pd.DataFrame,
    columns: Sequence[str],
    population: Mapping[str, float] | pd.Series,
    extensive: bool | Mapping[str, bool] = False,
    *,
    code_column: str = "code",
) -> pd.DataFrame:
    """Values for North (E06000061) and West (E06000062) Northamptonshire from its districts.

    Extensive columns (counts) are summed over each new authority's districts; intensive
    columns (scores, rates) are population-weighted means of them, e.g. the IMD 2019 average
    score, which MHCLG published only for the old county and its districts.

    Parameters
    ----------
    values : pandas.DataFrame
        Rows for (at least) the seven districts E07000150..E07000156; other rows are ignored.
    columns : sequence of str
        Columns to carry over.
    population : mapping or Series
        Population of each district (the weights of intensive means).
    extensive : bool or mapping of str to bool
        Default False (intensive).
    code_column : str
        Code column of ``values``.

    Returns
    -------
    pandas.DataFrame
        Two rows, ``code`` E06000061 then E06000062, and the ``columns``.

    Raises
    ------
    DataError
        A district is missing from ``values`` or ``population``, a population is not positive,
        or a value is not numeric.
    """
    codes = area_codes(values, code_column, "district values")
    missing = sorted(set(NORTHAMPTONSHIRE_2021) - set(codes))
    if missing:
        raise DataError("Northamptonshire districts missing from the values table",
                        column=code_column, codes=missing)
    rows = values[codes.isin(set(NORTHAMPTONSHIRE_2021)).to_numpy()]
    target = pd.DataFrame({"code": [NORTH_NORTHAMPTONSHIRE, WEST_NORTHAMPTONSHIRE]})
    ap = Apportioner("lookup", lookup=northamptonshire_lookup(population),
                     source_code=code_column).fit(rows, target)
    return ap.transform(rows, columns, extensive)
