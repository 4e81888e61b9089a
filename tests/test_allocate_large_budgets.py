"""Issue 13's examples on the real 152 LAs: large budgets solve, sum exactly, and say nothing false.

With HiGHS's default options in pounds these set-ups were reported infeasible ("the conflict is
numerical"), or the "£1m more" re-solves failed and summary.md said the money "could not be
allocated at all", or ``deviation: relative`` gave a worse allocation than CBC. Each is the
published config (``configs/ssmtrg-2022-25.yaml``) with only the budgets (or the deviation)
changed, solved by the default path (HiGHS, cross-checked by CBC, marginal re-solves on).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from allocator.allocate import AllocationProblem
from allocator.config import load_config
from allocator.paths import default_data_dir
from exact_sums import assert_budgets_exact

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "configs" / "ssmtrg-2022-25.yaml"
DATA = default_data_dir()
YEARS = ["2022-23", "2023-24", "2024-25"]

pytestmark = pytest.mark.skipif(DATA is None, reason="the official data (../shared/geodata) is not present")

M = 1_000_000
CASES = {
    # place-based £750m / £850m / £950m with £750m continuation
    "place_based_750_850_950": {"continuation": [750 * M] * 3, "place_based": [750 * M, 850 * M, 950 * M]},
    # £650m continuation: the marginal re-solves used to fail and summary.md said so
    "continuation_650": {"continuation": [650 * M] * 3},
    "continuation_350": {"continuation": [350 * M] * 3},
    # about the whole public health grant (£3.5bn a year)
    "whole_grant_3_5bn": {"continuation": [1_500 * M] * 3, "place_based": [500 * M, 1_000 * M, 2_000 * M]},
    "place_based_to_3_9bn": {"continuation": [400 * M] * 3, "place_based": [1_000 * M, 2_000 * M, 3_900 * M]},
}


@pytest.fixture(scope="module")
def areas() -> pd.DataFrame:
    """The allocator's input table for the published config (index and waves, no Monte Carlo)."""
    from allocator.index import NeedIndex, index_table
    from allocator.pipeline import prepare
    from allocator.waves import Waves

    cfg = load_config(DEFAULT)
    _, data = prepare(cfg, DATA)
    need = NeedIndex(cfg.index, tie_break=cfg.waves.tie_break).fit(data.frame)
    waves = Waves(cfg.waves).fit(need)
    table = index_table(data.frame, need, waves, None)
    return pd.DataFrame(data.frame.drop(columns="geometry")).merge(
        table[["code", "need_factor", "wave"]], on="code")


def allocation_config(budgets: dict[str, list[int]] | None = None, **objective: str) -> dict:
    cfg = load_config(DEFAULT).allocation.model_dump()
    for stream, values in (budgets or {}).items():
        cfg["streams"][stream]["budget"] = dict(zip(YEARS, values, strict=True))
    cfg["objective"].update(objective)
    return cfg


@pytest.mark.parametrize("case", sorted(CASES))
def test_large_budgets_solve_exactly_with_no_false_words(case: str, areas: pd.DataFrame) -> None:
    cfg = allocation_config(CASES[case])
    assert cfg["solver"]["name"] == "highs" and cfg["solver"]["cross_check"] == "cbc"
    problem = AllocationProblem.from_config(cfg, areas, base_dir=DATA).solve()
    assert_budgets_exact(problem, cfg)
    # CBC solved every stage itself: its cells agree within the stated tolerance (see
    # allocator.allocate.crosscheck), which the run records
    assert problem.cross_check_max_diff_ is not None
    assert problem.cross_check_max_diff_ <= problem.cross_check_cell_tolerance_
    words = list(problem.shadow_prices_["words"])
    assert len(words) == 6
    assert not [w for w in words if "could not be allocated" in w]


def test_relative_deviation_is_optimal_and_both_solvers_agree(areas: pd.DataFrame) -> None:
    """HiGHS in pounds returned 3.8065 here (CBC 3.7912): a worse allocation labelled optimal.

    The default path (HiGHS, cross-checked by CBC solving every stage) and CBC alone give the
    same optimum, and the two solvers' whole pounds agree cell by cell.
    """
    cfg = allocation_config(deviation="relative")
    highs = AllocationProblem.from_config(cfg, areas, base_dir=DATA,
                                          explain_marginal=False).solve()
    assert_budgets_exact(highs, cfg)
    assert highs.cross_check_max_diff_ is not None and highs.cross_check_max_diff_ <= 1
    cbc_cfg = allocation_config(deviation="relative")
    cbc_cfg["solver"].update(name="cbc", cross_check=None)
    cbc = AllocationProblem.from_config(cbc_cfg, areas, base_dir=DATA,
                                        explain_marginal=False).solve()
    assert highs.objective_value_ == pytest.approx(cbc.objective_value_, rel=1e-9)
    assert highs.objective_value_ < 3.792
    money = [c for c in highs.allocation_.columns if c.startswith(("continuation_", "place_"))]
    assert int((highs.allocation_[money] - cbc.allocation_[money]).abs().to_numpy().max()) <= 1


def test_cli_run_at_650m_exits_0_with_no_false_line(tmp_path: Path) -> None:
    """The whole run, as a user would: a small YAML extending the published config."""
    cfg = tmp_path / "budget-650m.yaml"
    cfg.write_text(yaml.safe_dump({
        "extends": str(DEFAULT),
        "name": "budget-650m",
        "uncertainty": {"draws": 200},
        "output": {"static_maps": False},
        "allocation": {"streams": {"continuation": {
            "budget": dict.fromkeys(YEARS, 650 * M)}}},
    }), encoding="utf-8")
    exe = Path(sys.executable).with_name("allocator")
    res = subprocess.run([str(exe), "run", str(cfg), "--data-dir", str(DATA), "--out",
                          str(tmp_path / "out"), "--quiet"], capture_output=True, text=True,
                         cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr
    (run_dir,) = [p for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")]
    summary = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert "could not be allocated" not in summary
    assert "£1m more" in summary and "continuation" in summary
    table = pd.read_csv(run_dir / "allocation.csv", comment="#", dtype={"code": str})
    for year in YEARS:
        assert int(table[f"continuation_{year.replace('-', '_')}"].sum()) == 650 * M
