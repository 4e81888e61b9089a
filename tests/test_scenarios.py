"""Config files: each file's name matches the config name inside it, and each one loads.

A config that stands alone (no ``extends:``) describes a grant in full and is named after its file
(``ssmtrg-2022-25``, ``nao-figure-8-2022-25``); a scenario ``extends:`` one of them, changes
something, and is named ``scenario-<file name>``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from allocator.config import load_config

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_name_matches_its_file(path: Path) -> None:
    cfg = load_config(path)
    parent = yaml.safe_load(path.read_text(encoding="utf-8")).get("extends")
    if parent is None:
        assert cfg.name == path.stem, f"{path.name} holds config {cfg.name!r}"
    else:
        base = load_config(path.parent / parent)
        assert cfg.name == f"scenario-{path.stem}", f"{path.name} holds config {cfg.name!r}"
        assert cfg.hash() != base.hash(), f"{path.name} changes nothing in the config"
