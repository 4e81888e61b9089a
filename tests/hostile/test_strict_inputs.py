"""Issue 14, "wrong money with exit 0" and "exit codes": strict floor files, finite and sane
numbers, configs that are too big, too deep or malformed, and ``validate`` making every check
``run`` makes before solving. Every case is exit 2 with one ``error:`` paragraph naming the key,
file or column, and nothing is written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from allocator.data.floor_file import read_floor_table
from allocator.errors import DataError

from .helpers import BASE_CONFIG, DATA_DIR, assert_clean_error, run_cli, write_config

pytestmark = pytest.mark.skipif(DATA_DIR is None, reason="shared/geodata not present")

YEARS = ["2022-23", "2023-24", "2024-25"]
STREAMS = ["continuation", "place_based"]


def _codes() -> list[str]:
    import geopandas as gpd

    from .helpers import BOUNDARIES

    b = gpd.read_file(DATA_DIR / BOUNDARIES, columns=["utla21_code"], ignore_geometry=True)
    return sorted(c for c in b["utla21_code"] if c.startswith("E"))


CODES = _codes() if DATA_DIR is not None else []


def validate(tmp_path: Path, overrides: dict[str, Any] | None = None, *, text: str | None = None):
    path = tmp_path / "c.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    else:
        write_config(path, overrides)
    return run_cli("validate", path, "--data-dir", DATA_DIR)


def floor_config(path: Path, **scope: Any) -> dict[str, Any]:
    return {"allocation": {"floors": [{"kind": "file", "path": str(path), **scope}]}}


# ----------------------------------------------------------------------------- floor files
def previous_allocation(tmp_path: Path, columns: list[str], amount: int = 400_000) -> Path:
    df = pd.DataFrame({"code": CODES, **{c: amount for c in columns}})
    p = tmp_path / "previous.csv"
    df.to_csv(p, index=False)
    return p


def test_misspelt_floor_year_column_is_an_error_not_a_missing_floor(tmp_path):
    """The issue's case: ``continuation_2024-25`` (dash) left 64 LAs below their £400,000 floor."""
    cols = ["continuation_2022_23", "continuation_2023_24", "continuation_2024-25"]
    p = previous_allocation(tmp_path, cols)
    res = validate(tmp_path, floor_config(p, streams=["continuation"]))
    assert_clean_error(res, "previous.csv", "unknown column", "continuation_2024-25",
                       "continuation_2024_25")
    res = run_cli("run", tmp_path / "c.yaml", "--data-dir", DATA_DIR, "--out", tmp_path / "o")
    assert_clean_error(res, "continuation_2024-25")
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_floor_file_missing_a_scoped_year_is_an_error(tmp_path):
    p = previous_allocation(tmp_path, ["continuation_2022_23", "continuation_2023_24"])
    res = validate(tmp_path, floor_config(p, streams=["continuation"]))
    assert_clean_error(res, "no column for ['continuation_2024_25']", "every stream-year")


def test_floor_file_column_outside_the_floors_scope_is_an_error(tmp_path):
    p = previous_allocation(tmp_path, ["continuation_2022_23", "place_based_2022_23"])
    res = validate(tmp_path, floor_config(p, streams=["continuation"], years=["2022-23"]))
    assert_clean_error(res, "place_based_2022_23", "outside this floor's scope")


def test_floor_file_with_amount_and_stream_year_columns_is_ambiguous(tmp_path):
    p = previous_allocation(tmp_path, ["amount", "continuation_2022_23"])
    res = validate(tmp_path, floor_config(p, streams=["continuation"], years=["2022-23"]))
    assert_clean_error(res, "both 'amount' and stream-year columns")


def test_a_correct_floor_file_is_applied(tmp_path):
    """Control: the same file with the right header validates (so the errors above are real)."""
    cols = ["continuation_2022_23", "continuation_2023_24", "continuation_2024_25"]
    p = previous_allocation(tmp_path, cols, amount=400_000)
    res = validate(tmp_path, floor_config(p, streams=["continuation"]))
    assert res.returncode == 0, res.stderr
    grid = read_floor_table(p, codes=CODES, streams=STREAMS, years=YEARS,
                            scope_streams=["continuation"])
    assert (grid[0] == 400_000).all() and np.isnan(grid[1]).all()


