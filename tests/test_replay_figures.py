"""What a replay says when figures differ (allocator.audit.compare_trees): which files, how
(an image's size and resolution), the manifest's hashes of them in one line, and a last line
when only figures differ. Synthetic run directories, no engine run."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

from allocator.audit import compare_trees, tree


def _png(width: int, height: int, dpi: int, pixel: bytes = b"\0\0\0\xff") -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ppm = int(dpi / 0.0254 + 0.5)
    rows = b"".join(b"\0" + pixel * width for _ in range(height))
    return b"".join([b"\x89PNG\r\n\x1a\n",
                     chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)),
                     chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1)),
                     chunk(b"IDAT", zlib.compress(rows)), chunk(b"IEND", b"")])


def _run(folder: Path, files: dict[str, bytes], outputs: dict[str, str] | None = None) -> Path:
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    record = tree(folder) if outputs is None else outputs
    (folder / "manifest.json").write_text(json.dumps({"seed": 1, "outputs": record}, indent=2))
    return folder


def _compare(tmp_path: Path, old: dict[str, bytes], new: dict[str, bytes],
             old_outputs: dict[str, str] | None = None) -> str:
    published = _run(tmp_path / "published", old, old_outputs)
    rebuilt = _run(tmp_path / "rebuilt", new)
    found: list[str] = []
    compare_trees(published, rebuilt, found)
    return "\n".join(found)


TABLE = b"code,total\nE1,100\n"


def test_only_figures_differing_is_said_with_each_images_size(tmp_path: Path) -> None:
    text = _compare(tmp_path,
                    {"allocation.csv": TABLE, "map.png": _png(4, 3, 200), "map.pdf": b"%PDF-a",
                     "chart.png": _png(2, 2, 150)},
                    {"allocation.csv": TABLE, "map.png": _png(3, 2, 150), "map.pdf": b"%PDF-b",
                     "chart.png": _png(2, 2, 150, b"\xff\0\0\xff")})
    assert "map.png: a different image size (4 x 3 px at 200 dpi published, 3 x 2 px at 150 dpi " \
           "replayed)" in text
    assert "chart.png: the same size (2 x 2 px at 150 dpi), different pixels" in text
    # the manifest's hashes of the three figures: one line naming them, not one field each
    assert "the sha256 of the 3 other files listed here (chart.png, map.pdf, map.png)" in text
    assert "field outputs." not in text
    assert text.splitlines()[-1].startswith("only figures differ (the 3 PNG and PDF files above")
    assert "allocation.csv" not in text


def test_a_table_differing_too_is_no_figures_only_line(tmp_path: Path) -> None:
    text = _compare(tmp_path, {"allocation.csv": TABLE, "map.png": _png(4, 3, 200)},
                    {"allocation.csv": TABLE.replace(b"100", b"101"), "map.png": _png(3, 2, 150)})
    assert "allocation.csv: the published bytes differ" in text
    assert "only figures differ" not in text


def test_a_manifest_field_beyond_the_figures_hashes_is_still_named(tmp_path: Path) -> None:
    files = {"allocation.csv": TABLE, "map.png": _png(4, 3, 200)}
    record = {**tree_of(tmp_path, files), "allocation.csv": "0" * 64}  # an edited record
    text = _compare(tmp_path, files, {**files, "map.png": _png(3, 2, 150)}, record)
    assert "field outputs.allocation.csv" in text
    assert "only figures differ" not in text


def test_a_missing_figure_is_no_figures_only_line(tmp_path: Path) -> None:
    text = _compare(tmp_path, {"map.png": _png(4, 3, 200), "map.pdf": b"%PDF-a"},
                    {"map.png": _png(3, 2, 150)})
    assert "map.pdf: in the published run but not produced by the replay" in text
    assert "only figures differ" not in text


def test_a_published_png_that_is_not_a_png_is_said(tmp_path: Path) -> None:
    text = _compare(tmp_path, {"map.png": b"not an image"}, {"map.png": _png(3, 2, 150)})
    assert "map.png: the published file is not a PNG image" in text


def tree_of(tmp_path: Path, files: dict[str, bytes]) -> dict[str, str]:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    for name, data in files.items():
        (scratch / name).write_bytes(data)
    return tree(scratch)
