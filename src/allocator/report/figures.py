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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from .._forking import ForkedCall, can_fork

if TYPE_CHECKING:
    from types import TracebackType

    import geopandas as gpd
    import pandas as pd

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
    paying for it (~0.5 s CPU a process); ``allocator run`` calls it in its drawer process
    (:mod:`allocator.report.prefork`) while the pipeline runs. Calling it again costs nothing.
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
    """Run each job in its own forked child process (:class:`allocator._forking.ForkedCall`)
    for the duration of a ``with`` block.

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
    it with an exception (or an interrupt, also one while waiting) ends the children first, so
    nothing writes into a folder that is being removed.
    """

    def __init__(self, jobs: Sequence[Job], *, parallel: bool = True) -> None:
        self.jobs = jobs
        self.parallel = parallel

    def __enter__(self) -> InBackground:
        self.children_: list[ForkedCall] = []
        if self.parallel and can_fork():
            self.children_ = [ForkedCall(job, what="a figure process") for job in self.jobs]
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
        errors: list[Exception] = []
        try:
            if exc_type is None:
                for child in self.children_:
                    try:
                        child.result()
                    except Exception as error:  # noqa: BLE001  (the first is raised below)
                        errors.append(error)
        finally:
            for child in self.children_:
                child.cancel()
        if errors:
            raise errors[0]
