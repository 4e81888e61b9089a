"""``kind: claw_back``: reduce named LAs' amounts in a stream-year.

``to: centre`` returns the money to the department: the stream-year's budget falls by exactly
the sum clawed back and no other LA changes. ``to: reallocate`` shares it among the other
eligible LAs by the run's rules, exactly as ``kind: reallocate`` (``no_fall`` as there).

YAML::

    - kind: claw_back
      stream: place_based
      year: "2023-24"
      amounts: {Blackpool: 40_000}      # whole pounds taken back from each LA
      to: centre                        # or: reallocate
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..columns import money_column
from .base import ChangeSchema, Context, Kind, Outcome, register
from .reallocate import Pounds, redistribute, returned_codes


class ClawBackChange(ChangeSchema):
    """Keys of a ``claw_back`` change (see the module docstring)."""

    stream: str
    year: str
    amounts: dict[str, Pounds] = Field(min_length=1)
    to: Literal["centre", "reallocate"]
    no_fall: bool = False


@register
class ClawBack(Kind):
    """Money taken back from named LAs (see the module docstring)."""

    name = "claw_back"
    schema = ClawBackChange
    change: ClawBackChange

    def _codes(self, ctx: Context) -> dict[str, int]:
        c = self.change
        codes = returned_codes(ctx, c.stream, c.year, c.amounts, self.key, "amounts")
        if c.to == "centre" and c.no_fall:
            raise ctx.error(f"{self.key}.no_fall", "applies only with 'to: reallocate' (to the "
                                                   "centre no other LA changes)")
        return codes

    def check(self, ctx: Context) -> None:
        self._codes(ctx)

    def apply(self, ctx: Context) -> Outcome:
        from .solve import recompute_totals

        c = self.change
        codes = self._codes(ctx)
        if c.to == "reallocate":
            return redistribute(ctx, c.stream, c.year, codes, c.no_fall)
        col = money_column(c.stream, c.year)
        new = ctx.allocation.copy()
        cut = new["code"].map(codes).fillna(0).astype("int64")
        new[col] = (new[col] - cut).astype("int64")
        new = recompute_totals(new, ctx.streams, ctx.years)
        total = sum(codes.values())
        names = ", ".join(f"{ctx.name_of(k)} (£{v:,})" for k, v in sorted(codes.items()))
        words = [f"£{total:,} of {c.stream.replace('_', ' ')} money for {c.year} was clawed "
                 f"back from {names} and returned to the centre: the stream-year's budget "
                 f"falls by exactly £{total:,}; no other LA changes."]
        return Outcome(new, budget_change={(c.stream, c.year): -total}, words=words)


__all__ = ["ClawBack", "ClawBackChange"]
