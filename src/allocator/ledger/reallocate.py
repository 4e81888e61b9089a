"""``kind: reallocate``: money returned by named LAs in a stream-year is redistributed by the
run's own rules among the eligible LAs.

The stream-year is re-solved with the run's allocation problem (same targets, floors, caps,
pace of change, solver and tie-break): the returning LAs are fixed at their reduced amounts,
every other stream-year stays exactly as it is, and the stream-year's budget is unchanged. With
``no_fall: true`` no other LA may end below its published amount (a floor at it), so the money
returned goes only to LAs that gain.

YAML::

    - kind: reallocate
      stream: place_based
      year: "2022-23"
      returned: {Manchester: 150_000, E06000001: 20_000}   # whole pounds handed back
      no_fall: true
      reason: underspend reported at year end                # optional
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .._model import MAX_POUNDS
from .base import ChangeSchema, Context, Kind, Outcome, register

#: Whole pounds above zero (YAML ``150_000``; ``1.5`` or ``"150000"`` are errors).
Pounds = Annotated[int, Field(strict=True, gt=0, le=MAX_POUNDS)]


class ReallocateChange(ChangeSchema):
    """Keys of a ``reallocate`` change (see the module docstring)."""

    stream: str
    year: str
    returned: dict[str, Pounds] = Field(min_length=1)
    no_fall: bool = False


def returned_codes(ctx: Context, stream: str, year: str, amounts: dict[str, int], key: str,
                   field: str) -> dict[str, int]:
    """``code -> pounds`` of the LAs named under ``key.field``, checked against what each has."""
    ctx.require_stream_year(stream, year, key)
    out: dict[str, int] = {}
    for text, pounds in amounts.items():
        where = f"{key}.{field}.{text}"
        code = ctx.la(text, where)
        if code in out:
            raise ctx.error(where, f"{ctx.name_of(code)} ({code}) is named twice")
        has = ctx.amount(code, stream, year)
        if pounds > has:
            raise ctx.error(where, f"{ctx.name_of(code)} ({code}) has £{has:,} of {stream} in "
                                   f"{year}; it cannot give back £{pounds:,}")
        out[code] = pounds
    return out


def redistribute(ctx: Context, stream: str, year: str, returned: dict[str, int],
                 no_fall: bool, where: str) -> Outcome:
    """Re-solve ``stream`` in ``year`` with the returning LAs fixed at their reduced amounts.

    A set-up the run's rules cannot meet (an LA left below its floor, ``no_fall`` impossible) is
    a ConfigError naming the file and ``where`` (the key of the amounts).
    """
    from ..errors import AllocatorError
    from .solve import budgets_of, merge_money, resolve

    fixed = {(c, stream, year): ctx.amount(c, stream, year) - p for c, p in returned.items()}
    lower: dict[tuple[str, str, str], int] = {}
    if no_fall:
        lower = {(c, stream, year): ctx.amount(c, stream, year, published=True)
                 for c in ctx.allocation["code"] if c not in returned
                 and ctx.amount(c, stream, year, published=True) > 0}
    try:
        solved, solver = resolve(ctx.config, ctx.current_areas(), ctx.allocation,
                                 {(stream, year)},
                                 budgets=budgets_of(ctx.allocation, ctx.streams, ctx.years),
                                 fixed=fixed, lower=lower, base_dir=ctx.data_dir)
    except AllocatorError as exc:
        what = ", ".join(f"£{p:,} from {ctx.name_of(c)}" for c, p in sorted(returned.items()))
        raise ctx.error(where, f"taking {what} in {stream} {year} and sharing it again breaks "
                               "the run's rules (an LA giving money back is locked at what it "
                               f"keeps): {exc}") from None
    new = merge_money(ctx.allocation, solved, ctx.streams, ctx.years)
    names = ", ".join(f"{ctx.name_of(c)} (£{p:,})" for c, p in sorted(returned.items()))
    words = [f"£{sum(returned.values()):,} of {stream.replace('_', ' ')} money for {year} "
             f"returned by {names} was shared among the other eligible LAs by the run's own "
             "rules; the stream-year's budget is unchanged"
             + ("; no LA ends below its published amount." if no_fall else ".")]
    return Outcome(new, words=words, solver=solver, lower=lower)


@register
class Reallocate(Kind):
    """Returned money shared again by the run's rules (see the module docstring)."""

    name = "reallocate"
    schema = ReallocateChange
    change: ReallocateChange

    def check(self, ctx: Context) -> None:
        c = self.change
        returned_codes(ctx, c.stream, c.year, c.returned, self.key, "returned")

    def apply(self, ctx: Context) -> Outcome:
        c = self.change
        codes = returned_codes(ctx, c.stream, c.year, c.returned, self.key, "returned")
        return redistribute(ctx, c.stream, c.year, codes, c.no_fall, f"{self.key}.returned")


__all__ = ["Reallocate", "ReallocateChange", "redistribute", "returned_codes"]
