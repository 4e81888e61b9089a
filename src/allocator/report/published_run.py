"""The run-level pieces the writer calls for the published table and the reconciliation.

Kept apart from :mod:`allocator.report.write` so the workbook writer only calls small functions:
:func:`published_frame` (``allocation_published.csv``), :func:`published_sheets` (the workbook's
``published`` sheet), :func:`published_money` (its whole-pound columns) and
:func:`reconciliation` (the summary's "How the money reconciles" section).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..columns import total_column
from ..errors import ConfigError
from .published import money_labels, published_table
from .reconcile import reconciliation_lines

if TYPE_CHECKING:
    import pandas as pd

    from ..pipeline import RunResult

SHEET = "published"


def published_frame(result: RunResult) -> pd.DataFrame | None:
    """The allocation in the department's layout, or ``None`` when the config asks for none.

    Raises
    ------
    ConfigError
        When ``output.published.merge`` names a code that is not in the allocation.
    """
    cfg = result.config.output.published
    if cfg is None:
        return None
    try:
        return published_table(result.allocation, cfg, result.years)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def published_sheets(result: RunResult, frame: pd.DataFrame | None) -> list[tuple[str, pd.DataFrame]]:
    """The workbook sheet for the published layout (none when not configured)."""
    return [] if frame is None else [(SHEET, frame)]


def published_money(result: RunResult) -> list[str]:
    """Whole-pound columns of the published sheet."""
    cfg = result.config.output.published
    return [] if cfg is None else money_labels(cfg)


def reconciliation(result: RunResult) -> list[str]:
    """The summary's reconciliation sentences (none when the config declares no envelope)."""
    cfg = result.config.reconciliation
    if cfg is None:
        return []
    la_facing = {y: int(result.allocation[total_column(y)].sum())
                 for y in result.years}
    return reconciliation_lines(cfg, la_facing, result.years)
