"""One ranking rule for the index, the waves and every Monte Carlo draw.

Rank 1 is the highest need (highest score). Ties in the score are broken by a documented,
deterministic key list, by default the higher ONS drug-misuse death rate first, then the ONS code
in ascending order. The code is always the final key, so no two LAs share a rank. A missing
tie-break value sorts after every present one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .._model import StrictModel
from ..errors import DataError
from .sorting import stable_argsort


class TieBreakKey(StrictModel):
    """One tie-break key: a column of the areas table and its order (``desc``: higher first)."""

    column: str
    order: Literal["desc", "asc"] = "desc"


DEFAULT_TIE_BREAK: tuple[TieBreakKey, ...] = (
    TieBreakKey(column="drug_deaths_rate", order="desc"),
    TieBreakKey(column="code", order="asc"),
)


def tie_break_position(
    frame: pd.DataFrame, keys: Sequence[TieBreakKey] = DEFAULT_TIE_BREAK
) -> NDArray[np.int64]:
    """Position (0 = first) of each row of ``frame`` in the tie-break order.

    Parameters
    ----------
    frame : DataFrame
        Must have ``code`` and every key column.
    keys : sequence of TieBreakKey
        Applied in order; ``code`` ascending is appended when not already last.

    Raises
    ------
    DataError
        If a key column is missing.
    """
    keys = list(keys)
    if not keys or keys[-1].column != "code":
        keys.append(TieBreakKey(column="code", order="asc"))
    sort_keys = []
    for key in keys:
        if key.column not in frame.columns:
            raise DataError("tie-break column is missing from the areas table", column=key.column)
        col = frame[key.column]
        if pd.api.types.is_numeric_dtype(col):
            v = col.to_numpy(dtype=float, na_value=np.nan)
            v = -v if key.order == "desc" else v
            missing = np.isnan(v)
            v = np.where(missing, 0.0, v)
            sort_keys.append((missing.astype(int), v))
        else:
            s = col.astype("string")
            missing = s.isna().to_numpy()
            uniq = np.unique(s.fillna("").to_numpy(dtype=str), return_inverse=True)[1]
            v = -uniq if key.order == "desc" else uniq
            sort_keys.append((missing.astype(int), v))
    # np.lexsort: the LAST key is primary.
    flat = []
    for missing, v in reversed(sort_keys):
        flat.extend([v, missing])
    order = np.lexsort(flat)
    pos = np.empty(len(frame), dtype=np.int64)
    pos[order] = np.arange(len(frame))
    return pos


def rank_scores(scores: NDArray[np.float64], tb_position: NDArray[np.int64]) -> NDArray[np.int64]:
    """Ranks (1 = highest score) along the last axis, ties broken by ``tb_position``.

    Works on one score vector (L,) or on (draws, L) at once with identical results per row.

    The LAs are put in tie-break order and sorted by score with a stable sort
    (:func:`allocator.index.sorting.stable_argsort`: numpy's fast sort of packed keys, with an
    exact re-sort of any row where two scores are equal or nearly so), which keeps tied LAs in
    tie-break order.
    """
    scores = np.asarray(scores, dtype=float)
    n = scores.shape[-1]
    perm = np.argsort(tb_position, kind="stable")
    neg = -scores[..., perm]  # columns in tie-break order, ascending = highest score first
    order = stable_argsort(neg)
    ranks = np.empty(scores.shape, dtype=np.int64)
    np.put_along_axis(
        ranks, perm[order], np.broadcast_to(np.arange(1, n + 1, dtype=np.int64), order.shape), axis=-1
    )
    return ranks
