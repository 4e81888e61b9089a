"""``kind: correct``: an input value revised (a data revision), with a declared policy.

The corrected values replace the data's for the named LAs (any column of the areas table the
index or targets read: an indicator such as ``drug_deaths_rate``, or the population
``pop_all``), and/or revised input files replace the run's (``files:``, each naming the input
as the run's manifest does, the new file's path relative to the amendment and its SHA-256, which
must match; the file is copied into the version's ``inputs/`` and its hash recorded in the
manifest's ``inputs``), and the need index, waves, targets and allocation are recomputed by the
run's own steps (:func:`allocator.pipeline.set_up`, then the run's allocation problem). The correction
stays in force for every later version of the chain.

Policies
--------
``resolve_all``
    Every open year (not locked) is re-solved from the corrected data.
``future_years``
    Only the open years that start on or after the amendment's ``effective`` date are
    re-solved; the year under way keeps its amounts.
``no_worse_off``
    Every open year is re-solved, then each LA gets the larger of its published amount and its
    corrected amount: nobody is below what was published, and the stream-year's budget grows by
    exactly the sum of those top-ups (money the centre must find, stated in the summary and the
    manifest).

Waves and years already paid
----------------------------
A wave decides the year an LA's wave-dependent money (e.g. place-based funding) starts, and
money already paid cannot be re-paid or recovered by a correction. The rule: the waves are
recomputed from the corrected data, but an LA whose new wave would change whether it is
eligible in a year that is not re-solved (a locked year, or the year under way with
``future_years``) is placed in the wave nearest its new one that leaves those years as they
were, at worst its published wave (listed in the summary): an LA the corrected data promote
into a wave that started in a paid year joins the first wave that starts in a re-solved year.
With ``no_worse_off`` a move that would take away a cell with published money is held back in
the same way. The other LAs move, and their new waves take effect in the re-solved years. The
waves are re-cut with the placed LAs locked in their wave (``waves.locks``), repeated until no
new LA needs placing.

YAML::

    - kind: correct
      values:
        - {la: Blackpool, indicator: drug_deaths_rate, value: 30.1}
      files:                                        # and/or a revised input file
        - input: ons_drug_deaths_la_2021reg/DERIVED_table6_drug_misuse_asmr_persons_long.csv
          path: deaths-revised.csv
          sha256: 5f0c...                           # all 64 hex characters
      policy: future_years
      reason: ONS revised the 2018-20 rate          # optional
"""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd
from pydantic import Field, model_validator

from .._model import StrictModel
from ..columns import money_column
from .base import ChangeSchema, Context, Kind, Outcome, register
from .schema import year_start

#: Most re-cuts of the waves while holding LAs.
MAX_ROUNDS = 50


class CorrectedValue(StrictModel):
    """One revised value: the LA (name or ONS code), the column and the new number."""

    la: str
    indicator: str
    value: float


class ReplacedFile(StrictModel):
    """A revised input file: the ``input`` it replaces (its name in the run's manifest
    ``inputs``), the new file's ``path`` (relative to the amendment file) and its ``sha256``."""

    input: str
    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class CorrectChange(ChangeSchema):
    """Keys of a ``correct`` change (see the module docstring)."""

    values: list[CorrectedValue] = []
    files: list[ReplacedFile] = []
    policy: Literal["resolve_all", "future_years", "no_worse_off"]

    @model_validator(mode="after")
    def _something(self) -> CorrectChange:
        if not self.values and not self.files:
            raise ValueError("give 'values' (revised input values) and/or 'files' (revised "
                             "input files)")
        return self


