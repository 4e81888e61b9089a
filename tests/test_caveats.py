"""One set of caveats, in plain English, each said once; no internal reference reaches a reader."""

from __future__ import annotations

from pathlib import Path

from allocator.report.caveats import (
    LICENCE,
    OCU_MISSING,
    internal_references,
    ons_codes,
    plain_caveats,
    plain_flag,
)

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


# ---------------------------------------------------------------------- ONS codes become names
NAMES = {"E06000060": "Buckinghamshire", "E06000061": "North Northamptonshire",
         "E06000062": "West Northamptonshire"}
RECODED = "IMD 2019: E10000002 Buckinghamshire recoded to E06000060 (same area)."
SPLIT = ("IMD 2019: E10000021 Northamptonshire split into E06000061, E06000062 by population-weighted "
         "district scores (weights recovered; county IMD score reproduced as 18.630 vs published "
         "18.605).")


def test_ons_codes_are_found() -> None:
    """The check on caveats can fail: the raw notes name areas by code."""
    assert ons_codes(RECODED) == ["E10000002", "E06000060"]
    assert ons_codes(SPLIT) == ["E10000021", "E06000061", "E06000062"]
    assert ons_codes("152 May 2021 LAs (1 = most deprived)") == []


def test_caveats_name_the_areas_not_their_codes() -> None:
    recoded, split = plain_caveats([RECODED, SPLIT], NAMES)
    assert ons_codes(recoded) == ons_codes(split) == []
    assert recoded == ("IMD 2019: the scores published for the 2019 county Buckinghamshire are "
                       "used for the unitary authority Buckinghamshire, which replaced it on the "
                       "same area.")
    assert "split into North Northamptonshire and West Northamptonshire" in split
    assert "published IMD score of 18.605 as 18.630" in split
    # other notes: a code before a name loses the code, a bare code becomes the name
    assert plain_caveats(["LAs E06000061, E06000062 and E10000002 Buckinghamshire."], NAMES) == [
        "LAs North Northamptonshire, West Northamptonshire and Buckinghamshire."]
    assert plain_caveats(["unknown E09999999 (not an LA)."], NAMES) == ["unknown E09999999 (not an LA)."]


def test_flags_for_readers_name_the_county() -> None:
    recoded = plain_flag("recoded from E10000002 Buckinghamshire (2019 county, same area)", NAMES)
    assert recoded == "recoded from the 2019 county Buckinghamshire (same area)"
    derived = plain_flag(
        "derived: population-weighted mean of 2019 districts of E10000021 Northamptonshire "
        "(E07000150 66,545, E07000152 80,858; weights recovered from IoD 2019 domain scores and ONS "
        "mid-2015 population)", NAMES)
    assert derived == ("derived: population-weighted mean of its former districts in the 2019 "
                       "county Northamptonshire (weights recovered from IoD 2019 domain scores "
                       "and ONS mid-2015 population)")
    assert ons_codes(recoded) == ons_codes(derived) == []


def test_published_caveats_of_a_real_run_name_no_codes() -> None:
    """Every caveat and flag line of a real run's summary, CSV headers and workbook cover names
    areas in words (the manifest keeps the raw notes with their codes)."""
    import pytest

    from allocator.paths import default_data_dir

    if default_data_dir() is None:
        pytest.skip("shared/geodata not present")
    from allocator.config import config_from_dict, read_config_document
    from allocator.pipeline import run
    from allocator.report.caveats import la_names
    from allocator.report.publication import publication
    from allocator.report.write import provenance_lines

    root = Path(__file__).resolve().parents[1]
    doc = read_config_document(root / "configs" / "ssmtrg-2022-25.yaml")
    doc["uncertainty"]["draws"] = 64
    res = run(config_from_dict(doc))
    assert any(ons_codes(n) for n in res.notes)  # the raw notes do carry codes
    caveats = publication(res).caveats
    assert any("North Northamptonshire and West Northamptonshire" in c for c in caveats)
    assert [c for c in caveats if ons_codes(c)] == []
    assert [h for h in provenance_lines(res) if h.startswith("Caveat") and ons_codes(h)] == []
    names = la_names(res.allocation)
    flags = [plain_flag(f, names) for f in res.areas.flags["flag"]]
    assert [f for f in flags if ons_codes(f)] == []
