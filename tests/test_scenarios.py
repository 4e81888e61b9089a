"""Scenario configs: each file's name matches the config name inside it, and each one loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from allocator.config import load_config

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_name_matches_its_file(path: Path) -> None:
    cfg = load_config(path)
    base = load_config(CONFIGS[0].parent / "ssmtrg-2022-25.yaml")
    if path.stem == "ssmtrg-2022-25":
        assert cfg.name == path.stem
    else:
        assert cfg.name == f"scenario-{path.stem}", f"{path.name} holds config {cfg.name!r}"
        assert cfg.hash() != base.hash(), f"{path.name} changes nothing in the config"
