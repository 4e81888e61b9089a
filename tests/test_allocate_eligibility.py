"""Eligibility kinds on tiny SYNTHETIC LAs, with pounds worked by hand.

Four made-up LAs: A and B in wave 1, C in wave 2, D in wave 3; years 2022-23 to 2024-25. With
``basis: equal`` every eligible LA's target is the budget divided by the number eligible, so the
expected pounds can be worked out on paper.
"""

from __future__ import annotations

import pandas as pd
import pytest

from allocator.allocate import AllocationProblem
from allocator.allocate.cells import build_layout, eligibility
from allocator.allocate.config import validate_allocation_config
from allocator.errors import ConfigError
from four_las import YEARS, nao_streams
from four_las import four_las as areas


def nao_like(**extra: object) -> dict:
    data: dict = {
        "streams": {**nao_streams(),
                    "detox": {"budget": dict.fromkeys(YEARS, 40), "eligible": "all"}},
        "target": {"basis": "equal"},
    }
    data.update(extra)
    return data


def test_wave_not_started_is_the_complement_of_wave_started() -> None:
    cfg = validate_allocation_config(nao_like())
    elig = eligibility(cfg, build_layout(cfg, areas()).areas)
    # awaiting: 2022-23 only C and D (waves 2, 3); 2023-24 only D; 2024-25 no budget
    assert elig[0, 0].tolist() == [False, False, True, True]
    assert elig[0, 1].tolist() == [False, False, False, True]
    assert not elig[0, 2].any()
    # streams in name order: awaiting, detox, targeted
    for y in range(2):
        assert (elig[0, y] ^ elig[2, y]).all()  # exactly one of the two, every LA
    assert elig[1].all()


def test_hand_worked_pounds() -> None:
    alloc = AllocationProblem.from_config(nao_like(), areas()).solve().allocation_
    got = alloc.set_index("name")
    # awaiting: £300 / 2 (C, D) in 2022-23, £100 to D in 2023-24
    assert got["awaiting_2022_23"].tolist() == [0, 0, 150, 150]
    assert got["awaiting_2023_24"].tolist() == [0, 0, 0, 100]
    # targeted: £200 / 2 (A, B); £600 / 3 (A, B, C); £900 / 4
    assert got["targeted_2022_23"].tolist() == [100, 100, 0, 0]
    assert got["targeted_2023_24"].tolist() == [200, 200, 200, 0]
    assert got["targeted_2024_25"].tolist() == [225, 225, 225, 225]
    assert got["detox_2022_23"].tolist() == [10, 10, 10, 10]
    assert got["total_2022_23"].sum() == 540 and got["total_2023_24"].sum() == 740


def test_no_la_awaiting_is_a_config_error() -> None:
    # SYNTHETIC: every LA in wave 1, so nobody awaits roll-out in 2022-23
    data = areas().assign(wave=1)
    with pytest.raises(ConfigError, match=r"awaiting 2022-23 has a budget of £300 but no LA is "
                       r"eligible \(eligible: wave_not_started and every LA's wave has started"):
        AllocationProblem.from_config(nao_like(), data).presolve()


def test_unknown_eligibility_kind_is_named() -> None:
    data = nao_like()
    data["streams"]["detox"]["eligible"] = "everyone"
    with pytest.raises(ConfigError, match=r"streams\.detox\.eligible"):
        validate_allocation_config(data)


def test_stream_order_in_the_config_changes_nothing() -> None:
    # The config hash ignores key order and a run stores its config with sorted keys, so the
    # allocation must not depend on the order streams are declared in (replay relies on it).
    data = nao_like()
    backwards = dict(data, streams=dict(reversed(list(data["streams"].items()))))
    cfg_a, cfg_b = validate_allocation_config(data), validate_allocation_config(backwards)
    assert list(cfg_a.streams) == list(cfg_b.streams) == ["awaiting", "detox", "targeted"]
    a = AllocationProblem.from_config(cfg_a, areas()).solve().allocation_
    b = AllocationProblem.from_config(cfg_b, areas()).solve().allocation_
    pd.testing.assert_frame_equal(a, b)


