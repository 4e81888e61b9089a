"""Normalisers, weighting and aggregation: known answers (small hand-made arrays)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata

from allocator.errors import ConfigError
from allocator.index.aggregate import aggregate, positive_rescale
from allocator.index.normalise import average_rank, exponential, minmax, normalise, rank, zscore
from allocator.index.weighting import normalise_weights, pca_weights, resolve_weights


def test_zscore_known_answer() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    sd = np.sqrt(2.0)  # population sd of 1..5
    np.testing.assert_allclose(zscore(x), (x - 3.0) / sd)


def test_zscore_and_minmax_constant_rows_give_zero() -> None:
    x = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    np.testing.assert_array_equal(zscore(x)[0], 0.0)
    np.testing.assert_array_equal(minmax(x)[0], 0.0)
    np.testing.assert_allclose(minmax(x)[1], [0.0, 1 / 3, 1.0])


def test_rank_normaliser_averages_ties() -> None:
    x = np.array([10.0, 30.0, 20.0, 30.0])
    np.testing.assert_allclose(rank(x), np.array([1.0, 3.5, 2.0, 3.5]) / 4)


def test_average_rank_matches_scipy_on_2d_with_ties() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 6, size=(40, 3, 17)).astype(float)
    np.testing.assert_array_equal(average_rank(x), rankdata(x, method="average", axis=-1))


def test_exponential_transform_endpoints_and_tail() -> None:
    n = 1000
    x = np.arange(n, dtype=float)
    out = exponential(x)
    # R = 1 for the highest value gives exactly 100; R = 1/N for the lowest gives about 0.
    assert out[-1] == pytest.approx(100.0)
    expected_low = -23 * np.log(1 - (1 / n) * (1 - np.exp(-100 / 23)))
    assert out[0] == pytest.approx(expected_low)
    assert out[0] < 0.1
    # The constant 23 puts about 10% (exactly 1 - R* = 10.2%) of areas above 50 (IoD / SIMD 2003 Appendix 5).
    assert (out > 50).mean() == pytest.approx(0.102, abs=0.002)
    assert np.all(np.diff(out) > 0)


def test_unknown_normaliser_lists_known() -> None:
    with pytest.raises(ConfigError, match="known: zscore, minmax, rank, exponential"):
        normalise(np.ones(3), "softmax")


def test_explicit_weights_are_rescaled_to_sum_one() -> None:
    w = resolve_weights(np.array([2.0, 1.0, 1.0]), "explicit", np.zeros((3, 4))).weights
    np.testing.assert_allclose(w, [0.5, 0.25, 0.25])


def test_equal_weights() -> None:
    w = resolve_weights(np.array([5.0, 0.0, 1.0, 1.0]), "equal", np.zeros((4, 3))).weights
    np.testing.assert_allclose(w, [0.25] * 4)


def test_normalise_weights_rejects_zero_sum() -> None:
    with pytest.raises(ConfigError, match="sum to a positive number"):
        normalise_weights(np.zeros(3))


def test_pca_weights_two_perfectly_correlated_indicators_are_equal() -> None:
    a = np.array([1.0, 2.0, 4.0, 8.0, 3.0])
    w = pca_weights(np.vstack([a, 3 * a + 1]))
    np.testing.assert_allclose(w.weights, [0.5, 0.5])
    np.testing.assert_allclose(w.loadings, [np.sqrt(0.5)] * 2)
    assert w.explained_variance == pytest.approx(1.0)


def test_pca_weights_known_answer_three_indicators() -> None:
    # Two perfectly correlated indicators and one uncorrelated with them (orthogonal pattern):
    # the first component is the shared one, loadings (1/sqrt2, 1/sqrt2, 0), weights (.5, .5, 0).
    a = np.array([1.0, -1.0, 1.0, -1.0])
    b = np.array([1.0, 1.0, -1.0, -1.0])
    w = pca_weights(np.vstack([a, 2 * a, b]))
    np.testing.assert_allclose(w.weights, [0.5, 0.5, 0.0], atol=1e-12)
    assert w.explained_variance == pytest.approx(2 / 3)


def test_pca_weights_single_indicator_and_constant_data() -> None:
    assert pca_weights(np.array([[1.0, 2.0, 3.0]])).weights.tolist() == [1.0]
    with pytest.raises(ConfigError, match="varies"):
        pca_weights(np.ones((2, 4)))


def test_arithmetic_aggregation_and_contributions() -> None:
    norm = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]])
    w = np.array([0.25, 0.75])
    score, contrib = aggregate(norm, w, "arithmetic")
    np.testing.assert_allclose(score, [0.25, -0.25, 4.5])
    np.testing.assert_allclose(contrib.sum(axis=0), score)
    np.testing.assert_allclose(contrib[1], [0.0, -0.75, 3.75])


def test_geometric_aggregation_known_answer() -> None:
    norm = np.array([[0.0, 1.0, 2.0], [4.0, 0.0, 2.0]])
    w = np.array([0.5, 0.5])
    g = positive_rescale(norm)
    np.testing.assert_allclose(g, [[1.0, 50.5, 100.0], [100.0, 1.0, 50.5]])
    score, contrib = aggregate(norm, w, "geometric")
    np.testing.assert_allclose(score, [10.0, np.sqrt(50.5), np.sqrt(5050.0)])
    np.testing.assert_allclose(contrib.sum(axis=0), score)
    # LA 0: all of its log-score comes from indicator 2 (indicator 1 is at the minimum, ln 1 = 0).
    np.testing.assert_allclose(contrib[:, 0], [0.0, 10.0])
    assert np.all(contrib >= 0)


def test_geometric_all_at_minimum_splits_by_weight() -> None:
    norm = np.array([[0.0, 1.0], [0.0, 1.0]])
    score, contrib = aggregate(norm, np.array([0.2, 0.8]), "geometric")
    assert score[0] == pytest.approx(1.0)
    np.testing.assert_allclose(contrib[:, 0], [0.2, 0.8])


def test_aggregation_broadcasts_over_draws() -> None:
    rng = np.random.default_rng(0)
    norm = rng.normal(size=(5, 3, 7))
    w = rng.dirichlet([1, 1, 1], size=5)
    for method in ("arithmetic", "geometric"):
        batch, _ = aggregate(norm, w, method)
        for d in range(5):
            np.testing.assert_allclose(batch[d], aggregate(norm[d], w[d], method)[0])
