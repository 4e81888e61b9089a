"""Static twins (PNG/PDF) of the wave and pounds-per-head maps, and the hex-cartogram versions.

Inputs are a SYNTHETIC allocation on the real ONS boundaries (see test_map_synthetic.py).
"""

from __future__ import annotations

import errno
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from matplotlib import image as mpimg

from allocator.errors import DataError
from allocator.paths import default_data_dir
from allocator.report.static import match_hexes, write_static_maps
from test_map_synthetic import synthetic_frame, synthetic_meta

HEX = Path("hex_cartogram_utla") / "LocalAuthorities-uppertier.gpkg"


def _hex_path() -> Path:
    d = default_data_dir()
    if d is None or not (d / HEX).is_file():
        pytest.skip("hex cartogram not found in ../shared/geodata")
    return d / HEX


@pytest.fixture(scope="module")
def frame() -> gpd.GeoDataFrame:
    return synthetic_frame()


def _assert_real_picture(path: Path) -> None:
    assert path.stat().st_size > 50_000
    img = mpimg.imread(path)[..., :3]
    h, w = img.shape[:2]
    assert w >= 1200 and h >= 1500
    assert float(img.std()) > 0.05  # not blank
    # the map area is not all white: many distinct colours are drawn
    colours = np.unique((img[::4, ::4] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 20


def test_static_maps_written_non_blank_and_deterministic(
    frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    paths = write_static_maps(frame, synthetic_meta(), tmp_path / "a")
    names = [p.name for p in paths]
    assert names == ["map_wave.png", "map_wave.pdf", "map_per_head.png", "map_per_head.pdf"]
    for p in paths:
        assert p.exists()
        if p.suffix == ".png":
            _assert_real_picture(p)
        else:
            head = p.read_bytes()[:5]
            assert head == b"%PDF-" and p.stat().st_size > 20_000
    again = write_static_maps(frame, synthetic_meta(), tmp_path / "b")
    for p, q in zip(paths, again, strict=True):
        assert p.read_bytes() == q.read_bytes(), p.name


def test_wave_and_per_head_pngs_differ(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    paths = write_static_maps(frame, synthetic_meta(), tmp_path, formats=("png",))
    a, b = (mpimg.imread(p)[..., :3] for p in paths)
    assert float(np.abs(a - b).mean()) > 0.01


def test_hex_versions_and_unmatched_codes(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    hex_path = _hex_path()
    m = match_hexes(frame, hex_path)
    assert m.layer.endswith("UTLA-2021")
    assert m.missing_hex == [] and m.unused_hex == [] and len(m.frame) == 152
    # an LA code that is not on the hex map is reported, not silently dropped
    f = frame.copy()
    f.loc[f.index[0], "code"] = "E99999999"
    m2 = match_hexes(f, hex_path)
    assert m2.missing_hex == ["E99999999"]
    assert m2.unused_hex == [frame["code"].iloc[0]]
    paths = write_static_maps(f, synthetic_meta(), tmp_path, hex_path=hex_path, formats=("png",))
    assert [p.name for p in paths] == [
        "map_wave.png",
        "map_per_head.png",
        "map_wave_hex.png",
        "map_per_head_hex.png",
    ]
    for p in paths[2:]:
        _assert_real_picture(p)


def test_bad_hex_layer_is_a_data_error(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no layer 'nope'"):
        match_hexes(frame, _hex_path(), layer="nope")
    with pytest.raises(DataError, match="unsupported static map format"):
        write_static_maps(frame, synthetic_meta(), tmp_path, formats=("gif",))


def test_a_file_that_is_not_a_geopackage_is_named_without_gdals_driver_advice(
        frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    # GDAL adds "It might help to specify the correct driver explicitly by prefixing the file
    # path with '<DRIVER>:', e.g. 'CSV:path'", which no allocator user can act on
    from allocator.data.readers import read_boundaries

    junk = tmp_path / "hexes.gpkg"
    junk.write_text("not a GeoPackage\n")
    for read in (lambda: match_hexes(frame, junk), lambda: read_boundaries(junk)):
        with pytest.raises(DataError, match="not recognized as being in a supported file format"
                           ) as info:
            read()
        assert "hexes.gpkg" in str(info.value)
        assert "driver" not in str(info.value) and "CSV:" not in str(info.value)


def _zlib_level_of(png: Path) -> int:
    """FLEVEL of the zlib stream in the first IDAT chunk (0 = fastest ... 2 = default)."""
    data = png.read_bytes()
    start = data.index(b"IDAT") + 4
    return data[start + 1] >> 6


def test_png_is_written_fast_with_the_same_pixels(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    from allocator.report.figsave import save_figure

    fast = save_figure(plt.figure(figsize=(2, 2)), tmp_path / "fast", ["png"], 50)[0]
    fig = plt.figure(figsize=(2, 2))
    default = tmp_path / "default.png"
    fig.savefig(default, format="png", dpi=50, metadata={"Software": None}, facecolor="white")
    plt.close(fig)
    assert _zlib_level_of(fast) == 0  # zlib level 1 ("fastest"), not Pillow's default 6
    assert _zlib_level_of(default) == 2
    assert np.array_equal(np.asarray(Image.open(fast)), np.asarray(Image.open(default)))


def test_pdf_streams_are_compressed_fast(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    """The PDFs' streams are deflated at zlib level 1 (figsave.PDF_COMPRESS_LEVEL), not
    matplotlib's 6: the same drawing (the streams inflate to the same bytes), less CPU."""
    import re
    import zlib

    import matplotlib

    from allocator.report.figsave import save_figure
    from allocator.report.scales import map_scales
    from allocator.report.static import METRIC_CRS, _draw

    geo = frame.to_crs(METRIC_CRS)
    scale = map_scales(geo, synthetic_meta())[0]

    def streams(path: Path) -> list[bytes]:
        data = path.read_bytes()
        return [m.group(1) for m in re.finditer(rb"/FlateDecode[^>]*>>\s*stream\n(.*?)endstream", data, re.S)]

    fast = save_figure(_draw(geo, scale, synthetic_meta(), "t", "s"), tmp_path / "fast", ["pdf"], 150)[0]
    default = tmp_path / "default.pdf"
    with matplotlib.rc_context({"pdf.compression": 6}):
        _draw(geo, scale, synthetic_meta(), "t", "s").savefig(
            default, format="pdf", metadata={"CreationDate": None, "ModDate": None,
                                             "Producer": None, "Creator": None})
    ours, theirs = streams(fast), streams(default)
    assert ours and len(ours) == len(theirs)
    assert {s[1] >> 6 for s in ours} == {0} and {s[1] >> 6 for s in theirs} == {2}
    assert [zlib.decompress(s) for s in ours] == [zlib.decompress(s) for s in theirs]


def test_png_writer_gives_matplotlibs_pixels_at_150_dpi(frame: gpd.GeoDataFrame,
                                                        tmp_path: Path) -> None:
    """The maps' own PNG encoder (static.png_bytes, unfiltered rows) stores exactly the pixels
    matplotlib's savefig would, at the figures' resolution (150 dpi since issue 16: an A4-wide
    map is 1240 x 1575 px; the PDFs are the print copies)."""
    import io

    from PIL import Image

    from allocator.report.figsave import PNG_DPI, png_bytes
    from allocator.report.scales import map_scales
    from allocator.report.static import METRIC_CRS, _draw

    assert PNG_DPI == 150
    geo = frame.to_crs(METRIC_CRS)
    fig = _draw(geo, map_scales(geo, synthetic_meta())[0], synthetic_meta(), "t", "s")
    ours = Image.open(io.BytesIO(png_bytes(fig, PNG_DPI)))
    theirs = io.BytesIO()
    fig.savefig(theirs, format="png", dpi=PNG_DPI, facecolor="white")
    theirs_img = Image.open(theirs)
    assert ours.size == theirs_img.size == (1240, 1575)
    assert ours.info["dpi"] == pytest.approx((150, 150), abs=0.02)
    assert np.array_equal(np.asarray(ours), np.asarray(theirs_img))
    assert png_bytes(fig, PNG_DPI) == png_bytes(fig, PNG_DPI)
    # the comparison can fail: one pixel changed is seen
    changed = np.asarray(ours).copy()
    changed[700, 600, 0] ^= 1
    assert not np.array_equal(changed, np.asarray(theirs_img))


def test_each_png_map_is_rendered_once(frame: gpd.GeoDataFrame, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """GeoDataFrame.plot asks the canvas to redraw; the maps' figures do not render for it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renders: list[int] = []
    draw = FigureCanvasAgg.draw
    monkeypatch.setattr(FigureCanvasAgg, "draw", lambda self, *a, **k: renders.append(1) or draw(self, *a, **k))
    files = write_static_maps(frame, synthetic_meta(), tmp_path, formats=("png",))
    assert [p.name for p in files] == ["map_wave.png", "map_per_head.png"]
    assert len(renders) == 2


def test_footer_licence_names_the_boundary_vintage() -> None:
    """The figures' licence line names the year of the boundaries drawn (2021 by default; the
    April 2023 boundaries of a re-boundaried version say 2023)."""
    from allocator.report.map import MapMeta
    from allocator.report.static import _footer_text

    base = {"config_name": "c", "config_hash": "0" * 64, "streams": ["s"], "years": ["2022-23"]}
    assert "Crown copyright 2021" in _footer_text(MapMeta(**base))
    later = _footer_text(MapMeta(**base, boundary_year=2023))
    assert "Crown copyright 2023" in later and "2021" not in later
    assert "allocation.xlsx (Cover sheet)" in later


def test_footer_points_to_where_the_details_are() -> None:
    """A figure outside a run directory (the pounds uncertainty chart) points to its own
    summary and the run's workbook, not to an allocation.xlsx that is not beside it."""
    from allocator.report.map import MapMeta
    from allocator.report.static import _footer_text

    meta = MapMeta(config_name="c", config_hash="0" * 64, streams=["s"], years=["2022-23"],
                   details="summary.md in this folder; the run's allocation.xlsx (Cover sheet)")
    text = _footer_text(meta).replace("\n", " ")
    assert "caveats: summary.md in this folder; the run's allocation.xlsx" in text


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_while_writing_a_pdf_is_an_output_error(tmp_path: Path) -> None:
    # matplotlib's PDF writer, when a write fails inside a content stream's header, raises
    # AttributeError ('Stream' object has no attribute 'pos') with the OSError only as its
    # context: the run said "unexpected internal error ... This is a bug" for a full disk
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from allocator.report.figsave import save_figure

    seen = set()
    for n in (43, 71, 99):  # sizes whose first buffer flush falls in a stream header
        (tmp_path / f"f{n}.pdf").symlink_to("/dev/full")  # every write: ENOSPC
        fig, ax = plt.subplots()
        ax.plot(range(n))
        ax.set_title("x" * n)
        with pytest.raises(OSError, match="No space left on device") as info:
            save_figure(fig, tmp_path / f"f{n}", ["pdf"], 150)
        assert info.value.errno == errno.ENOSPC and info.value.filename.endswith(f"f{n}.pdf")
        seen.add(type(info.value.__cause__).__name__)
    assert "AttributeError" in seen  # the case this test is about did happen


def test_a_full_disk_while_drawing_a_run_is_the_run_directorys_one_message(tmp_path: Path
                                                                           ) -> None:
    # it was "cannot write static map <the removed temporary folder>/chart_per_head: [Errno 28]
    # ...", without "nothing was written", unlike a full disk while the tables are written
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from allocator.errors import OutputError
    from allocator.report.figsave import save_figure
    from allocator.report.mappage import _write
    from allocator.rundir import atomic_run_dir

    for write in (lambda tmp: save_figure(plt.subplots()[0], tmp / "chart_per_head", ["pdf"], 150),
                  lambda tmp: _write(tmp / "chart_per_head.pdf", "<html></html>")):
        with pytest.raises(OutputError) as info, atomic_run_dir(tmp_path, "run") as (tmp, _):
            (tmp / "chart_per_head.pdf").symlink_to("/dev/full")
            write(tmp)
        assert str(info.value) == (f"cannot write the run directory in {tmp_path}: No space left "
                                   "on device (chart_per_head.pdf); nothing was written (partial "
                                   "outputs were removed)")
        assert list(tmp_path.iterdir()) == []


def test_a_users_matplotlib_settings_change_no_figure_and_are_left_as_they_were(
    frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    # a matplotlibrc (or a notebook's rcParams) changed every PNG and PDF of a run: same config
    # and data, other bytes, and a replay elsewhere that DIFFERS
    import matplotlib

    plain = write_static_maps(frame, synthetic_meta(), tmp_path / "plain", formats=("png", "pdf"),
                              maps=("wave",))
    mine = {"font.family": ["serif"], "lines.linewidth": 4.0, "patch.linewidth": 3.0,
            "pdf.compression": 9, "savefig.facecolor": "yellow", "text.color": "red"}
    with matplotlib.rc_context(mine):
        styled = write_static_maps(frame, synthetic_meta(), tmp_path / "styled",
                                   formats=("png", "pdf"), maps=("wave",))
        assert all(matplotlib.rcParams[k] == v for k, v in mine.items())  # left as they were
    for p, q in zip(plain, styled, strict=True):
        assert p.read_bytes() == q.read_bytes(), p.name
