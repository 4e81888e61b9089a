"""Re-boundary on SYNTHETIC boundaries, with hand-worked pounds.

Old (2021) LAs and what becomes of them (all codes and people invented):

=========  ====================  ========================================  =================
old        districts (people)    later                                      kind
=========  ====================  ========================================  =================
E10000901  d1 1, d2 1, d3 1      N1 E06000901, N2 E06000902, N3 E06000903  split 3 ways, ties
E10000902  d4 2, d5 3, d6 5      N4 E06000904, N5 E06000905, N6 E06000906  split 3 ways
E06000801  E06000801 40          M E06000907 (with E06000802)              merged
E06000802  E06000802 60          M E06000907                               merged
E10000903  d7 10, d8 20          U E06000908 (same area)                   recoded
E08000901  E08000901 50          E08000901                                 unchanged
=========  ====================  ========================================  =================
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest

from allocator.allocate.config import validate_allocation_config
from allocator.allocate.exact import largest_remainder
from allocator.data.vintage import derive
from allocator.errors import ConfigError, DataError
from allocator.reboundary.amend import ReboundarySpec, parse_spec, reboundary
from allocator.reboundary.carry import carry_pounds, split_pounds
from allocator.reboundary.recheck import areas_on_new_boundaries, rule_failures
from allocator.reboundary.shares import read_share_file, successor_shares

DISTRICTS = {  # 2021 district -> (old upper tier, later district, people)
    "E07000901": ("E10000901", "E06000901", 1),
    "E07000902": ("E10000901", "E06000902", 1),
    "E07000903": ("E10000901", "E06000903", 1),
    "E07000904": ("E10000902", "E06000904", 2),
    "E07000905": ("E10000902", "E06000905", 3),
    "E07000906": ("E10000902", "E06000906", 5),
    "E06000801": ("E06000801", "E06000907", 40),
    "E06000802": ("E06000802", "E06000907", 60),
    "E07000907": ("E10000903", "E06000908", 10),
    "E07000908": ("E10000903", "E06000908", 20),
    "E08000901": ("E08000901", "E08000901", 50),
}
OLD = ["E06000801", "E06000802", "E08000901", "E10000901", "E10000902", "E10000903"]
STREAMS = ["s"]
YEARS = ["2022-23", "2023-24", "2024-25"]


def changes():  # type: ignore[no-untyped-def]
    lookup21 = pd.DataFrame({"ltla_code": list(DISTRICTS),
                             "utla_code": [v[0] for v in DISTRICTS.values()],
                             "utla_name": [f"Old {v[0][-3:]}" for v in DISTRICTS.values()]})
    later = sorted({v[1] for v in DISTRICTS.values()})
    lookup23 = pd.DataFrame({"ltla_code": later, "utla_code": later,
                             "utla_name": [f"New {c[-3:]}" for c in later]})
    ch = pd.DataFrame([{"oldcd": d, "oldnm": d, "newcd": v[1], "newnm": "", "type": "merger",
                        "start": 2023} for d, v in DISTRICTS.items() if v[1] != d])
    pop = pd.DataFrame({"code": list(DISTRICTS), "pop_all": [v[2] for v in DISTRICTS.values()]})
    return derive(lookup21, lookup23, ch, pop, 2023)


def table(values: dict[str, list[int]]) -> pd.DataFrame:
    """One stream ``s``; ``values[code]`` = pounds in 2022-23, 2023-24, 2024-25."""
    rows = [{"code": c, "name": f"Old {c[-3:]}", **{f"s_{y.replace('-', '_')}": v
                                                    for y, v in zip(YEARS, values[c], strict=True)}}
            for c in OLD]
    return pd.DataFrame(rows)


def test_the_mapping_is_derived_from_the_tables() -> None:
    ch = changes()
    assert {o: ch.kind(o) for o in OLD} == {
        "E06000801": "merged", "E06000802": "merged", "E08000901": "unchanged",
        "E10000901": "split", "E10000902": "split", "E10000903": "recoded"}
    assert ch.population_shares()["E10000902"] == [
        ("E06000904", Fraction(2, 10)), ("E06000905", Fraction(3, 10)),
        ("E06000906", Fraction(5, 10))]


def test_split_three_ways_with_remainders() -> None:
    parts = changes().population_shares()["E10000902"]
    # 17 x (2, 3, 5)/10 = 3.4, 5.1, 8.5: floors 16, the last pound to the largest remainder (.5)
    assert split_pounds(17, parts) == {"E06000904": 3, "E06000905": 5, "E06000906": 9}
    # 9 x (2, 3, 5)/10 = 1.8, 2.7, 4.5: two pounds left, to .8 and .7
    assert split_pounds(9, parts) == {"E06000904": 2, "E06000905": 3, "E06000906": 4}


def test_ties_go_to_the_lower_code() -> None:
    parts = changes().population_shares()["E10000901"]
    # 100 / 3 = 33.33 each: one pound left, all remainders equal -> lowest code
    assert split_pounds(100, parts) == {"E06000901": 34, "E06000902": 33, "E06000903": 33}
    # 101 / 3: two pounds left -> the two lowest codes
    assert split_pounds(101, list(reversed(parts))) == {
        "E06000901": 34, "E06000902": 34, "E06000903": 33}


def test_carry_merges_recodes_and_keeps_every_total() -> None:
    t = table({"E06000801": [1, 10, 11], "E06000802": [2, 7, 8], "E08000901": [3, 5, 6],
               "E10000901": [4, 100, 101], "E10000902": [5, 17, 9], "E10000903": [6, 40, 41]})
    out = carry_pounds(t, ["s_2023_24", "s_2024_25"], successor_shares(changes(), "population"))
    got = out.set_index("code")
    assert got.loc["E06000907"].tolist() == [17, 19]      # merge: 10 + 7, 11 + 8
    assert got.loc["E06000908"].tolist() == [40, 41]      # code change: carried whole
    assert got.loc["E08000901"].tolist() == [5, 6]        # unchanged
    assert got.loc["E06000906"].tolist() == [9, 4]
    assert got.loc["E06000901"].tolist() == [34, 34]
    for col in ("s_2023_24", "s_2024_25"):
        assert int(out[col].sum()) == int(t[col].sum())
    assert "E10000901" not in got.index


def test_amended_table_keeps_earlier_years_on_old_codes_and_the_ledger_balances() -> None:
    t = table({"E06000801": [1, 10, 11], "E06000802": [2, 7, 8], "E08000901": [3, 5, 6],
               "E10000901": [4, 100, 101], "E10000902": [5, 17, 9], "E10000903": [6, 40, 41]})
    ch = changes()
    spec = ReboundarySpec(from_year="2023-24", reason="SYNTHETIC reorganisation")
    res = reboundary(t, STREAMS, YEARS, spec, ch, successor_shares(ch, "population"))
    a = res.allocation.set_index("code")
    assert a.loc["E10000901", "s_2022_23"] == 4 and pd.isna(a.loc["E10000901", "s_2023_24"])
    assert pd.isna(a.loc["E06000901", "s_2022_23"]) and a.loc["E06000901", "s_2023_24"] == 34
    assert a.loc["E08000901"].tolist()[1:] == [3, 5, 6]
    for y in ("s_2022_23", "s_2023_24", "s_2024_25"):
        assert int(a[y].sum()) == int(t[y].sum())
    led = res.ledger
    assert set(led["code"]) == set(OLD) - {"E08000901"} | {f"E0600090{i}" for i in range(1, 9)}
    assert led.groupby(["stream", "year"])["amendment"].sum().eq(0).all()
    row = led[(led["code"] == "E06000904") & (led["year"] == "2023-24")].iloc[0]
    assert (row["published"], row["amendment"], row["new_amount"], row["old_code"]) == (0, 3, 3, "E10000902")
    assert "E10000902 -> E06000904: 20.00% of Old 902 (2 of its 10 people, mid-2020)" in row["reason"]
    row = led[(led["code"] == "E10000902") & (led["year"] == "2024-25")].iloc[0]
    assert (row["published"], row["amendment"], row["new_amount"]) == (9, -9, 0)
    assert set(led["year"]) == {"2023-24", "2024-25"}


def test_largest_remainder_refuses_an_unreachable_total() -> None:
    with pytest.raises(ValueError, match="total"):
        largest_remainder([Fraction(1, 2), Fraction(1, 2)], 5)


# ------------------------------------------------------------------ the share file
def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "shares.csv"
    p.write_text(text, encoding="utf-8")
    return p


GOOD = ("old_code,new_code,share\nE10000901,E06000901,1/2\nE10000901,E06000902,1/4\n"
        "E10000901,E06000903,0.25\nE10000902,E06000904,0.2\nE10000902,E06000905,0.3\n"
        "E10000902,E06000906,0.5\n")


def test_share_file_gives_exact_shares(tmp_path: Path) -> None:
    shares = read_share_file(write(tmp_path, GOOD), changes())
    assert shares["E10000901"] == [("E06000901", Fraction(1, 2)), ("E06000902", Fraction(1, 4)),
                                   ("E06000903", Fraction(1, 4))]
    # 101 x (1/2, 1/4, 1/4) = 50.5, 25.25, 25.25 -> 51, 25, 25
    assert split_pounds(101, shares["E10000901"]) == {"E06000901": 51, "E06000902": 25,
                                                      "E06000903": 25}


def test_share_file_takes_weights(tmp_path: Path) -> None:
    text = GOOD.replace("share", "weight").replace("1/2", "2").replace("1/4", "1").replace(
        "0.25", "1")
    shares = read_share_file(write(tmp_path, text), changes())
    assert dict(shares["E10000901"])["E06000901"] == Fraction(1, 2)


@pytest.mark.parametrize(("text", "message"), [
    (GOOD.replace("0.25", "0.26"), r"shares of E10000901 .* sum to 1.01"),
    (GOOD.replace("E10000901,E06000903,0.25\n", ""), r"do not cover its successors.*E06000903"),
    ("old_code,new_code,share\nE10000902,E06000904,0.2\nE10000902,E06000905,0.3\n"
     "E10000902,E06000906,0.5\n", r"split LAs with no shares.*E10000901"),
    (GOOD + "E99999999,E06000901,1\n", r"unknown code.*row 8 E99999999"),
    (GOOD + "E10000903,E06000908,1\n", r"E10000903 .* is not split.*row 8"),
    (GOOD.replace("E10000901,E06000903", "E10000901,E06000904"), r"not a successor.*row 4"),
    (GOOD.replace("0.3", "abc"), r"share 'abc' is not a number.*row 6"),
    (GOOD.replace("0.3", "0"), r"not in \(0, 1\].*row 6"),
    (GOOD + "E10000902,E06000906,0.5\n", r"repeated row.*row 8"),
    ("old_code,new_code,share,weight\nE10000901,E06000901,1,1\n", r"exactly one of"),
    (GOOD.replace("new_code", "successor"), r"column 'new_code'"),
])
def test_bad_share_files_name_file_row_and_code(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DataError, match=message) as info:
        read_share_file(write(tmp_path, text), changes())
    assert "shares.csv" in str(info.value)


def test_spec_is_strict(tmp_path: Path) -> None:
    ok = parse_spec({"kind": "reboundary", "from_year": "2023-24"}, YEARS, base_dir=tmp_path)
    assert (ok.basis, ok.boundaries, ok.file) == ("population", 2023, None)
    for raw, msg in [({"from_year": "2023-24", "basis": "ons"}, "basis"),
                     ({"from_year": "2025-26"}, "from_year"),
                     ({"from_year": "2022-23"}, "first year"),
                     ({"from_year": "2023-24", "basis": "file"}, "file"),
                     ({"from_year": "2023-24", "colour": 1}, "unknown key"),
                     ({"from_year": "2023-24", "boundaries": "april"}, "boundaries"),
                     ({"from_year": "2023-24", "boundaries": 2021},
                      r"'reboundary\.boundaries': boundaries of 2021 are not available"),
                     ({"from_year": "2023-24", "basis": "file", "file": "../x.csv"}, "beside"),
                     ({"from_year": "2023-24", "basis": "file", "file": "ledger.csv"}, "beside")]:
        with pytest.raises(ConfigError, match=msg):
            parse_spec(raw, YEARS, base_dir=tmp_path)


# ------------------------------------------------------------------ rules on the new boundaries
def areas() -> pd.DataFrame:
    pops = {"E06000801": 40, "E06000802": 60, "E08000901": 50, "E10000901": 3,
            "E10000902": 10, "E10000903": 30}
    return pd.DataFrame({"code": OLD, "name": OLD, "region": "R",
                         "pop_all": [pops[c] * 1000 for c in OLD],
                         "pop_15_64": [pops[c] * 600 for c in OLD],
                         "need_factor": 1.0, "wave": 1})


def test_areas_move_with_the_district_populations() -> None:
    new = areas_on_new_boundaries(areas(), changes()).set_index("code")
    assert new.loc["E06000906", "pop_all"] == 5000            # 10,000 x 5/10
    assert new.loc["E06000907", "pop_all"] == 100_000         # 40,000 + 60,000
    assert new.loc["E06000908", "name"] == "New 908"


def rules(**extra: object):  # type: ignore[no-untyped-def]
    return validate_allocation_config({
        "years": YEARS, "streams": {"s": {"budget": {"2022-23": 1000, "2023-24": 1000,
                                                     "2024-25": 1000}, "eligible": "all"}},
        **extra})


def as_if(t: pd.DataFrame) -> pd.DataFrame:
    cols = ["s_2022_23", "s_2023_24", "s_2024_25"]
    return carry_pounds(t, cols, successor_shares(changes(), "population"))


BUDGET_1000 = {"E06000801": [100, 100, 100], "E06000802": [100, 100, 100],
               "E08000901": [100, 100, 100], "E10000901": [100, 100, 100],
               "E10000902": [300, 300, 300], "E10000903": [300, 300, 300]}


def test_a_per_la_floor_on_the_split_halves_is_rechecked() -> None:
    new_areas = areas_on_new_boundaries(areas(), changes())
    t = as_if(table(BUDGET_1000))
    # E10000901's £100 -> 34, 33, 33 (tie to the lower code): a £33 floor per LA holds on each
    # successor, £34 fails for the two that got £33, in each amended year (and only those)
    ok = rules(floors=[{"kind": "fixed", "amount": 33}])
    assert rule_failures(ok, new_areas, t, YEARS[1:]) == []
    bad = rules(floors=[{"kind": "fixed", "amount": 34}])
    fails = rule_failures(bad, new_areas, t, YEARS[1:])
    assert sorted(f.split(":")[0] for f in fails) == [
        "floor_s_2023_24_E06000902", "floor_s_2023_24_E06000903",
        "floor_s_2024_25_E06000902", "floor_s_2024_25_E06000903"]


def test_pace_can_break_on_a_split_and_is_caught(tmp_path: Path) -> None:
    # The Alabama paradox of largest remainder: E10000901 split by weights 1, 3, 3 (a share
    # file) rises from £10 to £11, yet its first successor falls:
    #   10 x (1, 3, 3)/7 = 1.43, 4.29, 4.29 -> floors 1, 4, 4, one pound to .43 -> 2, 4, 4
    #   11 x (1, 3, 3)/7 = 1.57, 4.71, 4.71 -> floors 1, 4, 4, two pounds to .71s -> 1, 5, 5
    text = GOOD.replace("1/2", "1").replace("1/4", "3").replace("0.25", "3").replace(
        "share", "weight")
    ch = changes()
    shares = successor_shares(ch, "file", write(tmp_path, text))
    pounds = dict(BUDGET_1000, E10000901=[10, 10, 11], E08000901=[190, 190, 190])
    t = carry_pounds(table(pounds), ["s_2022_23", "s_2023_24", "s_2024_25"], shares)
    got = t.set_index("code").loc[["E06000901", "E06000902", "E06000903"]]
    assert got["s_2023_24"].tolist() == [2, 4, 4] and got["s_2024_25"].tolist() == [1, 5, 5]
    cfg = rules(pace={"no_cash_cut": True})
    cfg.streams["s"].budget["2024-25"] = 1001
    fails = rule_failures(cfg, areas_on_new_boundaries(areas(), ch), t, YEARS[1:])
    assert len(fails) == 1, fails
    assert "E06000901" in fails[0] and "2024_25" in fails[0] and "£1 after £2" in fails[0]


def test_a_budget_that_no_longer_adds_up_is_caught() -> None:
    t = as_if(table(BUDGET_1000))
    t.loc[t["code"] == "E06000907", "s_2023_24"] += 1
    fails = rule_failures(rules(), areas_on_new_boundaries(areas(), changes()), t, YEARS[1:])
    assert fails == ["budget_s_2023_24: £1,001 != budget £1,000"]
