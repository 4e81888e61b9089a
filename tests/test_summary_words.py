"""The summary's words: check verdicts, what rules changed, solver record, readable keys."""

from __future__ import annotations

import pandas as pd

from allocator.report.checks_text import (
    check_rows,
    readable,
    rule_lines,
    tidy_numbers,
)


def test_check_verdicts_can_fail() -> None:
    good = dict(n_wave1=50, last_wave=3, imd_ratio_wave1_to_last=2.1, share_wave1_ne_yh=0.4,
                share_all_ne_yh=0.18, pop_share_wave1=0.27, deaths_share_wave1=0.41, deaths_missing=0)
    rows = check_rows(good, expected_wave1=50, n_waves=3)
    assert [r[3] for r in rows] == ["as expected"] * 6
    bad = dict(good, n_wave1=49, imd_ratio_wave1_to_last=1.1, share_wave1_ne_yh=0.1, deaths_share_wave1=0.2, deaths_missing=2)
    verdicts = {r[0]: r[3] for r in check_rows(bad, expected_wave1=50, n_waves=3)}
    assert list(verdicts.values()).count("differs") == 5
    assert check_rows(dict(good, imd_ratio_wave1_to_last=1.6))[1][3] == "close"


def test_rule_lines_say_when_a_rule_never_binds() -> None:
    ex = pd.DataFrame({"code": ["A", "A", "B"], "floor_uplift": [0.0, 5.0, 0.0], "cap_trim": [0.0, 0.0, 0.0],
                       "pace_adjustment": [0.0, 0.0, 1e-9]})
    lines = rule_lines(ex, {"floor": True, "cap": True, "pace": True})
    assert lines[0].startswith("The floors raised 1 LA-stream-year amount (1 LA), £5")
    assert lines[1].startswith("The caps never bind in this run: no amount is changed by them")
    assert "pace-of-change rule never binds" in lines[2]
    assert rule_lines(ex, {"floor": True}) == lines[:1]  # rules not configured are not mentioned


def test_readable_keys() -> None:
    assert readable("noise: drug_deaths_rate") == "noise: drug-misuse death rate"
    assert readable("some_new_key") == "some new key"


def test_tidy_numbers_removes_float_noise() -> None:
    f = tidy_numbers(pd.DataFrame({"rebalance": [-5.82e-11, 1.234567], "need_share": [0.00283503876885, -0.0]}),
                     decimals={"need_share": 8})
    assert f["rebalance"].tolist() == [0.0, 1.23]
    assert f["need_share"].tolist() == [0.00283504, 0.0]
    assert str(f["rebalance"][0]) == "0.0"
