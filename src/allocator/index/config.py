"""Configuration of the need index (``index:``) and its uncertainty analysis (``uncertainty:``).

Every choice that changes a score is named here so a run's manifest records it: which
indicators, in which direction, how each is transformed and normalised, how they are weighted
and aggregated, how missing values are handled, and how the score becomes the non-negative
``need_factor`` the allocator multiplies by population.

The models are pydantic :class:`~allocator._model.StrictModel` s. Validation failures raise
pydantic's ``ValidationError`` carrying the messages below (``allocator.config.load_config``
turns them into a :class:`~allocator.errors.ConfigError` with the key path); use
:func:`validate_section` to get a :class:`~allocator.errors.ConfigError` directly.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import (
    BaseModel,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .._model import Sourced, StrictModel, validate_model
from ..data.schema import INDICATORS

Direction = Literal["higher_is_worse", "higher_is_better"]
Transform = Literal["none", "log", "rank"]
Missing = Literal["error", "regional_median", "national_median"]
Normaliser = Literal["zscore", "minmax", "rank", "exponential"]
Weighting = Literal["explicit", "equal", "pca"]
Aggregator = Literal["arithmetic", "geometric"]
#: Deprivation measures the Monte Carlo can swap for one another (IMD 2019 or one IoD domain).
DeprivationMeasure = Literal["imd_score", "income_score", "employment_score"]

#: Most Monte Carlo draws a config may ask for (10,000 is the published run's; more takes minutes).
MAX_DRAWS = 100_000
#: Largest seed (seeds are non-negative and fit in 63 bits).
MAX_SEED = 2**63 - 1
#: Largest indicator weight (weights are relative; a huge one is a typing mistake).
MAX_WEIGHT = 1e6

NORMALISERS: tuple[str, ...] = ("zscore", "minmax", "rank", "exponential")
AGGREGATORS: tuple[str, ...] = ("arithmetic", "geometric")

M = TypeVar("M", bound=BaseModel)


def validate_section(model: type[M], data: object, *, section: str | None = None) -> M:
    """Validate ``data`` as ``model``, raising :class:`ConfigError` instead of pydantic's error.

    Parameters
    ----------
    model : type
        The pydantic model class, e.g. :class:`IndexConfig`.
    data : mapping or model
        Raw section (as read from YAML) or an instance.
    section : str, optional
        Name of the config section, used as the prefix of each error path (e.g. ``"index"``).

    Returns
    -------
    model instance

    Raises
    ------
    ConfigError
        One line per validation problem, each with its key path.
    """
    return validate_model(model, data, source="invalid configuration", section=section)


class IndicatorSpec(StrictModel):
    """One indicator of the need index.

    Parameters
    ----------
    name : str
        A known indicator (a key of :data:`allocator.data.schema.INDICATORS`).
    direction : {"higher_is_worse", "higher_is_better"}
        Required, no default: which way means more need. ``higher_is_better`` indicators are
        negated after their transform, so every normalised column reads "higher = more need".
    transform : {"none", "log", "rank"}
        Applied to the raw value before normalising. ``log`` is the natural log and needs
        strictly positive values; ``rank`` replaces values by their average rank (1 = lowest).
    weight : float
        Non-negative nominal weight (used when ``IndexConfig.weighting == "explicit"`` and as the
        centre of the Monte Carlo weight draws).
    required : bool
        When False and the column is absent (or entirely empty) the index is built without the
        indicator and ``NeedIndex.notes_`` says so. When True its absence is a DataError.
    missing : {"error", "regional_median", "national_median"}
        What to do with a missing value for an LA: raise a DataError listing the codes, or
        impute the median of the other LAs in its ONS region / in England. Every imputed value is
        flagged for that LA in ``NeedIndex.flags_``.
    relative_error : float, optional
        Standard deviation of the Monte Carlo noise as a fraction of the value. ``None`` uses
        :attr:`UncertaintyConfig.relative_error` (or, for the death rate, its published 95%
        interval).
    """

    name: str
    direction: Direction
    transform: Transform = "none"
    weight: float = Field(default=1.0, le=MAX_WEIGHT)
    required: bool = True
    missing: Missing = "error"
    relative_error: float | None = Field(default=None, ge=0, le=100)

    @field_validator("name")
    @classmethod
    def _known(cls, v: str, info: ValidationInfo) -> str:
        extra = tuple((info.context or {}).get("extra_indicators", ()))
        if v not in INDICATORS and v not in extra:
            known = ", ".join([*INDICATORS, *extra])
            raise ValueError(f"unknown indicator {v!r}; known indicators: {known}")
        return v

    @field_validator("weight")
    @classmethod
    def _non_negative(cls, v: float) -> float:
        if not v >= 0:  # also rejects NaN
            raise ValueError(f"weight must be >= 0, got {v}")
        return float(v)

    @property
    def column(self) -> str:
        """Column of the areas table holding the indicator."""
        # indicators added by data.rasters live in a column named after them
        return INDICATORS.get(self.name, {"column": self.name})["column"]


class NeedFactorConfig(Sourced):
    """Linear rescale of the score onto ``[low, high]`` giving the allocator's need multiplier.

    ``need_factor = low + (high - low) * (score - min(score)) / (max(score) - min(score))``; when
    every score is equal it is ``(low + high) / 2``. It is non-negative and non-decreasing in the
    score; the allocator's target basis is ``need_factor * population``.
    """

    low: float = Field(default=0.5, ge=0, le=1000)
    high: float = Field(default=1.5, ge=0, le=1000)

    @model_validator(mode="after")
    def _ordered(self) -> NeedFactorConfig:
        if self.high < self.low:
            raise ValueError(f"need_factor.high ({self.high}) must be >= low ({self.low})")
        return self


def _default_indicators() -> list[IndicatorSpec]:
    return [
        IndicatorSpec(name="drug_deaths_rate", direction="higher_is_worse"),
        IndicatorSpec(name="imd_score", direction="higher_is_worse"),
        IndicatorSpec(name="crime_score", direction="higher_is_worse"),
        IndicatorSpec(name="ocu_rate", direction="higher_is_worse", required=False),
    ]


class IndexConfig(Sourced):
    """How indicators become one need score.

    Parameters
    ----------
    indicators : list of IndicatorSpec
        At least one; names unique. Default: the four harm indicators named in *From Harm to
        Hope* (2021) [001 L658] with equal weight, OCU prevalence optional.
    normalise : {"zscore", "minmax", "rank", "exponential"}
        See :mod:`allocator.index.normalise`.
    weighting : {"explicit", "equal", "pca"}
        ``explicit``: the indicators' weights. ``equal``: ``1/K``. ``pca``: squared loadings of
        the first principal component of the normalised indicators (OECD/JRC Handbook on
        Constructing Composite Indicators, 2008, §6.1). See :mod:`allocator.index.weighting`.
    aggregate : {"arithmetic", "geometric"}
        See :mod:`allocator.index.aggregate`.
    need_factor : NeedFactorConfig
        Rescale of the score to the allocator's multiplier.
    """

    indicators: list[IndicatorSpec] = Field(default_factory=_default_indicators, min_length=1)
    normalise: Normaliser = "zscore"
    weighting: Weighting = "explicit"
    aggregate: Aggregator = "arithmetic"
    need_factor: NeedFactorConfig = Field(default_factory=NeedFactorConfig)

    @model_validator(mode="after")
    def _check(self) -> IndexConfig:
        names = [s.name for s in self.indicators]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"indicator listed more than once: {', '.join(dupes)}")
        if self.weighting == "explicit" and sum(s.weight for s in self.indicators) <= 0:
            raise ValueError(
                "indicator weights sum to zero; give at least one indicator a positive weight "
                "(or use weighting: equal)"
            )
        return self


class SensitivityConfig(StrictModel):
    """Variance-based (Sobol') attribution of wave-1 membership (``uncertainty.sensitivity``).

    See :mod:`allocator.montecarlo.sensitivity`. The uncertain choices are those of the enclosing
    :class:`UncertaintyConfig` (weights, normaliser, aggregator, indicator noise); the random
    numbers come from its ``seed`` unless ``seed`` is given here.

    Parameters
    ----------
    enabled : bool
        When False the analysis is skipped.
    samples : int
        Base sample size ``N`` of Saltelli's scheme, a power of 2 (the Sobol' sequence is only
        balanced for powers of 2). The model runs ``N * (factors + 2)`` times.
    num_resamples : int
        Bootstrap resamples behind the confidence half-widths.
    conf_level : float
        Confidence level of the half-widths ``S1_conf`` / ``ST_conf``.
    seed : int, optional
        Seed of the Sobol' scrambling and the bootstrap; ``None`` uses the uncertainty seed.
    """

    enabled: bool = True
    samples: int = Field(default=1024, ge=2, le=65_536)
    num_resamples: int = Field(default=100, ge=2, le=10_000)
    conf_level: float = Field(default=0.95, gt=0, lt=1)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)

    @field_validator("samples")
    @classmethod
    def _power_of_two(cls, v: int) -> int:
        if v & (v - 1):
            raise ValueError(
                "samples must be a power of 2 (Sobol' sequence balance); "
                f"try {1 << (v.bit_length() - 1)} or {1 << v.bit_length()}"
            )
        return v


class UncertaintyConfig(Sourced):
    """Monte Carlo over data and method choices (the ``uncertainty:`` section).

    Each draw perturbs every indicator value, draws weights from a Dirichlet distribution centred
    on the configured weights, and (optionally) draws a normaliser and an aggregator uniformly
    from the listed alternatives; the whole index is recomputed and ranked, and wave membership
    is assigned with the same locks as the published waves.

    Parameters
    ----------
    enabled : bool
        When False the analysis is skipped and the index table's uncertainty columns are empty.
    draws : int
        Number of Monte Carlo draws, 1 to :data:`MAX_DRAWS` (100,000).
    seed : int
        Required, 0 to 2**63 - 1: seeds the single ``numpy.random.SeedSequence`` all draws come from.
    weight_concentration : float
        Dirichlet concentration ``c``: weights ~ Dirichlet(c * w) with ``w`` the normalised
        configured weights, so ``E[weight] = w`` and ``Var = w(1-w)/(c+1)``. Larger = tighter.
        ``0`` keeps the weights fixed. Indicators with weight 0 stay at 0.
    normalise_choices, aggregate_choices : list of str, optional
        Alternatives drawn uniformly per draw. ``None`` (default) keeps the index's own choice.
    deprivation_choices : list of {"imd_score", "income_score", "employment_score"}, optional
        Deprivation measures drawn uniformly per draw for the index's deprivation indicator (the
        one of these three it uses): IMD 2019 contains the Crime domain, the Income and
        Employment domain scores do not. ``None`` (default) keeps the index's own measure.
        Drawn in the rank Monte Carlo only (the Sobol' attribution keeps the index's measure).
    relative_error : float
        Default noise for an indicator without a published interval: value * (1 + e * Z),
        Z ~ N(0, 1), truncated at 0.
    use_death_rate_interval : bool
        Draw the death rate from N(rate, sd) with ``sd = (ucl - lcl) / 3.92`` (normal
        approximation of its published 95% interval), truncated at 0. Where the interval is
        missing the relative error is used and the index notes say so.
    borderline : [float, float]
        An LA is borderline when any of its cumulative wave probabilities P(wave <= k),
        k < number of waves, lies in this closed band.
    chunk_size : int
        Most draws evaluated together. Blocks are also kept within a fixed memory budget
        counted in array elements (draws x indicators x LAs; see
        :func:`allocator.montecarlo.draws.chunk_draws`), so with many LAs they hold fewer draws.
        Results do not depend on the block size.
    sensitivity : SensitivityConfig, optional
        Sobol' attribution of wave-1 membership to these choices
        (:class:`allocator.montecarlo.WaveSensitivity`). ``None``: not configured.
    """

    enabled: bool = True
    draws: int = Field(default=10_000, ge=1, le=MAX_DRAWS)
    seed: int = Field(ge=0, le=MAX_SEED)
    weight_concentration: float = Field(default=50.0, ge=0, le=1e6)
    normalise_choices: list[Normaliser] | None = None
    aggregate_choices: list[Aggregator] | None = None
    deprivation_choices: list[DeprivationMeasure] | None = None
    relative_error: float = Field(default=0.05, ge=0, le=100)
    use_death_rate_interval: bool = True
    borderline: tuple[float, float] = (0.2, 0.8)
    chunk_size: int = Field(default=2_000, ge=1, le=1_000_000)
    sensitivity: SensitivityConfig | None = None

    @field_validator("normalise_choices", "aggregate_choices", "deprivation_choices")
    @classmethod
    def _non_empty(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not v:
                raise ValueError("give at least one choice, or omit the key")
            if len(set(v)) != len(v):
                raise ValueError(f"choices listed more than once: {v}")
        return v

    @field_validator("borderline")
    @classmethod
    def _band(cls, v: tuple[float, float]) -> tuple[float, float]:
        lo, hi = v
        if not 0 <= lo <= hi <= 1:
            raise ValueError(f"borderline band must satisfy 0 <= low <= high <= 1, got {list(v)}")
        return v
