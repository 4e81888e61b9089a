"""The allocation problem's areas table for a version: the run's data with the corrections in
force, its need index and waves (:func:`allocator.pipeline.set_up`, the run's own steps)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError
from ..provenance import canonical_json
from ..rundir import temporary_folder


def apply_corrections(frame: pd.DataFrame, corrections: list[dict[str, Any]]) -> pd.DataFrame:
    """``frame`` with each correction's indicator value put in (``code``, ``indicator``,
    ``value``); later corrections of the same cell win. Replacement files (``input``) are
    applied when the data are read (:func:`replaced_data`), not here."""
    out = frame.copy()
    for c in corrections:
        if "input" in c:
            continue
        if c.get("indicator") not in out.columns:
            raise DataError(f"a correction names indicator {c.get('indicator')!r}, which the "
                            "areas table does not have")
        hit = out["code"] == c["code"]
        if not hit.any():
            raise DataError(f"a correction names LA {c['code']!r}, which is not in the data")
        out.loc[hit, c["indicator"]] = float(c["value"])
    return out


@contextlib.contextmanager
def replaced_data(root: Path, corrections: list[dict[str, Any]],
                  files: Mapping[str, Path]) -> Iterator[Path]:
    """The data folder with the replacement files in force: ``root`` itself when there are
    none, else a temporary mirror of symbolic links with each replaced input pointing at its
    replacement (``files``: SHA-256 -> where the bytes are)."""
    swaps = {c["input"]: files[c["sha256"]] for c in corrections if "input" in c}
    if not swaps:
        yield root
        return
    with temporary_folder("allocator-corrected-") as tmp:
        mirror = Path(tmp)
        for p in root.rglob("*"):
            if p.is_file():
                rel = p.relative_to(root).as_posix()
                target = mirror / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(Path(swaps.get(rel, p)).resolve())
        yield mirror


def areas_builder(config: Any, data_dir: str | Path | None, *, cache: bool | None = None,
                  files: Mapping[str, Path] | None = None) -> Callable[..., pd.DataFrame]:
    """A function ``build(corrections, waves=None, waves_config=None)`` returning the problem
    areas (population, need factor, wave, target bases) for ``config`` and the data with
    ``corrections`` applied; ``waves`` (code -> wave) replaces the computed waves, and
    ``waves_config`` the config's ``waves:`` section (e.g. with LAs held in their wave).
    Results are remembered, so the data are read once per set of corrections. ``files`` maps
    the SHA-256 of each replacement input file in force to where its bytes are (read when the
    builder is called, so it may be filled later)."""
    from ..paths import resolve_data_dir
    from ..pipeline import set_up

    files = {} if files is None else files

    memo: dict[str, Any] = {}

    def build(corrections: list[dict[str, Any]], waves: Mapping[str, int] | None = None,
              waves_config: Any = None) -> pd.DataFrame:
        key = canonical_json([corrections, None if waves_config is None
                              else waves_config.model_dump(mode="json")])
        if key not in memo:
            cfg = config if waves_config is None else config.model_copy(
                update={"waves": waves_config})
            revise = (lambda f: apply_corrections(f, corrections)) if corrections else None
            with replaced_data(resolve_data_dir(data_dir), corrections, files) as root:
                swapped = root != resolve_data_dir(data_dir)
                memo[key] = set_up(cfg, root, revise=revise, cache=False if swapped else cache,
                                   verify_hashes=False if swapped else None)
        areas = memo[key].problem.areas.copy()
        if waves is not None:
            missing = sorted(set(areas["code"]) - set(waves))
            if missing:
                raise DataError("the version's allocation lacks LAs the data has",
                                codes=missing)
            areas["wave"] = areas["code"].map(waves).astype("int64")
        return areas

    return build


__all__ = ["apply_corrections", "areas_builder"]