def detox_for(eligible: object) -> dict:
    data = nao_like()
    data["streams"]["detox"]["eligible"] = eligible
    return data


def test_listed_codes_share_the_stream() -> None:
    # a consortium of A and C commissions detox: £40 / 2 = £20 each, B and D get nothing
    alloc = AllocationProblem.from_config(detox_for({"codes": ["E06000001", "E06000003"]}),
                                          areas()).solve().allocation_
    assert alloc["detox_2022_23"].tolist() == [20, 0, 20, 0]


def test_pieces_combine() -> None:
    listed = {"codes": ["E06000002", "E06000004"]}  # B (wave 1) and D (wave 3)
    both = AllocationProblem.from_config(detox_for({"all_of": ["wave_started", listed]}),
                                         areas()).solve().allocation_
    # 2022-23 and 2023-24: only B has started of the two -> all £40; 2024-25: B and D, £20 each
    assert both["detox_2022_23"].tolist() == [0, 40, 0, 0]
    assert both["detox_2023_24"].tolist() == [0, 40, 0, 0]
    assert both["detox_2024_25"].tolist() == [0, 20, 0, 20]
    either = AllocationProblem.from_config(detox_for({"any_of": ["wave_not_started", listed]}),
                                           areas()).solve().allocation_
    # 2022-23: C, D not started, plus B listed -> £40 / 3 is not whole: 13 or 14 each
    assert either["detox_2022_23"].tolist()[0] == 0
    assert sorted(either["detox_2022_23"].tolist()[1:]) == [13, 13, 14]
    # 2024-25: nobody awaits roll-out; B and D listed
    assert either["detox_2024_25"].tolist() == [0, 20, 0, 20]


def test_eligibility_file(tmp_path) -> None:
    (tmp_path / "consortium.csv").write_text("code,name\nE06000003,C\nE06000004,D\n")
    alloc = AllocationProblem.from_config(detox_for({"file": "consortium.csv"}), areas(),
                                          base_dir=tmp_path).solve().allocation_
    assert alloc["detox_2023_24"].tolist() == [0, 0, 20, 20]


def test_unknown_codes_are_named() -> None:
    with pytest.raises(ConfigError, match=r"'allocation\.streams\.detox\.eligible': codes "
                       r"\['E06000099'\] are not in the areas table"):
        AllocationProblem.from_config(detox_for({"codes": ["E06000001", "E06000099"]}),
                                      areas()).presolve()


def test_bad_eligibility_files_are_named(tmp_path) -> None:
    from allocator.errors import DataError

    with pytest.raises(DataError, match="eligibility file not found"):
        AllocationProblem.from_config(detox_for({"file": "missing.csv"}), areas(),
                                      base_dir=tmp_path).presolve()
    (tmp_path / "typo.csv").write_text("code\nE06000001\nE0600003\n")
    with pytest.raises(DataError, match=r"typo\.csv.*E0600003"):
        AllocationProblem.from_config(detox_for({"file": "typo.csv"}), areas(),
                                      base_dir=tmp_path).presolve()
    (tmp_path / "nocode.csv").write_text("la\nE06000001\n")
    with pytest.raises(DataError, match="needs a 'code' column"):
        AllocationProblem.from_config(detox_for({"file": "nocode.csv"}), areas(),
                                      base_dir=tmp_path).presolve()


def test_codes_or_file_not_both() -> None:
    with pytest.raises(ConfigError, match="either 'codes'"):
        validate_allocation_config(detox_for({"codes": ["E06000001"], "file": "x.csv"}))


def test_nobody_listed_and_started_is_explained() -> None:
    # A is listed but is in wave 1 and wave_not_started leaves it out: nobody is eligible
    spec = {"all_of": ["wave_not_started", {"codes": ["E06000001"]}]}
    with pytest.raises(ConfigError, match=r"detox 2022-23 has a budget of £40 but no LA is "
                       r"eligible \(eligible: all of \(wave_not_started; 1 listed LA code\(s\)\)\)"):
        AllocationProblem.from_config(detox_for(spec), areas()).presolve()
