"""The packed-key stable argsort (allocator.index.sorting) equals numpy's stable argsort exactly.

The packed path is used on blocks of at least ``SMALL`` elements; these tests set ``SMALL`` to 0
(and ``PIECE`` small, so rows are packed in several pieces) to run it on hypothesis' small arrays.
Data: random arrays only."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.stats import rankdata

from allocator.index import sorting
from allocator.index.normalise import average_rank
from allocator.index.ranking import rank_scores
from allocator.index.sorting import argsort_distinct, stable_argsort

ONE_UP = float(np.nextafter(1.0, 2.0))
# ties, signed zeros, infinities, NaN, tiny and huge magnitudes, values 1 ulp apart
VALUES = [0.0, -0.0, 1.0, ONE_UP, -1.0, float(np.nextafter(-1.0, 0.0)), 2.5, -3.0, 1e-300,
          -1e-300, 1e300, np.inf, -np.inf, np.nan]
arrays = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=12),
    elements=st.one_of(st.sampled_from(VALUES), st.floats(allow_nan=True, width=64)),
)


@pytest.fixture
def packed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sorting, "SMALL", 0)
    monkeypatch.setattr(sorting, "PIECE", 16)


@settings(max_examples=300, deadline=None)
@given(x=arrays)
def test_packed_argsort_equals_numpy_stable(x: np.ndarray) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sorting, "SMALL", 0)
        mp.setattr(sorting, "PIECE", 16)
        order, distinct = argsort_distinct(x)
        np.testing.assert_array_equal(order, np.argsort(x, axis=-1, kind="stable"))
        np.testing.assert_array_equal(stable_argsort(x), order)
    # a row said to be distinct really has pairwise distinct values (and no NaN)
    s = np.sort(x, axis=-1)
    truly = (s[..., 1:] > s[..., :-1]).all(axis=-1)
    assert not np.any(distinct & ~truly)


def test_values_one_ulp_apart_are_sorted_again(packed: None) -> None:
    # 1.0 + 1 ulp before 1.0: their keys agree above the column bits, so the packed order alone
    # puts them in column order (wrong); the check must catch it and sort the row again
    x = np.array([[ONE_UP, 1.0, 3.0, -2.0], [1.0, ONE_UP, 3.0, -2.0]])
    keys = (sorting._keys(x) & ~np.uint64(3)) | np.arange(4, dtype=np.uint64)
    naive = (np.sort(keys, axis=-1) & np.uint64(3)).astype(np.intp)
    assert not np.array_equal(naive, np.argsort(x, axis=-1, kind="stable"))  # the trap is real
    order, distinct = argsort_distinct(x)
    np.testing.assert_array_equal(order, np.argsort(x, axis=-1, kind="stable"))
    assert not distinct.any()


def test_exact_ties_keep_column_order_without_the_slow_sort(
    packed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = np.zeros((5, 300))
    x[:, ::3] = np.arange(100.0)  # every other value tied at 0 (as noisy values cut at a floor)
    calls = []
    real = np.argsort
    monkeypatch.setattr(sorting.np, "argsort", lambda *a, **k: calls.append(1) or real(*a, **k))
    order, distinct = argsort_distinct(x)
    assert calls == []  # rows of exact ties are resolved by the packed keys
    monkeypatch.undo()
    np.testing.assert_array_equal(order, np.argsort(x, axis=-1, kind="stable"))
    assert not distinct.any()


def test_many_areas() -> None:
    # 33,755 columns: 16 column bits, the size of the benchmark at LSOA scale; with ties injected
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 33_755))
    x[1, rng.integers(0, 33_755, 500)] = 0.25
    x[2] = np.round(x[2], 2)
    x[3, 10] = np.nextafter(x[3, 20], np.inf)
    order, distinct = argsort_distinct(x)
    np.testing.assert_array_equal(order, np.argsort(x, axis=-1, kind="stable"))
    # row 3's values are distinct but two sit 1 ulp apart: only "may hold ties" is claimed
    assert distinct.tolist() == [True, False, False, False]


@settings(max_examples=150, deadline=None)
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=12),
                    elements=st.sampled_from([0.0, -0.0, 1.0, ONE_UP, -5.5, 1e300, 3.25])),
       seed=st.integers(0, 2**32 - 1))
def test_ranks_on_the_packed_path(x: np.ndarray, seed: int) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sorting, "SMALL", 0)
        mp.setattr(sorting, "PIECE", 16)
        np.testing.assert_array_equal(average_rank(x), rankdata(x, method="average", axis=-1))
        tb = np.random.default_rng(seed).permutation(x.shape[-1])
        perm = np.argsort(tb, kind="stable")
        order = np.argsort(-x[..., perm], axis=-1, kind="stable")
        expected = np.empty(x.shape, dtype=np.int64)
        np.put_along_axis(expected, perm[order],
                          np.broadcast_to(np.arange(1, x.shape[-1] + 1), x.shape), axis=-1)
        np.testing.assert_array_equal(rank_scores(x, tb), expected)