@pytest.mark.parametrize(("content", "needle"), [
    (b"", "the file is empty"),
    (b"\n\n", "the file is empty"),
    (b"code,amount\n", "no data rows"),
    (b"code,amount\nE06000001,400000\nE06000002,400000,7\n", "line 3 has 3 cells"),
    ("code,amount\nE06000001,40000£\n".encode("latin-1"), "not valid UTF-8 text at line 2"),
    (b"code,amount\nE06000001,nan\n", "must be a finite number"),
    (b"code,amount\nE06000001,inf\n", "must be a finite number"),
    (b"code,amount\nE06000001,1e30\n", "must be a finite number of pounds from 0"),
    (b"code,amount\nE06000001,-5\n", "must be a finite number"),
    (b"code,amount\nE06000001,lots\n", "is not a number"),
    (b"code,amount\nE06000001,\n", "is not a number"),
    (b"code,amount\nE06000001,1\nE06000001,2\n", "duplicate codes"),
    (b"code,amount\nE99999999,1\n", "codes not in the areas table"),
    (b"amount\n5\n", "needs a 'code' column"),
    (b"code,amount\x00\nE06000001,1\n", "NUL byte"),
])
def test_broken_floor_file_is_exit_2(tmp_path, content, needle):
    p = tmp_path / "floor.csv"
    p.write_bytes(content)
    res = validate(tmp_path, floor_config(p, streams=["continuation"]))
    assert_clean_error(res, "floor.csv", needle)


def test_floor_file_error_never_echoes_more_than_an_excerpt(tmp_path):
    secret = "S3CRET" * 200
    p = tmp_path / "floor.csv"
    p.write_text(f"code,amount\n{secret},1\n")
    res = validate(tmp_path, floor_config(p, streams=["continuation"]))
    assert_clean_error(res, "codes not in the areas table")
    assert secret not in res.stderr and len(res.stderr) < 1500


