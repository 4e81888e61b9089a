"""Hostile configs: every bad config ends in one clear error that names the key or constraint.

Configs ``extends:`` the published config (its absolute path, computed from this file) and
change one thing. Each case runs ``allocator run CONFIG --out OUTPUTS`` where OUTPUTS already
holds a real run, and asserts exit 2, the message, no traceback, and the previous run unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from allocator.allocate import AllocationProblem
from allocator.errors import ConfigError, InfeasibleError

from .helpers import (
    BASE_CONFIG,
    DATA_DIR,
    CliResult,
    Outputs,
    assert_clean_error,
    read_table,
    run_cli,
    write_config,
)

pytestmark = pytest.mark.skipif(DATA_DIR is None, reason="shared/geodata not present")

YEARS = ["2022-23", "2023-24", "2024-25"]


def run_config(tmp_path: Path, outputs: Outputs, overrides: dict[str, Any] | None = None,
               *, text: str | None = None) -> CliResult:
    path = tmp_path / "hostile.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    else:
        write_config(path, overrides)
    return run_cli("run", path, "--data-dir", DATA_DIR, "--out", outputs.path)


def budget(values: dict[str, Any]) -> dict[str, Any]:
    return {"allocation": {"streams": {"continuation": {"budget": values}}}}


# ----------------------------------------------------------------------------- the file
def test_config_file_not_found(tmp_path, outputs):
    res = run_cli("run", tmp_path / "typo.yaml", "--data-dir", DATA_DIR, "--out", outputs.path)
    assert_clean_error(res, "config file not found", "typo.yaml")
    outputs.assert_unchanged()


def test_malformed_yaml_names_line_and_column(tmp_path, outputs):
    text = f"extends: {BASE_CONFIG}\nuncertainty: {{draws: 200\nwaves:\n  sizes: [50, 50, rest]\n"
    res = run_config(tmp_path, outputs, text=text)
    assert_clean_error(res, "hostile.yaml", "malformed YAML", "line ")
    outputs.assert_unchanged()


def test_tab_indentation(tmp_path, outputs):
    text = f"extends: {BASE_CONFIG}\nuncertainty:\n\tdraws: 200\n"
    res = run_config(tmp_path, outputs, text=text)
    assert_clean_error(res, "hostile.yaml", "malformed YAML", "line 3")
    outputs.assert_unchanged()


def test_extends_a_missing_file(tmp_path, outputs):
    res = run_config(tmp_path, outputs, text="extends: no-such-base.yaml\nname: x\n")
    assert_clean_error(res, "config file not found", "no-such-base.yaml")
    outputs.assert_unchanged()


def test_unknown_key_is_named_with_its_path(tmp_path, outputs):
    res = run_config(tmp_path, outputs, {"allocation": {"flors": []}})
    assert_clean_error(res, "hostile.yaml", "unknown key 'allocation.flors'")
    outputs.assert_unchanged()


def test_wrong_type_names_key_and_value(tmp_path, outputs):
    res = run_config(tmp_path, outputs, {"uncertainty": {"draws": "many"}})
    assert_clean_error(res, "'uncertainty.draws'", "'many'")
    outputs.assert_unchanged()


# ----------------------------------------------------------------------------- money
def test_negative_budget(tmp_path, outputs):
    res = run_config(tmp_path, outputs, budget({"2022-23": -80_000_000}))
    assert_clean_error(res, "'allocation.streams.continuation.budget.2022-23'", "greater than 0",
                       "-80000000")
    outputs.assert_unchanged()


def test_zero_budget(tmp_path, outputs):
    res = run_config(tmp_path, outputs, budget({"2022-23": 0}))
    assert_clean_error(res, "'allocation.streams.continuation.budget.2022-23'", "greater than 0")
    outputs.assert_unchanged()


def test_budget_with_many_decimals_is_not_silently_rounded(tmp_path, outputs):
    res = run_config(tmp_path, outputs, budget({"2022-23": 80_000_000.123456789}))
    assert_clean_error(res, "'allocation.streams.continuation.budget.2022-23'", "integer",
                       "80000000.12")
    outputs.assert_unchanged()


def test_budget_in_e_notation_is_refused_with_its_key(tmp_path, outputs):
    """YAML 1.1 reads ``1e15`` as text and ``1.0e+15`` as a float: neither is whole pounds."""
    text = (f"extends: {BASE_CONFIG}\nuncertainty: {{draws: 200}}\nallocation:\n  streams:\n"
            "    continuation:\n      budget: {'2022-23': 1e15, '2023-24': 1.0e+15}\n")
    res = run_config(tmp_path, outputs, text=text)
    assert_clean_error(res, "2 problems", "budget.2022-23", "'1e15'", "budget.2023-24")
    outputs.assert_unchanged()


def test_very_large_budget_is_allocated_to_the_pound(tmp_path):
    """£1e15 (a thousand trillion) in whole pounds: every stream-year still sums exactly."""
    big = 10**15
    over = budget({"2022-23": big, "2023-24": big + 1, "2024-25": 80_000_000})
    over["allocation"]["solver"] = {"name": "cbc", "cross_check": None}
    over["output"] = {"map": False, "excel": False, "gpkg": False}
    write_config(tmp_path / "big.yaml", over)
    res = run_cli("run", tmp_path / "big.yaml", "--data-dir", DATA_DIR, "--out", tmp_path / "o",
                  "--quiet")
    assert res.returncode == 0, res.stderr
    (run_dir,) = (tmp_path / "o").iterdir()
    table = read_table(run_dir / "allocation.csv")
    sums = {y: sum(int(v) for v in table[f"continuation_{y.replace('-', '_')}"]) for y in YEARS}
    assert sums == {"2022-23": big, "2023-24": big + 1, "2024-25": 80_000_000}


def test_very_large_budget_with_the_default_solver_never_fails_silently(tmp_path):
    """With HiGHS (cross-checked by CBC), £1e15 is allocated to the pound or refused cleanly.

    Refusals seen: HiGHS's numerical trouble ("try solver.name: cbc") or the cross-check
    catching the two solvers disagreeing by more than £1; both name the solvers.
    """
    big = 10**15
    over = budget({"2022-23": big, "2023-24": big, "2024-25": big})
    over["output"] = {"map": False, "excel": False, "gpkg": False}
    write_config(tmp_path / "big.yaml", over)
    out = tmp_path / "o"
    res = run_cli("run", tmp_path / "big.yaml", "--data-dir", DATA_DIR, "--out", out, "--quiet")
    if res.returncode == 0:
        (run_dir,) = out.iterdir()
        table = read_table(run_dir / "allocation.csv")
        for y in YEARS:
            assert sum(int(v) for v in table[f"continuation_{y.replace('-', '_')}"]) == big
    else:
        assert_clean_error(res, "cbc")
        assert not out.exists() or list(out.iterdir()) == []


# ----------------------------------------------------------------------------- index / waves
def test_weights_that_sum_to_zero(tmp_path, outputs):
    ind = [{"name": n, "direction": "higher_is_worse", "weight": 0}
           for n in ("drug_deaths_rate", "imd_score", "crime_score")]
    res = run_config(tmp_path, outputs, {"index": {"indicators": ind}})
    assert_clean_error(res, "'index'", "indicator weights sum to zero", "weighting: equal")
    outputs.assert_unchanged()


def test_model_level_error_does_not_dump_the_whole_section(tmp_path, outputs):
    ind = [{"name": "drug_deaths_rate", "direction": "higher_is_worse", "weight": 0}]
    res = run_config(tmp_path, outputs, {"index": {"indicators": ind}})
    assert_clean_error(res, "indicator weights sum to zero")
    assert "engine assumption" not in res.message  # text of index.source / need_factor.source
    assert len(res.message) < 400
    outputs.assert_unchanged()


def test_wave_sizes_larger_than_the_number_of_las(tmp_path, outputs):
    res = run_config(tmp_path, outputs, {"waves": {"sizes": [100, 100, "rest"]}})
    assert_clean_error(res, "wave sizes 100+100+rest", "152 LAs")
    outputs.assert_unchanged()


def test_wave_sizes_that_do_not_cover_every_la(tmp_path, outputs):
    res = run_config(tmp_path, outputs, {"waves": {"sizes": [50, 50, 50]}})
    assert_clean_error(res, "50+50+50 = 150", "152 LAs", "'rest'")
    outputs.assert_unchanged()


def test_la_locked_both_in_and_out(tmp_path, outputs):
    waves = {"locks": [{"code": "E08000003", "wave": 1, "reason": "ministerial decision"}],
             "lock_out": [{"code": "E08000003", "wave": 1, "reason": "not ready"}]}
    res = run_config(tmp_path, outputs, {"waves": waves})
    assert_clean_error(res, "'waves'", "E08000003 is locked both in (wave 1) and out (wave 1)")
    outputs.assert_unchanged()


def test_lock_on_an_unknown_code(tmp_path, outputs):
    waves = {"locks": [{"code": "E08999999", "wave": 1, "reason": "typo"}]}
    res = run_config(tmp_path, outputs, {"waves": waves})
    assert_clean_error(res, "not in the areas table", "E08999999")
    outputs.assert_unchanged()


def test_more_locks_than_places_in_a_wave(tmp_path, outputs):
    codes = [f"E09{i:06d}" for i in range(1, 34)]  # the 33 London boroughs
    waves = {"sizes": [10, 90, "rest"],
             "locks": [{"code": c, "wave": 1, "reason": "London first"} for c in codes]}
    res = run_config(tmp_path, outputs, {"waves": waves})
    assert_clean_error(res, "33 LAs are locked into wave 1 (2022-23) which has 10 places")
    outputs.assert_unchanged()


# ----------------------------------------------------------------------------- allocation
def test_floor_above_a_cap(tmp_path, outputs):
    res = run_config(tmp_path, outputs, {"allocation": {"caps": [{"per_head": 0.5}]}})
    assert_clean_error(res, "[floor_above_cap]", "Hartlepool (E06000001) continuation 2022-23",
                       "floor £79,761 above cap £46,918")
    outputs.assert_unchanged()


def test_floors_that_exceed_the_budget(tmp_path, outputs):
    floors = [{"kind": "per_head", "amount": 5, "streams": ["continuation"]}]
    res = run_config(tmp_path, outputs, {"allocation": {"floors": floors, "caps": []}})
    assert_clean_error(res, "[floors_above_budget]", "continuation 2022-23",
                       "above its budget £80,000,000", "Kent (E10000016)")
    outputs.assert_unchanged()


def test_caps_that_cannot_spend_the_budget(tmp_path, outputs):
    caps = [{"share_of_stream": 0.005}]
    res = run_config(tmp_path, outputs, {"allocation": {"caps": caps}})
    assert_clean_error(res, "[caps_below_budget]", "short of its budget")
    outputs.assert_unchanged()


def test_lock_on_an_la_not_yet_eligible(tmp_path, outputs):
    """A fixed place-based amount in 2022-23 for an LA whose wave starts later."""
    last_wave_la = "E06000053"  # Isles of Scilly: in the last wave on the published config
    locks = [{"code": last_wave_la, "stream": "place_based", "year": "2022-23", "amount": 50_000}]
    res = run_config(tmp_path, outputs, {"allocation": {"locks": locks}})
    assert_clean_error(res, "lock_not_eligible", last_wave_la, "place_based 2022-23")
    outputs.assert_unchanged()


def test_floor_scoped_to_an_unknown_stream(tmp_path, outputs):
    floors = [{"kind": "fixed", "amount": 1000, "streams": ["place-based"]}]
    res = run_config(tmp_path, outputs, {"allocation": {"floors": floors}})
    assert_clean_error(res, "unknown streams ['place-based']", "continuation", "place_based")
    outputs.assert_unchanged()


def _areas(n: int, wave: int) -> pd.DataFrame:
    return pd.DataFrame({
        "code": [f"E06{i:06d}" for i in range(1, n + 1)],
        "name": [f"Synthetic LA {i}" for i in range(1, n + 1)],
        "region": "North East",
        "pop_all": np.arange(1, n + 1) * 10_000,
        "pop_15_64": np.arange(1, n + 1) * 6_400,
        "need_factor": 1.0,
        "wave": wave,
    })


def test_stream_with_no_eligible_la():
    """SYNTHETIC areas, all in wave 2; a wave_started stream with money only in year 1."""
    cfg = {"years": YEARS[:2],
           "streams": {"place_based": {"budget": {"2022-23": 1_000_000}, "eligible": "wave_started"}}}
    with pytest.raises((ConfigError, InfeasibleError)) as exc:
        AllocationProblem.from_config(cfg, _areas(6, wave=2), explain_marginal=False).solve()
    msg = str(exc.value)
    assert "[no_eligible]" in msg and "place_based 2022-23" in msg and "£1,000,000" in msg


def test_per_head_floor_with_many_decimals_is_met_to_the_pound():
    """SYNTHETIC areas. A floor of £0.853333333333 per head is rounded UP, never down."""
    amount = 0.853333333333333333
    areas = _areas(8, wave=1)
    cfg = {"streams": {"c": {"budget": {"2022-23": 5_000_000}}},
           "floors": [{"kind": "per_head", "amount": amount}],
           "target": {"basis": "equal"}}
    p = AllocationProblem.from_config(cfg, areas, explain_marginal=False).solve()
    x = p.allocation_.set_index("code")["c_2022_23"]
    floor = areas.set_index("code")["pop_all"] * amount
    assert (x >= np.ceil(floor - 1e-9)).all()
    assert int(x.sum()) == 5_000_000


# ----------------------------------------------------------------------------- outputs
def test_output_dir_outside_the_project(tmp_path, outputs):
    path = write_config(tmp_path / "hostile.yaml", {"output": {"dir": "../elsewhere"}})
    res = run_cli("run", path, "--data-dir", DATA_DIR)
    assert_clean_error(res, "'output.dir'", "inside the project", "--out DIR")
    assert not (BASE_CONFIG.parents[2] / "elsewhere").exists()
    outputs.assert_unchanged()


def test_output_dir_absolute(tmp_path, outputs):
    path = write_config(tmp_path / "hostile.yaml", {"output": {"dir": str(tmp_path / "abs")}})
    res = run_cli("run", path, "--data-dir", DATA_DIR)
    assert_clean_error(res, "'output.dir'", "inside the project")
    assert not (tmp_path / "abs").exists()
