"""Deprivation without counting crime twice.

IMD 2019 is a weighted combination of seven domains, one of which is Crime (9.3% of the IMD
weight; MHCLG, English Indices of Deprivation 2019 technical report). The default index uses the
IMD 2019 average score *and*, as its crime indicator, the IMD 2019 Crime domain score: crime then
counts twice, once inside deprivation and once on its own. This module says so in every run
where it happens (:func:`deprivation_notes`) and offers the alternatives the data layer provides:
the IoD 2019 Income domain and Employment domain average scores (``income_score``,
``employment_score``), which contain no crime. They can replace ``imd_score`` in
``index.indicators``, or be drawn per Monte Carlo draw (``uncertainty.deprivation_choices``;
:func:`deprivation_setup` prepares that draw).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .config import IndexConfig, IndicatorSpec, UncertaintyConfig

#: Deprivation measures that can stand in for one another (see the module docstring).
DEPRIVATION_MEASURES = ("imd_score", "income_score", "employment_score")
#: Weight of the Crime domain in IMD 2019.
IMD_CRIME_DOMAIN_WEIGHT = 0.093


def deprivation_notes(index_config: IndexConfig, crime: str,
                      uncertainty_config: UncertaintyConfig | None = None) -> list[str]:
    """Plain-English notes on how deprivation and crime overlap in this configuration.

    Parameters
    ----------
    index_config : IndexConfig
        The index (which indicators, which weights).
    crime : str
        ``data.crime``: ``"imd_crime"`` (IMD 2019 Crime domain) or ``"crime_severity"``.
    uncertainty_config : UncertaintyConfig, optional
        When it draws deprivation measures, the note says which.

    Returns
    -------
    list of str
    """
    weighted = index_config.weighting != "explicit"
    used = {s.name: s.weight for s in index_config.indicators}
    imd = "imd_score" in used and (weighted or used["imd_score"] > 0)
    crime_used = "crime_score" in used and (weighted or used["crime_score"] > 0)
    pct = f"{IMD_CRIME_DOMAIN_WEIGHT:.1%}"
    notes = []
    if imd and crime_used and crime == "imd_crime":
        notes.append(
            f"Crime is counted twice: the IMD 2019 score already contains the Crime domain "
            f"({pct} of its weight), and the crime indicator is that same Crime domain. The "
            "IoD 2019 Income or Employment domain score measures deprivation without crime "
            "(indicator income_score or employment_score).")
    elif imd and crime_used:
        notes.append(
            f"Deprivation and crime overlap: the IMD 2019 score contains a Crime domain ({pct} "
            "of its weight) besides the crime indicator. The IoD 2019 Income or Employment "
            "domain score measures deprivation without crime.")
    choices = uncertainty_config.deprivation_choices if uncertainty_config else None
    if choices:
        names = {"imd_score": "IMD 2019", "income_score": "IoD 2019 Income domain",
                 "employment_score": "IoD 2019 Employment domain"}
        notes.append("Uncertainty: each Monte Carlo draw measures deprivation by one of "
                     + ", ".join(names[c] for c in choices)
                     + " (the Sobol' attribution keeps the index's own measure).")
    return notes


def deprivation_setup(specs: Sequence[IndicatorSpec], areas: pd.DataFrame,
                      ucfg: UncertaintyConfig) -> dict[str, object]:
    """Values, noise scales and floors of each deprivation measure a Monte Carlo draw can use.

    Returns
    -------
    dict
        ``deprivations`` (names), ``dep_slot`` (position of the index's deprivation indicator),
        ``dep_raw`` and ``dep_sd`` (shape (C, L)), ``dep_floor`` (C,), for
        :class:`allocator.montecarlo.draws.MonteCarloSetup`.

    Raises
    ------
    ConfigError
        The index uses none or several of :data:`DEPRIVATION_MEASURES`, or a measure is missing
        from the areas table.
    """
    choices = list(ucfg.deprivation_choices or [])
    slots = [k for k, sp in enumerate(specs) if sp.name in DEPRIVATION_MEASURES]
    if len(slots) != 1:
        raise ConfigError(
            "uncertainty.deprivation_choices needs the index to use exactly one of "
            f"{', '.join(DEPRIVATION_MEASURES)} (it uses {len(slots)})")
    k = slots[0]
    spec = specs[k]
    e = ucfg.relative_error if spec.relative_error is None else spec.relative_error
    rows, sds, floors = [], [], []
    for name in choices:
        if name not in areas.columns:
            raise ConfigError(f"uncertainty.deprivation_choices: {name!r} is not in the areas table")
        x = pd.to_numeric(areas[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if np.isnan(x).any():
            raise ConfigError(f"uncertainty.deprivation_choices: {name!r} has missing values")
        rows.append(x)
        sds.append(e * (np.abs(x) if np.all(x > 0) else np.full_like(x, x.std())))
        floors.append(0.5 * x.min() if spec.transform == "log"
                      else (0.0 if np.all(x >= 0) else -np.inf))
    return {"deprivations": tuple(choices), "dep_slot": k, "dep_raw": np.array(rows),
            "dep_sd": np.array(sds), "dep_floor": np.array(floors)}
