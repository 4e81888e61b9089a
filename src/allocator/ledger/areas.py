"""The allocation problem's areas table for a version: the run's data with the corrections in
force, its need index and waves (:func:`allocator.pipeline.set_up`, the run's own steps)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError
from ..provenance import canonical_json


def apply_corrections(frame: pd.DataFrame, corrections: list[dict[str, Any]]) -> pd.DataFrame:
    """``frame`` with each correction's indicator value put in (``code``, ``indicator``,
    ``value``); later corrections of the same cell win."""
    out = frame.copy()
    for c in corrections:
        if c.get("indicator") not in out.columns:
            raise DataError(f"a correction names indicator {c.get('indicator')!r}, which the "
                            "areas table does not have")
        hit = out["code"] == c["code"]
        if not hit.any():
            raise DataError(f"a correction names LA {c['code']!r}, which is not in the data")
        out.loc[hit, c["indicator"]] = float(c["value"])
    return out


def areas_builder(config: Any, data_dir: str | Path | None, *, cache: bool | None = None
                  ) -> Callable[..., pd.DataFrame]:
    """A function ``build(corrections, waves=None, waves_config=None)`` returning the problem
    areas (population, need factor, wave, target bases) for ``config`` and the data with
    ``corrections`` applied; ``waves`` (code -> wave) replaces the computed waves, and
    ``waves_config`` the config's ``waves:`` section (e.g. with LAs held in their wave).
    Results are remembered, so the data are read once per set of corrections."""
    from ..pipeline import set_up

    memo: dict[str, Any] = {}

    def build(corrections: list[dict[str, Any]], waves: Mapping[str, int] | None = None,
              waves_config: Any = None) -> pd.DataFrame:
        key = canonical_json([corrections, None if waves_config is None
                              else waves_config.model_dump(mode="json")])
        if key not in memo:
            cfg = config if waves_config is None else config.model_copy(
                update={"waves": waves_config})
            revise = (lambda f: apply_corrections(f, corrections)) if corrections else None
            memo[key] = set_up(cfg, data_dir, cache=cache, revise=revise)
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
