"""The static figures of a run directory, drawn in other processes while the rest is written.

Drawing the PNG and PDF maps and charts is the largest part of writing a run directory, and it
needs nothing the other writers produce. :func:`figure_jobs` splits the drawing into two jobs of
similar cost (the wave maps and one chart; the pounds-per-head maps and the other chart), and
:func:`preload` imports matplotlib in the parent first, so that the children inherit it;
:class:`InBackground` runs each job in a forked child process (which inherits the run's results
as they are: nothing is copied or pickled) while the caller writes the tables, workbook, map and
summary, and waits for them before the manifest hashes the folder. A child runs the same code on the same inputs, so
every file is byte-identical to drawing in-process (tested). Where ``fork`` is not available
(Windows), or with ``parallel=False``, the jobs run in-process, in order, when the block ends.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._forking import (
    can_fork,
    child_end,
    child_start,
    describe,
    ended,
    forking,
    keep_traceback,
    receive_answer,
    send_answer,
)
from ..errors import OutputError

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from types import TracebackType

    import geopandas as gpd
    import pandas as pd

    from ..pipeline import RunResult
    from .mapbase import MapMeta

Job = Callable[[], object]


@dataclass
class FigureInputs:
    """Everything the static figures of a run directory are drawn from.

    It holds data only (no run object), so it can be sent to a process started before the run
    (:class:`allocator.report.prefork.Drawer`).

    Attributes
    ----------
    frame : GeoDataFrame
        :meth:`allocator.pipeline.RunResult.map_frame`.
    meta : MapMeta
    out_dir : pathlib.Path
        Folder the figures are written into.
    hex_path : pathlib.Path or None
        The hex cartogram (``None``: no hex maps).
    regions, deciles, waves : DataFrame
        The roll-ups the charts draw (:mod:`allocator.report.frames`).
    wave_labels : list of str
    """

    frame: gpd.GeoDataFrame
    meta: MapMeta
    out_dir: Path
    hex_path: Path | None
    regions: pd.DataFrame
    deciles: pd.DataFrame
    waves: pd.DataFrame
    wave_labels: list[str]

    @classmethod
    def from_result(cls, result: RunResult, frame: gpd.GeoDataFrame, meta: MapMeta,
                    out_dir: Path, hex_path: Path | None) -> FigureInputs:
        """The inputs of ``result``'s figures."""
        from .frames import decile_rollup, region_rollup, wave_rollup

        return cls(frame, meta, Path(out_dir), hex_path, region_rollup(result),
                   decile_rollup(result), wave_rollup(result), list(result.config.waves.labels))


def write_figures(
    inputs: FigureInputs,
    *,
    maps: Sequence[str] = ("wave", "per_head"),
    charts: Sequence[str] = ("per_head", "regions"),
) -> None:
    """Write static maps (:func:`allocator.report.static.write_static_maps`, those in ``maps``)
    and charts (:func:`allocator.report.charts.write_charts`, those in ``charts``)."""
    from .charts import write_charts
    from .static import write_static_maps

    i = inputs
    if maps:
        write_static_maps(i.frame, i.meta, i.out_dir, hex_path=i.hex_path, maps=maps)
    if charts:
        write_charts(i.regions, i.deciles, i.waves, i.meta, i.out_dir, wave_labels=i.wave_labels,
                     charts=charts)


def figure_jobs(inputs: FigureInputs) -> list[Job]:
    """Every figure of a run directory, as two jobs of similar cost: each draws one map (with
    its hex twin) and one chart."""
    job = partial(write_figures, inputs)
    return [partial(job, maps=("wave",), charts=("per_head",)),
            partial(job, maps=("per_head",), charts=("regions",))]


def preload() -> None:
    """Import what drawing the figures needs (matplotlib with Agg, its PNG and PDF back ends,
    geopandas' plotting) and look up the fonts, in this process.

    Called before the figure processes are forked, so that they inherit all of it instead of each
    paying for it (~0.5 s CPU a process); the CLI calls it in a background thread while the
    pipeline solves. Calling it again costs nothing.
    """
    import matplotlib

    matplotlib.use("Agg")
    import geopandas.plotting  # noqa: F401
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.backends.backend_pdf  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    from matplotlib import font_manager

    from . import charts, static  # noqa: F401

    for weight in ("normal", "bold"):
        font_manager.findfont(font_manager.FontProperties(weight=weight))


class InBackground:
    """Run each job in its own forked child process for the duration of a ``with`` block.

    Parameters
    ----------
    jobs : sequence of callables
        Each called with no arguments; return values are ignored. An exception a job raises is
        raised again by the parent when the block ends (as :class:`OutputError` if it cannot be
        sent back).
    parallel : bool
        ``False`` (or no ``fork`` on this platform): run the jobs in-process, in order, when the
        block ends.

    Leaving the block normally waits for every child and raises the first error, if any; leaving
    it with an exception (or an interrupt) ends the children first, so nothing writes into a
    folder that is being removed.
    """

    def __init__(self, jobs: Sequence[Job], *, parallel: bool = True) -> None:
        self.jobs = jobs
        self.parallel = parallel

    def __enter__(self) -> InBackground:
        self.children_: list[tuple[Any, Connection]] = []
        if self.parallel and can_fork():
            ctx = multiprocessing.get_context("fork")
            with forking():
                for job in self.jobs:
                    receive, send = ctx.Pipe(duplex=False)
                    process = ctx.Process(target=_child, args=(job, send, os.getpid()),
                                          daemon=True)
                    process.start()
                    send.close()
                    self.children_.append((process, receive))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.children_:
            if exc_type is None:
                for job in self.jobs:
                    job()
            return
        if exc_type is not None:
            for process, receive in self.children_:
                process.terminate()
                process.join()
                receive.close()
            return
        errors = [_wait(process, receive) for process, receive in self.children_]
        error = next((e for e in errors if e is not None), None)
        if error is not None:
            raise error


def _wait(process: Any, receive: Connection) -> BaseException | None:
    """Wait for one child; its error (``None`` if it succeeded)."""
    try:
        error = receive_answer(receive, "a figure process")
    except EOFError:  # ended without a word (killed)
        error = None
    finally:
        receive.close()
    process.join()
    if error is None and process.exitcode != 0:
        error = ended("a figure process", process.exitcode)
    return error


def _child(job: Job, send: Connection, parent: int) -> None:
    """Body of a forked process: run ``job``, send ``None`` or its exception, end quietly."""
    child_start(parent)
    error: BaseException | None = None
    try:
        job()
    except BaseException as exc:  # noqa: BLE001  (sent to the parent, which raises it)
        error = keep_traceback(exc)
    send_answer(send, error, lambda: OutputError(f"drawing the figures failed: {describe(error)}"))
    send.close()
    child_end()
