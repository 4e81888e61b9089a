"""An interrupt that lands the moment a command's result has been renamed into place no longer
says 'nothing was written' (exit 130) beside a complete run directory: the command ends as if
the signal had come a moment later (exit 0, the directory printed).

In this process, with the command line's own signal handlers installed, and a signal sent by
the rename itself, so that it lands exactly there (a real process cannot be aimed so well).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from allocator import _signals

from .helpers import DATA_DIR, Baseline, run_cli, write_config

pytestmark = pytest.mark.skipif(DATA_DIR is None, reason="shared/geodata not present")


@pytest.fixture
def handlers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The command line's handlers, as `allocator` installs them; restored afterwards."""
    for key, value in _signals._state.items():  # a fresh command's state, restored afterwards
        monkeypatch.setitem(_signals._state, key, type(value)())
    before = {sig: signal.getsignal(sig) for sig in _signals.SIGNALS}
    _signals.install()
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupt_as_the_run_directory_lands_is_not_a_false_nothing_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handlers: None, sig: int):
    rename = os.rename
    renamed: list[str] = []

    def rename_then_interrupt(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        rename(src, dst)
        if Path(src).name.startswith(".allocator-tmp-"):
            renamed.append(str(dst))
            os.kill(os.getpid(), sig)

    monkeypatch.setattr(os, "rename", rename_then_interrupt)
    out = tmp_path / "out"
    res = run_cli("run", write_config(tmp_path / "c.yaml", {"output": {"map": False}}),
                  "--data-dir", DATA_DIR, "--out", out, "--quiet")
    assert renamed, res.stderr
    assert res.returncode == 0, res.stderr
    assert "nothing was written" not in res.stderr
    assert f"run directory: {renamed[0]}" in res.stdout
    assert [p.name for p in out.iterdir()] == [Path(renamed[0]).name]


def test_an_interrupted_rollup_leaves_no_half_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   baseline: Baseline):
    from allocator.report import tables

    def half_then_interrupted(frame: object, path: Path, **kw: object) -> Path:
        path.write_text("code,group\nE06000001,", encoding="utf-8")
        raise KeyboardInterrupt("signal 2")

    monkeypatch.setattr(tables, "write_csv", half_then_interrupted)
    res = run_cli("rollup", baseline.run_dir, "--out", tmp_path / "r.csv")
    assert res.returncode == 130, res.stderr
    assert "error: interrupted; nothing was written" in res.stderr
    assert list(tmp_path.iterdir()) == []  # a '.part' file used to stay


def test_an_interrupt_as_the_rollup_lands_is_not_a_false_nothing_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handlers: None, baseline: Baseline):
    link = os.link

    def link_then_interrupt(src: str, dst: str) -> None:
        link(src, dst)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(os, "link", link_then_interrupt)
    out = tmp_path / "r.csv"
    res = run_cli("rollup", baseline.run_dir, "--out", out)
    assert res.returncode == 0, res.stderr
    assert f"wrote {out}" in res.stdout and out.is_file()
    assert list(tmp_path.iterdir()) == [out]


def test_an_interrupt_held_back_replaces_the_error_it_caused(handlers: None):
    """Held back while pool workers start, a group-wide SIGTERM also ended the workers; the
    next write to them failed (BrokenPipeError) and was reported as 'standard output was
    closed', exit 1, instead of the interrupt."""
    with pytest.raises(KeyboardInterrupt), _signals.interruptible(), _signals.held_back():
        os.kill(os.getpid(), signal.SIGTERM)
        while not _signals.received():
            pass
        raise BrokenPipeError(32, "Broken pipe")


def test_a_broken_pipe_after_an_interrupt_is_the_interrupt(monkeypatch: pytest.MonkeyPatch,
                                                           baseline: Baseline):
    import allocator.replay

    def broken(*args: object) -> None:
        _signals.note(signal.SIGTERM)
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setitem(_signals._state, "received", 0)
    monkeypatch.setattr(allocator.replay, "diff_runs", broken)
    res = run_cli("diff", baseline.run_dir, baseline.run_dir)
    assert res.returncode == 130, res.stderr
    assert res.stderr == "error: interrupted; nothing was written (partial outputs were removed)\n"
