"""Eligibility: which LA may receive which stream in which year.

Structural: cells exist only where an LA is eligible (:func:`allocator.allocate.cells.eligibility`,
the pieces of :mod:`allocator.allocate.eligible`), so the rule adds no bound or row; the published table is
checked for money outside the cells by :func:`allocator.allocate.verify.cells_from_frame`.
Presolve reports a stream-year with a budget and nobody eligible (``no_eligible``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..cells import Layout
from ..config import AllocationConfig
from ..eligible import describe
from .base import Issue, Rule

if TYPE_CHECKING:
    from ..constraints import Groups


def check_no_eligible(layout: Layout, config: AllocationConfig) -> list[Issue]:
    """A stream-year with a budget but no eligible LA."""
    out = []
    for s, (name, stream) in enumerate(config.streams.items()):
        for y in range(len(layout.years)):
            if layout.budget[s, y] > 0 and layout.block(s, y).size == 0:
                why = {"wave_started": f"eligible: wave_started and no LA is in wave {y + 1} "
                                       "or earlier",
                       "wave_not_started": f"eligible: wave_not_started and every LA's wave has "
                                           f"started by {layout.years[y]}"}.get(
                    stream.eligible if isinstance(stream.eligible, str) else "",
                    f"eligible: {describe(stream.eligible)}")
                out.append(Issue("no_eligible",
                                 f"{name} {layout.years[y]} has a budget of "
                                 f"£{layout.budget[s, y]:,} but no LA is eligible ({why})",
                                 "config"))
    return out


class EligibilityRule(Rule):
    """Who is eligible (structural: only eligible LA x stream x years are cells)."""

    name = "eligibility"

    def presolve(self, layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
        """``no_eligible``."""
        return check_no_eligible(layout, config)
