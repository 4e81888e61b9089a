"""The amendment file: YAML read safely, validated, its changes matched to registered kinds.

An amendment names its parent by the parent's run hash (``run_hash`` in the parent's
``manifest.json``; at least 12 hex characters), has a ``name`` and a ``reason``, says which
years it may change (``effective:`` a date, or ``years:`` a list), optionally ``unlock:``s
years already paid, and lists one or more ``changes:``, each with a registered ``kind:``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .._model import StrictModel, validate_model
from ..errors import ConfigError
from .base import KINDS, Kind, in_words

_HEX = re.compile(r"^[0-9a-f]{12,64}$")
_YEAR = re.compile(r"^(\d{4})-(\d{2})$")


class AmendmentFile(StrictModel):
    """Top-level keys of an amendment file.

    Attributes
    ----------
    parent : str
        Run hash of the version amended (``run_hash`` in its manifest), at least 12 hex
        characters (the full 64 are safest).
    name : str
        Short name shown by ``allocator history``.
    reason : str
        Why (recorded on every ledger row unless a change gives its own).
    effective : date, optional
        The date the amendment takes effect: years that ended before it (a year ``2022-23``
        ends on 31 March 2023) are locked.
    years : list of str, optional
        Instead of ``effective``: exactly the years the amendment may change.
    unlock : list of str
        Locked years the amendment may change all the same (on purpose, e.g. a late
        correction of a paid year).
    changes : list of mapping
        One or more changes, each ``kind: <registered kind>`` with that kind's keys.
    """

    parent: str
    name: str = Field(max_length=80)
    reason: str
    effective: dt.date | None = None
    years: list[str] | None = None
    unlock: list[str] = []
    changes: list[dict[str, Any]] = Field(min_length=1)

    @field_validator("name", "reason")
    @classmethod
    def _words(cls, v: str, info: ValidationInfo) -> str:
        return in_words(v, str(info.field_name))

    @field_validator("parent")
    @classmethod
    def _hash(cls, v: str) -> str:
        v = str(v).strip().lower()
        if not _HEX.match(v):
            raise ValueError("must be the parent run's hash ('run_hash' in its manifest.json), "
                             "12 to 64 hex characters")
        return v

    @field_validator("effective", mode="before")
    @classmethod
    def _a_date(cls, v: Any) -> Any:
        # a bare number would be read as seconds since 1970 (0 -> 1970-01-01: nothing locked)
        if isinstance(v, int | float):
            raise ValueError("must be a date like 2023-04-01, not a number")
        return v

    @model_validator(mode="after")
    def _when(self) -> AmendmentFile:
        if (self.effective is None) == (self.years is None):
            raise ValueError("give exactly one of 'effective' (a date: years that ended before "
                             "it are locked) or 'years' (the years this amendment may change)")
        return self


def year_end(year: str) -> dt.date:
    """Last day of a financial year label (``"2022-23"`` -> 31 March 2023)."""
    m = _YEAR.match(year)
    if m is None:
        raise ValueError(f"year must be a label like '2022-23', got {year!r}")
    return dt.date(int(m.group(1)) + 1, 3, 31)


def year_start(year: str) -> dt.date:
    """First day of a financial year label (``"2022-23"`` -> 1 April 2022)."""
    return dt.date(year_end(year).year - 1, 4, 1)


@dataclass
class Amendment:
    """A validated amendment: its keys, its changes as :class:`Kind` objects, its source."""

    doc: AmendmentFile
    kinds: list[Kind]
    source: str
    raw: dict[str, Any]

    def open_years(self, years: list[str]) -> list[str]:
        """The run's years this amendment may change, in order.

        Raises
        ------
        ConfigError
            ``years`` or ``unlock`` name a year the run does not have.
        """
        for key in ("years", "unlock"):
            for i, y in enumerate(getattr(self.doc, key) or []):
                if y not in years:
                    raise ConfigError(f"{self.source}: '{key}[{i}]': no year {y!r} in this run; "
                                      f"years are {', '.join(years)}")
        if self.doc.years is not None:
            allowed = set(self.doc.years)
        else:
            allowed = {y for y in years if year_end(y) >= self.doc.effective}  # type: ignore[operator]
        allowed |= set(self.doc.unlock)
        return [y for y in years if y in allowed]


def load_kinds() -> dict[str, type[Kind]]:
    """Import every kind module (each registers itself) and return the registry."""
    import importlib

    from . import KIND_MODULES

    for mod in KIND_MODULES:
        importlib.import_module(f"{__package__}.{mod}")
    return KINDS


def parse_amendment(raw: dict[str, Any], source: str) -> Amendment:
    """Validate a raw amendment mapping; every problem is a ConfigError naming file and key."""
    doc = validate_model(AmendmentFile, raw, source=source, what="amendment file")
    kinds = load_kinds()
    out: list[Kind] = []
    for i, change in enumerate(doc.changes):
        key = f"changes[{i}]"
        if not isinstance(change, dict):
            raise ConfigError(f"{source}: '{key}': a change must be a mapping with a 'kind'")
        name = change.get("kind")
        if name not in kinds:
            raise ConfigError(f"{source}: '{key}.kind': unknown amendment kind {name!r}; kinds "
                              f"are {', '.join(sorted(kinds))}")
        cls = kinds[name]
        out.append(cls(validate_model(cls.schema, change, source=source, section=key,
                                      what="amendment file"), key))
    return Amendment(doc=doc, kinds=out, source=source, raw=raw)


def read_amendment(path: str | Path) -> Amendment:
    """Read and validate an amendment file (safe YAML, duplicate keys are errors)."""
    from ..config import read_yaml

    raw = read_yaml(path, "amendment")
    return parse_amendment(raw, str(path))


__all__ = ["Amendment", "AmendmentFile", "parse_amendment", "read_amendment", "year_end",
           "year_start"]
