"""``kind: reboundary``: the allocation carried onto later LA boundaries from a given year.

::

    changes:
      - kind: reboundary
        from_year: "2023-24"     # first year on the new boundaries; earlier years untouched
        boundaries: 2023         # ONS upper-tier LAs of April 2023 (153)
        basis: population        # split LAs by the mid-2020 population of their districts
        # basis: file            # ... or by a user's shares (file: shares.csv, relative to
        #                        #     the amendment file; schema: allocator.reboundary.shares)

The old -> new mapping is derived from ONS's files (:mod:`allocator.data.vintage`); pounds move
by exact shares with largest remainder, ties to the lower code (:mod:`allocator.reboundary.carry`),
so every stream-year sums exactly to its budget. The amended ``allocation.csv`` keeps every code
that holds money in some year: an old code (Cumbria, E10000006) has £0 in the years from
``from_year`` and a new code (Cumberland, E06000063) £0 before it (the LA did not exist then).
The run's rules are re-checked on the new boundaries (:mod:`allocator.reboundary.recheck`), a
breach is an error; the version also gets ``allocation_new_boundaries.csv`` and ``.xlsx``, ``map.html`` and the
static maps on the new boundaries for the years from ``from_year``
(:mod:`allocator.reboundary.outputs`). The split is an apportionment of the published pounds,
not a re-run of the need index on new boundaries, and every output says so.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Literal

import pandas as pd

from ..columns import PER_HEAD, POPULATION, TOTAL, money_column, money_columns, total_column
from ..errors import ConfigError
from ..report.caveats import REBOUNDARY_APPORTIONMENT, REBOUNDARY_LAYOUT
from .base import ChangeSchema, Context, Kind, Outcome, register


class ReboundarySchema(ChangeSchema):
    """The YAML block of a re-boundary (see the module docstring)."""

    from_year: str
    boundaries: int = 2023
    basis: Literal["population", "file"] = "population"
    file: str | None = None


@register
class Reboundary(Kind):
    """Carry the allocation onto the boundaries of ``boundaries`` from ``from_year``."""

    name = "reboundary"
    schema = ReboundarySchema

    def _spec(self, ctx: Context):  # type: ignore[no-untyped-def]
        from ..reboundary.amend import parse_spec

        raw = self.change.model_dump(exclude_none=True)
        try:
            return parse_spec(raw, ctx.years, base_dir=Path(ctx.source).parent, where=self.key)
        except ConfigError as exc:
            raise ConfigError(f"{ctx.source}: {exc}") from None

    def check(self, ctx: Context) -> None:
        """``from_year`` a later year of the run, every year from it open, the LAs those of
        May 2021 (a version already on other boundaries cannot be moved again)."""
        spec = self._spec(ctx)
        for y in ctx.years[ctx.years.index(spec.from_year):]:
            ctx.require_open(y, f"{self.key}.from_year")
        if spec.file is not None and not spec.file.is_file():
            raise ctx.error(f"{self.key}.file", f"no share file at {spec.file}")

    def apply(self, ctx: Context) -> Outcome:
        """The allocation on the new boundaries from ``from_year``, re-checked."""
        from ..data.vintage import load_changes
        from ..reboundary.amend import reboundary
        from ..reboundary.carry import carry_pounds
        from ..reboundary.recheck import RECHECKED, areas_on_new_boundaries, rule_failures
        from ..reboundary.shares import successor_shares

        spec = self._spec(ctx)
        verify = ctx.config.data.verify_hashes
        changes = load_changes(ctx.data_folder(), spec.boundaries, verify_hashes=verify)
        codes = set(ctx.allocation["code"].astype(str))
        if codes != set(changes.old_names):
            raise ctx.error(self.key, "the version's LAs are not the 152 of May 2021 (already "
                                      "re-boundaried?); a re-boundary starts from them")
        shares = successor_shares(changes, spec.basis, spec.file)
        streams, years = ctx.streams, ctx.years
        later = years[years.index(spec.from_year):]
        spec = replace(spec, reason=self.reason(ctx))
        res = reboundary(ctx.allocation, streams, years, spec, changes, shares)
        areas_new = areas_on_new_boundaries(ctx.current_areas(), changes)
        as_if = carry_pounds(ctx.allocation, money_columns(streams, years), shares)
        failures = rule_failures(ctx.config.allocation, areas_new, as_if, later)
        if failures:
            raise ctx.error(f"{self.key}.basis", "the split breaks the run's rules on the new "
                            f"boundaries ({len(failures)}): {'; '.join(failures[:10])}. Give "
                            "shares that keep them (basis: file)")
        table = _union_table(ctx.allocation, res.allocation, areas_new, streams, years)
        reasons = _reasons(res.ledger)
        words = [*res.notes,
                 "Re-checked on the new boundaries, on the final whole pounds: "
                 + "; ".join(RECHECKED) + "."]
        return Outcome(allocation=table, words=words, rules_rechecked=True, reasons=reasons,
                       caveats=[REBOUNDARY_APPORTIONMENT, res.notes[0],
                                REBOUNDARY_LAYOUT.format(year=spec.from_year,
                                                         vintage=spec.boundaries)],
                       sources=[source_line(r) for r in changes.sources],
                       files=_writer(ctx, spec, changes, res.new_boundaries, areas_new, later,
                                     self.change.file))


def source_line(record: dict[str, str]) -> str:
    """``publisher: title (period)``, as a run's sources are written."""
    return f"{record['publisher']}: {record['title']} ({record['period']})"


