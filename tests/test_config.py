"""Config loading: safe YAML, unknown keys with their path, wrong types, extends, hashing."""

from __future__ import annotations

from pathlib import Path

import pytest

from allocator.config import load_config
from allocator.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "configs" / "ssmtrg-2022-25.yaml"


def _write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _extend(tmp_path: Path, body: str) -> Path:
    return _write(tmp_path, f"extends: {DEFAULT}\n{body}")


def test_default_config_is_the_published_grant() -> None:
    cfg = load_config(DEFAULT)
    streams = cfg.allocation.streams
    assert streams["continuation"].budget == {"2022-23": 80_000_000, "2023-24": 80_000_000, "2024-25": 80_000_000}
    assert streams["place_based"].budget == {"2022-23": 20_000_000, "2023-24": 81_000_000, "2024-25": 192_000_000}
    totals = [sum(s.budget[y] for s in streams.values()) for y in cfg.allocation.resolved_years()]
    assert totals == [100_000_000, 161_000_000, 272_000_000]
    assert sum(totals) == 533_000_000
    assert cfg.waves.sizes == [50, 50, "rest"]
    assert all(s.source for s in streams.values())


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")))
def test_every_shipped_config_loads(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.name


def test_hash_ignores_formatting_but_not_values(tmp_path: Path) -> None:
    a = load_config(DEFAULT)
    reformatted = _write(tmp_path, "# a comment\n" + DEFAULT.read_text().replace("seed: 20220413", "seed:    20220413"), "r.yaml")
    assert load_config(reformatted).hash() == a.hash()
    changed = _extend(tmp_path, "uncertainty: {seed: 1}\n")
    assert load_config(changed).hash() != a.hash()


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    p = _write(tmp_path, "name: x\nindex: [unclosed\n")
    with pytest.raises(ConfigError, match=r"malformed YAML at line \d+"):
        load_config(p)


def test_unknown_key_is_reported_with_its_path(tmp_path: Path) -> None:
    p = _extend(tmp_path, "index:\n  normalize: zscore\n")
    with pytest.raises(ConfigError, match=r"unknown key 'index\.normalize'"):
        load_config(p)


def test_unknown_nested_key_in_a_list(tmp_path: Path) -> None:
    p = _extend(tmp_path, "allocation:\n  caps:\n    - {share_of_stream: 0.1, sahre: 1}\n")
    with pytest.raises(ConfigError, match=r"unknown key 'allocation\.caps\[0\]\.sahre'"):
        load_config(p)


def test_wrong_type_names_key_and_value(tmp_path: Path) -> None:
    p = _extend(tmp_path, "uncertainty: {draws: many}\n")
    with pytest.raises(ConfigError, match=r"'uncertainty\.draws'.*'many'"):
        load_config(p)


def test_budget_must_be_whole_pounds(tmp_path: Path) -> None:
    p = _extend(tmp_path, "allocation:\n  streams:\n    continuation:\n      budget: {'2022-23': 80000000.55, '2023-24': 1, '2024-25': 1}\n")
    with pytest.raises(ConfigError, match=r"allocation\.streams\.continuation\.budget\.2022-23"):
        load_config(p)


def test_duplicate_key_is_an_error_not_a_silent_override(tmp_path: Path) -> None:
    p = _write(tmp_path, "name: a\nname: b\n")
    with pytest.raises(ConfigError, match="duplicate key 'name' at line 2"):
        load_config(p)


def test_unsafe_yaml_tags_are_refused(tmp_path: Path) -> None:
    p = _write(tmp_path, "name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="malformed YAML"):
        load_config(p)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="empty"):
        load_config(_write(tmp_path, ""))
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(_write(tmp_path, "- a\n- b\n", "list.yaml"))


def test_extends_loop_is_reported(tmp_path: Path) -> None:
    _write(tmp_path, "extends: b.yaml\nname: a\n", "a.yaml")
    _write(tmp_path, "extends: a.yaml\nname: b\n", "b.yaml")
    with pytest.raises(ConfigError, match="loops"):
        load_config(tmp_path / "a.yaml")


def test_output_dir_outside_the_project_is_refused(tmp_path: Path) -> None:
    p = _extend(tmp_path, "output: {dir: ../../etc}\n")
    with pytest.raises(ConfigError, match="output.dir must be a folder inside the project"):
        load_config(p)


def test_bad_run_name(tmp_path: Path) -> None:
    p = _extend(tmp_path, "name: 'Bad Name/../x'\n")
    with pytest.raises(ConfigError, match="'name'"):
        load_config(p)


def test_wave_labels_must_match_years(tmp_path: Path) -> None:
    p = _extend(tmp_path, "waves: {labels: ['a', 'b', 'c']}\n")
    with pytest.raises(ConfigError, match="wave k starts in year k"):
        load_config(p)
