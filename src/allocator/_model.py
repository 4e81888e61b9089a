"""Base classes for typed, strict configuration models.

Every config section derives from :class:`StrictModel`: unknown keys are errors (reported with
their path by :func:`allocator.config.load_config`) and models are immutable once validated.
Policy sections also mix in :class:`Sourced`, so a number can carry where it came from, its units
and the date it takes effect (OpenFisca-style dated, sourced parameters).
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Pydantic model that forbids unknown keys and is frozen after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Sourced(StrictModel):
    """Provenance carried by a policy parameter block.

    Attributes
    ----------
    source : str, optional
        Document and page/line the value comes from, e.g. ``"From harm to hope (2021) [001 L644]"``.
    units : str, optional
        Units of the numbers in the block, e.g. ``"GBP"`` or ``"GBP per head"``.
    effective : datetime.date, optional
        Date the parameter takes effect.
    """

    source: str | None = None
    units: str | None = None
    effective: dt.date | None = None
