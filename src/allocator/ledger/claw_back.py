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

import re
from typing import Literal

import pandas as pd
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

    def _reduced(self, ctx: Context, codes: dict[str, int]) -> pd.DataFrame:
        from .solve import recompute_totals

        col = money_column(self.change.stream, self.change.year)
        new = ctx.allocation.copy()
        new[col] = (new[col] - new["code"].map(codes).fillna(0).astype("int64")).astype("int64")
        return recompute_totals(new, ctx.streams, ctx.years)

    def check(self, ctx: Context) -> None:
        """Also, to the centre: the reduced amounts must keep every rule of the run (a floor,
        no cash cut from the year before...); the message names the LA, stream, year, pounds."""
        from ..errors import SolverError
        from .solve import verify_rules

        codes = self._codes(ctx)
        if self.change.to != "centre":
            return
        try:
            verify_rules(ctx.config, ctx.current_areas(), self._reduced(ctx, codes), ctx.data_dir)
        except SolverError as exc:
            what = ", ".join(f"£{v:,} from {ctx.name_of(k)}" for k, v in sorted(codes.items()))
            detail = plain_rule_labels(str(exc).split(": ", 1)[-1], ctx)
            raise ctx.error(f"{self.key}.amounts", f"taking {what} in {self.change.stream} "
                                                   f"{self.change.year} breaks the run's rules: "
                                                   f"{detail}") from None

    def apply(self, ctx: Context) -> Outcome:
        c = self.change
        codes = self._codes(ctx)
        if c.to == "reallocate":
            return redistribute(ctx, c.stream, c.year, codes, c.no_fall, f"{self.key}.amounts")
        new = self._reduced(ctx, codes)
        total = sum(codes.values())
        names = ", ".join(f"{ctx.name_of(k)} (£{v:,})" for k, v in sorted(codes.items()))
        words = [f"£{total:,} of {c.stream.replace('_', ' ')} money for {c.year} was clawed "
                 f"back from {names} and returned to the centre: the stream-year's budget "
                 f"falls by exactly £{total:,}; no other LA changes."]
        return Outcome(new, budget_change={(c.stream, c.year): -total}, words=words)


def plain_rule_labels(text: str, ctx: Context) -> str:
    """``text`` with the rules' internal cell labels (``<rule>_<stream>_<yyyy>_<yy>_<code>``, e.g.
    ``floor_core_2024_25_E06000002``) in words: "floor (B, Core 2024-25)"."""
    from ..columns import stream_label

    streams = "|".join(re.escape(s) for s in sorted(ctx.streams, key=len, reverse=True))
    label = re.compile(rf"\b([a-z][a-z_]*?)_({streams})_(\d{{4}})_(\d{{2}})_([A-Z]\d{{8}})\b")

    def words(m: re.Match[str]) -> str:
        rule, stream, y0, y1, code = m.groups()
        return f"{rule.replace('_', ' ')} ({ctx.name_of(code)}, {stream_label(stream)} {y0}-{y1})"

    return label.sub(words, text)


__all__ = ["ClawBack", "ClawBackChange", "plain_rule_labels"]