def _held_waves(ctx: Context, corrections: list[dict[str, Any]], kept: list[str],
                protect_money: bool) -> tuple[pd.DataFrame, dict[str, int], set[str]]:
    """The areas with recomputed waves, LAs held where a move would change a kept year.

    Returns the areas, the waves the corrected data give before any LA is held (code ->
    wave) and the LAs held.
    """
    from ..waves import WaveLock
    from .solve import eligible_cells

    published = dict(zip(ctx.published["code"], ctx.published["wave"].astype(int), strict=True))
    money = {(c, s, y) for c in ctx.published["code"] for s in ctx.streams for y in ctx.years
             if ctx.amount(c, s, y, published=True) > 0}
    cfg = ctx.config.allocation
    held: dict[str, tuple[int, int]] = {}

    def harmful(areas: pd.DataFrame, code: str, wave: int, old_cells: set) -> bool:
        trial = areas.assign(wave=areas["wave"].where(areas["code"] != code, wave))
        mine = {cell for cell in eligible_cells(cfg, trial, ctx.data_dir) if cell[0] == code}
        was = {cell for cell in old_cells if cell[0] == code}
        return any(y in kept for _, _, y in mine ^ was) or (
            protect_money and any(cell in money for cell in was - mine))

    first: dict[str, int] = {}
    for _ in range(MAX_ROUNDS):
        locks = [*ctx.config.waves.locks, *(
            WaveLock(code=c, wave=w, reason="its corrected wave would change a year not re-solved")
            for c, (w, _new) in sorted(held.items()))]
        areas = ctx.problem_areas(corrections, None,
                                  ctx.config.waves.model_copy(update={"locks": locks}))
        first = first or dict(zip(areas["code"], areas["wave"].astype(int), strict=True))
        old = areas.assign(wave=areas["code"].map(published))
        old_cells = eligible_cells(cfg, old, ctx.data_dir)
        more = {}
        for code, wave in areas.loc[areas["wave"] != old["wave"], ["code", "wave"]].itertuples(
                index=False):
            if code in held or not harmful(areas, code, int(wave), old_cells):
                continue
            step = 1 if published[code] > wave else -1
            # the wave nearest the corrected one that leaves the kept years as they were
            given = next(w for w in range(int(wave) + step, published[code] + step, step)
                         if w == published[code] or not harmful(areas, code, w, old_cells))
            more[code] = (given, int(wave))
        if not more:
            return areas, first, set(held)
        held.update(more)
    raise ctx.error("changes", f"the waves did not settle after holding LAs {MAX_ROUNDS} times")


def _placed_words(ctx: Context, areas: pd.DataFrame, first: dict[str, int], held: set[str],
                  policy: str) -> list[str]:
    """One sentence per LA whose wave is not the one the corrected data rank it into."""
    out = []
    for code, wave in zip(areas["code"], areas["wave"].astype(int), strict=True):
        n = first.get(code, wave)
        if n == wave:
            continue
        if code not in held:
            why = f"wave {n} is full once the LAs kept in it are counted"
        elif policy == "no_worse_off":
            why = (f"wave {n} would change a year that is not re-solved, or take away money "
                   "published to it")
        else:
            why = f"wave {n} would change a year that is not re-solved"
        out.append(f"{ctx.name_of(code)} is placed in wave {wave}, not wave {n} as the "
                   f"corrected data rank it: {why}.")
    return out


