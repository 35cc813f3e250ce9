"""``.npy`` files larger than memory are read with ``O_DIRECT``: the same rows and fits as through the memory map."""

import os
import pickle
import warnings

import numpy as np
import pytest

import suffstats as ss
import suffstats.data.npy as npy
from suffstats.data import direct
from suffstats.data.npy import NpySource


@pytest.fixture
def always_direct(monkeypatch):
    monkeypatch.setattr(npy, "DIRECT_READ_BYTES", 0)


def _save(tmp_path, X, name="x.npy"):
    path = tmp_path / name
    np.save(path, X)
    if direct.open_direct(str(path)) is None:
        pytest.skip("this file system does not take O_DIRECT")
    return str(path)


@pytest.mark.parametrize("dtype", ["<f8", "<f4", ">f8", "<i2"])
def test_direct_reads_give_the_memory_maps_rows(tmp_path, always_direct, dtype):
    X = (np.random.default_rng(0).normal(size=(10_007, 7)) * 100).astype(dtype)
    path = _save(tmp_path, X)
    source = NpySource(path)
    assert source._direct_reader() is not None
    rng = np.random.default_rng(1)
    ranges = [(0, 1), (0, 10_007), (10_006, 10_007), (9_000, 20_000)] + \
        [tuple(sorted(rng.integers(0, 10_008, 2))) for _ in range(30)]
    for start, stop in ranges:
        got = source.read(start, stop)
        np.testing.assert_array_equal(got, X[start:stop])
        assert got.dtype == X.dtype and not got.flags.writeable


def test_a_batch_still_held_is_never_overwritten_and_the_pool_stays_small(tmp_path, always_direct):
    X = np.arange(50_000 * 4, dtype=np.float64).reshape(50_000, 4)
    source = NpySource(_save(tmp_path, X))
    held = source.read(100, 4_200)[::2]  # a view of a view keeps the buffer too
    for start in range(0, 50_000, 3_000):
        source.read(start, start + 3_000)
    np.testing.assert_array_equal(held, X[100:4_200][::2])
    assert len(source._direct._pool) <= direct.POOL


def test_fits_read_directly_are_those_read_through_the_memory_map(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    X = np.concatenate([rng.normal(m, 1.0, (9_000, 3)) for m in (-4.0, 0.0, 4.0)])[rng.permutation(27_000)]
    path = _save(tmp_path, X)

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ss.GaussianMixture(3, random_state=0, max_iter=5, tol=0, batch_size=5_000).fit(path)

    mapped = fit()
    monkeypatch.setattr(npy, "DIRECT_READ_BYTES", 0)
    direct_fit = fit()
    np.testing.assert_array_equal(direct_fit.means_, mapped.means_)
    np.testing.assert_array_equal(direct_fit.covariances_, mapped.covariances_)
    assert direct_fit.lower_bounds_ == mapped.lower_bounds_


def test_a_source_read_directly_pickles_and_reads_again(tmp_path, always_direct):
    X = np.random.default_rng(3).normal(size=(5_000, 2))
    source = NpySource(_save(tmp_path, X))
    source.read(0, 10)
    again = pickle.loads(pickle.dumps(source))
    np.testing.assert_array_equal(again.read(4_990, 5_000), X[4_990:])


def test_where_the_file_system_refuses_o_direct_the_memory_map_reads(tmp_path, always_direct, monkeypatch):
    X = np.random.default_rng(4).normal(size=(3_000, 2))
    path = tmp_path / "x.npy"
    np.save(path, X)
    monkeypatch.setattr(direct.os, "O_DIRECT", None, raising=False)  # as on a system without it
    source = NpySource(str(path))
    assert source._direct_reader() is None
    np.testing.assert_array_equal(source.read(17, 2_500), X[17:2_500])


def test_small_files_stay_on_the_memory_map(tmp_path):
    path = _save(tmp_path, np.zeros((100, 2)))
    assert npy.DIRECT_READ_BYTES is None or NpySource(path)._direct_reader() is None
    assert os.path.getsize(path) < (npy.DIRECT_READ_BYTES or np.inf)


def test_a_file_cut_short_while_being_read_is_refused_naming_it(tmp_path, always_direct):
    X = np.random.default_rng(5).normal(size=(20_000, 4))
    path = _save(tmp_path, X)
    source = NpySource(path)
    np.testing.assert_array_equal(source.read(0, 100), X[:100])
    with open(path, "r+b") as f:  # another program truncates the file
        f.truncate(os.path.getsize(path) // 2)
    with pytest.raises(ValueError, match="x.npy: the file is shorter than when it was opened .*rows 15,000-19,999"):
        source.read(15_000, 20_000)


def test_a_pass_with_read_ahead_reuses_its_few_buffers(tmp_path, always_direct, monkeypatch):
    """Buffers are allocated for the first batches only: each new one costs the kernel's zeroing of fresh pages."""
    from suffstats.data.prefetch import prefetch

    X = np.random.default_rng(6).normal(size=(60_000, 5))
    source = NpySource(_save(tmp_path, X))
    allocated = []
    real_empty = np.empty

    class Counting:  # numpy as the reader sees it, counting its buffer allocations
        def __getattr__(self, name):
            return getattr(np, name)

        def empty(self, *args, **kwargs):
            allocated.append(1)
            return real_empty(*args, **kwargs)

    monkeypatch.setattr(direct, "np", Counting())
    total = sum(float(batch.sum()) for batch in prefetch(source.read(s, s + 2_000) for s in range(0, 60_000, 2_000)))
    assert np.isclose(total, X.sum())
    assert len(allocated) <= direct.POOL  # 30 batches


def test_a_read_the_disk_fails_is_refused_naming_the_file(tmp_path, always_direct, monkeypatch):
    """Only a file system that refuses aligned reads (EINVAL) sends reads to the memory map, which would fault on a
    failing disk's bytes."""
    import errno

    X = np.random.default_rng(7).normal(size=(5_000, 3))
    source = NpySource(_save(tmp_path, X))
    reader = source._direct_reader()

    def failing(offset, nbytes):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(reader, "read", failing)
    with pytest.raises(ValueError, match="x.npy: reading rows 10-19 failed"):
        source.read(10, 20)

    def refusing(offset, nbytes):
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(reader, "read", refusing)
    np.testing.assert_array_equal(source.read(10, 20), X[10:20])  # the memory map from now on
    assert source._direct_reader() is None


def test_a_run_that_is_not_a_power_of_two_is_refused():
    from suffstats.backends.numba_nearest import nearest_run

    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match="power of two"):
        nearest_run(X, None, X[:2], 4, 3)
