"""Re-boundary on the real ONS files: the April 2023 mapping, the new boundaries, the map frame.

The allocation here is a made-up table on the real 152 codes (every LA £1,000,003 of one stream
in each year), so the pounds can be worked by hand from the real district populations.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest

from allocator.data.vintage import load_changes
from allocator.reboundary.amend import ReboundarySpec, reboundary
from allocator.reboundary.outputs import load_geometry, map_frame
from allocator.reboundary.recheck import areas_on_new_boundaries
from allocator.reboundary.shares import successor_shares

DATA = Path(__file__).resolve().parents[2] / "shared" / "geodata"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="real data not present")
YEARS = ["2022-23", "2023-24", "2024-25"]


@pytest.fixture(scope="module")
def changes():  # type: ignore[no-untyped-def]
    return load_changes(DATA)


def test_the_april_2023_changes_are_derived(changes) -> None:  # type: ignore[no-untyped-def]
    moved = {o: changes.successors(o) for o in changes.old_names if changes.kind(o) != "unchanged"}
    assert moved == {"E10000006": ["E06000063", "E06000064"], "E10000023": ["E06000065"],
                     "E10000027": ["E06000066"]}
    assert len(changes.new_names) == 153
    # mid-2020 people: Allerdale + Carlisle + Copeland; Barrow + Eden + South Lakeland
    assert changes.population_shares()["E10000006"] == [
        ("E06000063", Fraction(274_396, 499_781)), ("E06000064", Fraction(225_385, 499_781))]


def test_cumbria_split_by_hand_and_exact_totals(changes) -> None:  # type: ignore[no-untyped-def]
    codes = sorted(changes.old_names)
    table = pd.DataFrame({"code": codes, "name": [changes.old_names[c] for c in codes],
                          **{f"s_{y.replace('-', '_')}": 1_000_003 for y in YEARS}})
    res = reboundary(table, ["s"], YEARS, ReboundarySpec("2023-24"), changes,
                     successor_shares(changes, "population"))
    a = res.allocation.set_index("code")
    # 1,000,003 x 274,396 / 499,781 = 549,034.12...; x 225,385 / 499,781 = 450,968.88...
    # floors 549,034 + 450,968 = 1,000,002: the last pound to the larger remainder (.88)
    assert a.loc["E06000063", "s_2023_24"] == 549_034
    assert a.loc["E06000064", "s_2023_24"] == 450_969
    assert a.loc["E06000065", "s_2024_25"] == 1_000_003 and a.loc["E06000066", "s_2024_25"] == 1_000_003
    assert a.loc["E10000006", "s_2022_23"] == 1_000_003 and pd.isna(a.loc["E10000006", "s_2023_24"])
    for y in YEARS:
        assert int(a[f"s_{y.replace('-', '_')}"].sum()) == 152 * 1_000_003
    assert len(res.new_boundaries) == 153


def test_new_boundaries_and_map_frame(changes) -> None:  # type: ignore[no-untyped-def]
    geo, records = load_geometry(DATA, 2023)
    assert len(geo) == 153 and set(geo["code"]) == set(changes.new_names)
    assert geo.geom_type.isin(["Polygon", "MultiPolygon"]).all() and geo.is_valid.all()
    assert {r["key"] for r in records} == {"topojson_2014_2025", "hex_cartogram_utla_2023"}
    codes = sorted(changes.old_names)
    areas = pd.DataFrame({"code": codes, "name": codes, "region": "R", "pop_all": 1000.0,
                          "pop_15_64": 600.0, "need_factor": 1.0, "wave": 2})
    index = pd.DataFrame({"code": codes, "score": range(152), "rank": range(1, 153),
                          "rank_p05": 1, "rank_p95": 152, "p_wave_1": 0.5, "borderline": False,
                          "wave_label": "2023-24"})
    new = areas_on_new_boundaries(areas, changes)
    carried = pd.DataFrame({"code": new["code"], "s_2023_24": 10, "s_2024_25": 20})
    frame = map_frame(carried, changes, new, index, geo, ["s"], YEARS[1:])
    assert len(frame) == 153 and frame["total"].eq(30).all()
    row = frame.set_index("code").loc["E06000063"]
    assert row["score"] == index.set_index("code").at["E10000006", "score"]   # inherited
    assert pd.isna(row["target_total"])
