"""Target bases: what an LA's target share of a stream-year budget is proportional to.

The need index gives each LA a ``need_factor`` (by default in [0.5, 1.5]). How strongly that
moves money is a policy choice, so each basis is a named, documented option of
:class:`~allocator.allocate.config.TargetConfig`:

``need_x_population`` (default), ``need_x_population_15_64``, ``population``, ``equal``
    ``need_factor x pop_all``, ``need_factor x pop_15_64``, ``pop_all``, or one equal share.
``need_weighted_population``
    ``population x need_factor ** elasticity``: ``elasticity`` declares how strongly need moves
    the target (0: population only; 1: the default basis; 3: the neediest LA's target per head is
    up to 27 times the least needy's with factors in [0.5, 1.5]).
``estimated_count``
    An estimated number of people or events: ``ocu_count`` (estimated opiate and crack cocaine
    users; needs OCU data), ``drug_deaths_count`` (drug-misuse deaths registered in the period),
    or ``drug_deaths_rate_x_population`` (the age-standardised rate x mid-2020 population /
    100,000).
``combination``
    ``sum_j weight_j x basis_j / sum(basis_j over all LAs)``: a weighted mix of the national
    shares of several of the bases above (weights sum to 1).

The share of an LA in a stream-year is its basis over the sum over the LAs eligible then.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from .._model import Sourced, StrictModel
from ..errors import DataError

SimpleBasis = Literal["need_x_population", "population", "need_x_population_15_64", "equal",
                      "need_weighted_population", "estimated_count"]
Basis = Literal["need_x_population", "population", "need_x_population_15_64", "equal",
                "need_weighted_population", "estimated_count", "combination"]
CountColumn = Literal["ocu_count", "drug_deaths_count", "drug_deaths_rate_x_population"]
Population = Literal["pop_all", "pop_15_64"]

#: Columns of the areas table a target basis may read besides the allocator's own.
OPTIONAL_COLUMNS = ["ocu_count", "drug_deaths_count", "drug_deaths_rate"]


class TargetComponent(StrictModel):
    """One weighted part of a ``combination`` target basis (parameters as in TargetConfig)."""

    basis: SimpleBasis
    weight: float = Field(gt=0, le=1)
    elasticity: float = Field(default=1.0, ge=0, le=10)
    population: Population = "pop_all"
    count: CountColumn = "ocu_count"


class TargetConfig(Sourced):
    """What each LA's target share of a stream-year budget is proportional to.

    See :mod:`allocator.allocate.targets` for every basis.

    Attributes
    ----------
    basis : str
        ``need_x_population`` (default), ``population``, ``need_x_population_15_64``,
        ``equal``, ``need_weighted_population`` (population x need_factor ** elasticity),
        ``estimated_count`` (``count``) or ``combination`` (``components``).
    elasticity : float
        For ``need_weighted_population``: how strongly need moves the target (0 to 10).
    population : {"pop_all", "pop_15_64"}
        For ``need_weighted_population``.
    count : {"ocu_count", "drug_deaths_count", "drug_deaths_rate_x_population"}
        For ``estimated_count``.
    components : list of TargetComponent
        For ``combination``: weighted national shares of other bases; weights sum to 1.
    """

    basis: Basis = "need_x_population"
    elasticity: float = Field(default=1.0, ge=0, le=10)
    population: Population = "pop_all"
    count: CountColumn = "ocu_count"
    components: list[TargetComponent] | None = None

    @model_validator(mode="after")
    def _components(self) -> TargetConfig:
        if self.basis == "combination":
            if not self.components or len(self.components) < 2:
                raise ValueError("basis 'combination' needs at least two components")
            total = sum(c.weight for c in self.components)
            if abs(total - 1) > 1e-9:
                raise ValueError(f"combination weights must sum to 1, got {total:g}")
        elif self.components:
            raise ValueError(f"components are only used with basis 'combination' "
                             f"(basis is {self.basis!r})")
        return self


def _column(areas: pd.DataFrame, col: str, why: str) -> np.ndarray:
    if col not in areas.columns:
        raise DataError(f"target basis {why} needs column '{col}', which the areas table lacks"
                        + (" (OCU estimates were not supplied: run 'allocator data fetch --ocu' "
                           "or give data.ocu_file)" if col.startswith("ocu") else ""),
                        column=col)
    x = pd.to_numeric(areas[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(x) | (x < 0)
    if bad.any():
        raise DataError(f"target basis {why}: missing or negative values", column=col,
                        codes=areas.loc[bad, "code"].tolist())
    return x


def simple_basis(areas: pd.DataFrame, spec: Any) -> np.ndarray:
    """Per-area values of one non-combined basis (``spec`` has ``basis`` and its parameters)."""
    basis = spec.basis
    need = areas["need_factor"].to_numpy(float)
    if basis == "need_x_population":
        return need * areas["pop_all"].to_numpy(float)
    if basis == "need_x_population_15_64":
        return need * areas["pop_15_64"].to_numpy(float)
    if basis == "population":
        return areas["pop_all"].to_numpy(float)
    if basis == "equal":
        return np.ones(len(areas))
    if basis == "need_weighted_population":
        return areas[spec.population].to_numpy(float) * need ** float(spec.elasticity)
    if basis == "estimated_count":
        if spec.count == "drug_deaths_rate_x_population":
            rate = _column(areas, "drug_deaths_rate", "estimated_count")
            return rate * areas["pop_all"].to_numpy(float) / 100_000
        return _column(areas, spec.count, "estimated_count")
    raise ValueError(f"basis: unknown target basis {basis!r}")


def target_basis(areas: pd.DataFrame, target: Any) -> np.ndarray:
    """Per-area values of ``target`` (a :class:`~allocator.allocate.config.TargetConfig`)."""
    if target.basis != "combination":
        return simple_basis(areas, target)
    total = np.zeros(len(areas))
    for comp in target.components:
        b = simple_basis(areas, comp)
        if b.sum() <= 0:
            raise DataError(f"target basis combination: component '{comp.basis}' sums to zero")
        total += float(comp.weight) * b / b.sum()
    return total


def describe(target: Any) -> str:
    """The basis in words, for explain tables and error messages."""
    if target.basis == "need_weighted_population":
        return f"need_weighted_population (elasticity {target.elasticity:g})"
    if target.basis == "estimated_count":
        return f"estimated_count ({target.count})"
    if target.basis == "combination":
        return "combination (" + ", ".join(f"{c.weight:g} x {describe(c)}"
                                           for c in target.components) + ")"
    return str(target.basis)
