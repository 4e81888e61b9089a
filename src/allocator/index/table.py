"""The index table: one row per LA with indicators, score, rank, wave and uncertainty."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .need_index import NeedIndex


# The table is assembled from results fitted downstream (allocator.waves, allocator.montecarlo);
# it needs only their fitted attributes, so it names them structurally instead of importing
# those modules (data flows one way: index -> waves -> Monte Carlo).
class FittedWaves(Protocol):
    """What :func:`index_table` reads from a fitted :class:`allocator.waves.Waves`."""

    wave_: pd.Series
    rank_: pd.Series
    label_: pd.Series
    table_: pd.DataFrame


class FittedUncertainty(Protocol):
    """What :func:`index_table` reads from a fitted :class:`allocator.montecarlo.RankUncertainty`."""

    results_: pd.DataFrame


UNCERTAINTY_COLUMNS = [
    "rank_median",
    "rank_p05",
    "rank_p95",
    "p_wave_1",
    "p_wave_le_2",
    "borderline",
]


def index_table(
    frame: pd.DataFrame | None,
    index: NeedIndex,
    waves: FittedWaves | None = None,
    uncertainty: FittedUncertainty | None = None,
) -> pd.DataFrame:
    """Assemble the index table, sorted by rank, with a fixed column order.

    Columns: ``code, name, region``, then for each indicator used (config order)
    ``<ind>_raw, <ind>_norm, <ind>_contrib, <ind>_flag``, then ``score, need_factor, rank, wave,
    wave_label, rank_median, rank_p05, rank_p95, p_wave_1, p_wave_le_2, borderline, override``.
    ``<ind>_raw`` is the value used (after any imputation); ``<ind>_flag`` the data layer's flag
    and any imputation. Without ``waves`` the wave columns are empty; without ``uncertainty``
    the uncertainty columns are empty (NaN / <NA>).

    Parameters
    ----------
    frame : DataFrame or None
        The areas table the index was fitted on (``None``: use ``index.areas_``). Only used to
        check that it is the same set of LAs.
    index : NeedIndex
        Fitted index.
    waves : Waves, optional
        Fitted on ``index``.
    uncertainty : RankUncertainty, optional
        Fitted on the same table.

    Raises
    ------
    ConfigError
        If the pieces were fitted on different sets of LAs.
    """
    if not hasattr(index, "score_"):
        raise ConfigError("index_table needs a fitted NeedIndex")
    areas = index.areas_
    codes = areas["code"].to_numpy()
    if frame is not None and set(map(str, frame["code"])) != set(codes):
        raise ConfigError("index_table: the frame's LAs differ from those the index was fitted on")
    out = pd.DataFrame({"code": codes})
    for col in ("name", "region"):
        out[col] = areas[col].to_numpy() if col in areas.columns else pd.NA
    for spec in index.indicators_:
        n = spec.name
        out[f"{n}_raw"] = index.raw_[n].to_numpy()
        out[f"{n}_norm"] = index.normalised_[n].to_numpy()
        out[f"{n}_contrib"] = index.contributions_[n].to_numpy()
        out[f"{n}_flag"] = index.flags_[n].to_numpy()
    out["score"] = index.score_.to_numpy()
    out["need_factor"] = index.need_factor_.to_numpy()
    out["rank"] = index.rank_.to_numpy()
    if waves is not None:
        _same(waves.wave_.index, codes, "waves")
        if not np.array_equal(waves.rank_.to_numpy(), index.rank_.to_numpy()):
            raise ConfigError(
                "index_table: the waves were cut from a different ranking than the index's "
                "(different scores or tie-break)"
            )
        out["wave"] = waves.wave_.to_numpy()
        out["wave_label"] = waves.label_.to_numpy()
        override = waves.table_.set_index("code")["override"].reindex(codes).to_numpy()
    else:
        out["wave"] = pd.array([pd.NA] * len(out), dtype="Int64")
        out["wave_label"] = pd.NA
        override = np.full(len(out), "", dtype=object)
    if uncertainty is not None:
        res = uncertainty.results_
        _same(res.index, codes, "uncertainty")
        for col in UNCERTAINTY_COLUMNS:
            out[col] = res[col].to_numpy()
    else:
        for col in UNCERTAINTY_COLUMNS[:3]:
            out[col] = pd.array([pd.NA] * len(out), dtype="Int64")
        out["p_wave_1"] = np.nan
        out["p_wave_le_2"] = np.nan
        out["borderline"] = pd.array([pd.NA] * len(out), dtype="boolean")
    out["override"] = override
    return out.sort_values("rank", kind="stable").reset_index(drop=True)


def _same(index: pd.Index, codes: np.ndarray, what: str) -> None:
    if not np.array_equal(index.to_numpy().astype(str), codes.astype(str)):
        raise ConfigError(f"index_table: the {what} were fitted on different LAs than the index")
