"""The need index, waves and uncertainty on the REAL areas table (skipped without the data)."""

from __future__ import annotations

import numpy as np
import pytest

from allocator.errors import DataError
from allocator.index import (
    NeedIndex,
    UncertaintyConfig,
    index_table,
    strategy_checks,
)
from allocator.montecarlo import RankUncertainty
from allocator.waves import Waves

data = pytest.importorskip("allocator.data")


@pytest.fixture(scope="module")
def frame():  # type: ignore[no-untyped-def]
    from allocator.data.config import DataConfig

    try:
        return data.load_areas(DataConfig()).frame
    except DataError as exc:  # no data directory on this machine
        pytest.skip(f"real data not available: {exc}")


def test_real_index_table(frame) -> None:  # type: ignore[no-untyped-def]
    idx = NeedIndex().fit(frame)
    waves = Waves().fit(idx)
    unc = RankUncertainty(None, UncertaintyConfig(seed=20220413, draws=2000), progress=False)
    unc.fit(frame)
    t = index_table(frame, idx, waves, unc)
    assert len(t) == 152 and t["code"].is_unique
    assert t["rank"].tolist() == list(range(1, 153))
    assert t["wave"].value_counts().sort_index().tolist() == [50, 50, 52]
    assert np.isfinite(t["score"]).all() and (t["need_factor"] >= 0).all()
    assert t["p_wave_1"].sum() == pytest.approx(50.0)
    # Built without OCU prevalence unless a file was supplied: the index says so.
    if "ocu_rate" not in frame.columns:
        assert any("without ocu_rate" in n for n in idx.notes_)
    checks = strategy_checks(frame.merge(t[["code", "wave"]], on="code"))
    assert checks["n_wave1"] == 50
    assert all(np.isfinite(v) for v in checks.values())
