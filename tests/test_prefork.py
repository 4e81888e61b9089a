"""The drawer forked before a run computes (allocator.report.prefork): the same bytes as drawing
in the run's process, its errors raised in the run with their own type, and no process or file
left behind when the run fails or is killed.

Inputs: a SYNTHETIC allocation on the real ONS boundaries (tests/test_map_synthetic.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from allocator.errors import DataError, OutputError
from allocator.report import figures, prefork
from allocator.report.figures import FigureInputs, write_figures
from allocator.report.map import write_map
from allocator.report.prefork import Drawer, MapInputs
from test_map_synthetic import synthetic_frame, synthetic_meta

pytestmark = pytest.mark.skipif(not figures.can_fork(), reason="no fork on this platform")


def _inputs(out: Path) -> tuple[FigureInputs, MapInputs]:
    import pandas as pd

    frame, meta = synthetic_frame(), synthetic_meta()
    empty = pd.DataFrame()
    return (FigureInputs(frame, meta, out, None, empty, empty, empty, ["a", "b", "c"]),
            MapInputs(frame, meta, out / "map.html", None))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_drawer_writes_the_same_bytes_as_the_run_itself(tmp_path: Path) -> None:
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    fig, page = _inputs(here)
    write_figures(fig, charts=())
    write_map(page.frame, page.meta, page.path, tiles=page.tiles)
    fig, page = _inputs(there)
    drawer = Drawer().start()
    try:
        with drawer.drawing(fig, page):
            pass
    finally:
        drawer.stop()
    assert _files(there) == _files(here)
    assert {"map.html", "map_wave.png", "map_per_head.pdf"} <= set(_files(there))


@pytest.fixture(autouse=True)
def _maps_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # the synthetic frame has no roll-ups: the drawer's figure jobs draw the maps only
    def jobs(inputs: FigureInputs) -> list:  # type: ignore[type-arg]
        from functools import partial

        return [partial(write_figures, inputs, maps=(m,), charts=()) for m in ("wave", "per_head")]

    monkeypatch.setattr(figures, "figure_jobs", jobs)


def test_an_error_in_the_drawer_is_raised_in_the_run_with_its_type(tmp_path: Path) -> None:
    fig, page = _inputs(tmp_path)
    bad = FigureInputs(**{**fig.__dict__, "hex_path": tmp_path / "no-such-hexes.gpkg"})
    drawer = Drawer(interactive=False).start()
    with pytest.raises((DataError, OutputError), match="no-such-hexes|hex"), \
            drawer.drawing(bad, None):
        pass
    assert not drawer.process_.is_alive()


def test_an_error_in_the_run_ends_the_drawer_at_once(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    fig, page = _inputs(tmp_path)
    drawer = Drawer().start()
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="workbook"), drawer.drawing(fig, page):
        raise RuntimeError("workbook could not be written")
    assert time.monotonic() - start < 10
    assert not drawer.process_.is_alive()


def test_a_drawer_never_asked_ends_quietly_on_stop() -> None:
    drawer = Drawer().start()
    pid = drawer.process_.pid
    drawer.stop()
    assert drawer.process_.exitcode is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_killed_drawer_is_an_output_error(tmp_path: Path) -> None:
    fig, page = _inputs(tmp_path)
    drawer = Drawer().start()
    os.kill(drawer.process_.pid, signal.SIGKILL)
    drawer.process_.join()
    with pytest.raises(OutputError, match="ended unexpectedly"), drawer.drawing(fig, page):
        pass


def test_a_drawer_killed_while_drawing_names_the_signal(tmp_path: Path) -> None:
    fig, page = _inputs(tmp_path)
    drawer = Drawer().start()
    with pytest.raises(OutputError, match=r"the figure process ended unexpectedly \(killed by "
                       r"SIGTERM\)"), drawer.drawing(fig, page):
        os.kill(drawer.process_.pid, signal.SIGTERM)
        pass


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_run_takes_its_drawer_with_it() -> None:
    code = ("import time; from allocator.report.prefork import Drawer\n"
            "d = Drawer().start(); print(d.process_.pid, flush=True); time.sleep(30)\n")
    run = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert run.stdout is not None
    pid = int(run.stdout.readline())
    run.send_signal(signal.SIGKILL)
    run.wait(10)
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail("the drawer outlived the run")


def test_no_drawer_where_nothing_is_drawn_or_fork_is_missing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    assert Drawer.for_output(SimpleNamespace(static_maps=False, map=False)) is None
    monkeypatch.setattr(prefork, "can_fork", lambda: False)
    assert Drawer.for_output(SimpleNamespace(static_maps=True, map=True)) is None


def test_the_drawers_error_keeps_the_figure_process_traceback_once(tmp_path: Path) -> None:
    # --debug showed the run's frames only; the note names where the drawing failed
    fig, _ = _inputs(tmp_path)
    bad = FigureInputs(**{**fig.__dict__, "hex_path": tmp_path / "no-such-hexes.gpkg"})
    drawer = Drawer(interactive=False).start()
    with pytest.raises((DataError, OutputError)) as info, drawer.drawing(bad, None):
        pass
    notes = getattr(info.value, "__notes__", [])
    assert len(notes) == 1 and "In a forked process" in notes[0]
    assert "write_figures" in notes[0]


def test_an_interrupt_as_the_drawer_starts_does_not_hang_the_exit() -> None:
    # SIGTERM held back during the fork is raised as start() leaves the fork block, before the
    # drawer is returned: nothing stopped it, and the interpreter's exit waited for ever for a
    # drawer that waited for ever for its inputs (tests/hostile/test_signals.py hung at 1.0 s)
    code = """