def _union_table(published: pd.DataFrame, amended: pd.DataFrame, areas_new: pd.DataFrame,
                 streams: list[str], years: list[str]) -> pd.DataFrame:
    """The allocation.csv layout over old and new codes, £0 where a code does not exist."""
    money = money_columns(streams, years)
    old = published.set_index("code")
    new = areas_new.set_index("code")
    out = amended.set_index("code")[["name", *money]].copy()
    out[money] = out[money].fillna(0).astype("int64")
    out["region"] = [old.at[c, "region"] if c in old.index else new.at[c, "region"]
                     for c in out.index]
    out["wave"] = [int(old.at[c, "wave"]) if c in old.index else int(new.at[c, "wave"])
                   for c in out.index]
    if POPULATION in published.columns:
        out[POPULATION] = [int(old.at[c, POPULATION]) if c in old.index
                           else int(new.at[c, POPULATION]) for c in out.index]
    out = out.reset_index()
    for c in published.columns:
        if c not in out.columns:
            out[c] = 0
    return out[list(published.columns)]


def _reasons(ledger: pd.DataFrame) -> dict[tuple[str, str, str], str]:
    """Each affected cell's ledger reason (the change's reason, old code -> new code, how)."""
    return {(r.code, r.stream, r.year): r.reason for r in ledger.itertuples(index=False)}


def _writer(ctx: Context, spec, changes, carried, areas_new, later, share_file):  # type: ignore[no-untyped-def]
    """The version's own files: the share file (so a replay finds it beside amendment.yaml),
    ``allocation_new_boundaries.csv`` and ``.xlsx``, ``map.html`` and the static maps on the new
    boundaries."""

    def write(folder: Path, header: list[str]) -> None:
        from ..reboundary.outputs import (
            boundary_words,
            load_geometry,
            map_frame,
            write_maps,
            write_workbook,
        )
        from ..runtable import check_run_files, read_table
        from .write import write_commented_csv

        if share_file is not None:
            target = folder / share_file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(spec.file.read_bytes())
        verify = ctx.config.data.verify_hashes
        geometry, records = load_geometry(ctx.data_folder(), spec.boundaries, verify_hashes=verify)
        if ctx.root_dir is None:
            raise ctx.error("parent", "the chain's run folder is not known, so the need index of "
                                      "the LAs cannot be shown on the new boundaries")
        index = read_table(ctx.root_dir / "index.csv")
        check_run_files(ctx.root_dir, ("index.csv",))
        frame = map_frame(carried, changes, areas_new, index, geometry, ctx.streams, later)
        money = [money_column(s, y) for s in ctx.streams for y in later]
        cols = ["code", "name", "region", "wave", *money, *(total_column(y) for y in later),
                TOTAL, POPULATION, PER_HEAD]
        from ..report.caveats import LICENCE, licence

        # these files are drawn on the later boundaries: their licence names that vintage
        lines = [line.replace(LICENCE, licence(spec.boundaries)) for line in header]
        lines.append(f"Boundaries from {later[0]}: {boundary_words(spec.boundaries)} "
                     f"({len(frame)} upper-tier LAs)")
        write_commented_csv(pd.DataFrame(frame[cols]), folder / "allocation_new_boundaries.csv",
                            lines)
        write_workbook(frame[cols], folder / "allocation_new_boundaries.xlsx", lines,
                       ctx.streams, later, spec.boundaries)
        sources = [source_line(r) for r in [*changes.sources, *records]]
        write_maps(frame, folder, data_dir=ctx.data_folder(), vintage=spec.boundaries,
                   config_name=ctx.config.name, config_hash=ctx.config.hash(),
                   streams=ctx.streams, years=later, sources=sources, notes=[])

    return write
