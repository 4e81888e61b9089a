"""Briefing figures: legends and the London inset never cover an LA, class breaks never share an
endpoint, the footer is a short source line, labels stay readable, and the two charts are drawn.

Inputs are a SYNTHETIC allocation on the real ONS boundaries (see test_map_synthetic.py).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from matplotlib import image as mpimg

from allocator.report.charts import write_charts
from allocator.report.frames import rollup
from allocator.report.mapfmt import _fmt_pct, fmt_per_head, fmt_pounds_short
from allocator.report.scales import class_labels, map_scales
from allocator.report.static import METRIC_CRS, _draw, _footer_text, _label_color
from test_map_synthetic import synthetic_frame, synthetic_meta


@pytest.fixture(scope="module")
def frame() -> gpd.GeoDataFrame:
    return synthetic_frame().to_crs(METRIC_CRS).sort_values("code").reset_index(drop=True)


def test_class_labels_never_share_an_endpoint() -> None:
    edges = np.array([5.38, 6.23, 9.01, 22.91])
    assert class_labels(edges, fmt_per_head, 0.01) == ["£5.38 to £6.23", "£6.24 to £9.01", "£9.02 to £22.91"]
    # when a step cannot be shown, the later classes say "over"
    short = class_labels(np.array([1e6, 2.04e6, 3e6]), fmt_pounds_short, 1)
    assert short == ["£1.0m to £2.0m", "over £2.0m to £3.0m"]
    assert _fmt_pct(-0.04) == "less than 0.1%" and _fmt_pct(-0.0) == "0%" and _fmt_pct(2.345) == "+2.3%"


def _data_box(ax, bbox) -> shapely.Polygon:  # type: ignore[no-untyped-def]
    inv = ax.transData.inverted()
    (x0, y0), (x1, y1) = inv.transform([[bbox.x0, bbox.y0], [bbox.x1, bbox.y1]])
    return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


@pytest.mark.parametrize("key", ["wave", "per_head", "p_wave_1"])
def test_legend_and_inset_never_cover_an_la(frame: gpd.GeoDataFrame, key: str) -> None:
    meta = synthetic_meta()
    scale = {s.key: s for s in map_scales(frame, meta)}[key]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = _draw(frame, scale, meta, "t", "s")
    canvas = FigureCanvasAgg(fig)  # _draw's figure is outside pyplot: no renderer of its own
    canvas.draw()
    ax = fig.axes[0]
    renderer = canvas.get_renderer()
    covers = [_data_box(ax, leg.get_window_extent(renderer)) for leg in fig.legends]
    covers += [_data_box(ax, a.get_window_extent(renderer)) for a in ax.child_axes]  # the London inset
    assert len(covers) == 2
    geoms = frame.geometry.values
    for box in covers:
        hit = shapely.intersects(geoms, box)
        assert not hit.any(), frame.loc[hit, "name"].tolist()
    # the check fails on a legend placed over the map
    inside = ax.legend(handles=fig.legends[0].legend_handles, loc="center")
    fig.canvas.draw()
    assert shapely.intersects(geoms, _data_box(ax, inside.get_window_extent(renderer))).any()


def test_footer_is_a_short_source_line() -> None:
    meta = synthetic_meta(
        source_line="Sources: ONS (population mid-2020, drug-misuse deaths 2018-20); MHCLG (IMD 2019).",
        notes=["The need index does not include opiate and crack cocaine use (OCU) prevalence: no "
               "local-authority estimates were supplied, so need rests on drug deaths, deprivation and crime."],
    )
    text = _footer_text(meta)
    assert text.count("\n") <= 3 and len(text) < 450
    assert "2018-20" in text and "Open Government Licence" in text and "allocation.xlsx" in text
    assert "OCU" in text and meta.config_hash not in text  # no 40-64 character hash


def test_label_colours_contrast_with_the_fill() -> None:
    assert _label_color("#08306b")[0] == "white"
    assert _label_color("#deebf7")[0] == "#111111"


def test_every_label_is_drawn_on_its_la_in_a_readable_colour(frame: gpd.GeoDataFrame) -> None:
    """The hex maps' labels (static._labels): one outline per non-empty label, centred on its
    LA's representative point, letters in the colour _label_color picks for the LA's fill,
    under a 1.2 pt halo of the opposite colour; empty labels are skipped."""
    from matplotlib.collections import PathCollection
    from matplotlib.colors import to_hex

    meta = synthetic_meta()
    scale = {s.key: s for s in map_scales(frame, meta)}["wave"]
    labels = pd.Series(["" if i % 3 == 0 else f"LA {i}" for i in range(len(frame))])
    fig = _draw(frame, scale, meta, "t", "s", inset_london=False, labels=labels)
    ax = fig.axes[0]
    halo, ink = [c for c in ax.collections if isinstance(c, PathCollection)]
    keep = labels.str.len().gt(0).to_numpy()
    fills = [scale.color_of(int(k)) for k in scale.classes]
    want = [_label_color(f) for f, k in zip(fills, keep, strict=True) if k]
    assert len(ink.get_paths()) == len(halo.get_paths()) == int(keep.sum())
    assert [to_hex(c) for c in ink.get_facecolors()] == [to_hex(t) for t, _ in want]
    assert [to_hex(c) for c in halo.get_edgecolors()] == [to_hex(h) for _, h in want]
    assert set(halo.get_linewidths()) == {1.2}
    points = shapely.point_on_surface(frame.geometry.values[keep])
    assert np.allclose(ink.get_offsets(), shapely.get_coordinates(points))
    # each outline is centred on its point: the middle of its extent is within 1 pt of it
    for path in ink.get_paths():
        (x0, y0), (x1, y1) = path.get_extents().get_points()
        assert abs((x0 + x1) / 2) < 1 and abs((y0 + y1) / 2) < 1.5
    # the colour check can fail: dark text on a dark fill is caught
    assert _label_color("#08306b") != ("#111111", "white")


def test_two_charts_are_drawn(tmp_path: Path) -> None:
    table = pd.DataFrame({
        "code": list("ABCDEF"), "region": ["North", "North", "South", "South", "East", "East"],
        "wave": [1, 1, 2, 2, 3, 3], "imd_decile": [1, 2, 3, 4, 5, 10],
        "total_2022_23": [10, 20, 30, 40, 50, 60], "total": [100, 200, 300, 400, 500, 600],
        "pop_all": [10, 20, 40, 60, 100, 120],
    })
    money = ["total_2022_23", "total"]
    files = write_charts(rollup(table, "region", money), rollup(table, "imd_decile", money), rollup(table, "wave", money),
                         synthetic_meta(), tmp_path, wave_labels=["2022-23", "2023-24", "2024-25"])
    assert [f.name for f in files] == ["chart_per_head.png", "chart_per_head.pdf", "chart_regions.png", "chart_regions.pdf"]
    img = mpimg.imread(files[0])[..., :3]
    assert float(img.std()) > 0.05


def test_palettes_stay_distinct_under_deuteranopia(frame: gpd.GeoDataFrame) -> None:
    from allocator.report.compare_map import MOVE_COLORS
    from allocator.report.scales import deuteranopia_distance

    for scale in map_scales(frame, synthetic_meta()):
        gaps = [deuteranopia_distance(a, b) for a, b in zip(scale.colors, scale.colors[1:], strict=False)]
        assert min(gaps) >= 10, (scale.key, gaps)
    assert deuteranopia_distance(MOVE_COLORS["earlier"], MOVE_COLORS["later"]) >= 40
    # the check fails on the old red-against-green "wave moves" pair
    assert deuteranopia_distance("#1a9850", "#d73027") < 40
