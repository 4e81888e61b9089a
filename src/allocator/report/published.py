"""The allocation in the layout the department publishes it: ``allocation_published.csv``.

DHSC publishes the grant as one table a year with one row per local authority::

    Local authority name | drug strategy allocation (£) | inpatient detoxification allocation (£)

with the first-wave LAs' names followed by " (enhanced funding area)". Which of the engine's
streams make up each column is declared in the config (``output.published``), never guessed, and
every stream must be in exactly one column, so the published table adds up to the allocation.

Two LAs share one published row in reality: the Isles of Scilly have no separate row, their money
is in "Cornwall and Isles of Scilly" (``merge``). The engine allocates to the 152 upper-tier LAs
separately and only merges rows for this table when the config asks.

Columns of the file, in order: ``Financial year``, the three published columns, then
``Local authority code`` (the ONS code, or the codes of a merged row joined by ``;``). One row per
LA (or merged row) per year, years in config order, names in alphabetical order within a year.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator

from .._model import Sourced, StrictModel
from ..columns import money_column

if TYPE_CHECKING:
    import pandas as pd

YEAR = "Financial year"
NAME = "Local authority name"
DRUG_STRATEGY = "drug strategy allocation (£)"
INPATIENT = "inpatient detoxification allocation (£)"
CODE = "Local authority code"
ENHANCED_SUFFIX = " (enhanced funding area)"


class MergedRow(StrictModel):
    """LAs the department publishes as one row.

    Attributes
    ----------
    name : str
        The published name, e.g. ``"Cornwall and Isles of Scilly"``.
    codes : list of str
        Two or more ONS codes whose money the row adds up.
    """

    name: str = Field(min_length=1)
    codes: list[str] = Field(min_length=2)
    source: str | None = None

    @field_validator("codes")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"codes repeat: {v}")
        return v


class PublishedTableConfig(Sourced):
    """How the engine's streams map onto the department's published columns.

    Attributes
    ----------
    drug_strategy : list of str
        Streams summed into "drug strategy allocation (£)".
    inpatient_detoxification : list of str
        Streams summed into "inpatient detoxification allocation (£)"; the column is left out
        when empty.
    enhanced_waves : list of int
        Waves whose LAs' names get ``enhanced_suffix`` (the department marks the first wave).
    enhanced_suffix : str
    merge : list of MergedRow
        LAs published as one row (e.g. Cornwall and the Isles of Scilly).
    """

    drug_strategy: list[str] = Field(min_length=1)
    inpatient_detoxification: list[str] = []
    enhanced_waves: list[int] = [1]
    enhanced_suffix: str = ENHANCED_SUFFIX
    merge: list[MergedRow] = []

    @model_validator(mode="after")
    def _disjoint(self) -> PublishedTableConfig:
        both = sorted(set(self.drug_strategy) & set(self.inpatient_detoxification))
        if both:
            raise ValueError(f"streams {both} are in both published columns; each belongs to one")
        seen: set[str] = set()
        for row in self.merge:
            again = sorted(seen & set(row.codes))
            if again:
                raise ValueError(f"codes {again} are in more than one merged row")
            seen |= set(row.codes)
        return self

    def check_streams(self, streams: Sequence[str]) -> None:
        """Raise ``ValueError`` unless every stream is in exactly one column and none is unknown."""
        listed = [*self.drug_strategy, *self.inpatient_detoxification]
        unknown = sorted(set(listed) - set(streams))
        if unknown:
            raise ValueError(f"output.published names unknown streams {unknown}; streams are "
                             f"{list(streams)}")
        missing = [s for s in streams if s not in listed]
        if missing:
            raise ValueError(
                f"output.published puts streams {missing} in no column; declare each stream under "
                "drug_strategy or inpatient_detoxification so the table adds up to the allocation"
            )


def check_codes(config: PublishedTableConfig, codes: Sequence[str]) -> None:
    """Raise ``ValueError`` naming any merged-row code that is not one of ``codes``."""
    known = set(codes)
    for row in config.merge:
        unknown = sorted(set(row.codes) - known)
        if unknown:
            raise ValueError(f"output.published.merge '{row.name}' names codes {unknown} that are "
                             "not in the areas table")


def published_table(allocation: pd.DataFrame, config: PublishedTableConfig,
                    years: Sequence[str]) -> pd.DataFrame:
    """Build the published layout from the allocation table.

    Parameters
    ----------
    allocation : DataFrame
        ``code, name, wave`` and ``<stream>_<year>`` whole-pound columns.
    config : PublishedTableConfig
    years : sequence of str
        Year labels (``"2022-23"``) in order.

    Returns
    -------
    DataFrame
        One row per LA (or merged row) per year; money as int64 whole pounds.

    Raises
    ------
    ValueError
        When ``config.merge`` names a code that is not in ``allocation``.
    """
    import numpy as np
    import pandas as pd

    frame = allocation[["code", "name", "wave"]].copy()
    frame["code"] = frame["code"].astype(str)
    known = set(frame["code"])
    group = dict(zip(frame["code"], frame["code"], strict=True))
    names = dict(zip(frame["code"], frame["name"].astype(str), strict=True))
    enhanced = dict(zip(frame["code"], frame["wave"].isin(config.enhanced_waves), strict=True))
    check_codes(config, sorted(known))
    for row in config.merge:
        key = ";".join(row.codes)
        for code in row.codes:
            group[code] = key
        names[key] = row.name
        enhanced[key] = any(enhanced[c] for c in row.codes)
    frame["row"] = frame["code"].map(group)
    parts = []
    for year in years:
        part = pd.DataFrame({"row": frame["row"]})
        columns = [(DRUG_STRATEGY, config.drug_strategy)]
        if config.inpatient_detoxification:
            columns.append((INPATIENT, config.inpatient_detoxification))
        for label, streams in columns:
            cols = [money_column(s, year) for s in streams if money_column(s, year) in allocation.columns]
            part[label] = (allocation[cols].sum(axis=1).to_numpy(np.int64) if cols
                           else np.zeros(len(part), dtype=np.int64))
        summed = part.groupby("row", sort=False).sum()
        out = pd.DataFrame({
            YEAR: year,
            NAME: [names[r] + (config.enhanced_suffix if enhanced[r] else "") for r in summed.index],
        })
        for label, _ in columns:
            out[label] = summed[label].to_numpy(np.int64)
        out[CODE] = list(summed.index)
        order = sorted(range(len(out)), key=lambda i: (names[summed.index[i]].casefold(),
                                                       summed.index[i]))
        parts.append(out.iloc[order])
    return pd.concat(parts, ignore_index=True)


def money_labels(config: PublishedTableConfig) -> list[str]:
    """The whole-pound columns of the published table."""
    return [DRUG_STRATEGY, *([INPATIENT] if config.inpatient_detoxification else [])]
