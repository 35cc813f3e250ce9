"""Invariants of batching: any split of the rows gives the same statistics."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import suffstats as ss

from .families import CASES, NAMES, assert_parameters_close
from .tolerance import assert_close

N = 257


def _summarized(d, X, cuts):
    for part in np.split(X, sorted(cuts)):
        if len(part):
            d.summarize(part)
    return d


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(1, N - 1), max_size=12))
def test_any_split_gives_the_one_pass_statistics(name, cuts):
    case = CASES[name]
    X = case.data(np.random.default_rng(0), N)
    one_pass = case.make().statistics(X)
    batched = _summarized(case.make(), X, cuts)
    assert batched.pending.allclose(one_pass, rtol=1e-12)
    batched.from_summaries()
    assert_parameters_close(batched, case.make().fit(X).parameters(), 1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_one_row_batches_and_uneven_last_batch(name):
    case = CASES[name]
    X = case.data(np.random.default_rng(1), 40)
    one_pass = case.make().statistics(X)
    rows = _summarized(case.make(), X, range(1, 40))
    uneven = _summarized(case.make(), X, range(7, 40, 7))
    assert rows.pending.allclose(one_pass, rtol=1e-12)
    assert uneven.pending.allclose(one_pass, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32])
def test_statistics_are_float64_whatever_the_input(dtype):
    X = (np.random.default_rng(2).normal(size=(50, 2)) * 10).astype(dtype)
    s = ss.MultivariateNormal().statistics(X)
    assert all(v.dtype == np.float64 for v in s.arrays().values())
    ref = ss.MultivariateNormal().statistics(X.astype(np.float64))
    assert s == ref


@pytest.mark.parametrize("make, shape", [(ss.Normal, (100_000,)), (ss.MultivariateNormal, (100_000, 3))])
def test_large_offset_is_fitted_accurately(make, shape):
    """Mean 1e8, standard deviation 1: naive Σx² - (Σx)²/n loses every digit here."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=shape)
    X = (X - X.mean(axis=0)) / X.std(axis=0) + 1e8  # exact sample variance 1 (to rounding)
    d = make(reg_covar=0.0) if make is ss.MultivariateNormal else make()  # the MLE itself, unregularised
    for batch in np.array_split(X, 13):
        d.summarize(batch)
    d.from_summaries()
    var = np.atleast_1d(d.std**2 if make is ss.Normal else np.diag(d.covariance))
    truth = ((X - 1e8) ** 2).mean(axis=0) - (X - 1e8).mean(axis=0) ** 2
    rel = np.abs(var - truth) / truth
    print(f"{make.__name__}: max relative error of the variance = {rel.max():.2e}")
    assert rel.max() < 1e-6


def test_merging_values_with_different_shifts_keeps_large_offset_accuracy():
    X = np.random.default_rng(4).normal(size=(3000, 2)) + 1e8
    parts = [ss.Moments.of(X[i : i + 1000], shift=X[i]) for i in range(0, 3000, 1000)]
    total = sum(parts)
    assert_close(total.scatter() / total.weight, np.cov(X.T - 1e8, bias=True), rtol=1e-9)


def test_user_loop_over_a_memory_mapped_file(tmp_path):
    path = tmp_path / "rows.npy"
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(10_001, 4))
    X[:] = np.random.default_rng(5).normal(5.0, 2.0, size=X.shape)
    X.flush()
    del X
    data = np.load(path, mmap_mode="r")
    d = ss.MultivariateNormal()
    for start in range(0, data.shape[0], 1_000):
        d.summarize(data[start : start + 1_000])
    d.from_summaries()
    full = ss.MultivariateNormal().fit(np.asarray(data, dtype=np.float64))
    assert_close(d.mean, full.mean, rtol=1e-12)
    assert_close(d.covariance, full.covariance, rtol=1e-11)


@pytest.mark.parametrize("name", NAMES)
def test_user_loop_on_block_aligned_batches_is_fit_bit_for_bit(name):
    """summarize over batches starting on multiples of BLOCK_ROWS, then from_summaries, is fit exactly."""
    case = CASES[name]
    X = case.data(np.random.default_rng(7), 3 * ss.data.BLOCK_ROWS + 77)
    model = case.make()
    for start in range(0, X.shape[0], 2 * ss.data.BLOCK_ROWS):
        model.summarize(X[start:start + 2 * ss.data.BLOCK_ROWS])
    model.from_summaries()
    fitted = case.make().fit(X)
    for key, value in fitted.parameters().items():
        assert np.array_equal(model.parameters()[key], value), key