def test_read_floor_table_rejects_an_unscoped_single_column():
    """The API the solver's rule calls: unit level, no data needed."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "f.csv"
        p.write_text("code,place_based_2022_23\nA,1\n")
        with pytest.raises(DataError, match="no column for"):
            read_floor_table(p, codes=["A"], streams=STREAMS, years=YEARS)
        assert read_floor_table(p, codes=["A"], streams=STREAMS, years=YEARS,
                                scope_streams=["place_based"], scope_years=["2022-23"])[1, 0, 0] == 1


# ----------------------------------------------------------------------------- numbers
@pytest.mark.parametrize(("body", "needles"), [
    ("index:\n  indicators:\n    - {name: drug_deaths_rate, weight: .inf}\n",
     ["'index.indicators[0].weight'", "not a finite number"]),
    ("index:\n  indicators:\n    - {name: drug_deaths_rate, weight: .nan}\n",
     ["'index.indicators[0].weight'", "not a finite number"]),
    ("index:\n  indicators:\n    - {name: drug_deaths_rate, weight: 1.0e+300}\n",
     ["'index.indicators[0].weight'", "less than or equal to"]),
    ("allocation: {floors: [{kind: fixed, amount: .inf}]}\n",
     ["'allocation.floors[0].amount'", "not a finite number"]),
    ("allocation: {floors: [{kind: fixed, amount: 1.0e+30}]}\n",
     ["'allocation.floors[0].amount'", "less than or equal to 4000000000000000"]),
    ("allocation: {floors: [{kind: fixed, amount: 1e30}]}\n", ["'allocation.floors[0].amount'"]),
    ("allocation: {caps: [{per_head: .inf}]}\n", ["'allocation.caps[0].per_head'"]),
    ("allocation: {pace: {max_growth: .nan}}\n", ["'allocation.pace.max_growth'"]),
    ("uncertainty: {seed: -1}\n", ["'uncertainty.seed'", "greater than or equal to 0"]),
    ("uncertainty: {draws: 1000000000}\n", ["'uncertainty.draws'", "100000"]),
    ("uncertainty: {draws: 10000000}\n", ["'uncertainty.draws'", "100000"]),
    ("uncertainty: {relative_error: .inf}\n", ["'uncertainty.relative_error'"]),
    ("allocation: {streams: {continuation: {budget: {'2022-23': " + str(10**30) + "}}}}\n",
     ["'allocation.streams.continuation.budget.2022-23'", "far too large"]),
    ("allocation: {streams: {continuation: {budget: {'2022-23': " + str(10**16) + "}}}}\n",
     ["'allocation.streams.continuation.budget.2022-23'", "less than or equal to"]),
    ("allocation: {locks: [{code: E06000001, stream: continuation, year: '2022-23', amount: "
     + str(10**18) + "}]}\n", ["'allocation.locks[0].amount'"]),
    ("allocation: {solver: {highs_options: {mip_rel_gap: .nan}}}\n",
     ["'allocation.solver.highs_options.mip_rel_gap'", "not a finite number"]),
    ("effective: 2022-13-45\n", ["'2022-13-45' at line 3", "not a valid date"]),
])
def test_absurd_numbers_are_refused_by_validate_with_the_key(tmp_path, body, needles):
    res = validate(tmp_path, text=f"extends: {BASE_CONFIG}\nuncertainty: {{draws: 200}}\n" + body
                   if not body.startswith("uncertainty") else f"extends: {BASE_CONFIG}\n" + body)
    assert_clean_error(res, *needles)
    assert "loading and checking the source data" not in res.stderr  # refused before any data


# ----------------------------------------------------------------------------- the file itself
def test_50000_deep_yaml_nesting(tmp_path):
    res = validate(tmp_path, text="a: " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert_clean_error(res, "nested too deeply")


def test_moderately_deep_yaml_nesting_names_the_key(tmp_path):
    res = validate(tmp_path, text=f"extends: {BASE_CONFIG}\nx: " + "[" * 40 + "]" * 40 + "\n")
    assert_clean_error(res, "nested more than 32 levels")


def test_yaml_alias_bomb(tmp_path):
    lines = ["a: &a [1,1,1,1,1,1,1,1,1,1]"]
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
    res = validate(tmp_path, text="\n".join(lines) + "\n")
    assert_clean_error(res, "more than 100,000 values")


def test_extends_with_a_nul_byte(tmp_path):
    res = validate(tmp_path, text='extends: "a\\0b"\nname: x\n')
    assert_clean_error(res, "'extends' contains a NUL or control character")


def test_extends_proc_environ_is_refused_without_echoing_it(tmp_path):
    os.environ["ALLOCATOR_TEST_SECRET"] = "hunter2-do-not-echo"
    try:
        res = validate(tmp_path, text="extends: /proc/self/environ\nname: x\n")
    finally:
        del os.environ["ALLOCATOR_TEST_SECRET"]
    assert_clean_error(res, "system folder")
    assert "hunter2" not in res.stderr


def test_extends_a_fifo_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")
    res = validate(tmp_path, text="extends: pipe.yaml\nname: x\n")
    assert_clean_error(res, "not a regular file")


def test_100_mb_config_is_refused_before_reading(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.truncate(100_000_000)  # sparse: instant to make, 100 MB by its size
    res = run_cli("validate", big, "--data-dir", DATA_DIR)
    assert_clean_error(res, "100,000,000 bytes, above the limit of 1,000,000")


def test_validate_runs_the_checks_run_makes_before_solving(tmp_path):
    """A floor above the budget fails ``validate`` (presolve), not only ``run`` after solving."""
    res = validate(tmp_path, {"allocation": {"floors": [{"kind": "fixed", "amount": 10**14}]}})
    assert_clean_error(res, "presolve found")


def test_empty_ocu_file(tmp_path):
    p = tmp_path / "ocu.csv"
    p.write_bytes(b"")
    res = validate(tmp_path, {"data": {"ocu_file": str(p)}})
    assert_clean_error(res, "ocu.csv", "the file is empty")


def test_ocu_file_that_is_a_folder_or_a_device(tmp_path):
    res = validate(tmp_path, {"data": {"ocu_file": str(tmp_path)}})
    assert_clean_error(res, "data.ocu_file is a folder")
    res = validate(tmp_path, {"data": {"ocu_file": "/dev/zero"}})
    assert_clean_error(res, "system folder")


def test_relative_ocu_path_may_not_climb_out_of_the_data_folder(tmp_path):
    res = validate(tmp_path, {"data": {"ocu_file": "../../../../etc/passwd"}})
    assert_clean_error(res, "leaves its folder")