@register
class Correct(Kind):
    """A data revision, re-solved under a declared policy (see the module docstring)."""

    name = "correct"
    schema = CorrectChange
    change: CorrectChange

    def _files(self, ctx: Context) -> list[dict[str, Any]]:
        """Replacement files checked (known input, regular file, declared SHA-256)."""
        from pathlib import Path

        from ..errors import AllocatorError
        from ..provenance import sha256_file
        from ..safe_files import resolve_input

        out = []
        for i, f in enumerate(self.change.files):
            key = f"{self.key}.files[{i}]"
            if f.input not in ctx.inputs:
                raise ctx.error(f"{key}.input", f"{f.input!r} is not an input of this run; "
                                                f"inputs are {', '.join(sorted(ctx.inputs))}")
            here = Path(ctx.source).parent
            copy = f"inputs/{f.sha256[:16]}-{Path(f.input).name}"
            if not (here / f.path).exists() and (here / copy).is_file():
                f = f.model_copy(update={"path": copy})  # a version's own copy (replay)
            try:
                path = resolve_input(f.path, here, f"{key}.path", max_bytes=2**31)
            except AllocatorError as exc:
                raise ctx.error(f"{key}.path", str(exc)) from None
            digest = sha256_file(path)
            if digest != f.sha256:
                raise ctx.error(f"{key}.sha256", f"{f.path} has SHA-256 {digest}, not the "
                                                 f"{f.sha256} declared")
            ctx.files[digest] = path
            out.append({"input": f.input, "sha256": digest, "was": ctx.inputs[f.input],
                        "file": copy})
        return out

    def _corrections(self, ctx: Context) -> list[dict[str, Any]]:
        out = self._files(ctx)
        if out:  # the values below are read from the data as the new files give them
            ctx.areas = ctx.problem_areas([*ctx.corrections, *out], dict(zip(
                ctx.allocation["code"], ctx.allocation["wave"], strict=True)))
        areas = ctx.current_areas()
        seen: dict[tuple[str, str], int] = {}
        for i, v in enumerate(self.change.values):
            key = f"{self.key}.values[{i}]"
            code = ctx.la(v.la, f"{key}.la")
            if (code, v.indicator) in seen:
                raise ctx.error(f"{key}.la", f"{ctx.name_of(code)} ({code}) {v.indicator} is "
                                             f"corrected twice (values[{seen[code, v.indicator]}])")
            seen[code, v.indicator] = i
            if v.indicator in ("code", "name", "region", "wave", "need_factor") or (
                    v.indicator not in areas.columns
                    or not pd.api.types.is_numeric_dtype(areas[v.indicator])):
                usable = sorted(c for c in areas.columns if pd.api.types.is_numeric_dtype(areas[c])
                                and c not in ("wave", "need_factor"))
                raise ctx.error(f"{key}.indicator", f"{v.indicator!r} is not an input value of "
                                                    f"this run; use one of {', '.join(usable)}")
            if v.value < 0:
                raise ctx.error(f"{key}.value", f"{v.value} is negative")
            was = float(areas.loc[areas["code"] == code, v.indicator].iloc[0])
            out.append({"code": code, "indicator": v.indicator, "value": float(v.value),
                        "was": was})
        return out

    def _free_years(self, ctx: Context) -> list[str]:
        if self.change.policy != "future_years":
            return list(ctx.open_years)
        if ctx.effective is None:
            raise ctx.error(f"{self.key}.policy", "future_years needs the amendment's "
                                                  "'effective' date (years that start on or "
                                                  "after it are re-solved)")
        return [y for y in ctx.open_years if year_start(y) >= ctx.effective]

    def check(self, ctx: Context) -> None:
        self._corrections(ctx)
        if not self._free_years(ctx):
            raise ctx.error(f"{self.key}.policy", f"policy {self.change.policy} leaves no year "
                                                  "to re-solve (every year is locked or under way)")

    def apply(self, ctx: Context) -> Outcome:
        from .solve import budgets_of, merge_money, recompute_totals, resolve

        new_values = self._corrections(ctx)
        corrections = [*ctx.corrections, *new_values]
        free = self._free_years(ctx)
        kept = [y for y in ctx.years if y not in free]
        policy = self.change.policy
        areas, first, held = _held_waves(ctx, corrections, kept, policy == "no_worse_off")
        budgets = budgets_of(ctx.allocation, ctx.streams, ctx.years)
        solved, solver = resolve(ctx.config, areas, ctx.allocation,
                                 {(s, y) for s in ctx.streams for y in free}, budgets=budgets,
                                 base_dir=ctx.data_dir)
        new = merge_money(ctx.allocation, solved, ctx.streams, ctx.years)
        change: dict[tuple[str, str], int] = {}
        if policy == "no_worse_off":
            for s in ctx.streams:
                for y in free:
                    col = money_column(s, y)
                    pub = new["code"].map(ctx.published.set_index("code")[col]).astype("int64")
                    top = (pub - new[col]).clip(lower=0)
                    new[col] = new[col] + top
                    if int(top.sum()):
                        change[(s, y)] = int(top.sum())
            new = recompute_totals(new, ctx.streams, ctx.years)
        words = [f"Input corrected: {ctx.name_of(c['code'])}'s {c['indicator']} {c['was']:g} -> "
                 f"{c['value']:g}." if "code" in c else
                 f"Input file {c['input']} replaced (SHA-256 {c['was'][:12]}... -> "
                 f"{c['sha256'][:12]}...)." for c in new_values]
        words.append(f"Policy {policy}: re-solved {', '.join(free)} from the corrected data"
                     + (f"; {', '.join(kept)} kept as published" if kept else "") + ".")
        old_w = ctx.allocation.set_index("code")["wave"]
        moves = [(c, int(old_w[c]), int(w)) for c, w in zip(areas["code"], areas["wave"], strict=True)
                 if int(old_w[c]) != int(w)]
        words += [f"{ctx.name_of(c)} moves from wave {a} to wave {b}." for c, a, b in moves]
        words += _placed_words(ctx, areas, first, held, policy)
        if change:
            words.append("No LA is below its published amount; the centre tops up "
                         + ", ".join(f"{s.replace('_', ' ')} {y} by £{v:,}"
                                     for (s, y), v in sorted(change.items())) + ".")
        return Outcome(new, budget_change=change, corrections=new_values, areas=areas,
                       words=words, solver=solver)


__all__ = ["Correct", "CorrectChange", "CorrectedValue"]
