"""One set of caveats, in plain English, each said once; no internal reference reaches a reader."""

from __future__ import annotations

from allocator.report.caveats import LICENCE, OCU_MISSING, internal_references, plain_caveats

RAW = [
    "Source: Office for National Statistics, Ministry of Housing, Communities and Local Government; "
    "Open Government Licence v3.0. Contains OS data (c) Crown copyright and database right 2021.",
    "Drug deaths 2018-20: ONS suppressed the rate for 9 LAs (fewer than 10 deaths); treated by rule "
    "'crude_from_counts' and flagged in drug_deaths_flag.",
    "IMD 2019 ranks recomputed over the 152 May 2021 LAs (1 = most deprived).",
    "Built without OCU prevalence: not supplied (no LA-level OCU table is in the data directory; "
    "pass data.ocu_file to include it).",
    "need index built without ocu_rate (opiate and crack cocaine use prevalence): not supplied",
    "IMD 2019 ranks recomputed over the 152 May 2021 LAs (1 = most deprived).",
]


def test_caveats_are_plain_and_said_once() -> None:
    out = plain_caveats(RAW)
    assert out.count(OCU_MISSING) == 1
    assert sum("OCU" in c for c in out) == 1
    assert len(out) == len(set(out)) == 3
    assert not any("Licence" in c or "licence" in c for c in out)  # the licence is said separately
    joined = " ".join(out)
    assert "drug_deaths_flag" not in joined and "crude_from_counts" not in joined
    assert "a crude rate from the registered deaths" in joined
    assert internal_references(joined) == []
    assert internal_references(LICENCE) == []


def test_internal_references_are_found() -> None:
    """The check used on every published file can fail."""
    assert internal_references(RAW[3]) == ["pass data.ocu_file", "data.ocu_file"]
    assert internal_references("Strategy [001 L644-652] says") == ["[001 L644"]
    assert internal_references("design choice, seeds-digest §6.2") == ["seeds-digest", "§6"]
    assert internal_references("an engine assumption") == ["engine assumption"]
