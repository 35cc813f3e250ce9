"""Minibatch utilities for hand-written loops, and the read-ahead thread."""

import threading
import time

import numpy as np
import pytest

from suffstats.data import as_source, iter_minibatches, iter_shuffled_blocks, prefetch


def test_sequential_batches_cover_every_sample_once_along_their_axes():
    X, Y = np.arange(20).reshape(10, 2), np.arange(10)[None, :] * 10
    batches = list(iter_minibatches([X, Y], 3, axes=[0, 1]))
    assert [b[0].shape[0] for b in batches] == [3, 3, 3, 1]
    assert np.array_equal(np.concatenate([b[0] for b in batches]), X)
    assert np.array_equal(np.concatenate([b[1] for b in batches], axis=1), Y)
    assert [b[0].shape[0] for b in iter_minibatches([X], 3, drop_last=True)] == [3, 3, 3]


def test_shuffled_batches_without_replacement_are_a_permutation_and_stay_aligned():
    X = np.arange(100)
    Y = X * 2
    batches = list(iter_minibatches([X, Y], 7, shuffle=True, random_state=0))
    rows = np.concatenate([b[0] for b in batches])
    assert sorted(rows.tolist()) == list(range(100)) and not np.array_equal(rows, X)
    assert all(np.array_equal(b[1], b[0] * 2) for b in batches)
    again = np.concatenate([b[0] for b in iter_minibatches([X, Y], 7, shuffle=True, random_state=0)])
    assert np.array_equal(rows, again)


def test_with_replacement_draws_forever_and_repeats_rows():
    gen = iter_minibatches([np.arange(10)], 8, replace=True, random_state=1)
    draws = np.concatenate([next(gen)[0] for _ in range(50)])
    assert draws.shape == (400,) and len(np.unique(draws)) == 10


def test_repeat_cycles_passes_and_mismatched_arrays_are_refused():
    gen = iter_minibatches([np.arange(4)], 4, repeat=True)
    assert [next(gen)[0].tolist() for _ in range(2)] == [[0, 1, 2, 3]] * 2
    with pytest.raises(ValueError, match="disagree on the number of samples"):
        next(iter_minibatches([np.ones(3), np.ones(4)], 2))
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        next(iter_minibatches([np.ones(3)], 0))


def test_shuffled_blocks_visit_every_row_once_in_a_new_order(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(1000.0).reshape(-1, 1))
    rows = np.concatenate(list(iter_shuffled_blocks(str(tmp_path / "x.npy"), 64, random_state=0)))[:, 0]
    assert sorted(rows.tolist()) == list(range(1000)) and not np.array_equal(rows, np.arange(1000.0))


def _eventually(condition, timeout=30.0):
    """Whether ``condition()`` holds within ``timeout`` seconds (polled: a loaded machine only makes it slower)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_prefetch_keeps_order_and_reads_ahead():
    reads = []

    def slow():
        for i in range(5):
            reads.append(i)
            yield i

    gen = prefetch(slow())
    assert next(gen) == 0
    assert _eventually(lambda: len(reads) >= 3)
    assert reads[:3] == [0, 1, 2]  # one ahead in the queue, one waiting to be put
    assert list(gen) == [1, 2, 3, 4]


def test_prefetch_passes_errors_to_the_consumer():
    def failing():
        yield 1
        raise OSError("disk gone")

    gen = prefetch(failing())
    assert next(gen) == 1
    with pytest.raises(OSError, match="disk gone"):
        next(gen)


def test_prefetch_stops_its_thread_when_the_consumer_stops():
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    before = threading.active_count()
    gen = prefetch(endless())
    next(gen)
    gen.close()
    assert _eventually(lambda: threading.active_count() == before)


def test_array_source_reads_ranges_and_samples():
    X = np.arange(30.0).reshape(10, 3)
    source = as_source(X)
    assert np.array_equal(source.read(2, 5), X[2:5])
    rows = source.sample_indices(4, np.random.default_rng(0))
    assert len(rows) == 4 and np.all(np.diff(rows) > 0)
