"""The registry of amendment kinds, what a kind receives (:class:`Context`) and returns
(:class:`Outcome`).

See the package docstring (:mod:`allocator.ledger`) for how a new kind registers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import field_validator

from .._model import StrictModel
from ..errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from ..config import RunConfig

#: Kind name -> class, filled by :func:`register` as the kind modules are imported.
KINDS: dict[str, type[Kind]] = {}


def in_words(text: str, key: str = "reason") -> str:
    """``text`` unchanged; ValueError when it is empty or only spaces (a name or reason is
    recorded in the ledger and the history, where an auditor needs words)."""
    if not text.strip():
        what = "say why in words" if key == "reason" else "say something"
        raise ValueError(f"must {what}: it is empty or only spaces, and it is recorded in the "
                         "ledger for an auditor")
    return text


class ChangeSchema(StrictModel):
    """Keys every change has: its ``kind`` and an optional ``reason`` (default: the
    amendment's; when given, it must say something). A kind's schema subclasses this and adds
    its own keys; unknown keys are errors."""

    kind: str
    reason: str | None = None

    @field_validator("reason")
    @classmethod
    def _words(cls, v: str | None) -> str | None:
        return None if v is None else in_words(v)


class Kind:
    """One kind of change an amendment can make (``kind: <name>`` under ``changes:``).

    Parameters
    ----------
    change : ChangeSchema
        The validated YAML block (an instance of the class's :attr:`schema`).
    key : str
        Where the block sits in the amendment file, e.g. ``"changes[0]"`` (for messages).
    """

    #: The ``kind:`` value this class handles.
    name: ClassVar[str] = ""
    #: Pydantic model of the YAML block.
    schema: ClassVar[type[ChangeSchema]] = ChangeSchema

    def __init__(self, change: ChangeSchema, key: str) -> None:
        self.change = change
        self.key = key

    def check(self, ctx: Context) -> None:
        """Raise :class:`~allocator.errors.ConfigError` (exit 2) if the change cannot be made
        on ``ctx``, in the user's terms (LA names, stream, year, pounds). Default: nothing."""

    def apply(self, ctx: Context) -> Outcome:
        """Return the allocation after this change (called only after :meth:`check`)."""
        raise NotImplementedError(f"amendment kind {self.name!r} has no apply()")

    def reason(self, ctx: Context) -> str:
        """The reason recorded in the ledger for this change's cells."""
        return self.change.reason or ctx.reason


def register(kind: type[Kind]) -> type[Kind]:
    """Register ``kind`` under its :attr:`Kind.name` (usable as a class decorator).

    Raises
    ------
    ValueError
        ``kind`` has no name, or another class has its name.
    """
    if not kind.name:
        raise ValueError("kind: a Kind subclass needs a non-empty 'name'")
    other = KINDS.get(kind.name)
    if other is not None and other is not kind:
        raise ValueError(f"kind: an amendment kind named {kind.name!r} is already registered")
    KINDS[kind.name] = kind
    return kind


@dataclass
class Outcome:
    """What :meth:`Kind.apply` returns.

    Attributes
    ----------
    allocation : DataFrame
        The whole allocation after the change, in the layout of ``allocation.csv`` (``code,
        name, region, wave``, every ``<stream>_<year>`` column in int64 whole pounds; totals
        and per head are recomputed by the framework).
    budget_change : dict
        ``(stream, year) -> pounds`` by which the change moves a stream-year's budget
        (a claw-back to the centre is negative). The framework checks that every stream-year
        sums exactly to its old budget plus this.
    corrections : list of dict
        Input corrections this change puts in force (kept by every later version).
    areas : DataFrame, optional
        The problem areas (need factors, waves) after the change, when it changes them.
    words : list of str
        Plain-English sentences for ``summary.md`` saying what the change did.
    solver : dict
        Solver facts of any re-solve (for the manifest).
    lower : dict
        ``(code, stream, year) -> pounds`` no LA may fall below (``no_fall``); re-checked on
        the final integers.
    reasons : dict
        ``(code, stream, year) -> reason`` for cells whose ledger reason is more specific than
        :meth:`Kind.reason` (e.g. a boundary change's old code -> new code).
    rules_rechecked : bool
        The kind re-checked the run's rules itself (e.g. on other boundaries, where the run's
        own LAs no longer apply); the framework's check on the run's LAs is then skipped.
    caveats, sources : list of str
        Caveats and sources (publisher: title (data years)) every output of the version must
        carry, besides the run's.
    files : callable, optional
        ``files(folder, header)`` writes the kind's own files into the version's folder before
        the manifest hashes it (``header``: the provenance lines of the version's tables). Must
        be deterministic: a replay writes them again and compares the bytes.
    """

    allocation: pd.DataFrame
    budget_change: dict[tuple[str, str], int] = field(default_factory=dict)
    corrections: list[dict[str, Any]] = field(default_factory=list)
    areas: pd.DataFrame | None = None
    words: list[str] = field(default_factory=list)
    solver: dict[str, Any] = field(default_factory=dict)
    lower: dict[tuple[str, str, str], int] = field(default_factory=dict)
    reasons: dict[tuple[str, str, str], str] = field(default_factory=dict)
    rules_rechecked: bool = False
    caveats: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    files: Callable[[Path, list[str]], None] | None = None


@dataclass
class Context:
    """What a kind receives: the version being amended and the amendment's settings.

    Attributes
    ----------
    source : str
        The amendment file (messages start with it).
    reason : str
        The amendment's reason (a change's own ``reason`` overrides it).
    config : RunConfig
        The root run's config (every version of a chain shares it).
    published : DataFrame
        The parent version's allocation (``allocation.csv``), code order: what "published"
        means in the ledger and for ``no_fall``.
    allocation : DataFrame
        The allocation after the earlier changes of this amendment (starts as ``published``).
    open_years : list of str
        Years this amendment may change (not locked).
    effective : date, optional
        The amendment's effective date.
    corrections : list of dict
        Input corrections in force (from the chain and earlier changes).
    problem_areas : callable
        ``problem_areas(corrections, waves)`` -> the areas table the allocation problem takes
        (population, need factor, wave; built from the root config and the data with the
        corrections applied; ``waves`` a code -> wave mapping, or None to recompute them).
    data_dir : Path or None
        The data folder (files the config names, e.g. floor or eligibility files, are read
        from it). ``None`` when the problem areas were given, no data folder was, and the
        config names no file: nothing needs it then (a kind that does, e.g. a re-boundary,
        calls :meth:`data_folder`).
    root_dir : Path, optional
        The folder of the chain's run (version 1), e.g. for its ``index.csv``.
    inputs : dict
        The version's input files (``manifest.json`` ``inputs``: name -> SHA-256).
    files : dict
        SHA-256 -> path of every replacement input file in force (``kind: correct`` adds to
        it; the framework copies them into each later version's ``inputs/``).
    """

    source: str
    reason: str
    config: RunConfig
    published: pd.DataFrame
    allocation: pd.DataFrame
    open_years: list[str]
    effective: dt.date | None
    corrections: list[dict[str, Any]]
    problem_areas: Callable[..., Any]
    data_dir: Path | None
    areas: pd.DataFrame | None = None
    root_dir: Path | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def streams(self) -> list[str]:
        return list(self.config.allocation.streams)

    @property
    def years(self) -> list[str]:
        return self.config.allocation.resolved_years()

    def error(self, key: str, message: str) -> ConfigError:
        """A :class:`ConfigError` naming the file and the key."""
        return ConfigError(f"{self.source}: '{key}': {message}")

    def data_folder(self) -> Path:
        """The data folder, found now if it was not needed so far (default resolution:
        ``$ALLOCATOR_DATA_DIR``, else ``../shared/geodata``; an error says how to get it)."""
        if self.data_dir is None:
            from ..paths import resolve_data_dir

            self.data_dir = resolve_data_dir()
        return self.data_dir

    def current_areas(self) -> pd.DataFrame:
        """The problem areas of the allocation as it stands (waves from its ``wave`` column)."""
        if self.areas is None:
            waves = dict(zip(self.allocation["code"], self.allocation["wave"], strict=True))
            self.areas = self.problem_areas(self.corrections, waves)
        return self.areas

    def la(self, text: object, key: str) -> str:
        """The ONS code of the LA named ``text`` (code or exact name, any case)."""
        from ..errors import DataError
        from ..runtable import find_la

        word = str(text).strip()
        try:
            row = find_la(self.allocation, word)
        except DataError as exc:
            raise self.error(key, str(exc)) from None
        if word.upper() != row["code"].upper() and word.casefold() != row["name"].casefold():
            raise self.error(key, f"no LA is called {word!r}; did you mean {row['name']} "
                                  f"({row['code']})? Give the full name or the ONS code")
        return str(row["code"])

    def name_of(self, code: str) -> str:
        hit = self.allocation.loc[self.allocation["code"] == code, "name"]
        return str(hit.iloc[0]) if len(hit) else code

    def amount(self, code: str, stream: str, year: str, *, published: bool = False) -> int:
        """Whole pounds of one LA x stream x year (now, or as published)."""
        from ..columns import money_column

        frame = self.published if published else self.allocation
        hit = frame.loc[frame["code"] == code, money_column(stream, year)]
        return int(hit.iloc[0]) if len(hit) else 0

    def require_stream_year(self, stream: str, year: str, key: str) -> None:
        """Fail unless ``stream`` and ``year`` are in the run and the year is open."""
        if stream not in self.streams:
            raise self.error(f"{key}.stream", f"no stream {stream!r} in this run; streams are "
                                              f"{', '.join(self.streams)}")
        if year not in self.years:
            raise self.error(f"{key}.year", f"no year {year!r} in this run; years are "
                                            f"{', '.join(self.years)}")
        self.require_open(year, f"{key}.year")

    def require_open(self, year: str, key: str) -> None:
        """Fail if ``year`` is locked (already paid) for this amendment."""
        if year not in self.open_years:
            why = (f"it ended before the amendment's effective date {self.effective}"
                   if self.effective is not None else "it is not in the amendment's 'years'")
            raise self.error(key, f"{year} is locked: years already paid cannot change ({why}). "
                                  f"To change it on purpose add it to 'unlock:'")


__all__ = ["KINDS", "ChangeSchema", "Context", "Kind", "Outcome", "in_words", "register"]
