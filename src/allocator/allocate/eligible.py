"""Eligibility pieces: who may receive a stream in a year, composed from small parts.

A stream's ``eligible:`` is one of

* a kind: ``all`` (every LA every year), ``wave_started`` (an LA of wave ``k`` from year ``k`` on),
  ``wave_not_started`` (an LA of wave ``k`` only before year ``k``: money for areas awaiting
  roll-out);
* an explicit list, ``{codes: [E06000001, ...]}``, or a file, ``{file: consortium.csv}`` (a CSV with
  a ``code`` column, relative to the data directory), e.g. the LAs of a regional consortium that
  commissions inpatient detoxification;
* a combination: ``{all_of: [wave_started, {codes: [...]}]}`` (every piece holds) or
  ``{any_of: [...]}`` (at least one holds).

:func:`eligible_mask` evaluates a piece for one year. A code that is not one of the areas is an
error naming the stream, the piece and the codes: a typing mistake must never silently leave an
LA out of the money.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal, Union

from pydantic import Field, model_validator

from .._model import StrictModel

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

EligibleKind = Literal["all", "wave_started", "wave_not_started"]


class EligibleCodes(StrictModel):
    """An explicit set of LAs: a list of ONS codes or a CSV file with a ``code`` column.

    Attributes
    ----------
    codes : list of str, optional
    file : path, optional
        Relative paths are read from the data directory.
    source : str, optional
        Where the list comes from.
    """

    codes: list[str] | None = Field(default=None, min_length=1)
    file: Path | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _one(self) -> EligibleCodes:
        if (self.codes is None) == (self.file is None):
            raise ValueError("give either 'codes' (a list of ONS codes) or 'file' (a CSV with a "
                             "'code' column), not both and not neither")
        return self


class EligibleAllOf(StrictModel):
    """LAs that every piece admits."""

    all_of: list[EligibleSpec] = Field(min_length=1)


class EligibleAnyOf(StrictModel):
    """LAs that at least one piece admits."""

    any_of: list[EligibleSpec] = Field(min_length=1)


EligibleSpec = Union[EligibleKind, EligibleCodes, EligibleAllOf, EligibleAnyOf]  # noqa: UP007
EligibleAllOf.model_rebuild()
EligibleAnyOf.model_rebuild()


def describe(spec: EligibleSpec) -> str:
    """The piece in words, as a config would write it (for messages)."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, EligibleCodes):
        return (f"the file {spec.file}" if spec.file is not None
                else f"{len(spec.codes or [])} listed LA code(s)")
    if isinstance(spec, EligibleAllOf):
        return "all of (" + "; ".join(describe(p) for p in spec.all_of) + ")"
    return "any of (" + "; ".join(describe(p) for p in spec.any_of) + ")"


def file_paths(spec: EligibleSpec) -> list[Path]:
    """Every file a piece reads (for the manifest's input hashes)."""
    if isinstance(spec, EligibleCodes):
        return [spec.file] if spec.file is not None else []
    if isinstance(spec, EligibleAllOf | EligibleAnyOf):
        parts = spec.all_of if isinstance(spec, EligibleAllOf) else spec.any_of
        return [p for part in parts for p in file_paths(part)]
    return []


def _read_codes(path: Path) -> list[str]:
    import pandas as pd

    from ..errors import DataError

    if not path.is_file():
        raise DataError("eligibility file not found", file=path)
    try:
        frame = pd.read_csv(path, dtype=str)
    except (pd.errors.EmptyDataError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"eligibility file cannot be read as CSV ({exc})", file=path) from None
    if "code" not in frame.columns:
        raise DataError("eligibility file needs a 'code' column", file=path, column="code")
    codes = frame["code"].dropna().str.strip()
    if codes.empty:
        raise DataError("eligibility file lists no codes", file=path, column="code")
    return codes.tolist()


def eligible_mask(spec: EligibleSpec, areas: pd.DataFrame, year: int, *, stream: str,
                  base_dir: Path | None = None) -> np.ndarray:
    """Which areas ``spec`` admits in year ``year`` (0-based).

    Parameters
    ----------
    spec : EligibleSpec
    areas : DataFrame
        ``code`` and ``wave`` (1-based) per area.
    year : int
        Index of the year; wave ``k`` starts in year ``k - 1`` (0-based).
    stream : str
        The stream's name, for messages.
    base_dir : path, optional
        Folder relative eligibility files are read from.

    Returns
    -------
    ndarray of bool, shape (n_areas,)

    Raises
    ------
    ConfigError
        A listed code that is not one of the areas.
    DataError
        An eligibility file that is missing, unreadable, has no ``code`` column or unknown codes.
    """
    import numpy as np

    from ..errors import ConfigError, DataError

    if isinstance(spec, str):
        wave = areas["wave"].to_numpy()
        if spec == "all":
            return np.ones(len(areas), dtype=bool)
        if spec == "wave_started":
            return wave <= year + 1
        return wave > year + 1
    if isinstance(spec, EligibleCodes):
        known = areas["code"].astype(str)
        if spec.file is not None:
            path = spec.file if spec.file.is_absolute() or base_dir is None else base_dir / spec.file
            codes = _read_codes(path)
            unknown = sorted(set(codes) - set(known))
            if unknown:
                raise DataError(f"eligibility file for stream '{stream}' names codes that are not "
                                "in the areas table", file=path, column="code", codes=unknown)
        else:
            codes = list(spec.codes or [])
            unknown = sorted(set(codes) - set(known))
            if unknown:
                raise ConfigError(
                    f"'allocation.streams.{stream}.eligible': codes {unknown} are not in the "
                    "areas table (upper-tier LAs, May 2021 codes)")
        return known.isin(codes).to_numpy()
    parts = spec.all_of if isinstance(spec, EligibleAllOf) else spec.any_of
    masks = [eligible_mask(p, areas, year, stream=stream, base_dir=base_dir) for p in parts]
    return np.logical_and.reduce(masks) if isinstance(spec, EligibleAllOf) else np.logical_or.reduce(masks)
