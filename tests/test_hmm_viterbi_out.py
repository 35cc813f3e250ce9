"""Decoding into a memory map: the same path as in memory, for any batch size, in memory that grows with the batch."""

import os
import tracemalloc

import numpy as np
import pytest

from suffstats.hmm import CategoricalHMM, GaussianHMM


@pytest.fixture(scope="module")
def gaussian():
    rng = np.random.default_rng(0)
    model = GaussianHMM(3, covariance_type="diag", random_state=0, n_iter=5)
    model.startprob_ = np.array([0.6, 0.3, 0.1])
    model.transmat_ = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    model.means_ = np.array([[0.0, 0.0], [3.0, 1.0], [-2.0, 4.0]])
    model.covars_ = np.array([[1.0, 1.0], [0.5, 2.0], [1.5, 0.7]])
    X, _ = model.sample(30_000, random_state=rng.integers(1 << 30))
    return model, X


@pytest.mark.parametrize("algorithm", ["viterbi", "map"])
@pytest.mark.parametrize("batch_size", [None, 4096, 7000, 65_536])
def test_the_path_written_to_a_memory_map_is_the_in_memory_path(gaussian, tmp_path, algorithm, batch_size):
    model, X = gaussian
    lengths = [10_000, 1, 12_345, 7_654]
    expected_log_prob, expected = model.decode(X, lengths, algorithm=algorithm)
    model.batch_size = batch_size
    try:
        np.save(tmp_path / "x.npy", X)
        log_prob, path = model.decode(str(tmp_path / "x.npy"), lengths, algorithm=algorithm,
                                      out=tmp_path / "states.npy")
    finally:
        model.batch_size = None
    assert isinstance(path, np.memmap) and path.dtype == np.int64
    assert np.array_equal(path, expected)
    if algorithm == "viterbi":
        assert log_prob == expected_log_prob
    else:  # the sum of the largest posteriors, added piece by piece rather than over one array
        assert log_prob == pytest.approx(expected_log_prob, rel=1e-12)
    assert np.array_equal(np.load(tmp_path / "states.npy"), expected)
    del path
    assert sorted(os.listdir(tmp_path)) == ["states.npy", "x.npy"]  # the back-pointers' file is gone


def test_categorical_path_into_a_given_array(tmp_path):
    rng = np.random.default_rng(1)
    model = CategoricalHMM(2, random_state=0, n_iter=3)
    model.startprob_ = np.array([0.5, 0.5])
    model.transmat_ = np.array([[0.95, 0.05], [0.1, 0.9]])
    model.emissionprob_ = np.array([[0.7, 0.2, 0.1], [0.1, 0.2, 0.7]])
    X, _ = model.sample(20_000, random_state=rng.integers(1 << 30))
    model.batch_size = 5000
    out = np.lib.format.open_memmap(tmp_path / "p.npy", mode="w+", dtype=np.int16, shape=(len(X),))
    _, path = model.decode(X, [8000, 12000], out=out)
    assert path is out and np.array_equal(out, model.decode(X, [8000, 12000])[1])


def test_memory_grows_with_the_batch_not_the_sequence(gaussian, tmp_path):
    model, _ = gaussian
    peaks = {}
    for n in (100_000, 400_000):
        X, _ = model.sample(n, random_state=2)
        np.save(tmp_path / f"x{n}.npy", X)
        del X
        model.batch_size = 8192
        try:
            tracemalloc.start()
            _, path = model.decode(str(tmp_path / f"x{n}.npy"), out=tmp_path / f"s{n}.npy")
            peaks[n] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        finally:
            model.batch_size = None
        del path
    # Four times the rows: an in-memory path alone would add 2.4 MB (int64) and its back-pointers 0.9 MB.
    assert peaks[400_000] < peaks[100_000] + 1_000_000, peaks
    assert peaks[400_000] < 8 * 400_000, peaks


def _read_only(folder):
    np.save(folder / "ro.npy", np.zeros(30_000, dtype=np.int64))
    return np.load(folder / "ro.npy", mmap_mode="r")


@pytest.mark.parametrize("out, message", [
    (lambda tmp, X: np.zeros(10, dtype=np.int64), r"out must have shape \(30000,\)"),
    (lambda tmp, X: np.zeros(30_000), "out must hold integers"),
    (lambda tmp, X: _read_only(tmp), "read-only"),
    (lambda tmp, X: tmp / "states.txt", "must be a .npy path"),
    (lambda tmp, X: tmp / "x.npy", "is the input file"),
    (lambda tmp, X: [0] * 30_000, "must be a .npy path or a NumPy array"),
])
def test_a_bad_out_is_refused_and_the_input_untouched(gaussian, tmp_path, out, message):
    model, X = gaussian
    np.save(tmp_path / "x.npy", X)
    before = (tmp_path / "x.npy").read_bytes()
    target = out(tmp_path, X)
    with pytest.raises(ValueError, match=message):
        model.decode(str(tmp_path / "x.npy"), out=target)
    assert (tmp_path / "x.npy").read_bytes() == before
