"""Figures drawn in forked processes (allocator.report.figures): the same bytes as in-process,
errors raised in the parent with their own type, children ended when the parent fails.

Inputs: a SYNTHETIC allocation on the real ONS boundaries (tests/test_map_synthetic.py) and
small jobs writing text files."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from allocator.errors import DataError, OutputError
from allocator.report import figures
from allocator.report.figures import InBackground
from allocator.report.static import write_static_maps
from test_map_synthetic import synthetic_frame, synthetic_meta

needs_fork = pytest.mark.skipif(not figures.can_fork(), reason="no fork on this platform")


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@needs_fork
def test_maps_drawn_in_two_processes_are_byte_identical(tmp_path: Path) -> None:
    frame, meta = synthetic_frame(), synthetic_meta()
    inline, forked = tmp_path / "inline", tmp_path / "forked"
    write_static_maps(frame, meta, inline, formats=("png", "pdf"))
    parents = set()
    jobs = [lambda m=m: parents.add(os.getpid()) or write_static_maps(
        frame, meta, forked, formats=("png", "pdf"), maps=(m,)) for m in ("wave", "per_head")]
    with InBackground(jobs):
        pass
    assert parents == set()  # the jobs ran in the children, not here
    assert _files(forked) == _files(inline)
    assert sorted(_files(forked)) == ["map_per_head.pdf", "map_per_head.png", "map_wave.pdf",
                                      "map_wave.png"]


def test_without_fork_the_jobs_run_in_process_in_order(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(figures, "can_fork", lambda: False)
    done: list[int] = []
    with InBackground([lambda: done.append(1), lambda: done.append(2)]):
        assert done == []  # not before the block ends
    assert done == [1, 2]
    with InBackground([lambda: done.append(3)], parallel=False):
        pass
    assert done == [1, 2, 3]


def _fail() -> None:
    raise DataError("hex cartogram: no layer named 'x'")


@needs_fork
def test_a_child_error_is_raised_in_the_parent_with_its_type(tmp_path: Path) -> None:
    out = tmp_path / "ok.txt"
    with pytest.raises(DataError, match="no layer named"), InBackground(
        [lambda: out.write_text("fine"), _fail]
    ):
        pass
    assert out.read_text() == "fine"


@needs_fork
def test_a_killed_child_is_an_output_error() -> None:
    with pytest.raises(OutputError, match=r"ended unexpectedly \(exit code 3\)"), InBackground(
        [lambda: os._exit(3)]
    ):
        pass


@needs_fork
def test_an_error_in_the_parent_ends_the_children(tmp_path: Path) -> None:
    late = tmp_path / "late.txt"

    def slow() -> None:
        time.sleep(5)
        late.write_text("written after the parent failed")

    start = time.monotonic()
    with pytest.raises(RuntimeError, match="workbook"), InBackground([slow]):
        raise RuntimeError("workbook could not be written")
    assert time.monotonic() - start < 4  # not waited for
    time.sleep(0.2)
    assert not late.exists()


@needs_fork
def test_preload_imports_matplotlib_with_agg_in_this_process() -> None:
    import subprocess
    import sys

    code = ("import sys; from allocator.report.figures import preload; "
            "assert 'matplotlib.pyplot' not in sys.modules; preload(); preload(); "
            "import matplotlib; print(matplotlib.get_backend().lower(), "
            "all(m in sys.modules for m in ('matplotlib.pyplot', 'matplotlib.backends.backend_pdf',"
            " 'geopandas.plotting')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["agg", "True"]


def test_figure_jobs_split_the_maps_and_charts_between_two_processes(tmp_path: Path) -> None:
    from allocator.report.charts import write_charts

    jobs = figures.figure_jobs(None)  # type: ignore[arg-type]
    assert [(j.keywords["maps"], j.keywords["charts"]) for j in jobs] == [
        (("wave",), ("per_head",)), (("per_head",), ("regions",))]
    with pytest.raises(ValueError, match="charts: unknown chart"):
        write_charts(None, None, None, None, tmp_path, charts=("pie",))  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.skipif(__import__("allocator.paths").paths.default_data_dir() is None,
                    reason="the official data (../shared/geodata) is not present")
def test_default_run_directory_is_the_same_with_and_without_figure_processes_or_drawer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from allocator.config import load_config
    from allocator.pipeline import run

    root = Path(__file__).resolve().parents[1]
    config = load_config(root / "configs" / "ssmtrg-2022-25.yaml")
    config = config.model_copy(update={"uncertainty": config.uncertainty.model_copy(
        update={"draws": 500})})  # the figures are what is compared; fewer draws are quicker
    from allocator.report.prefork import Drawer

    drawer = Drawer.for_output(config.output)  # as `allocator run` does (forked before the run)
    try:
        result = run(config)
        drawn = result.write(tmp_path / "drawer", name="run", drawer=drawer)
    finally:
        if drawer is not None:
            drawer.stop()
    forked = result.write(tmp_path / "forked", name="run")
    monkeypatch.setattr(figures, "can_fork", lambda: False)
    inline = result.write(tmp_path / "inline", name="run")
    assert _files(forked) == _files(inline)
    assert _files(drawn) == _files(inline)
    assert {"map_wave.png", "map_per_head_hex.pdf", "chart_regions.png"} <= set(_files(forked))


@needs_fork
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_parent_takes_its_figure_processes_with_it(tmp_path: Path) -> None:
    import signal
    import subprocess

    late = tmp_path / "late.txt"
    code = ("import time; from allocator.report.figures import InBackground\n"
            f"job = lambda: (time.sleep(1.5), open({str(late)!r}, 'w').write('x'))\n"
            "with InBackground([job]):\n    print('started', flush=True); time.sleep(30)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None and parent.stdout.readline().strip() == "started"
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    time.sleep(3)
    assert not late.exists()  # the child did not outlive the parent


@needs_fork
def test_a_child_error_that_cannot_be_rebuilt_is_an_output_error_naming_it() -> None:
    from test_background import Unrebuildable

    def fail() -> None:
        raise Unrebuildable("hexes.gpkg: No such file or directory")

    with pytest.raises(OutputError, match="a figure process failed: Unrebuildable: hexes.gpkg: No such file"), \
            InBackground([fail]):
        pass


@needs_fork
def test_a_child_error_keeps_the_childs_traceback_as_a_note() -> None:
    # --debug printed only the parent's frames (InBackground.__exit__): nothing said where
    # in the figure code it failed
    with pytest.raises(DataError) as info, InBackground([_fail]):
        pass
    notes = "".join(getattr(info.value, "__notes__", []))
    assert "In a forked process" in notes and "_fail" in notes


@needs_fork
def test_a_stand_in_error_keeps_where_the_child_failed() -> None:
    from test_background import Unrebuildable

    def draw_hexes() -> None:
        raise Unrebuildable("hexes.gpkg: No such file or directory")

    with pytest.raises(OutputError) as info, InBackground([draw_hexes]):
        pass
    assert "draw_hexes" in "".join(getattr(info.value, "__notes__", []))
