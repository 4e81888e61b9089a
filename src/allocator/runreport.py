"""``allocator calibrate RUN`` and ``allocator rollup RUN``: reports on a published run directory.

Both read the run's own tables, never trusting them: each file is checked against the SHA-256
the run's ``manifest.json`` records (:func:`allocator.runtable.check_run_files`), so an edited
run is refused, not reported as if the run had published it, and read defensively
(:func:`allocator.runtable.read_table`), so a malformed file is an error naming its file and
column. A folder without ``manifest.json`` is read as it stands, unchecked (the command line
says so). The reports themselves are :mod:`allocator.report.calibrate` and
:mod:`allocator.report.rollup`; this module, above the report layer, reads the files and the
config they need.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import pandas as pd

from .columns import MONEY_PATTERN, POPULATION, TOTAL
from .errors import DataError
from .runtable import check_run_files, read_table

#: Columns of ``allocation.csv`` every report on a run needs, and those holding whole numbers.
_ALLOCATION = {"required": ("code", "name", "region", "wave", TOTAL),
               "integers": ("wave", TOTAL, MONEY_PATTERN)}
#: Columns of every ``evaluation.csv`` holding whole numbers, and those read as numbers (when
#: present).
_EVALUATION_INTEGERS = ("rank", POPULATION)
_EVALUATION_NUMBERS = ("imd_score", "ocu_count")


def _run_tables(run_dir: Path, evaluation: tuple[str, ...], *,
                extra: tuple[str, ...] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``allocation.csv`` and ``evaluation.csv`` of ``run_dir`` (the latter also with the columns
    ``evaluation``), read defensively and checked against the manifest with ``extra`` files;
    both must list the same LAs."""
    for name in ("allocation.csv", "evaluation.csv", *extra):
        if not (run_dir / name).is_file():
            hint = (" (`allocator amend` writes none, so calibrate and rollup report on runs, "
                    "not on amended versions; a run written by an older version may lack it: "
                    "re-run its config.yaml)"
                    if name == "evaluation.csv" else "")
            raise DataError(f"run directory has no {name}{hint}", file=run_dir / name)
    alloc = read_table(run_dir / "allocation.csv", **_ALLOCATION)
    ev = read_table(run_dir / "evaluation.csv", required=("code", *_EVALUATION_INTEGERS,
                                                           *evaluation),
                    integers=(*_EVALUATION_INTEGERS, MONEY_PATTERN), numbers=_EVALUATION_NUMBERS)
    check_run_files(run_dir, ("allocation.csv", "evaluation.csv", *extra))
    only = sorted(set(alloc["code"]) ^ set(ev["code"]))
    if only:
        raise DataError("allocation.csv and evaluation.csv do not list the same LAs",
                        file=run_dir, codes=only)
    return alloc, ev


def calibrate_run(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Recompute the calibration (:func:`allocator.report.calibrate.calibration_table`) of a
    written run from its own files.

    Reads ``allocation.csv`` (waves, regions, money), ``evaluation.csv`` (baseline IMD score and
    OCU counts) and ``config.yaml`` (years, streams) in ``run_dir``, each checked against the
    run's ``manifest.json``.

    Raises
    ------
    DataError
        A file is missing (e.g. a run written before evaluation.csv existed), malformed, or not
        the one the run wrote.
    """
    from .config import config_from_dict, read_config_document
    from .report.calibrate import calibration_table

    run_dir = Path(run_dir)
    alloc, ev = _run_tables(run_dir, ("imd_score",), extra=("config.yaml",))
    cfg = config_from_dict(read_config_document(run_dir / "config.yaml"), source=str(run_dir))
    base = [c for c in ("imd_score", "ocu_count") if c in ev.columns]
    frame = alloc.merge(ev[["code", *base]], on="code", validate="1:1")
    note = ""
    if "ocu_count_year" in ev.columns:
        note = f"OCU period {ev['ocu_count_year'].iloc[0]}"
    wave_streams = [s for s, sc in cfg.allocation.streams.items() if sc.eligible != "all"]
    return calibration_table(frame, years=cfg.allocation.resolved_years(),
                             wave_streams=wave_streams, ocu_note=note)


def deciles_for_run(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """:func:`allocator.report.calibrate.per_head_by_decile` of a written run (allocation.csv
    and evaluation.csv, checked as by :func:`calibrate_run`)."""
    from .report.calibrate import per_head_by_decile

    alloc, ev = _run_tables(Path(run_dir), ())
    return per_head_by_decile(alloc[["code", TOTAL]].merge(
        ev[["code", "rank", POPULATION]], on="code", validate="1:1"))


def rollup_run(run_dir: str | os.PathLike[str], lookup: Path | None = None) -> pd.DataFrame:
    """Roll up a written run (:func:`allocator.report.rollup.rollup`) by region (``lookup``
    None) or by a lookup file, from its ``allocation.csv`` and ``evaluation.csv`` (population),
    each checked against the run's ``manifest.json``."""
    from .report.rollup import read_lookup, rollup

    alloc, ev = _run_tables(Path(run_dir), ())
    names = dict(zip(alloc["code"], alloc["name"], strict=True))
    if lookup is None:
        table = pd.DataFrame({"code": alloc["code"], "group": alloc["region"],
                              "share": [Fraction(1)] * len(alloc)})
    else:
        table = read_lookup(lookup, names)
    money = [c for c in alloc.columns if c.startswith("total_")] + [TOTAL]
    return rollup(alloc, table, money=money, population=ev.set_index("code")[POPULATION])


__all__ = ["calibrate_run", "deciles_for_run", "rollup_run"]
