"""The department's published layout and the money reconciliation, on SYNTHETIC tables.

Pounds are made up and small so each expected figure can be checked by hand.
"""

from __future__ import annotations

import pandas as pd
import pytest

from allocator.config import config_from_dict, load_config
from allocator.errors import ConfigError
from allocator.report.published import (
    CODE,
    DRUG_STRATEGY,
    INPATIENT,
    NAME,
    YEAR,
    PublishedTableConfig,
    published_table,
)
from allocator.report.reconcile import ReconciliationConfig, reconciliation_lines, shifts

YEARS = ["2022-23", "2023-24"]


def allocation() -> pd.DataFrame:
    # SYNTHETIC: three LAs; "Cornwall" (wave 1) and "Scilly" (wave 2) will be merged
    return pd.DataFrame({
        "code": ["E1", "E2", "E3"],
        "name": ["cornwall", "Barnet", "Scilly"],
        "wave": [1, 2, 2],
        "awaiting_2022_23": [0, 30, 5],
        "awaiting_2023_24": [0, 0, 0],
        "targeted_2022_23": [100, 0, 0],
        "targeted_2023_24": [200, 70, 9],
        "detox_2022_23": [7, 8, 1],
        "detox_2023_24": [7, 8, 1],
    })


def cfg(**extra: object) -> PublishedTableConfig:
    data: dict = {"drug_strategy": ["awaiting", "targeted"], "inpatient_detoxification": ["detox"]}
    data.update(extra)
    return PublishedTableConfig.model_validate(data)


def test_layout_columns_suffix_and_sums() -> None:
    table = published_table(allocation(), cfg(), YEARS)
    assert table.columns.tolist() == [YEAR, NAME, DRUG_STRATEGY, INPATIENT, CODE]
    first = table[table[YEAR] == "2022-23"]
    # alphabetical (case-insensitive) within a year; wave 1 marked
    assert first[NAME].tolist() == ["Barnet", "cornwall (enhanced funding area)", "Scilly"]
    assert first[DRUG_STRATEGY].tolist() == [30, 100, 5]
    assert first[INPATIENT].tolist() == [8, 7, 1]
    second = table[table[YEAR] == "2023-24"]
    assert second[DRUG_STRATEGY].tolist() == [70, 200, 9]
    assert table[DRUG_STRATEGY].dtype == "int64"
    assert len(table) == 6


def test_merge_adds_the_rows_up() -> None:
    merge = [{"name": "Cornwall and Isles of Scilly", "codes": ["E1", "E3"]}]
    table = published_table(allocation(), cfg(merge=merge), YEARS)
    first = table[table[YEAR] == "2022-23"].set_index(CODE)
    assert len(first) == 2
    row = first.loc["E1;E3"]
    # 100 + 5 drug strategy, 7 + 1 detox; any member in wave 1 marks the row
    assert (row[NAME], row[DRUG_STRATEGY], row[INPATIENT]) == (
        "Cornwall and Isles of Scilly (enhanced funding area)", 105, 8)
    assert table[DRUG_STRATEGY].sum() == allocation().filter(regex="^(awaiting|targeted)").sum().sum()


def test_merge_of_unknown_code_is_named() -> None:
    with pytest.raises(ValueError, match=r"'X' names codes \['E9'\]"):
        published_table(allocation(), cfg(merge=[{"name": "X", "codes": ["E1", "E9"]}]), YEARS)


def test_stream_in_both_columns_or_none_is_an_error() -> None:
    with pytest.raises(ValueError, match="in both published columns"):
        cfg(drug_strategy=["awaiting", "detox"])
    with pytest.raises(ValueError, match=r"streams \['detox'\] in no column"):
        cfg(inpatient_detoxification=[]).check_streams(["awaiting", "targeted", "detox"])
    with pytest.raises(ValueError, match=r"unknown streams \['targetted'\]"):
        cfg(drug_strategy=["targetted"]).check_streams(["awaiting", "targeted", "detox"])


def test_run_config_rejects_an_undeclared_stream() -> None:
    doc = load_config("configs/nao-figure-8-2022-25.yaml").canonical()
    doc["output"]["published"]["inpatient_detoxification"] = []
    with pytest.raises(ConfigError, match=r"\['inpatient_detox'\] in no column"):
        config_from_dict(doc)


def recon(**extra: object) -> ReconciliationConfig:
    # SYNTHETIC numbers in the shape of NAO Figure 8
    data: dict = {
        "envelope_name": "grant", "envelope": 533,
        "not_allocated": [{"name": "programme management", "budget": dict.fromkeys(
            ["2022-23", "2023-24", "2024-25"], 5)}],
        "compare": [{"name": "the strategy", "budget": {"2022-23": 100, "2023-24": 161,
                                                        "2024-25": 272}}],
    }
    data.update(extra)
    return ReconciliationConfig.model_validate(data)


def test_reconciliation_in_pounds() -> None:
    years = ["2022-23", "2023-24", "2024-25"]
    lines = reconciliation_lines(recon(), {"2022-23": 96, "2023-24": 155, "2024-25": 267}, years)
    assert lines[0] == ("Allocated to local authorities by this run: £96 in 2022-23, £155 in "
                        "2023-24, £267 in 2024-25; £518 in total.")
    assert "£15 in total" in lines[1]
    assert lines[2] == ("Together: £101 in 2022-23, £160 in 2023-24, £272 in 2024-25; £533, equal "
                        "to the grant of £533.")
    assert lines[3].endswith("This run differs by +£1 in 2022-23, −£1 in 2023-24, £0 in 2024-25: "
                             "the same total, with £1 moved from 2023-24 into 2022-23.")


def test_reconciliation_says_when_it_does_not_add_up() -> None:
    years = ["2022-23", "2023-24", "2024-25"]
    lines = reconciliation_lines(recon(), {"2022-23": 96, "2023-24": 150, "2024-25": 267}, years)
    assert "£528, £5 less than the grant of £533" in lines[2]
    assert lines[3].endswith("−£5 over these years.")


def test_shifts_match_surpluses_with_shortfalls() -> None:
    diff = {"a": 3, "b": -1, "c": -2}
    assert shifts(diff, ["a", "b", "c"]) == ["£1 moved from b into a", "£2 moved from c into a"]
    assert shifts({"a": 0}, ["a"]) == []


def test_reconciliation_years_must_be_modelled() -> None:
    doc = load_config("configs/nao-figure-8-2022-25.yaml").canonical()
    doc["reconciliation"]["not_allocated"][0]["budget"]["2025-26"] = 5
    with pytest.raises(ConfigError, match=r"names years \['2025-26'\]"):
        config_from_dict(doc)


def test_new_optional_keys_leave_existing_config_hashes_alone() -> None:
    base = load_config("configs/ssmtrg-2022-25.yaml")
    doc = base.canonical()
    assert "published" not in doc["output"] and "reconciliation" not in doc
    assert all("caveat" not in f for f in doc["allocation"]["floors"])
    doc["allocation"]["floors"][0]["caveat"] = "assumed"
    assert config_from_dict(doc).hash() != base.hash()
