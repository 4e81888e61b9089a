"""Waves: nested slices of one ranking, exact sizes, locks and lock-outs reported.

Frames here are SYNTHETIC (built in the test)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocator.errors import ConfigError, DataError
from allocator.waves import Waves, WavesConfig, assign_from_ranks, assign_waves


def ranking(n: int = 10) -> pd.DataFrame:
    """LA i has score n - i, so rank = i + 1 (codes in rank order)."""
    return pd.DataFrame(
        {
            "code": [f"E06{i:06d}" for i in range(n)],
            "name": [f"LA {i}" for i in range(n)],
            "score": np.arange(n, 0, -1, dtype=float),
            "drug_deaths_rate": np.ones(n),
        }
    )


def cfg(**kw: object) -> WavesConfig:
    kw.setdefault("sizes", [3, 3, "rest"])
    kw.setdefault("labels", ["w1", "w2", "w3"])
    return WavesConfig(**kw)


def test_consecutive_slices_of_one_ranking() -> None:
    w = Waves(cfg()).fit(ranking())
    assert w.sizes_ == [3, 3, 4]
    assert w.wave_.tolist() == [1, 1, 1, 2, 2, 2, 3, 3, 3, 3]
    assert w.label_.tolist()[:4] == ["w1", "w1", "w1", "w2"]
    assert w.overrides_.empty
    t = w.table_
    assert t.columns.tolist() == [
        "code",
        "name",
        "rank",
        "natural_wave",
        "wave",
        "wave_label",
        "override",
    ]
    assert t["rank"].tolist() == list(range(1, 11))


def test_lock_into_wave_one_keeps_sizes_exact_and_reports_every_move() -> None:
    c = cfg(locks=[{"code": "E06000008", "wave": "w1", "reason": "ministerial pilot"}])
    w = Waves(c).fit(ranking())
    assert w.wave_["E06000008"] == 1
    assert w.wave_.value_counts().sort_index().tolist() == [3, 3, 4]
    # The 3rd-ranked LA drops to wave 2, the 6th-ranked to wave 3.
    assert w.wave_["E06000002"] == 2 and w.wave_["E06000005"] == 3
    ov = w.overrides_.set_index("code")
    assert ov.columns.tolist() == ["name", "natural_wave", "final_wave", "reason"]
    assert set(ov.index) == {"E06000008", "E06000002", "E06000005"}
    assert ov.loc["E06000008", "reason"] == "locked into wave 1: ministerial pilot"
    assert (ov.loc["E06000008", "natural_wave"], ov.loc["E06000008", "final_wave"]) == (3, 1)
    assert (
        "to keep wave sizes exact after the locks/lock-outs of E06000008"
        in ov.loc["E06000002", "reason"]
    )


def test_lock_out_of_wave_one_defers_and_next_ranked_fills() -> None:
    c = cfg(lock_out=[{"code": "E06000000", "wave": 1, "reason": "not ready to mobilise"}])
    w = Waves(c).fit(ranking())
    assert w.wave_["E06000000"] == 2
    assert w.wave_["E06000003"] == 1
    assert w.wave_.value_counts().sort_index().tolist() == [3, 3, 4]
    assert w.overrides_.set_index("code").loc["E06000000", "reason"] == (
        "locked out of wave 1: not ready to mobilise"
    )


def test_lock_out_of_later_waves_forces_an_early_place() -> None:
    # The lowest-ranked LA may not enter waves 2 or 3, so it must take a wave-1 place.
    c = cfg(
        lock_out=[
            {"code": "E06000009", "wave": 2, "reason": "r"},
            {"code": "E06000009", "wave": 3, "reason": "r"},
        ]
    )
    w = Waves(c).fit(ranking())
    assert w.wave_["E06000009"] == 1
    assert w.wave_.value_counts().sort_index().tolist() == [3, 3, 4]


def test_impossible_lock_outs_are_a_config_error() -> None:
    outs = [{"code": f"E06{i:06d}", "wave": w, "reason": "r"} for i in range(4) for w in (2, 3)]
    with pytest.raises(ConfigError, match="wave 1 cannot be filled exactly with 3 LAs"):
        Waves(cfg(lock_out=outs)).fit(ranking())


def test_lock_errors_found_at_fit() -> None:
    with pytest.raises(ConfigError, match="codes that are not in the areas table: E09999999"):
        Waves(cfg(locks=[{"code": "E09999999", "wave": 1, "reason": "r"}])).fit(ranking())
    locks = [{"code": f"E06{i:06d}", "wave": 1, "reason": "r"} for i in range(5, 9)]
    with pytest.raises(
        ConfigError, match=r"4 LAs are locked into wave 1 \(w1\) which has 3 places"
    ):
        Waves(cfg(locks=locks)).fit(ranking())
    with pytest.raises(ConfigError, match="need more than the 5 LAs"):
        Waves(cfg()).fit(ranking(5))


def test_tie_break_uses_death_rate_then_code() -> None:
    r = ranking(4)
    r["score"] = 1.0
    r["drug_deaths_rate"] = [1.0, 5.0, 1.0, np.nan]
    t = assign_waves(r, cfg(sizes=[1, "rest"], labels=["a", "b"]))
    assert t["code"].tolist() == ["E06000001", "E06000000", "E06000002", "E06000003"]
    assert t["wave"].tolist() == [1, 2, 2, 2]


def test_ranking_table_errors() -> None:
    with pytest.raises(DataError, match="no 'score' column"):
        Waves(cfg()).fit(ranking().drop(columns="score"))
    r = ranking()
    r.loc[4, "score"] = np.nan
    with pytest.raises(DataError, match=r"column 'score': missing score \[E06000004\]"):
        Waves(cfg()).fit(r)


def test_vectorised_assignment_matches_row_by_row() -> None:
    rng = np.random.default_rng(11)
    n = 12
    ranks = np.argsort(rng.random((200, n)), axis=1) + 1
    locked = np.full(n, -1)
    locked[[2, 7]] = [0, 2]
    allowed = np.ones((n, 3), dtype=bool)
    allowed[[2, 7]] = False
    allowed[2, 0] = allowed[7, 2] = True
    allowed[5, 0] = False
    batch = assign_from_ranks(ranks, [4, 4, 4], locked, allowed)
    for d in range(200):
        np.testing.assert_array_equal(
            batch[d], assign_from_ranks(ranks[d], [4, 4, 4], locked, allowed)
        )
    assert np.all((batch == 0).sum(axis=1) == 4)
    assert np.all(batch[:, 2] == 0) and np.all(batch[:, 7] == 2) and np.all(batch[:, 5] != 0)


def _best_by_brute_force(ranks: np.ndarray, sizes: list[int], locked: np.ndarray,
                         allowed: np.ndarray) -> np.ndarray | None:
    """Every valid assignment enumerated; the one whose wave 1, then wave 2, ... holds the best
    ranks (sorted rank lists compared lexicographically), or None if there is none."""
    import itertools

    n, best, best_key = len(ranks), None, None
    for combo in itertools.product(range(len(sizes)), repeat=n):
        a = np.array(combo)
        if any(int((a == w).sum()) != s for w, s in enumerate(sizes)):
            continue
        if np.any((locked >= 0) & (a != locked)) or not allowed[np.arange(n), a].all():
            continue
        key = tuple(tuple(sorted(ranks[a == w])) for w in range(len(sizes)))
        if best_key is None or key < best_key:
            best, best_key = a, key
    return best


@pytest.mark.parametrize("seed", range(40))
def test_assignment_is_the_best_valid_one(seed: int) -> None:
    # SYNTHETIC: 6 LAs, random sizes, one lock and two random lock-outs; compared with every
    # valid assignment enumerated (found by hypothesis: a lock filling wave 2 and an LA locked
    # out of wave 3 must take the wave-1 place, although a better-ranked LA could).
    rng = np.random.default_rng(seed)
    n = 6
    a = int(rng.integers(1, 4))
    b = int(rng.integers(1, n - a))
    sizes = [a, b, n - a - b]
    ranks = rng.permutation(n) + 1
    locked = np.full(n, -1)
    allowed = np.ones((n, 3), dtype=bool)
    la, w = int(rng.integers(n)), int(rng.integers(3))
    locked[la], allowed[la] = w, False
    allowed[la, w] = True
    for _ in range(2):
        other = int(rng.integers(n))
        if other != la:
            allowed[other, int(rng.integers(3))] = False
    expected = _best_by_brute_force(ranks, sizes, locked, allowed)
    if expected is None:
        with pytest.raises(ConfigError, match="cannot be filled exactly"):
            assign_from_ranks(ranks, sizes, locked, allowed)
    else:
        np.testing.assert_array_equal(assign_from_ranks(ranks, sizes, locked, allowed), expected)


def test_lock_out_needing_a_place_taken_by_a_lock() -> None:
    # The hypothesis counterexample: wave 2's only place is locked, so the LA locked out of
    # wave 3 must take wave 1's place ahead of the top-ranked LA.
    ranks = np.array([2, 3, 4, 5, 6, 1])
    locked = np.array([1, -1, -1, -1, -1, -1])
    allowed = np.ones((6, 3), dtype=bool)
    allowed[0] = [False, True, False]
    allowed[1, 2] = False
    out = assign_from_ranks(ranks, [1, 1, 4], locked, allowed)
    np.testing.assert_array_equal(out, [1, 0, 2, 2, 2, 2])
