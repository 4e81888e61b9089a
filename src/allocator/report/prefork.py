"""Draw a run's figures and write its ``map.html`` in a process started before the run computes.

Importing matplotlib and folium (and compiling folium's page templates) costs about 0.7 s of
CPU, and drawing the figures several seconds more; none of it needs anything but the run's
final tables. ``allocator run`` therefore forks a :class:`Drawer` first thing, before it imports
pandas and the rest: while the run imports, loads its data, solves and draws its Monte Carlo,
the drawer imports the figure and map libraries (with pandas and geopandas, which it needs too)
on the other core, then waits. A config that draws nothing stops it at once. When the run
directory is written, the drawer is sent the figures' and the map's inputs
(:class:`~allocator.report.figures.FigureInputs`, data only), draws the figures in two processes
forked from it (which inherit its imports) and writes ``map.html`` itself, while the run writes
its tables, workbook and summary. The same functions run on the same inputs (sent by pickle,
which keeps every number and geometry exactly), so every file is byte-identical to writing them
in the run's own process (tested).

Without ``fork`` (Windows) there is no drawer: :meth:`allocator.pipeline.RunResult.write` draws
as before.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._forking import (
    can_fork,
    child_end,
    child_start,
    end_own_children_first,
    end_process,
    ended,
    forking,
    keep_traceback,
    receive_answer,
    send_answer,
    stand_in,
)
from ..errors import OutputError

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    import geopandas as gpd

    from .figures import FigureInputs
    from .mapbase import MapMeta


@dataclass
class MapInputs:
    """What :func:`allocator.report.map.write_map` is called with."""

    frame: gpd.GeoDataFrame
    meta: MapMeta
    path: Path
    tiles: Any


class Drawer:
    """A process that imports the figure and map libraries now and draws when asked.

    Parameters
    ----------
    static_maps : bool
        Preload matplotlib and the figure modules (``output.static_maps``).
    interactive : bool
        Preload folium and the map modules (``output.map``).

    Use :meth:`start`, then :meth:`drawing` once around the writing of a run directory, and
    :meth:`stop` in a ``finally`` (it ends the process if it was never asked to draw).
    """

    def __init__(self, *, static_maps: bool = True, interactive: bool = True) -> None:
        self.static_maps = static_maps
        self.interactive = interactive
        self.process_: Any = None
        self._conn: Connection | None = None

    @classmethod
    def for_output(cls, output: Any) -> Drawer | None:
        """A started drawer for a config's ``output`` section, or ``None`` when nothing is
        drawn or this platform cannot fork."""
        if not (output.static_maps or output.map) or not can_fork():
            return None
        return cls(static_maps=output.static_maps, interactive=output.map).start()

    def start(self) -> Drawer:
        """Fork the drawing process (call before starting any thread)."""
        ctx = multiprocessing.get_context("fork")
        receive, send = ctx.Pipe(duplex=True)
        self.process_ = ctx.Process(
            target=_serve, args=(send, os.getpid(), self.static_maps, self.interactive),
            daemon=False, name="allocator-drawer")  # it forks the figure processes itself
        with forking():
            self.process_.start()
            # registered before an interrupt held back by forking() can be raised: a drawer that
            # nobody stops (the caller interrupted before it could) would keep the interpreter's
            # exit waiting for it (it is not a daemon) while it waits for its inputs
            multiprocessing.util.Finalize(None, end_process, args=(self.process_,),
                                          exitpriority=10)
        send.close()
        self._conn = receive
        return self

    @contextmanager
    def drawing(self, figures: FigureInputs | None, page: MapInputs | None) -> Iterator[None]:
        """Send the inputs; leaving the block waits for every file and raises the drawer's
        error, if any. Leaving it with an exception, or an interrupt while it waits, ends the
        drawer and its figure processes first, so nothing writes into a folder that is being
        removed."""
        if self._conn is None:
            raise RuntimeError("Drawer.drawing() needs start() first")
        try:
            self._conn.send((figures, page))
        except OSError as exc:  # it died before it was asked
            self.stop()
            raise OutputError(f"the figure process ended unexpectedly ({exc})") from None
        try:
            yield
            try:  # (an interrupt while waiting here must end the drawer too)
                error = receive_answer(self._conn, "the figure process")
            except EOFError:
                self.process_.join()
                error = ended("the figure process", self.process_.exitcode)
        finally:
            self.stop()
        if error is not None:
            raise error

    def stop(self) -> None:
        """End the process (at once if it is still working) and close the pipe."""
        if self.process_ is not None:
            end_process(self.process_)
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _serve(conn: Connection, parent: int, static_maps: bool, interactive: bool) -> None:
    """Body of the drawer: preload, wait for one request, draw, answer, end quietly."""
    from .figures import InBackground, figure_jobs, preload

    child_start(parent)
    end_own_children_first()
    # a failed preload matters only if the run asks for what it was for (``allocator run``
    # preloads both before it has read its config)
    failed: dict[str, BaseException] = {}
    if static_maps:
        try:
            preload()
        except BaseException as exc:  # noqa: BLE001  (sent to the run if it asks for figures)
            failed["figures"] = keep_traceback(exc)
    if interactive:
        try:
            from . import map as _map  # noqa: F401  (folium and its page templates)
        except BaseException as exc:  # noqa: BLE001  (sent to the run if it asks for the map)
            failed["map"] = keep_traceback(exc)
    try:
        request = conn.recv()
    except (EOFError, OSError):  # the run ended without writing a run directory
        os._exit(0)
    figures, page = request
    error = (failed.get("figures") if figures is not None else None) or (
        failed.get("map") if page is not None else None)
    if error is None:
        try:
            with InBackground(figure_jobs(figures) if figures is not None else []):
                if page is not None:
                    from .map import write_map

                    write_map(page.frame, page.meta, page.path, tiles=page.tiles)
        except BaseException as exc:  # noqa: BLE001
            error = keep_traceback(exc)
    send_answer(conn, error, lambda: stand_in("drawing the figures", error))
    conn.close()
    child_end()
