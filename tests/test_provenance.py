"""Manifest round trip and the comparisons replay reports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from allocator.errors import DataError
from allocator.provenance import (
    Manifest,
    cell_changes,
    dict_changes,
    hash_changes,
    run_hash,
    sha256_file,
)


def test_manifest_round_trip_is_deterministic(tmp_path: Path) -> None:
    m = Manifest(
        config_name="x",
        config_hash="a" * 64,
        run_hash=run_hash("a" * 64, {"f.csv": "b" * 64}),
        seed=1,
        inputs={"z.csv": "1" * 64, "a.csv": "2" * 64},
        outputs={"allocation.csv": "3" * 64},
        versions={"python": "3.11"},
        solver={"status": "Optimal"},
        config={"name": "x"},
    )
    text = m.to_json()
    assert text == m.to_json()
    assert text.index('"a.csv"') < text.index('"z.csv"')
    p = tmp_path / "manifest.json"
    p.write_text(text)
    back = Manifest.read(tmp_path)
    assert back == m


def test_manifest_read_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="manifest not found"):
        Manifest.read(tmp_path / "nope.json")
    bad = tmp_path / "manifest.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="not a valid manifest"):
        Manifest.read(bad)
    bad.write_text('{"config_name": "x"}')
    with pytest.raises(DataError, match="missing keys"):
        Manifest.read(bad)


def test_run_hash_changes_with_any_input() -> None:
    a = run_hash("c", {"f": "1"})
    assert a == run_hash("c", {"f": "1"})
    assert a != run_hash("c", {"f": "2"})
    assert a != run_hash("d", {"f": "1"})


def test_dict_changes_names_the_path() -> None:
    a = {"allocation": {"streams": {"pb": {"budget": {"2022-23": 20}}}}, "x": [1, 2]}
    b = {"allocation": {"streams": {"pb": {"budget": {"2022-23": 21}}}}, "x": [1, 3]}
    assert dict_changes(a, b) == [
        "allocation.streams.pb.budget.2022-23: 20 -> 21",
        "x[1]: 2 -> 3",
    ]


def test_hash_changes_reports_edits_and_missing() -> None:
    lines = hash_changes({"a": "1" * 64, "b": "2" * 64}, {"a": "9" * 64}, "input file")
    assert any(line.startswith("input file a: sha256 111111111111") for line in lines)
    assert any("input file b: missing now" in line for line in lines)


def test_cell_changes_reports_pounds() -> None:
    a = pd.DataFrame({"code": ["E1", "E2"], "total": [100, 200]})
    b = pd.DataFrame({"code": ["E1", "E2"], "total": [100, 150]})
    lines = cell_changes(a, b)
    assert lines[0] == "1 cell(s) differ:"
    assert "E2 total: 200 published, 150 replayed (-50)" in lines[1]


def test_sha256_file(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    assert sha256_file(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def _written_run(path: Path, ledger: dict | None = None) -> Path:
    """A SYNTHETIC run directory: two files and a manifest recording their SHA-256."""
    from allocator.provenance import hash_tree

    path.mkdir()
    (path / "allocation.csv").write_text("code,total\nE1,100\n", encoding="utf-8")
    (path / "config.yaml").write_text("name: x\n", encoding="utf-8")
    m = Manifest(config_name="x", config_hash="a" * 64, run_hash="b" * 64, seed=1, inputs={},
                 outputs=hash_tree(path), versions={}, solver={}, ledger=ledger)
    (path / "manifest.json").write_text(m.to_json(), encoding="utf-8")
    return path


def test_check_run_files_names_an_edited_missing_or_added_file(tmp_path: Path) -> None:
    from allocator.runtable import check_run_files

    run = _written_run(tmp_path / "run")
    assert check_run_files(run, ["allocation.csv", "config.yaml", "absent.csv"]).run_hash == "b" * 64
    (run / "allocation.csv").write_text("code,total\nE1,101\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        check_run_files(run, ["config.yaml", "allocation.csv"])
    text = str(err.value)
    assert text.startswith(f"{run / 'allocation.csv'}: not the file the run wrote")
    assert "edited after the run" in text and "re-run its config" in text
    assert f"`allocator replay {run / 'manifest.json'}`" in text and "\n" not in text
    (run / "allocation.csv").unlink()
    with pytest.raises(DataError, match="allocation.csv: missing: manifest.json records it"):
        check_run_files(run, ["allocation.csv"])
    (run / "extra.csv").write_text("code\n", encoding="utf-8")
    with pytest.raises(DataError, match="extra.csv: not a file the run wrote"):
        check_run_files(run, ["extra.csv"])


def test_check_run_files_of_an_amended_version_and_of_a_folder_without_manifest(
        tmp_path: Path) -> None:
    from allocator.runtable import check_run_files, unchecked_note

    v2 = _written_run(tmp_path / "v2", ledger={"version": 2, "parent": {}})
    (v2 / "allocation.csv").write_text("code,total\nE1,99\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        check_run_files(v2, ["allocation.csv"])
    assert "not the file `allocator amend` (version 2) wrote" in str(err.value)
    assert "edited after this version was written" in str(err.value)
    assert "re-apply its amendment.yaml" in str(err.value)
    assert unchecked_note(v2) == ""
    (v2 / "manifest.json").unlink()
    assert check_run_files(v2, ["allocation.csv"]) is None  # nothing to check against
    assert unchecked_note(v2).startswith(f"note: {v2} has no manifest.json")