import contextlib, os, signal
from allocator.report import prefork

def interrupt(signum, frame):
    raise KeyboardInterrupt

signal.signal(signal.SIGTERM, interrupt)
real = prefork.forking

@contextlib.contextmanager
def forking_then_a_signal():
    with real():
        yield
        os.kill(os.getpid(), signal.SIGTERM)  # held back until the block ends

prefork.forking = forking_then_a_signal
try:
    prefork.Drawer().start()
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.stdout == "interrupted\n", run.stderr


def test_allocator_run_leaves_no_drawer_behind_when_its_config_is_bad(tmp_path: Path) -> None:
    # the drawer is forked before the config is read: a config that fails must still end it
    import multiprocessing

    from click.testing import CliRunner

    from allocator.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nallocation: [unclosed\n", encoding="utf-8")
    before = set(multiprocessing.active_children())
    result = CliRunner().invoke(main, ["run", str(bad), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert set(multiprocessing.active_children()) - before == set()


def test_a_failed_preload_fails_only_what_needs_it(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # allocator run preloads matplotlib and folium before reading its config: a config that
    # asks only for the map must not fail because matplotlib could not be loaded
    def broken() -> None:
        raise ImportError("matplotlib: libfreetype.so.6: cannot open shared object file")

    monkeypatch.setattr(figures, "preload", broken)
    fig, page = _inputs(tmp_path)
    drawer = Drawer().start()
    with drawer.drawing(None, page):
        pass
    assert (tmp_path / "map.html").is_file()
    drawer = Drawer().start()
    with pytest.raises(ImportError, match="libfreetype"), drawer.drawing(fig, None):
        pass


def _scribbler(pids: Path, out: Path) -> Callable[[], None]:
    """A figure job that never ends: it notes its PID in ``pids``, then writes into ``out``."""
    pids.mkdir()
    out.mkdir()

    def scribble() -> None:
        (pids / str(os.getpid())).touch()
        for i in range(10**9):
            (out / f"figure-{i % 20}.png").write_bytes(b"x")

    return scribble


def test_a_stopped_drawer_leaves_no_figure_process_writing(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """When the run is interrupted it stops the drawer, then removes its temporary folder: by
    then no figure process the drawer forked may be alive to write into it (they used to die
    only with the drawer, a moment after the run had gone on to remove the folder)."""
    pids = tmp_path / "pids"
    scribble = _scribbler(pids, tmp_path / "out")
    monkeypatch.setattr(figures, "figure_jobs", lambda inputs: [scribble, scribble])
    drawer = Drawer(static_maps=False, interactive=False).start()
    with pytest.raises(KeyboardInterrupt), drawer.drawing("inputs", None):  # type: ignore[arg-type]
        deadline = time.monotonic() + 30
        while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        raise KeyboardInterrupt
    assert len(list(pids.iterdir())) == 2
    for pid in pids.iterdir():
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid.name), 0)


def test_an_interrupt_while_waiting_for_the_drawer_ends_it(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The run has written its own files and waits for the figures when the interrupt comes: the
    drawer and its figure processes must be gone before the run removes the folder (they used
    to go on drawing into it, and created it again)."""
    pids = tmp_path / "pids"
    scribble = _scribbler(pids, tmp_path / "out")
    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(figures, "figure_jobs", lambda inputs: [scribble])
    previous = signal.signal(signal.SIGALRM, interrupt)
    drawer = Drawer(static_maps=False, interactive=False).start()
    try:
        with pytest.raises(KeyboardInterrupt), drawer.drawing("inputs", None):  # type: ignore[arg-type]
            deadline = time.monotonic() + 30
            while not list(pids.iterdir()) and time.monotonic() < deadline:
                time.sleep(0.01)
            signal.setitimer(signal.ITIMER_REAL, 0.2)  # lands while drawing() waits
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not drawer.process_.is_alive()
    [pid] = list(pids.iterdir())
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid.name), 0)
