"""How the money a run allocates reconciles with the envelope it comes from.

A grant's envelope often holds lines that are not paid to LAs (programme management), and
documents give the same envelope in different yearly profiles. The ``reconciliation`` section of
a config declares them; :func:`reconciliation_lines` adds them up against the run's LA-facing
totals, in whole pounds, for ``summary.md``. Nothing here is assumed: every line comes from the
config, and the sums are computed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

from pydantic import Field, model_validator

from .._model import Sourced

Pounds = Annotated[int, Field(strict=True, ge=0)]
PositivePounds = Annotated[int, Field(strict=True, gt=0)]


class EnvelopeLine(Sourced):
    """A line of money by year, declared in the config.

    Attributes
    ----------
    name : str
        What readers see, e.g. ``"programme management and evaluation"``.
    budget : dict of str to int
        Whole pounds per year label (years not listed are not compared).
    cited_as : str, optional
        The source in plain English for readers (``source`` keeps the exact reference).
    scope : {"total", "la_facing"}
        For a comparison: whether the line profiles the whole envelope or only the money paid
        to LAs.
    """

    name: str = Field(min_length=1)
    budget: dict[str, Pounds] = Field(min_length=1)
    cited_as: str | None = None
    scope: Literal["total", "la_facing"] = "total"


class ReconciliationConfig(Sourced):
    """The envelope, the lines not allocated to LAs, and other published profiles.

    Attributes
    ----------
    envelope_name : str
        E.g. ``"DHSC treatment and recovery grant to 2024-25"``.
    envelope : int
        The envelope in whole pounds over all years.
    cited_as : str, optional
        Plain-English source of the envelope.
    not_allocated : list of EnvelopeLine
        Money in the envelope that is not paid to LAs (e.g. programme management).
    compare : list of EnvelopeLine
        Other profiles of the same money to set the run's figures against.
    """

    envelope_name: str = Field(min_length=1)
    envelope: PositivePounds
    cited_as: str | None = None
    not_allocated: list[EnvelopeLine] = []
    compare: list[EnvelopeLine] = []

    @model_validator(mode="after")
    def _scope(self) -> ReconciliationConfig:
        for line in self.not_allocated:
            if line.scope != "total":
                raise ValueError(f"not_allocated line '{line.name}' cannot have scope "
                                 f"'{line.scope}'")
        return self

    def check_years(self, years: Sequence[str]) -> None:
        """Raise ``ValueError`` when a line names a year that is not modelled."""
        for where, lines in (("not_allocated", self.not_allocated), ("compare", self.compare)):
            for line in lines:
                extra = sorted(set(line.budget) - set(years))
                if extra:
                    raise ValueError(f"reconciliation.{where} '{line.name}' names years {extra} "
                                     f"that are not modelled; years are {list(years)}")


def _gbp(v: int) -> str:
    return f"-£{-v:,}" if v < 0 else f"£{v:,}"


def _signed(v: int) -> str:
    return "£0" if v == 0 else (f"+£{v:,}" if v > 0 else f"−£{-v:,}")


def _cite(line: ReconciliationConfig | EnvelopeLine) -> str:
    return f" ({line.cited_as})" if line.cited_as else ""


def _by_year(values: Mapping[str, int], years: Sequence[str]) -> str:
    return ", ".join(f"{_gbp(values[y])} in {y}" for y in years)


def shifts(diff: Mapping[str, int], years: Sequence[str]) -> list[str]:
    """Describe year-to-year moves that net to zero: ``"£1,000,000 moved from 2023-24 into 2022-23"``.

    Surpluses and shortfalls are matched in year order; what does not net out is left to the
    caller (the totals differ).
    """
    give = [[y, -diff[y]] for y in years if diff.get(y, 0) < 0]
    take = [[y, diff[y]] for y in years if diff.get(y, 0) > 0]
    out = []
    i = j = 0
    while i < len(give) and j < len(take):
        moved = min(give[i][1], take[j][1])
        out.append(f"{_gbp(moved)} moved from {give[i][0]} into {take[j][0]}")
        give[i][1] -= moved
        take[j][1] -= moved
        i += give[i][1] == 0
        j += take[j][1] == 0
    return out


def reconciliation_lines(config: ReconciliationConfig, la_facing: Mapping[str, int],
                         years: Sequence[str]) -> list[str]:
    """Sentences (one bullet each in the summary) reconciling the run's LA-facing totals with the envelope.

    Parameters
    ----------
    config : ReconciliationConfig
    la_facing : mapping of str to int
        Whole pounds allocated to LAs per year (every stream of the run).
    years : sequence of str
        Modelled years in order.

    Returns
    -------
    list of str
    """
    la = {y: int(la_facing.get(y, 0)) for y in years}
    total = {y: la[y] + sum(line.budget.get(y, 0) for line in config.not_allocated) for y in years}
    out = [f"Allocated to local authorities by this run: {_by_year(la, years)}; "
           f"{_gbp(sum(la.values()))} in total."]
    for line in config.not_allocated:
        b = {y: line.budget.get(y, 0) for y in years}
        out.append(f"Not allocated to local authorities: {line.name}, {_by_year(b, years)}; "
                   f"{_gbp(sum(b.values()))} in total{_cite(line)}.")
    grand = sum(total.values())
    gap = grand - config.envelope
    verdict = ("equal to" if gap == 0 else
               f"{_gbp(abs(gap))} {'more' if gap > 0 else 'less'} than")
    if config.not_allocated:
        out.append(f"Together: {_by_year(total, years)}; {_gbp(grand)}, {verdict} the "
                   f"{config.envelope_name} of {_gbp(config.envelope)}{_cite(config)}.")
    else:
        out.append(f"{_gbp(grand)} is {verdict} the {config.envelope_name} of "
                   f"{_gbp(config.envelope)}{_cite(config)}.")
    for line in config.compare:
        ys = [y for y in years if y in line.budget]
        ours = la if line.scope == "la_facing" else total
        diff = {y: ours[y] - line.budget[y] for y in ys}
        what = "the money allocated to LAs" if line.scope == "la_facing" else "the whole envelope"
        theirs = " / ".join(_gbp(line.budget[y]) for y in ys)
        if not any(diff.values()):
            out.append(f"{line.name}{_cite(line)} gives {theirs} for {what} in "
                       f"{', '.join(ys)}: the same as this run.")
            continue
        each = ", ".join(f"{_signed(diff[y])} in {y}" for y in ys)
        net = sum(diff.values())
        if net == 0:
            tail = "the same total, with " + "; ".join(shifts(diff, ys)) + "."
        else:
            tail = f"{_signed(net)} over these years."
        out.append(f"{line.name}{_cite(line)} gives {theirs} for {what} in {', '.join(ys)}. "
                   f"This run differs by {each}: {tail}")
    return out
