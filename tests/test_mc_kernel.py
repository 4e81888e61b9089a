"""The Monte Carlo block kernel gives the per-draw path's ranks and waves, bit for bit.

:func:`allocator.montecarlo.kernel.evaluate_block` is compared with
:func:`allocator.montecarlo.draws.evaluate_draw` (the per-draw baseline, the index's own
functions) draw by draw, on every normaliser and aggregator, transforms and orientations, tied
and constant rows, locks and lock-outs; and end to end through :class:`RankUncertainty`.

Data: random arrays and the SYNTHETIC areas table tests/data/index_synthetic_areas.csv."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.index import IndexConfig, NeedIndex, UncertaintyConfig
from allocator.index.config import IndicatorSpec
from allocator.index.need_index import orient_and_transform, score_indicators
from allocator.index.normalise import exponential, from_average_rank, rank
from allocator.montecarlo import RankUncertainty
from allocator.montecarlo.draws import MonteCarloSetup, evaluate_draw, evaluate_draws
from allocator.montecarlo.kernel import block_scores, evaluate_block
from allocator.waves import WavesConfig

DATA = Path(__file__).parent / "data" / "index_synthetic_areas.csv"
NORMALISERS = ["zscore", "minmax", "rank", "exponential"]
AGGREGATORS = ["arithmetic", "geometric"]


def setup(
    n: int, specs: list[IndicatorSpec], locked: np.ndarray | None = None,
    allowed: np.ndarray | None = None, sizes: list[int] | None = None, seed: int = 0,
) -> MonteCarloSetup:
    k = len(specs)
    sizes = sizes or [n // 3, n // 3, n - 2 * (n // 3)]
    rng = np.random.default_rng(seed)
    return MonteCarloSetup(
        specs=specs, raw=np.ones((k, n)), sd=np.ones((k, n)), floor=np.full(k, -np.inf),
        weights=np.full(k, 1 / k), alpha=None, positive=np.ones(k, dtype=bool),
        normalisers=NORMALISERS, aggregators=AGGREGATORS,
        tb_position=rng.permutation(n).astype(np.int64), sizes=sizes,
        locked=np.full(n, -1, dtype=np.int64) if locked is None else locked,
        allowed=np.ones((n, len(sizes)), dtype=bool) if allowed is None else allowed,
    )


def block(m: int, k: int, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """Positive values with exact ties (few distinct values), constant rows and 1-ulp neighbours."""
    rng = np.random.default_rng(seed)
    noisy = rng.lognormal(0.0, 0.5, (m, k, n))
    coarse = rng.random((m, k)) < 0.3
    noisy[coarse] = rng.integers(1, 6, (int(coarse.sum()), n)).astype(float)
    const = rng.random((m, k)) < 0.03
    noisy[const] = 2.0
    near = rng.random((m, k)) < 0.05
    noisy[near, 1] = np.nextafter(noisy[near, 0], np.inf)
    weights = rng.dirichlet(np.ones(k), size=m)
    weights[rng.random(m) < 0.1] = np.eye(k)[0]  # one indicator only: ties in every score
    return noisy, weights, rng.integers(0, 4, m), rng.integers(0, 2, m)


def check(s: MonteCarloSetup, m: int = 400, seed: int = 1) -> None:
    k, n = len(s.specs), len(s.tb_position)
    noisy, weights, ni, ai = block(m, k, n, seed)
    ranks = np.empty((m, n), dtype=np.int32)
    waves = np.empty((m, n), dtype=np.int8)
    evaluate_block(s, noisy, weights, ni, ai, ranks, waves, 1)
    scores, rows = block_scores(s, noisy, weights, ni, ai)
    for i, draw in enumerate(rows):
        # the same numbers, not only the same order
        expected = score_indicators(orient_and_transform(noisy[draw], s.specs),
                                    NORMALISERS[ni[draw]], weights[draw], AGGREGATORS[ai[draw]])
        np.testing.assert_array_equal(scores[i], expected.score, err_msg=f"draw {draw}")
    for i in range(m):
        r, w = evaluate_draw(s, noisy[i], weights[i], int(ni[i]), int(ai[i]))
        np.testing.assert_array_equal(ranks[i], r, err_msg=f"draw {i}")
        np.testing.assert_array_equal(waves[i], w + 1, err_msg=f"draw {i}")
    r, w = evaluate_draws(s, noisy, weights, ni, ai)
    np.testing.assert_array_equal(ranks, r)
    np.testing.assert_array_equal(waves, w + 1)
    # the same block with every draw on one method (the path without regrouping)
    for j in range(4):
        for a in range(2):
            one = np.full(m, j), np.full(m, a)
            evaluate_block(s, noisy[:60], weights[:60], one[0][:60], one[1][:60],
                           ranks[:60], waves[:60], 0)
            np.testing.assert_array_equal(ranks[:60], evaluate_draws(
                s, noisy[:60], weights[:60], one[0][:60], one[1][:60])[0])


PLAIN = [IndicatorSpec(name=x, direction="higher_is_worse")
         for x in ("drug_deaths_rate", "imd_score", "crime_score")]


@pytest.mark.parametrize("n", [40, 152])
def test_block_equals_per_draw_on_every_method_with_ties(n: int) -> None:
    check(setup(n, PLAIN), seed=n)


def test_block_equals_per_draw_with_transforms_and_orientation() -> None:
    specs = [
        IndicatorSpec(name="drug_deaths_rate", direction="higher_is_worse", transform="log"),
        IndicatorSpec(name="imd_score", direction="higher_is_better", transform="rank"),
        IndicatorSpec(name="crime_score", direction="higher_is_better"),
        IndicatorSpec(name="ocu_rate", direction="higher_is_worse"),
    ]
    check(setup(60, specs), seed=7)


def test_block_equals_per_draw_with_locks_and_lock_outs() -> None:
    n = 45
    locked = np.full(n, -1, dtype=np.int64)
    locked[[3, 20]] = [2, 0]
    allowed = np.ones((n, 3), dtype=bool)
    allowed[[3, 20]] = False
    allowed[3, 2] = allowed[20, 0] = True
    only_locks = setup(n, PLAIN, locked.copy(), allowed.copy(), seed=2)
    check(only_locks, m=150, seed=3)
    allowed[[5, 9], [0, 1]] = False  # lock-outs
    check(setup(n, PLAIN, locked, allowed, seed=2), m=150, seed=4)


def test_rank_normalisers_share_one_formula() -> None:
    x = np.array([[3.0, 1.0, 2.0, 2.0], [0.5, 4.0, -1.0, 7.0]])
    np.testing.assert_array_equal(rank(x), from_average_rank(
        np.array([[4.0, 1.0, 2.5, 2.5], [2.0, 3.0, 1.0, 4.0]]), 4, "rank"))
    assert exponential(x).max() == pytest.approx(100.0)
    with pytest.raises(ValueError, match="method"):
        from_average_rank(x, 4, "zscore")


def areas() -> pd.DataFrame:
    return pd.read_csv(DATA, dtype={"drug_deaths_flag": str, "imd_flag": str, "crime_flag": str})


@pytest.mark.parametrize("variant", ["transforms", "locks", "one-method", "deprivation"])
def test_loop_and_vectorised_agree(variant: str) -> None:
    frame = areas()
    icfg, wcfg = None, None
    kw: dict[str, object] = dict(normalise_choices=NORMALISERS, aggregate_choices=AGGREGATORS)
    if variant == "transforms":
        icfg = IndexConfig(indicators=[
            {"name": "drug_deaths_rate", "direction": "higher_is_worse", "transform": "log"},
            {"name": "imd_score", "direction": "higher_is_worse", "transform": "rank"},
            {"name": "crime_score", "direction": "higher_is_better", "weight": 0.5},
        ])
    elif variant == "locks":
        ranks = NeedIndex().fit(frame).rank_
        wcfg = WavesConfig(
            locks=[{"code": ranks.idxmax(), "wave": 1, "reason": "pilot"}],
            lock_out=[{"code": ranks.idxmin(), "wave": 1, "reason": "test"}],
        )
    elif variant == "one-method":
        kw = dict(normalise_choices=["rank"], aggregate_choices=["geometric"])
    else:
        frame = frame.assign(income_score=frame["imd_score"] * 0.8 + 1.0,
                             employment_score=frame["imd_score"].rank())
        kw["deprivation_choices"] = ["imd_score", "income_score", "employment_score"]
    ucfg = UncertaintyConfig(seed=11, draws=120, **kw)
    vec = RankUncertainty(icfg, ucfg, wcfg, progress=False).fit(frame)
    loop = RankUncertainty(icfg, ucfg, wcfg, method="loop", progress=False).fit(frame)
    np.testing.assert_array_equal(vec.ranks_, loop.ranks_)
    np.testing.assert_array_equal(vec.waves_, loop.waves_)
    pd.testing.assert_frame_equal(vec.results_, loop.results_)
