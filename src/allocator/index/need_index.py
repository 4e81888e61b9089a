"""The need index: raw indicators -> transform -> orient -> normalise -> weight -> aggregate.

:class:`NeedIndex` is the deterministic index; :func:`score_indicators` is the array core it
shares with the Monte Carlo in :mod:`allocator.montecarlo`, so a draw with no noise, the
configured weights and the configured methods reproduces the published score exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..errors import ConfigError, DataError
from .aggregate import aggregate
from .config import IndexConfig, IndicatorSpec
from .normalise import normalise, transform
from .ranking import DEFAULT_TIE_BREAK, TieBreakKey, rank_scores, tie_break_position
from .weighting import resolve_weights

FloatArray = NDArray[np.float64]


def flag_column(indicator: str) -> str:
    """Column of the areas table carrying the data layer's flag for an indicator.

    ``drug_deaths_rate -> drug_deaths_flag``, ``imd_score -> imd_flag``, ``crime_score ->
    crime_flag``, ``ocu_rate -> ocu_flag``.
    """
    return indicator.rsplit("_", 1)[0] + "_flag"


def orient_and_transform(raw: FloatArray, specs: Sequence[IndicatorSpec]) -> FloatArray:
    """Transform each indicator (axis -2) and negate ``higher_is_better`` ones.

    ``raw`` has indicators on axis -2 and LAs on the last axis; leading axes broadcast.
    """
    out = np.empty(raw.shape, dtype=float)
    for k, spec in enumerate(specs):
        v = transform(raw[..., k, :], spec.transform)
        out[..., k, :] = -v if spec.direction == "higher_is_better" else v
    return out


@dataclass(frozen=True)
class Scored:
    """Result of :func:`score_indicators` (arrays; indicators on axis -2, LAs last)."""

    normalised: FloatArray
    score: FloatArray
    contributions: FloatArray


def score_indicators(
    oriented: FloatArray, normaliser: str, weights: FloatArray, aggregator: str
) -> Scored:
    """Normalise oriented indicators, then aggregate them with weights summing to 1.

    Parameters
    ----------
    oriented : ndarray, shape (..., K, L)
        Output of :func:`orient_and_transform`.
    normaliser : str
        See :mod:`allocator.index.normalise`.
    weights : ndarray, shape (..., K)
        Non-negative, summing to 1 along the last axis.
    aggregator : str
        See :mod:`allocator.index.aggregate`.
    """
    norm = normalise(oriented, normaliser)
    score, contrib = aggregate(norm, weights, aggregator)
    return Scored(norm, score, contrib)


def need_factor(score: FloatArray, low: float, high: float) -> FloatArray:
    """Linear rescale of ``score`` onto ``[low, high]`` (midpoint when every score is equal)."""
    score = np.asarray(score, dtype=float)
    lo, hi = score.min(), score.max()
    if hi > lo:
        return low + (high - low) * (score - lo) / (hi - lo)
    return np.full(score.shape, (low + high) / 2.0)


def canonical_areas(frame: pd.DataFrame) -> pd.DataFrame:
    """Check identity columns and return ``frame`` sorted by ``code`` with a fresh index.

    Every estimator in this package works on this order, so results do not depend on the row
    order of the input.
    """
    if "code" not in frame.columns:
        raise DataError("the areas table has no 'code' column", column="code")
    codes = frame["code"]
    if codes.isna().any():
        raise DataError("missing ONS code", column="code", codes=frame.index[codes.isna()])
    dup = codes[codes.duplicated(keep=False)]
    if len(dup):
        raise DataError("duplicated ONS code", column="code", codes=sorted(set(dup.astype(str))))
    out = pd.DataFrame(frame).copy()
    out["code"] = out["code"].astype(str)
    return out.sort_values("code", kind="stable").reset_index(drop=True)


def _impute(
    values: FloatArray, spec: IndicatorSpec, areas: pd.DataFrame
) -> tuple[FloatArray, list[str]]:
    """Fill missing values of one indicator per its ``missing`` rule; return values and flags."""
    flags = [""] * len(values)
    miss = np.isnan(values)
    if not miss.any():
        return values, flags
    codes = areas["code"].to_numpy()
    if spec.missing == "error":
        raise DataError(
            f"indicator {spec.name!r} has missing values and its 'missing' rule is 'error' "
            "(set missing: regional_median or national_median to impute, flagged)",
            column=spec.column,
            codes=codes[miss],
        )
    out = values.copy()
    national = float(np.median(values[~miss]))
    if spec.missing == "regional_median":
        if "region" not in areas.columns:
            raise DataError("regional_median imputation needs a 'region' column", column="region")
        regions = areas["region"].astype(str).to_numpy()
        for i in np.flatnonzero(miss):
            peers = (regions == regions[i]) & ~miss
            if peers.any():
                out[i] = float(np.median(values[peers]))
                flags[i] = (
                    f"{spec.name} imputed: median of {int(peers.sum())} other LAs in {regions[i]}"
                )
            else:
                out[i] = national
                flags[i] = (
                    f"{spec.name} imputed: national median (no other LA in {regions[i]} has a value)"
                )
    else:
        for i in np.flatnonzero(miss):
            out[i] = national
            flags[i] = f"{spec.name} imputed: national median of {int((~miss).sum())} LAs"
    return out, flags


class NeedIndex:
    """Composite need index of English upper-tier local authorities.

    Parameters
    ----------
    config : IndexConfig, optional
        Indicators and methods; defaults to :class:`IndexConfig` ().
    tie_break : sequence of TieBreakKey
        Tie-break keys for ``rank_`` (default: higher drug death rate, then ONS code), the same
        rule the waves use.

    Attributes
    ----------
    indicators_ : list of IndicatorSpec
        Indicators actually used (optional ones absent from the data are left out).
    raw_ : DataFrame
        Values used per LA (index ``code``), after imputation, before any transform.
    normalised_ : DataFrame
        Normalised values, oriented so higher = more need.
    weights_ : DataFrame
        Per indicator: ``direction``, ``nominal`` (configured), ``weight`` (used, sums to 1),
        ``loading`` (first-PC loading, ``pca`` only), ``effective`` (squared correlation of the
        normalised indicator with the score, rescaled to sum to 1: how much each actually drives
        the ranking).
    contributions_ : DataFrame
        Per LA per indicator; rows sum to ``score_`` (see :mod:`allocator.index.aggregate` for
        the geometric case).
    score_, rank_, need_factor_ : Series
        Indexed by ``code``. ``rank_`` 1 = highest need.
    flags_ : DataFrame
        Per LA per indicator: the data layer's flag and any imputation, ``""`` when clean.
    notes_ : list of str
        Statements every output must repeat (indicators left out, imputations, PCA variance).
    areas_ : DataFrame
        The input sorted by code (the order of every array attribute).
    tie_break_position_ : ndarray
        Position of each LA (in ``areas_`` order) in the tie-break order.
    """

    def __init__(
        self,
        config: IndexConfig | None = None,
        tie_break: Sequence[TieBreakKey] = DEFAULT_TIE_BREAK,
    ) -> None:
        self.config = config
        self.tie_break = tie_break

    # ------------------------------------------------------------------ helpers used by others
    def _resolve_indicators(self, areas: pd.DataFrame) -> tuple[list[IndicatorSpec], list[str]]:
        cfg = self.config or IndexConfig()
        used, notes = [], []
        for spec in cfg.indicators:
            absent = spec.column not in areas.columns or areas[spec.column].isna().all()
            if absent:
                if spec.required:
                    raise DataError(
                        f"required indicator {spec.name!r} is not in the areas table "
                        "(mark it required: false to build the index without it)",
                        column=spec.column,
                    )
                notes.append(
                    f"need index built without {spec.name} ({INDICATOR_LABELS.get(spec.name, spec.name)}): "
                    "not supplied"
                )
                continue
            used.append(spec)
        if not used:
            raise DataError("no indicator of the need index is present in the areas table")
        if cfg.weighting == "explicit" and sum(s.weight for s in used) <= 0:
            raise ConfigError(
                "the weights of the indicators present sum to zero: "
                + ", ".join(f"{s.name}={s.weight}" for s in used)
            )
        return used, notes

    def _raw_matrix(
        self, areas: pd.DataFrame, specs: Sequence[IndicatorSpec]
    ) -> tuple[FloatArray, FloatArray, pd.DataFrame, list[str]]:
        """Raw values (K, L) with imputation, the missing mask, flags and notes."""
        rows, masks, flags, notes = [], [], {}, []
        codes = areas["code"].to_numpy()
        for spec in specs:
            col = areas[spec.column]
            try:
                v = pd.to_numeric(col, errors="raise").to_numpy(dtype=float, na_value=np.nan)
            except (ValueError, TypeError):
                bad = pd.to_numeric(col, errors="coerce").isna() & col.notna()
                raise DataError(
                    "non-numeric value", column=spec.column, codes=codes[bad.to_numpy()]
                ) from None
            inf = np.isinf(v)
            if inf.any():
                raise DataError("infinite value", column=spec.column, codes=codes[inf])
            miss = np.isnan(v)
            v, imp = _impute(v, spec, areas)
            if miss.any():
                notes.append(
                    f"{spec.name}: {int(miss.sum())} LA(s) imputed by {spec.missing.replace('_', ' ')} "
                    f"({', '.join(codes[miss])})"
                )
            if spec.transform == "log" and np.any(v <= 0):
                raise DataError(
                    f"indicator {spec.name!r} uses transform 'log' but has values <= 0",
                    column=spec.column,
                    codes=codes[v <= 0],
                )
            src = flag_column(spec.name)
            base = (
                areas[src].fillna("").astype(str).to_numpy()
                if src in areas.columns
                else np.full(len(areas), "")
            )
            # the data layer's flag and the imputation's, joined by "; " when both are present
            base = base.astype(object)
            extra = np.asarray(imp, dtype=object)
            has = extra != ""
            if has.any():
                both = np.where(base != "", base + "; " + extra, extra)
                base = np.where(has, both, base)
            flags[spec.name] = base.tolist()
            rows.append(v)
            masks.append(miss)
        flag_frame = pd.DataFrame(flags, index=pd.Index(codes, name="code"))
        return np.vstack(rows), np.vstack(masks), flag_frame, notes

    # ------------------------------------------------------------------ estimator API
    def fit(self, frame: pd.DataFrame) -> NeedIndex:
        """Build the index from an areas table (one row per LA).

        Raises
        ------
        DataError
            Missing code/indicator columns, duplicated codes, non-numeric or missing values
            (when the indicator's rule is ``error``), non-positive values under ``log``.
        ConfigError
            Weights of the indicators present sum to zero.
        """
        cfg = self.config or IndexConfig()
        areas = canonical_areas(frame)
        specs, notes = self._resolve_indicators(areas)
        raw, missing, flags, more_notes = self._raw_matrix(areas, specs)
        notes += more_notes
        oriented = orient_and_transform(raw, specs)
        nominal = np.array([s.weight for s in specs], dtype=float)
        norm = normalise(oriented, cfg.normalise)
        w = resolve_weights(nominal, cfg.weighting, norm)
        scored = score_indicators(oriented, cfg.normalise, w.weights, cfg.aggregate)
        score = scored.score
        if cfg.weighting == "pca" and w.explained_variance is not None:
            notes.append(
                f"PCA weights: first principal component explains {w.explained_variance:.1%} of "
                "the variance of the normalised indicators"
            )

        codes = pd.Index(areas["code"], name="code")
        names = [s.name for s in specs]
        self.indicators_ = list(specs)
        self.areas_ = areas
        self.missing_ = pd.DataFrame(missing.T, index=codes, columns=names)
        self.raw_ = pd.DataFrame(raw.T, index=codes, columns=names)
        self.normalised_ = pd.DataFrame(scored.normalised.T, index=codes, columns=names)
        self.contributions_ = pd.DataFrame(scored.contributions.T, index=codes, columns=names)
        self.score_ = pd.Series(score, index=codes, name="score")
        self.tie_break_position_ = tie_break_position(areas, self.tie_break)
        self.rank_ = pd.Series(
            rank_scores(score, self.tie_break_position_), index=codes, name="rank"
        )
        nf = cfg.need_factor
        self.need_factor_ = pd.Series(
            need_factor(score, nf.low, nf.high), index=codes, name="need_factor"
        )
        self.weights_ = pd.DataFrame(
            {
                "direction": [s.direction for s in specs],
                "nominal": nominal,
                "weight": w.weights,
                "loading": w.loadings if w.loadings is not None else np.full(len(specs), np.nan),
                "effective": _effective_weights(scored.normalised, score),
            },
            index=pd.Index(names, name="indicator"),
        )
        self.flags_ = flags
        self.notes_ = notes
        return self


INDICATOR_LABELS = {
    "drug_deaths_rate": "drug-misuse death rate",
    "imd_score": "IMD 2019 average score",
    "income_score": "IoD 2019 Income domain score",
    "employment_score": "IoD 2019 Employment domain score",
    "crime_score": "crime indicator",
    "ocu_rate": "opiate and crack cocaine use prevalence",
}


def _effective_weights(norm: FloatArray, score: FloatArray) -> FloatArray:
    """Squared Pearson correlation of each indicator with the score, rescaled to sum to 1."""
    out = np.zeros(norm.shape[0])
    if score.std() == 0:
        return np.full(norm.shape[0], np.nan)
    for k in range(norm.shape[0]):
        if norm[k].std() > 0:
            out[k] = np.corrcoef(norm[k], score)[0, 1] ** 2
    total = out.sum()
    return out / total if total > 0 else np.full(norm.shape[0], np.nan)
