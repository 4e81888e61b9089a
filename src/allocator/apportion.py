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

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from .data.schema import ANALYSIS_CRS
from .errors import ConfigError, DataError
from .raster import zonal_stats

Method = Literal["area", "population", "lookup"]

#: Sources whose measure falls this close to zero are treated as empty.
_EPS = 1e-12

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


def _codes(frame: pd.DataFrame, column: str, what: str) -> pd.Series:
    if column not in frame.columns:
        raise DataError(f"{what} table has no code column", column=column)
    codes = frame[column].astype(str)
    if codes.isna().any() or (codes == "").any():
        raise DataError(f"{what} table has blank codes", column=column)
    dupes = sorted(set(codes[codes.duplicated()]))
    if dupes:
        raise DataError(f"duplicate codes in the {what} table", column=column, codes=dupes)
    return codes


def _polygons(frame: object, column: str, what: str, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise DataError(f"the {what} must be a GeoDataFrame for this method")
    if frame.crs is None:
        raise DataError(f"the {what} polygons have no CRS")
    codes = _codes(frame, column, what)
    empty = codes[(frame.geometry.isna() | frame.geometry.is_empty).to_numpy()]
    if len(empty):
        raise DataError(f"{what} areas with missing or empty geometry", codes=empty)
    g = gpd.GeoDataFrame({"code": codes.to_numpy()}, geometry=frame.geometry.to_numpy(),
                         crs=frame.crs).to_crs(crs)
    bad = ~g.geometry.is_valid
    if bad.any():
        g.loc[bad, "geometry"] = shapely.make_valid(
            g.geometry[bad].to_numpy(), method="structure", keep_collapsed=False
        )
    return g


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
        lk = self.lookup
        assert lk is not None
        for col in ("source", "target"):
            if col not in lk.columns:
                raise DataError("lookup table has no column", column=col)
        w = pd.DataFrame({"source": lk["source"].astype(str), "target": lk["target"].astype(str)})
        pair = w["source"] + " -> " + w["target"]
        if pair.duplicated().any():
            raise DataError("duplicate source-target rows in the lookup",
                            codes=sorted(set(pair[pair.duplicated()])))
        if "weight" in lk.columns:
            weight = pd.to_numeric(lk["weight"], errors="coerce").astype("float64")
            bad = ~np.isfinite(weight.to_numpy()) | (weight.to_numpy() < 0)
            if bad.any():
                raise DataError("lookup weights must be finite and >= 0", column="weight",
                                codes=pair[bad])
            w["weight"] = weight.to_numpy()
        else:
            multi = w["source"][w["source"].duplicated()]
            if len(multi):
                raise DataError(
                    "lookup maps a source to several targets but has no 'weight' column to split "
                    "it by", column="source", codes=sorted(set(multi)),
                )
            w["weight"] = 1.0
            self.notes_.append("Lookup without weights: each source goes wholly to one target; "
                               "intensive columns are unweighted means.")
        if source is not None:
            scodes = _codes(source, self.source_code, "source")
            unknown = sorted(set(scodes) - set(w["source"]))
            if unknown:
                raise DataError("source codes missing from the lookup", column=self.source_code,
                                codes=unknown)
            w = w[w["source"].isin(set(scodes))]
        if target is not None:
            tcodes = _codes(target, self.target_code, "target")
            unknown = sorted(set(w["target"]) - set(tcodes))
            if unknown:
                raise DataError("lookup targets missing from the target table",
                                column=self.target_code, codes=unknown)
            self.targets_ = tcodes.tolist()
        else:
            self.targets_ = sorted(set(w["target"]))
        self.weights_ = self._shares(w.reset_index(drop=True), area=None)
        self.source_coverage_ = pd.Series(1.0, index=sorted(set(w["source"])), name="coverage")
        self.target_coverage_ = pd.Series(np.nan, index=self.targets_, name="coverage")

    def _fit_geometric(self, source: object, target: object, crs: pyproj.CRS) -> None:
        if source is None or target is None:
            raise ConfigError(f"method {self.method!r} needs source and target polygons")
        src = _polygons(source, self.source_code, "source", crs)
        tgt = _polygons(target, self.target_code, "target", crs)
        self.targets_ = tgt["code"].tolist()
        pieces = gpd.overlay(
            src.rename(columns={"code": "source"}),
            tgt.rename(columns={"code": "target"}),
            how="intersection",
            keep_geom_type=True,
        )
        pieces = pieces[~pieces.geometry.is_empty].reset_index(drop=True)
        area = pieces.geometry.area.to_numpy(dtype="float64")
        if self.method == "area":
            weight = area
            s_total = pd.Series(src.geometry.area.to_numpy(), index=src["code"])
            t_total = pd.Series(tgt.geometry.area.to_numpy(), index=tgt["code"])
        else:
            ids = pieces["source"] + "|" + pieces["target"]
            zp = zonal_stats(gpd.GeoDataFrame({"code": ids}, geometry=pieces.geometry, crs=crs),
                             self.weights_raster, "sum")
            weight = zp["value"].fillna(0.0).to_numpy(dtype="float64")
            zs = zonal_stats(src, self.weights_raster, "sum")
            zt = zonal_stats(tgt, self.weights_raster, "sum")
            s_total = pd.Series(zs["value"].fillna(0.0).to_numpy(), index=zs["code"])
            t_total = pd.Series(zt["value"].fillna(0.0).to_numpy(), index=zt["code"])
            for what, z in (("source", zs), ("target", zt)):
                part = z[z["coverage"] < 1 - 1e-6]
                if len(part):
                    self.notes_.append(
                        f"Population raster covers only part of {len(part)} {what} area(s) "
                        f"(population there not counted): {', '.join(part['code'])}."
                    )
        w = pd.DataFrame({"source": pieces["source"], "target": pieces["target"],
                          "weight": weight})
        in_t = w.groupby("source")["weight"].sum().reindex(s_total.index, fill_value=0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            cov = (in_t / s_total).where(s_total > _EPS, np.nan)
        # A source with no population anywhere (or no area) falls back on area for coverage.
        area_in = pd.Series(area, index=pieces.index).groupby(pieces["source"]).sum()
        area_cov = (area_in / src.set_index("code").geometry.area).reindex(s_total.index)
        cov = cov.fillna(area_cov.fillna(0.0)).clip(upper=1.0)
        self.source_coverage_ = cov.rename("coverage")
        low = cov[cov < self.min_coverage]
        if self.min_coverage > 0 and len(low):
            raise DataError(
                f"source areas with less than {self.min_coverage:.0%} of their "
                f"{'area' if self.method == 'area' else 'population'} inside the targets "
                "(their values cannot be apportioned without loss; restrict the source table or "
                "lower min_coverage)",
                column=self.source_code,
                codes=[f"{c} ({v:.1%})" for c, v in low.items()],
            )
        dropped = cov[cov <= _EPS].index.tolist()
        if dropped:
            self.notes_.append(
                f"{len(dropped)} source area(s) lie outside every target and were not "
                f"apportioned (their totals are not in the result): {', '.join(dropped)}."
            )
        partial = cov[(cov > _EPS) & (cov < 1 - 1e-4)]
        if len(partial):
            self.notes_.append(
                f"{len(partial)} source area(s) lie partly outside the targets; their whole value "
                "was split among the targets they overlap: "
                + ", ".join(f"{c} ({v:.2%})" for c, v in partial.items()) + "."
            )
        in_tt = w.groupby("target")["weight"].sum().reindex(t_total.index, fill_value=0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            tcov = (in_tt / t_total).where(t_total > _EPS, np.nan).clip(upper=1.0)
        self.target_coverage_ = tcov.rename("coverage")
        w = w[~w["source"].isin(dropped)].reset_index(drop=True)
        self.weights_ = self._shares(w, area=pd.Series(area, index=pieces.index)[
            ~pieces["source"].isin(dropped)].to_numpy())

    def _shares(self, w: pd.DataFrame, area: np.ndarray | None) -> pd.DataFrame:
        """Add ``share``: each piece's part of its source (area fall-back for empty sources)."""
        tot = w.groupby("source")["weight"].transform("sum").to_numpy()
        share = np.divide(w["weight"].to_numpy(), tot, out=np.full(len(w), np.nan),
                          where=tot > _EPS)
        empty = ~(tot > _EPS)
        if empty.any():
            if area is None:
                raise DataError("lookup sources whose weights are all zero",
                                column="weight", codes=sorted(set(w.loc[empty, "source"])))
            atot = pd.Series(area).groupby(w["source"].to_numpy()).transform("sum").to_numpy()
            share[empty] = np.divide(area[empty], atot[empty], out=np.zeros(empty.sum()),
                                     where=atot[empty] > 0)
            names = sorted(set(w.loc[empty, "source"]))
            self.notes_.append(
                f"{len(names)} source area(s) hold no population in the raster; their extensive "
                f"values were split by area: {', '.join(names)}."
            )
        out = w.copy()
        out["share"] = share
        return out

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
        codes = _codes(values, self.source_code, "source values")
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
                res = (agg["c"] / agg["d"]).where(agg["d"] > _EPS)
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
    codes = _codes(values, code_column, "district values")
    missing = sorted(set(NORTHAMPTONSHIRE_2021) - set(codes))
    if missing:
        raise DataError("Northamptonshire districts missing from the values table",
                        column=code_column, codes=missing)
    rows = values[codes.isin(set(NORTHAMPTONSHIRE_2021)).to_numpy()]
    target = pd.DataFrame({"code": [NORTH_NORTHAMPTONSHIRE, WEST_NORTHAMPTONSHIRE]})
    ap = Apportioner("lookup", lookup=northamptonshire_lookup(population),
                     source_code=code_column).fit(rows, target)
    return ap.transform(rows, columns, extensive)
