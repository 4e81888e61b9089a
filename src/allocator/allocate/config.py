"""Configuration of the allocator: streams, targets, floors, caps, pace of change, locks, solver.

Money is in whole pounds (``int``); rates (per head, shares, uplifts) are floats. Years are
labels such as ``"2022-23"``; in column and constraint names their dash becomes an underscore
(``place_based_2022_23``). Wave ``k`` (1-based) starts in year ``k`` of the configured years.

All policy blocks mix in :class:`~allocator._model.Sourced` so each number can carry its source,
units and effective date. :func:`validate_allocation_config` returns a validated
:class:`AllocationConfig` or raises :class:`~allocator.errors.ConfigError` with key paths.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from .. import columns as _columns
from .._model import MAX_POUNDS, Sourced, StrictModel, validate_model
from .eligible import EligibleSpec
from .targets import Basis, Population, TargetConfig  # noqa: F401 - TargetConfig re-exported

YEAR_PATTERN = re.compile(r"^\d{4}-\d{2}$")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

Pounds = Annotated[int, Field(strict=True, ge=0, le=MAX_POUNDS)]
PositivePounds = Annotated[int, Field(strict=True, gt=0, le=MAX_POUNDS)]
AppliesTo = Literal["each_stream", "total"]


def year_key(year: str) -> str:
    """Return the column form of a year label (``"2022-23"`` -> ``"2022_23"``); see
    :mod:`allocator.columns`, the one home of column names."""
    return _columns.year_key(year)


def _check_year(year: str) -> str:
    if not YEAR_PATTERN.match(year):
        raise ValueError(f"year {year!r} is not a label like '2022-23'")
    start, end = int(year[:4]), int(year[5:])
    if (start + 1) % 100 != end:
        raise ValueError(f"year {year!r} does not span two consecutive years (e.g. '2022-23')")
    return year


class StreamConfig(Sourced):
    """One ring-fenced funding stream.

    Attributes
    ----------
    budget : dict of str to int
        Whole pounds (> 0) per year label, e.g. ``{"2022-23": 80_000_000}``. A year not listed
        has no money in this stream.
    eligible : {"all", "wave_started", "wave_not_started"} or mapping
        ``all``: every LA every year; ``wave_started``: an LA of wave ``k`` from year ``k`` on;
        ``wave_not_started``: an LA of wave ``k`` only before year ``k`` (money for areas
        awaiting roll-out); ``{codes: [...]}`` or ``{file: ...}``: listed LAs; ``{all_of: [...]}``
        / ``{any_of: [...]}``: pieces combined (see :mod:`allocator.allocate.eligible`).
    target : TargetConfig, optional
        Overrides the problem-wide target basis for this stream.
    """

    budget: dict[str, PositivePounds]
    eligible: EligibleSpec = "all"
    target: TargetConfig | None = None

    @field_validator("budget")
    @classmethod
    def _years(cls, v: dict[str, int]) -> dict[str, int]:
        if not v:
            raise ValueError("budget needs at least one year")
        for year in v:
            _check_year(year)
        return v


class FloorConfig(Sourced):
    """A minimum amount per LA x stream x year (applied only where the LA is eligible).

    Attributes
    ----------
    kind : {"fixed", "per_head", "file"}
        ``fixed``: ``amount`` pounds per LA; ``per_head``: ``amount`` pounds x ``population``;
        ``file``: a CSV with ``code`` and either one ``amount`` column (used for every
        stream-year in scope) or ``<stream>_<year>`` columns (e.g. last year's allocation).
    amount : float, optional
        Pounds (fixed) or pounds per head (per_head).
    path : path, optional
        The CSV for ``kind: file``.
    streams, years : list of str, optional
        Scope; all streams / years when omitted.
    population : {"pop_all", "pop_15_64"}
        Head count for ``per_head``.
    caveat : str, optional
        A plain-English statement every output a person reads repeats while this floor is in
        force, e.g. that the amounts are an assumption until the real baseline is supplied.
    applies_to : {"each_stream", "total"}
        ``each_stream`` (default): every stream-year cell on its own. ``total``: the LA's total
        over ``streams`` in each year (see :mod:`allocator.allocate.totals`); a ``file`` floor
        then reads ``code`` and ``amount`` or ``total_<year>`` columns.

    Notes
    -----
    Floors are rounded *up* to whole pounds before solving, so the rounded allocation still
    meets the unrounded floor. A file floor that gives money to an LA that is not eligible in
    that stream-year is an error ("eligibility leaves a floored LA no money").
    """

    kind: Literal["fixed", "per_head", "file"]
    amount: float | None = Field(default=None, ge=0, le=MAX_POUNDS)
    path: Path | None = None
    streams: list[str] | None = None
    years: list[str] | None = None
    population: Population = "pop_all"
    caveat: str | None = Field(default=None, min_length=1)
    applies_to: AppliesTo = "each_stream"

    omit_when_default = frozenset({"caveat", "applies_to"})

    @model_validator(mode="after")
    def _needs(self) -> FloorConfig:
        if self.kind in ("fixed", "per_head") and self.amount is None:
            raise ValueError(f"floor kind '{self.kind}' needs 'amount'")
        if self.kind == "file" and self.path is None:
            raise ValueError("floor kind 'file' needs 'path' (a CSV with code and amounts)")
        return self


class CapConfig(Sourced):
    """A maximum amount per LA x stream x year.

    Attributes
    ----------
    per_head : float, optional
        At most this many pounds per head of ``population``.
    share_of_stream : float, optional
        At most this fraction (0 < s <= 1) of the stream-year budget.
    streams, years : list of str, optional
        Scope; all when omitted.
    population : {"pop_all", "pop_15_64"}
    applies_to : {"each_stream", "total"}
        ``total``: the cap binds the LA's total over ``streams`` each year, and
        ``share_of_stream`` is a share of those streams' combined budget that year.

    Notes
    -----
    Caps are rounded *down* to whole pounds before solving.
    """

    omit_when_default = frozenset({"applies_to"})

    per_head: float | None = Field(default=None, gt=0, le=MAX_POUNDS)
    share_of_stream: float | None = Field(default=None, gt=0, le=1)
    streams: list[str] | None = None
    years: list[str] | None = None
    population: Population = "pop_all"
    applies_to: AppliesTo = "each_stream"

    @model_validator(mode="after")
    def _needs(self) -> CapConfig:
        if self.per_head is None and self.share_of_stream is None:
            raise ValueError("a cap needs 'per_head' and/or 'share_of_stream'")
        return self


class PaceConfig(Sourced):
    """Pace of change between consecutive years, per LA and stream.

    Rules apply to an LA x stream from the second of two consecutive years in which it is
    eligible ("once funded").

    Attributes
    ----------
    min_uplift : float, optional
        ``x[y] >= (1 + min_uplift) * x[y-1]`` (e.g. 0.02 = at least 2% more; may be negative,
        > -1, for a maximum cut).
    max_growth : float, optional
        ``x[y] <= (1 + max_growth) * x[y-1]``.
    no_cash_cut : bool
        ``x[y] >= x[y-1]``.
    streams : list of str, optional
        Scope; all streams when omitted.
    entrants : {"exempt", "from_zero"}
        ``exempt`` (default): an LA entering a stream (its wave starts) is not held by
        ``max_growth``. ``from_zero``: its previous amount counts as £0, so ``max_growth``
        allows it nothing — usually a mistake, which presolve explains.
    applies_to : {"each_stream", "total"}
        ``total``: the rules bind each LA's total over ``streams`` from one year to the next,
        once the LA has money in any of them in both years (an LA moving from one stream to
        another keeps its total).
    """

    omit_when_default = frozenset({"applies_to"})

    min_uplift: float | None = Field(default=None, gt=-1, le=1000)
    max_growth: float | None = Field(default=None, ge=0, le=1000)
    no_cash_cut: bool = False
    streams: list[str] | None = None
    entrants: Literal["exempt", "from_zero"] = "exempt"
    applies_to: AppliesTo = "each_stream"

    @model_validator(mode="after")
    def _order(self) -> PaceConfig:
        if (
            self.min_uplift is not None
            and self.max_growth is not None
            and self.min_uplift > self.max_growth
        ):
            raise ValueError(
                f"min_uplift {self.min_uplift} is above max_growth {self.max_growth}"
            )
        return self


class LockConfig(Sourced):
    """A fixed amount for one LA x stream x year (e.g. a ministerial decision)."""

    code: str
    stream: str
    year: str
    amount: Pounds

    @field_validator("year")
    @classmethod
    def _year(cls, v: str) -> str:
        return _check_year(v)


class ObjectiveConfig(StrictModel):
    """Policy objective.

    Attributes
    ----------
    deviation : {"absolute", "relative"}
        Minimise the sum of ``|x - target|`` in pounds, or of ``|x - target| / target``.
    fairness : {"none", "maxmin"}
        ``maxmin`` first maximises the smallest ratio ``x / target`` over all funded cells
        with a positive target, then (holding it) minimises the deviation.
    """

    deviation: Literal["absolute", "relative"] = "absolute"
    fairness: Literal["none", "maxmin"] = "none"


class SolverConfig(StrictModel):
    """Solver settings.

    Attributes
    ----------
    name : {"highs", "cbc"}
        HiGHS through ``pulp.HiGHS`` (highspy) or PuLP's bundled CBC through ``pulp.COIN_CMD``.
    cross_check : {"highs", "cbc"}, optional
        A second solver that solves every stage itself (no shortcut), for the allocation and
        for every "£1m more" re-solve; the run fails with ``cross-check failed`` unless every
        stage's optimum agrees in both directions within a stated tolerance, every LA x stream
        x year agrees after rounding, and both solvers agree on feasibility (see
        :mod:`allocator.allocate.crosscheck`).
    tie_break : {"lexicographic"}
        The published tie-break, see :mod:`allocator.allocate.model`: after the policy stage,
        the allocation nearest to the pro-rata scaled targets (every LA not at a floor, cap,
        lock or pace limit gets the same fraction of its target), then a lexicographic stage
        (ONS code order) for any degeneracy left. The value's name is kept for existing configs.
    msg : bool
        Show the solvers' logs, on standard error (standard output never receives them).
    time_limit : float, optional
        Seconds per solve.
    hold_tolerance : float
        Relative slack when a stage's optimum is held in the next stage.
    highs_options : dict
        Extra HiGHS options passed through unchanged (e.g. ``{"solver": "ipm"}`` for very
        large problems); ignored by CBC.
    """

    name: Literal["highs", "cbc"] = "highs"
    cross_check: Literal["highs", "cbc"] | None = None
    tie_break: Literal["lexicographic"] = "lexicographic"
    msg: bool = False
    time_limit: float | None = Field(default=None, gt=0)
    hold_tolerance: float = Field(default=1e-7, ge=0, le=1e-3)
    highs_options: dict[str, str | int | float | bool] = {}


class AllocationConfig(StrictModel):
    """The whole allocator section.

    Attributes
    ----------
    streams : dict of str to StreamConfig
        Names are lower-case identifiers (``continuation``). Kept in name order whatever order
        the config declares them in: the config hash ignores key order, and the resolved
        ``config.yaml`` a run stores is written with sorted keys, so the allocation (whose cell
        order, and with it the tie-break, follows the stream order) must not depend on it.
    years : list of str, optional
        Modelled years in order; defaults to the sorted union of the budgets' years.
    target, floors, caps, pace, locks, objective, solver
        See the classes above.
    """

    streams: dict[str, StreamConfig]
    years: list[str] | None = None
    target: TargetConfig = TargetConfig()
    floors: list[FloorConfig] = []
    caps: list[CapConfig] = []
    pace: PaceConfig | None = None
    locks: list[LockConfig] = []
    objective: ObjectiveConfig = ObjectiveConfig()
    solver: SolverConfig = SolverConfig()

    @field_validator("streams")
    @classmethod
    def _name_order(cls, v: dict[str, StreamConfig]) -> dict[str, StreamConfig]:
        return dict(sorted(v.items()))

    @model_validator(mode="after")
    def _consistent(self) -> AllocationConfig:
        if not self.streams:
            raise ValueError("at least one stream is needed")
        for name in self.streams:
            if not NAME_PATTERN.match(name):
                raise ValueError(f"stream name {name!r} must be a lower-case identifier")
        years = self.resolved_years()
        for y in years:
            _check_year(y)
        if len(set(years)) != len(years):
            raise ValueError(f"years repeat: {years}")
        for name, stream in self.streams.items():
            extra = sorted(set(stream.budget) - set(years))
            if extra:
                raise ValueError(f"stream '{name}' has budgets for years not modelled: {extra}")
        known = set(self.streams)
        scoped: list[tuple[str, list[str] | None, list[str] | None]] = [
            ("floors", f.streams, f.years) for f in self.floors
        ]
        scoped += [("caps", c.streams, c.years) for c in self.caps]
        if self.pace is not None:
            scoped.append(("pace", self.pace.streams, None))
        for where, streams, yrs in scoped:
            bad = sorted(set(streams or []) - known)
            if bad:
                raise ValueError(f"{where} name unknown streams {bad}; streams are {sorted(known)}")
            bad_y = sorted(set(yrs or []) - set(years))
            if bad_y:
                raise ValueError(f"{where} name unknown years {bad_y}; years are {years}")
        for lock in self.locks:
            if lock.stream not in known:
                raise ValueError(f"lock for {lock.code} names unknown stream '{lock.stream}'")
            if lock.year not in years:
                raise ValueError(f"lock for {lock.code} names unmodelled year '{lock.year}'")
        return self

    def caveats(self) -> list[str]:
        """The floors' caveats, each once, in config order (repeated on every output)."""
        return list(dict.fromkeys(" ".join(f.caveat.split()) for f in self.floors if f.caveat))

    def resolved_years(self) -> list[str]:
        """Return the modelled years in order."""
        if self.years is not None:
            return list(self.years)
        return sorted({y for s in self.streams.values() for y in s.budget})


def validate_allocation_config(data: object, *, section: str = "allocation") -> AllocationConfig:
    """Validate a raw mapping (or model) as :class:`AllocationConfig`.

    Raises
    ------
    ConfigError
        One line per problem, each prefixed with its key path.
    """
    return validate_model(AllocationConfig, data, source="invalid allocation config", section=section)
