"""Saving the static figures: PNG (encoded here, see :func:`png_bytes`) and PDF, deterministic bytes.

Used by the static maps (:mod:`allocator.report.static`), the briefing charts
(:mod:`allocator.report.charts`) and the pounds-uncertainty chart.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import OutputError
from ..rundir import NO_ROOM, naming

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_SAVE_METADATA = {
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
}
#: zlib level 1 for PNG (Pillow's default is 6): the same pixels, faster to encode (each
#: 150 dpi page is 2 million RGBA pixels); see :func:`png_bytes`.
PNG_COMPRESS_LEVEL = 1
#: zlib level of the PDFs' content streams (matplotlib's default is 6): the same drawing,
#: ~0.015 s less CPU a page, files 5-17% larger (a hex map 245 KB instead of 209 KB).
PDF_COMPRESS_LEVEL = 1
#: Resolution of every PNG figure (maps and charts). A deliberate choice (it was 200 until
#: issue 16): an A4-wide page at 150 dpi is 1240 px wide (1240 x 1575 px for a map), ample for
#: slides and screens, and the PDFs (vector, the same drawing) are the print copies. 150 dpi has
#: 44% fewer pixels to rasterise and compress than 200, about a quarter of the figures' CPU time.
PNG_DPI = 150


def png_bytes(fig: Figure, dpi: int) -> bytes:
    """``fig`` rendered by Agg at ``dpi`` as a PNG file's bytes (8-bit RGBA, white background).

    The same pixels as ``fig.savefig(format="png")`` (tested), encoded here rather than by
    Pillow: each row is stored unfiltered (PNG filter 0) and compressed with zlib at
    :data:`PNG_COMPRESS_LEVEL`, straight from Agg's buffer (no copy of the page). Pillow tries
    every PNG filter on every row; on these pages (flat fills, white margins) that doubles the
    encoding time, for larger files. The chunks are IHDR, pHYs (the resolution, as Pillow
    writes it), one IDAT and IEND: no date, no software name, so the bytes depend on the
    pixels alone.
    """
    import struct
    import zlib

    sink = _BufferSink()
    fig.savefig(sink, format="rgba", dpi=dpi, facecolor="white")
    width, height = int(fig.get_figwidth() * dpi), int(fig.get_figheight() * dpi)
    raw = sink.data
    if raw is None or raw.nbytes != width * height * 4:  # Agg's canvas is int(inches * dpi)
        raise OutputError(f"unexpected raster for a {width} x {height} px page")
    stride = width * 4
    deflate = zlib.compressobj(PNG_COMPRESS_LEVEL)
    parts = []
    for y in range(height):
        parts.append(deflate.compress(b"\0"))  # filter type 0 (none) for this row
        parts.append(deflate.compress(raw[y * stride:(y + 1) * stride]))
    parts.append(deflate.flush())
    sink.data = raw = None  # let Agg's renderer go

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ppm = int(dpi / 0.0254 + 0.5)  # pixels per metre
    return b"".join([
        b"\x89PNG\r\n\x1a\n",
        chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)),
        chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1)),
        chunk(b"IDAT", b"".join(parts)),
        chunk(b"IEND", b""),
    ])


class _BufferSink:
    """A file object for ``savefig(format="rgba")`` that keeps a view of Agg's buffer instead
    of copying it."""

    data: memoryview | None = None

    def write(self, data: object) -> None:
        self.data = memoryview(data).cast("B")  # type: ignore[arg-type]

    def seek(self, *args: object) -> None:  # matplotlib takes an object with seek as a file
        raise OSError("not seekable")


@contextmanager
def house_style() -> Iterator[None]:
    """Draw with matplotlib's own defaults, whatever a matplotlibrc or the caller's
    ``rcParams`` say (a notebook's settings are restored on leaving): a figure's bytes depend
    on the config and the data only, so a replay on another machine can match them. Also a
    decorator."""
    import matplotlib

    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        yield


def save_figure(fig: Figure, stem: Path, formats: Sequence[str], dpi: int) -> list[Path]:
    """Write ``fig`` as ``stem.<format>`` for each of ``formats`` (PNG at ``dpi`` by
    :func:`png_bytes`; PDF without dates or producer, zlib level :data:`PDF_COMPRESS_LEVEL`) and close it; the paths written.

    Raises
    ------
    OSError
        On a full, over-quota or read-only disk (:data:`allocator.rundir.NO_ROOM`), as from
        any other writer: a run then says it in one message, naming the file.
    OutputError
        If a file cannot be written for another reason.
    """
    from matplotlib import rc_context

    out: list[Path] = []
    p = stem.parent
    try:
        stem.parent.mkdir(parents=True, exist_ok=True)
        for fmt in formats:
            p = stem.with_suffix("." + fmt)
            if fmt == "png":
                p.write_bytes(png_bytes(fig, dpi))
            else:
                with rc_context({"pdf.compression": PDF_COMPRESS_LEVEL}):
                    fig.savefig(p, format=fmt, dpi=dpi, metadata=_SAVE_METADATA.get(fmt),
                                facecolor="white")
            out.append(p)
    except Exception as exc:
        cause = _os_error(exc)
        if cause is None:
            raise
        if cause.errno in NO_ROOM:  # a full disk: the run directory's one message says so
            raise naming(cause, p) from exc
        raise OutputError(f"cannot write static map {stem}: {cause}") from exc
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return out


def _os_error(exc: BaseException) -> OSError | None:
    """``exc`` if it is an :class:`OSError`, else the first one in its chain: matplotlib's PDF
    writer, when a write fails (a full disk) inside a content stream's header, raises an
    ``AttributeError`` while cleaning up, with the ``OSError`` only as its context."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
