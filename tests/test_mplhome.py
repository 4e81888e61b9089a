"""matplotlib's font cache where HOME cannot be written (a container, a system account's cron)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from allocator.report import _mplhome

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX folders and modes")

_CODE = ("import os\nfrom allocator.report import figures\nfigures.preload()\n"
         "print(os.environ.get('MPLCONFIGDIR', ''))\n")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    home = tmp_path / "home"  # a file: nothing can be made under it, not even by root
    home.write_text("not a folder\n")
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("MPLCONFIGDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    return {**env, "HOME": str(home), "TMPDIR": str(tmp_path / "tmp"), **extra}


def _preload(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _CODE], capture_output=True, text=True,
                          env=env, timeout=120)


def test_an_unwritable_home_gets_one_lasting_private_cache_and_no_warning(tmp_path: Path) -> None:
    # matplotlib made a new temporary folder at each import and warned on stderr (also under
    # --quiet); a forked drawer never removed its folder, so every run left one behind
    env = _env(tmp_path)
    first = _preload(env)
    assert first.returncode == 0, first.stderr
    assert "temporary cache directory" not in first.stderr
    folder = tmp_path / "tmp" / f"allocator-matplotlib-{os.getuid()}"
    assert first.stdout.strip() == str(folder)
    assert [p.name for p in (tmp_path / "tmp").iterdir()] == [folder.name]
    assert oct(folder.stat().st_mode & 0o777) == oct(0o700)
    assert any(folder.glob("fontlist-*.json"))  # built once ...
    again = _preload(env)
    assert again.returncode == 0 and "temporary cache" not in again.stderr
    assert [p.name for p in (tmp_path / "tmp").iterdir()] == [folder.name]  # ... and reused


def test_a_chosen_mplconfigdir_or_a_writable_home_is_left_alone(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)  # as before its import
    for key, value in _env(tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mine"))
    assert _mplhome.use_private_cache_if_needed() is None
    monkeypatch.delenv("MPLCONFIGDIR")
    good = tmp_path / "good-home"
    good.mkdir()
    monkeypatch.setenv("HOME", str(good))
    assert _mplhome.use_private_cache_if_needed() is None
    assert "MPLCONFIGDIR" not in os.environ
    assert list(good.iterdir()) == []  # the probe left nothing


def test_a_cache_folder_open_to_others_is_not_used(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)
    for key, value in _env(tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MPLCONFIGDIR", raising=False)
    monkeypatch.setattr("tempfile.tempdir", None)  # TMPDIR is read again
    folder = tmp_path / "tmp" / f"allocator-matplotlib-{os.getuid()}"
    folder.mkdir()
    folder.chmod(0o777)  # another user could have put a matplotlibrc or font list in it
    assert _mplhome.use_private_cache_if_needed() is None
    assert "MPLCONFIGDIR" not in os.environ
    folder.chmod(0o700)
    assert _mplhome.use_private_cache_if_needed() == folder
    assert os.environ["MPLCONFIGDIR"] == str(folder)
