"""The Monte Carlo's array core: exact tie handling with unstable sorts, one-pass rank quantiles,
blocks sized by a memory budget.

Data: random arrays and the SYNTHETIC areas table tests/data/index_synthetic_areas.csv."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.stats import rankdata

from allocator.index import UncertaintyConfig
from allocator.index.normalise import average_rank
from allocator.index.ranking import rank_scores
from allocator.montecarlo import RankUncertainty
from allocator.montecarlo.draws import chunk_draws
from allocator.montecarlo.uncertainty import rank_quantiles

DATA = Path(__file__).parent / "data" / "index_synthetic_areas.csv"


def stable_ranks(scores: np.ndarray, tb_position: np.ndarray) -> np.ndarray:
    """The reference: a stable sort of every row by score, in tie-break order."""
    perm = np.argsort(tb_position, kind="stable")
    order = np.argsort(-scores[..., perm], axis=-1, kind="stable")
    ranks_perm = np.empty(order.shape, dtype=np.int64)
    np.put_along_axis(ranks_perm, order, np.broadcast_to(np.arange(1, order.shape[-1] + 1),
                                                         order.shape), axis=-1)
    ranks = np.empty_like(ranks_perm)
    ranks[..., perm] = ranks_perm
    return ranks


# Few distinct values, so most rows have ties, plus NaN.
scores_2d = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40),
    elements=st.sampled_from([0.0, -0.0, 1.0, 2.5, -3.0, np.nan, 1e-300, 7.0]),
)


@settings(max_examples=200, deadline=None)
@given(scores=scores_2d, seed=st.integers(0, 2**32 - 1))
def test_rank_scores_equals_a_stable_sort(scores: np.ndarray, seed: int) -> None:
    tb = np.random.default_rng(seed).permutation(scores.shape[-1])
    expected = stable_ranks(scores, tb)
    np.testing.assert_array_equal(rank_scores(scores, tb), expected)
    np.testing.assert_array_equal(rank_scores(scores[0], tb), expected[0])


def test_ties_follow_the_tie_break_not_the_sort() -> None:
    # 200 equal scores: an unstable sort scrambles them; the explicit tie handling must not
    n = 200
    tb = np.random.default_rng(0).permutation(n)
    scores = np.zeros((3, n))
    scores[1, ::7] = 1.0
    ranks = rank_scores(scores, tb)
    np.testing.assert_array_equal(ranks[0], tb + 1)
    np.testing.assert_array_equal(ranks, stable_ranks(scores, tb))


@settings(max_examples=100, deadline=None)
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=30),
                    elements=st.sampled_from([0.0, -0.0, 1.0, 2.0, -5.5, 1e300, 3.25])))
def test_average_rank_equals_scipy(x: np.ndarray) -> None:
    np.testing.assert_array_equal(average_rank(x), rankdata(x, method="average", axis=-1))


@settings(max_examples=100, deadline=None)
@given(
    draws=st.integers(1, 300),
    n=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
    q=st.lists(st.floats(0, 1), min_size=1, max_size=4),
)
def test_rank_quantiles_equal_numpy(draws: int, n: int, seed: int, q: list[float]) -> None:
    rng = np.random.default_rng(seed)
    ranks = (np.argsort(rng.random((draws, n)), axis=1).argsort(axis=1) + 1).astype(np.int32)
    expected = np.quantile(ranks, q, axis=0, method="inverted_cdf").astype(np.int64)
    np.testing.assert_array_equal(rank_quantiles(ranks, q), expected)
    with pytest.raises(ValueError, match="no draws"):
        rank_quantiles(ranks[:0], q)


def areas() -> pd.DataFrame:
    return pd.read_csv(DATA, dtype={"drug_deaths_flag": str, "imd_flag": str, "crime_flag": str})


def test_blocks_are_sized_by_elements_and_do_not_change_results() -> None:
    ucfg = UncertaintyConfig(seed=3, draws=120, normalise_choices=["zscore", "rank"],
                             aggregate_choices=["arithmetic", "geometric"])
    big = RankUncertainty(None, ucfg, None, progress=False).fit(areas())
    k, n = big.setup_.raw.shape
    # a budget of 10 draws' elements gives blocks of 10 draws, whatever chunk_size allows
    assert chunk_draws(big.setup_, ucfg.chunk_size, 10 * k * n) == 10
    assert chunk_draws(big.setup_, 4, 10 * k * n) == 4
    assert chunk_draws(big.setup_, 100, 1) == 1
    small = RankUncertainty(None, ucfg, None, progress=False, chunk_elements=10 * k * n).fit(areas())
    np.testing.assert_array_equal(small.ranks_, big.ranks_)
    pd.testing.assert_frame_equal(small.results_, big.results_)
    with pytest.raises(ValueError, match="chunk_elements"):
        RankUncertainty(None, ucfg, None, chunk_elements=0).fit(areas())


def test_threads_do_not_change_results() -> None:
    ucfg = UncertaintyConfig(seed=5, draws=200, normalise_choices=["zscore", "exponential"])
    k, n = 3, len(areas())
    one = RankUncertainty(None, ucfg, None, progress=False, chunk_elements=7 * k * n).fit(areas())
    two = RankUncertainty(None, ucfg, None, progress=False, chunk_elements=7 * k * n,
                          n_jobs=2).fit(areas())
    np.testing.assert_array_equal(one.ranks_, two.ranks_)
    np.testing.assert_array_equal(one.waves_, two.waves_)
    pd.testing.assert_frame_equal(one.results_, two.results_)
    pd.testing.assert_frame_equal(one.choices_, two.choices_)
    with pytest.raises(ValueError, match="n_jobs"):
        RankUncertainty(None, ucfg, None, n_jobs=0).fit(areas())


@pytest.mark.parametrize(("d", "n", "seed"), [(1, 1, 0), (1, 8, 1), (3, 32, 2), (40, 256, 3),
                                              (922, 64, 4), (300, 2, 5)])
def test_scrambled_sobol_equals_scipy(d: int, n: int, seed: int) -> None:
    from scipy.stats import qmc

    from allocator.montecarlo.sobol import scrambled_sobol

    expected = qmc.Sobol(d=d, scramble=True, seed=np.random.default_rng(seed)).random(n)
    np.testing.assert_array_equal(scrambled_sobol(d, n, np.random.default_rng(seed)), expected)
    other = scrambled_sobol(d, n, np.random.default_rng(seed + 100))
    assert n == 1 and d == 1 or not np.array_equal(other, expected)
