"""map.html without a browser: offline, small, deterministic, escaped, honest footer, no gaps.

Inputs are a SYNTHETIC allocation on the real ONS boundaries (see test_map_synthetic.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from allocator.errors import DataError
from allocator.report.map import (
    OS_ATTRIBUTION,
    compare_frame,
    fmt_pounds,
    map_scales,
    simplify_for_web,
    tooltip_html,
    write_compare_map,
    write_map,
)
from test_map_synthetic import SYNTHETIC_NOTE, synthetic_frame, synthetic_meta

CDN_HOSTS = (
    "cdn.jsdelivr",
    "cdnjs",
    "code.jquery",
    "bootstrapcdn",
    "unpkg",
    "googleapis",
    "fontawesome",
)


@pytest.fixture(scope="module")
def frame() -> gpd.GeoDataFrame:
    return synthetic_frame()


@pytest.fixture(scope="module")
def page(frame: gpd.GeoDataFrame, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = write_map(frame, synthetic_meta(), tmp_path_factory.mktemp("m") / "map.html")
    return path.read_text(encoding="utf-8")


def _payload(page: str) -> dict:
    m = re.search(r"var D = (\{.*?\});\n", page)
    assert m, "payload not found"
    return json.loads(m.group(1))


def test_no_external_resource_is_referenced(page: str) -> None:
    for host in CDN_HOSTS:
        assert host not in page
    assert re.search(r"<script[^>]+src=", page) is None
    assert re.search(r"<link[^>]+href=", page) is None
    assert re.search(r"url\((?!data:|#)", page) is None  # no CSS image fetched from a file
    assert "sourceMappingURL" not in page
    assert "L.tileLayer(" not in page  # no basemap unless asked for


def test_tiles_only_when_asked(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    text = write_map(
        frame, synthetic_meta(), tmp_path / "t.html", tiles="OpenStreetMap"
    ).read_text()
    assert "L.tileLayer(" in text and "Basemap tiles (needs internet)" in text


def test_size_under_2mb_and_all_las_present(page: str, frame: gpd.GeoDataFrame) -> None:
    assert len(page.encode("utf-8")) < 2_000_000
    feats = _payload(page)["features"]["features"]
    assert sorted(f["properties"]["code"] for f in feats) == sorted(frame["code"])


def test_two_writes_are_byte_identical(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    a = write_map(frame, synthetic_meta(), tmp_path / "a.html").read_bytes()
    b = write_map(
        frame.sample(frac=1, random_state=3), synthetic_meta(), tmp_path / "b.html"
    ).read_bytes()
    assert a == b
    c = write_map(frame, synthetic_meta(config_hash="f" * 40), tmp_path / "c.html").read_bytes()
    assert a != c


def test_footer_carries_config_sources_licence_and_caveats(page: str) -> None:
    footer = re.search(r'<footer class="alloc-foot".*?</footer>', page, re.S).group(0)
    assert "synthetic-test" in footer and "0123456789abcdef0123456789abcdef01234567" in footer
    assert "ONS Counties and Unitary Authorities boundaries (May 2021)" in footer
    assert "2022-23, 2023-24, 2024-25" in footer
    assert OS_ATTRIBUTION.replace("\u00a9", "&copy;") in footer or OS_ATTRIBUTION in footer
    assert "Open Government Licence v3.0" in footer
    assert "Built without OCU prevalence" in footer
    assert SYNTHETIC_NOTE in footer


def test_no_ocu_caveat_when_not_in_notes(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    text = write_map(frame, synthetic_meta(notes=[SYNTHETIC_NOTE]), tmp_path / "m.html").read_text()
    assert "OCU" not in text


def test_names_and_config_text_are_escaped(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    f = frame.copy()
    f.loc[f.index[0], "name"] = "Hartlepool " + evil
    meta = synthetic_meta(config_name=evil, sources=[evil], notes=[evil], title=evil)
    text = write_map(f, meta, tmp_path / "m.html").read_text()
    assert evil not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # footer, header, title: as text
    tip = [
        x
        for x in _payload(text)["features"]["features"]
        if x["properties"]["code"] == f["code"].iloc[0]
    ]
    assert "Hartlepool &lt;script&gt;" in tip[0]["properties"]["tip"]
    # the name itself travels as data and is only ever set as text (datalist option value)
    assert tip[0]["properties"]["name"] == "Hartlepool " + evil


def test_tooltip_lists_every_money_column(frame: gpd.GeoDataFrame) -> None:
    meta = synthetic_meta()
    row = frame.iloc[5]
    tip = tooltip_html(row, meta, len(frame))
    cells = dict(re.findall(r'data-col="([^"]+)">([^<]+)<', tip))
    for s in meta.streams:
        for y in meta.years:
            col = f"{s}_{y.replace('-', '_')}"
            assert cells[col] == fmt_pounds(row[col])
    assert cells["total"] == fmt_pounds(row["total"])
    assert cells["target_total"] == fmt_pounds(row["target_total"])
    assert f"{int(row['rank'])} of 152" in tip
    assert f"{int(row['rank_p05'])}\u2013{int(row['rank_p95'])}" in tip


def test_fmt_pounds() -> None:
    assert fmt_pounds(1234567.4) == "£1,234,567"
    assert fmt_pounds(-5) == "-£5"
    assert fmt_pounds(float("nan")) == "n/a"


def test_layers_and_legends(frame: gpd.GeoDataFrame) -> None:
    scales = map_scales(frame, synthetic_meta())
    assert [s.key for s in scales] == [
        "wave",
        "score",
        "total_2022_23",
        "total_2023_24",
        "total_2024_25",
        "total",
        "per_head",
        "p_wave_1",
    ]
    for s in scales:
        assert sum(s.counts) + s.n_missing == len(frame)
        assert len(s.colors) == len(s.labels) == len(s.counts)
    wave = scales[0]
    assert wave.counts == [50, 50, 50, 2]
    # money classes are ordered: every LA in a higher class gets at least as much
    tot = scales[5]
    v = frame["total"].to_numpy()
    for k in range(len(tot.colors) - 1):
        assert v[tot.classes == k].max() <= v[tot.classes == k + 1].min()


def test_simplification_opens_no_gaps(frame: gpd.GeoDataFrame) -> None:
    simple = simplify_for_web(frame)
    geoms = simple.geometry.values
    assert simple.crs.to_epsg() == 4326
    assert bool(shapely.coverage_is_valid(geoms))  # no overlaps; shared edges match exactly
    assert shapely.is_valid(geoms).all()
    # neighbours still share an edge (not just a point) after simplification
    orig = frame.to_crs(4326).geometry.values
    tree = shapely.STRtree(orig)
    left, right = tree.query(orig, predicate="touches")
    pairs = [(i, j) for i, j in zip(left, right, strict=True) if i < j]
    shared = shapely.intersection(orig[[i for i, _ in pairs]], orig[[j for _, j in pairs]])
    long_edges = [p for p, s in zip(pairs, shapely.length(shared), strict=True) if s > 0.02]
    assert len(long_edges) > 300
    after = shapely.intersection(
        geoms[[i for i, _ in long_edges]], geoms[[j for _, j in long_edges]]
    )
    assert (shapely.length(after) > 0).all()
    # and the union has no new holes: total area changes by well under 1%
    a0 = frame.to_crs(27700).area.sum()
    a1 = simple.to_crs(27700).area.sum()
    assert abs(a1 - a0) / a0 < 0.01


def test_bad_input_names_the_fault(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="place_based_2024_25"):
        write_map(frame.drop(columns="place_based_2024_25"), synthetic_meta(), tmp_path / "x.html")
    dup = frame.copy()
    dup.loc[dup.index[1], "code"] = dup["code"].iloc[0]
    with pytest.raises(DataError, match=f"duplicated.*{dup['code'].iloc[0]}"):
        write_map(dup, synthetic_meta(), tmp_path / "x.html")
    nocrs = frame.copy().set_crs(None, allow_override=True)
    with pytest.raises(DataError, match="no CRS"):
        write_map(nocrs, synthetic_meta(), tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


def test_compare_frame_gainers_losers_and_moves(frame: gpd.GeoDataFrame) -> None:
    b = frame.copy()
    i_gain, i_lose, i_move = 0, 1, 2
    b.loc[b.index[i_gain], "total"] += 1000
    b.loc[b.index[i_lose], "total"] -= 250
    b.loc[b.index[i_move], "wave"] = int(frame["wave"].iloc[i_move]) + 1
    b = b.drop(index=b.index[3])
    cmp, years = compare_frame(frame, b, synthetic_meta(), synthetic_meta(config_name="b"))
    cmp = cmp.set_index("code")
    codes = frame["code"].tolist()
    assert years == ["2022-23", "2023-24", "2024-25"]
    assert cmp.loc[codes[i_gain], "change"] == pytest.approx(1000)
    assert cmp.loc[codes[i_lose], "change"] == pytest.approx(-250)
    assert cmp.loc[codes[i_move], "move"] == "later"
    assert cmp.loc[codes[3], "move"] == "only_a"
    assert np.isnan(cmp.loc[codes[3], "change"])
    assert (cmp.loc[codes[10:], "move"] == "same").all()


def test_compare_map_is_written_offline_and_deterministic(
    frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    b = synthetic_frame(seed=8)
    ma, mb = synthetic_meta(), synthetic_meta(config_name="other-config", config_hash="e" * 40)
    p1 = write_compare_map(frame, b, ma, mb, tmp_path / "c1.html")
    p2 = write_compare_map(frame, b, ma, mb, tmp_path / "c2.html")
    text = p1.read_text()
    assert p1.read_bytes() == p2.read_bytes()
    assert len(text.encode()) < 2_000_000
    assert "other-config" in text and "e" * 40 in text and "synthetic-test" in text
    for host in CDN_HOSTS:
        assert host not in text
    assert [x["key"] for x in _payload(text)["layers"]] == ["change", "change_pct", "move"]
