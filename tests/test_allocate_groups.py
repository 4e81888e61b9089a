"""Each named constraint group, built and checked on its own (tiny synthetic inputs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.allocate.cells import build_layout, eligibility
from allocator.allocate.config import validate_allocation_config
from allocator.allocate.constraints import budget_rows, caps, floors, locks, pace
from allocator.errors import ConfigError, DataError

YEARS = ["2022-23", "2023-24", "2024-25"]


def tiny_areas() -> pd.DataFrame:
    # synthetic: four LAs, one per wave 1..3 plus a second wave-1 LA
    return pd.DataFrame({
        "code": ["E06000004", "E06000001", "E06000003", "E06000002"],
        "name": ["D", "A", "C", "B"],
        "region": ["R"] * 4,
        "pop_all": [100_000, 200_000, 300_000, 400_000],
        "pop_15_64": [60_000, 120_000, 180_000, 240_000],
        "need_factor": [1.0, 2.0, 1.0, 0.5],
        "wave": [3, 1, 2, 1],
    })


def config(**extra: object):
    data = {"streams": {
        "continuation": {"budget": dict.fromkeys(YEARS, 1_000_000)},
        "place_based": {"budget": dict(zip(YEARS, [100_000, 400_000, 900_000], strict=True)),
                        "eligible": "wave_started"},
    }}
    data.update(extra)
    return validate_allocation_config(data)


def test_eligibility_follows_waves() -> None:
    cfg = config()
    layout = build_layout(cfg, tiny_areas())
    elig = eligibility(cfg, layout.areas)  # areas sorted: A(w1) B(w1) C(w2) D(w3)
    assert elig[0].all()
    assert elig[1, 0].tolist() == [True, True, False, False]
    assert elig[1, 1].tolist() == [True, True, True, False]
    assert elig[1, 2].tolist() == [True, True, True, True]
    assert layout.n_cells == 12 + 2 + 3 + 4


def test_targets_are_need_share_of_budget() -> None:
    layout = build_layout(config(), tiny_areas())
    block = layout.block(1, 0)  # place_based 2022-23: A (2*200k) and B (0.5*400k)
    np.testing.assert_allclose(layout.target[block], [100_000 * 400 / 600, 100_000 * 200 / 600])
    for s in range(2):
        for y in range(3):
            cells = layout.block(s, y)
            assert layout.target[cells].sum() == pytest.approx(layout.budget[s, y])


def test_other_bases() -> None:
    cfg = config(target={"basis": "equal"})
    layout = build_layout(cfg, tiny_areas())
    np.testing.assert_allclose(layout.target[layout.block(0, 0)], 250_000)
    cfg = config(target={"basis": "population"})
    layout = build_layout(cfg, tiny_areas())
    np.testing.assert_allclose(layout.target[layout.block(0, 0)], [200e3, 400e3, 300e3, 100e3])


def test_budget_rows_are_one_per_stream_year() -> None:
    layout = build_layout(config(), tiny_areas())
    rows = budget_rows(layout)
    assert rows.names[0] == "budget_continuation_2022_23"
    assert rows.names[-1] == "budget_place_based_2024_25"
    assert rows.sense == "=="
    x = layout.target
    np.testing.assert_allclose(rows.activity(x), rows.rhs)


def test_floor_fixed_and_per_head_round_up_and_skip_ineligible() -> None:
    cfg = config(floors=[{"kind": "per_head", "amount": 0.1234, "streams": ["place_based"]},
                         {"kind": "fixed", "amount": 30_000, "streams": ["place_based"],
                          "years": ["2022-23"]}])
    layout = build_layout(cfg, tiny_areas())
    fr = floors(layout, list(cfg.floors))
    g = fr.group
    assert fr.orphans == []
    # D (wave 3) has no floor before 2024-25 because it has no place_based cell
    assert all(layout.stream[k] == 1 for k in g.cells)
    k = int(layout.position[1, 1, 0])  # A, place_based 2023-24: 0.1234 * 200,000 = 24,680
    assert g.values[list(g.cells).index(k)] == 24_680
    k = int(layout.position[1, 0, 0])  # A 2022-23: max(24,680, 30,000)
    assert g.values[list(g.cells).index(k)] == 30_000
    k = int(layout.position[1, 2, 3])  # D 2024-25: 0.1234 * 100,000 = 12,340.000...
    assert g.values[list(g.cells).index(k)] == 12_340


def test_floor_file_and_orphans(tmp_path: Path) -> None:
    f = tmp_path / "floor.csv"
    f.write_text("code,place_based_2022_23\nE06000001,10.2\nE06000004,500\n")
    cfg = config(floors=[{"kind": "file", "path": str(f), "streams": ["place_based"],
                          "years": ["2022-23"]}])
    layout = build_layout(cfg, tiny_areas())
    fr = floors(layout, list(cfg.floors))
    k = int(layout.position[1, 0, 0])
    assert fr.group.cells.tolist() == [k] and fr.group.values.tolist() == [11]
    assert fr.orphans == [(3, 1, 0, 500.0)]  # D is wave 3: not eligible in 2022-23


def test_floor_file_errors_name_file_and_codes(tmp_path: Path) -> None:
    f = tmp_path / "floor.csv"
    f.write_text("code,amount\nE99999999,10\n")
    cfg = config(floors=[{"kind": "file", "path": str(f)}])
    layout = build_layout(cfg, tiny_areas())
    with pytest.raises(DataError, match="E99999999") as err:
        floors(layout, list(cfg.floors))
    assert "floor.csv" in str(err.value)
    f.write_text("code,amount\nE06000001,-5\n")
    with pytest.raises(DataError, match="amount"):
        floors(layout, list(cfg.floors))


def test_caps_round_down_and_take_the_smallest() -> None:
    cfg = config(caps=[{"per_head": 1.00001, "streams": ["continuation"]},
                       {"share_of_stream": 0.3, "streams": ["continuation"]}])
    layout = build_layout(cfg, tiny_areas())
    g = caps(layout, list(cfg.caps))
    vals = dict(zip(g.cells.tolist(), g.values.tolist(), strict=True))
    assert vals[int(layout.position[0, 0, 0])] == 200_002  # A: min(200,002.0, 300,000)
    assert vals[int(layout.position[0, 0, 1])] == 300_000  # B: min(400,004, 300,000)


def test_locks_and_lock_errors() -> None:
    cfg = config(locks=[{"code": "E06000002", "stream": "place_based", "year": "2022-23",
                         "amount": 7},
                        {"code": "E06000004", "stream": "place_based", "year": "2022-23",
                         "amount": 9}])
    layout = build_layout(cfg, tiny_areas())
    lk = locks(layout, cfg)
    assert lk.group.cells.tolist() == [int(layout.position[1, 0, 1])]
    assert lk.group.values.tolist() == [7]
    assert lk.orphans == [(3, 1, 0, 9.0)]
    bad = config(locks=[{"code": "E00000000", "stream": "place_based", "year": "2022-23",
                         "amount": 1}])
    with pytest.raises(ConfigError, match="E00000000"):
        locks(build_layout(bad, tiny_areas()), bad)


def test_pace_rows_only_for_funded_pairs() -> None:
    cfg = config(pace={"no_cash_cut": True, "max_growth": 0.5, "entrants": "from_zero",
                       "streams": ["place_based"]})
    layout = build_layout(cfg, tiny_areas())
    rows, entry = pace(layout, cfg)
    assert [r.name for r in rows] == ["pace_no_cash_cut", "pace_max_growth"]
    # pairs: A,B (2022->23), A,B,C (2023->24) = 5 rows
    assert rows[0].n_rows == 5
    assert rows[0].names[0] == "pace_no_cash_cut_place_based_2023_24_E06000001"
    assert rows[1].data[:2].tolist() == [1.0, -1.5]
    # entrants: C in 2023-24, D in 2024-25
    assert sorted(entry.cells.tolist()) == sorted(
        [int(layout.position[1, 1, 2]), int(layout.position[1, 2, 3])])
    x = np.zeros(layout.n_cells)
    x[layout.position[1, 0, 0]] = 10
    x[layout.position[1, 1, 0]] = 9
    x[layout.position[1, 2, 0]] = 9
    broken = np.flatnonzero(rows[0].activity(x) < 0)
    assert [rows[0].names[r] for r in broken] == ["pace_no_cash_cut_place_based_2023_24_E06000001"]


def test_areas_contract_errors() -> None:
    a = tiny_areas()
    a.loc[1, "need_factor"] = -1
    with pytest.raises(DataError, match="need_factor"):
        build_layout(config(), a)
    a = tiny_areas()
    a.loc[2, "code"] = "E06000004"
    with pytest.raises(DataError, match="duplicate"):
        build_layout(config(), a)
    with pytest.raises(DataError, match="wave"):
        build_layout(config(), tiny_areas().drop(columns="wave"))


def test_config_validation_names_the_path() -> None:
    with pytest.raises(ConfigError, match="budget"):
        validate_allocation_config({"streams": {"a": {"budget": {"2022-23": 1.5}}}})
    with pytest.raises(ConfigError, match="2022-24"):
        validate_allocation_config({"streams": {"a": {"budget": {"2022-24": 1}}}})
    with pytest.raises(ConfigError, match="unknown streams"):
        validate_allocation_config({"streams": {"a": {"budget": {"2022-23": 1}}},
                                    "caps": [{"per_head": 1, "streams": ["b"]}]})
    with pytest.raises(ConfigError, match="min_uplift"):
        validate_allocation_config({"streams": {"a": {"budget": {"2022-23": 1}}},
                                    "pace": {"min_uplift": 0.2, "max_growth": 0.1}})
    with pytest.raises(ConfigError, match="allocation.typo"):
        validate_allocation_config({"streams": {"a": {"budget": {"2022-23": 1}}}, "typo": 1})
