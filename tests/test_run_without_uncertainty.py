"""A run with the Monte Carlo switched off (``uncertainty.enabled: false``) on the real data.

Found by a reviewer: every writer assumed the borderline flag exists, so such a run crashed with
exit 1 while writing. It must publish every output, say the wave uncertainty was not assessed,
and not claim a borderline list it never computed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from allocator.paths import default_data_dir

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(default_data_dir() is None,
                                reason="the official data (../shared/geodata) is not present")


def test_run_without_uncertainty_publishes_and_says_so(tmp_path: Path) -> None:
    config = tmp_path / "no-uncertainty.yaml"
    config.write_text(yaml.safe_dump({
        "extends": str(ROOT / "configs" / "ssmtrg-2022-25.yaml"),
        "name": "no-uncertainty",
        "uncertainty": {"enabled": False},
    }))
    exe = Path(sys.executable).with_name("allocator")
    proc = subprocess.run([str(exe), "run", str(config), "--out", str(tmp_path / "out"), "--quiet"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (tmp_path / "out").iterdir()
    summary = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert "Uncertainty: not assessed" in summary
    assert "Borderline LAs" not in summary
    for name in ("allocation.xlsx", "allocation.csv", "map.html", "map_wave.png"):
        assert (run_dir / name).stat().st_size > 0
