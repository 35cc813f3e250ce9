"""Every storage format gives the same model as the in-memory array, bit for bit."""

import warnings

import numpy as np
import pytest

import suffstats as ss
from suffstats.data import as_source

N, D = 9_001, 3


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0], [0.0, 6.0, 6.0]])
    return centers[rng.integers(0, 3, N)] + rng.normal(size=(N, D))


@pytest.fixture(scope="module")
def reference(data):
    return _fit(data)


def _fit(X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ss.GaussianMixture(3, max_iter=4, tol=0, random_state=0, init_params="k-means++",
                                  batch_size=2_000, **kwargs).fit(X)


def _same(model, reference):
    for name in ("weights_", "means_", "covariances_", "lower_bounds_"):
        assert np.array_equal(getattr(model, name), getattr(reference, name)), name


def test_npy_path(tmp_path, data, reference):
    np.save(tmp_path / "x.npy", data)
    _same(_fit(str(tmp_path / "x.npy")), reference)


@pytest.mark.parametrize("cuts", [[1, 2, 4097, 9000], [4096, 8192], [3000, 3001, 3002]])
def test_npy_shards_split_at_awkward_rows(tmp_path, data, reference, cuts):
    paths = []
    for i, part in enumerate(np.split(data, cuts)):
        paths.append(str(tmp_path / f"part-{i:03d}.npy"))
        np.save(paths[-1], part)
    _same(_fit(paths), reference)
    _same(_fit(str(tmp_path)), reference)  # a directory of shards
    _same(_fit(str(tmp_path / "part-*.npy")), reference)  # a glob
    source = as_source(paths)
    np.testing.assert_array_equal(source.read(2990, 4100), data[2990:4100])
    np.testing.assert_array_equal(source.take(np.array([0, 1, 4096, 9000])), data[[0, 1, 4096, 9000]])


def test_hdf5(tmp_path, data, reference):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f.create_dataset("rows", data=data, chunks=(1000, D))
    _same(_fit(f"{tmp_path / 'x.h5'}:rows"), reference)


def test_zarr(tmp_path, data, reference):
    zarr = pytest.importorskip("zarr")
    z = zarr.open_array(str(tmp_path / "x.zarr"), mode="w", shape=data.shape, chunks=(1000, D), dtype="f8")
    z[:] = data
    _same(_fit(str(tmp_path / "x.zarr")), reference)


def test_parquet_with_column_selection(tmp_path, data, reference):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({"a": data[:, 0], "label": np.arange(N) % 3, "b": data[:, 1], "c": data[:, 2]})
    pq.write_table(table, tmp_path / "x.parquet", row_group_size=1500)
    source = as_source(str(tmp_path / "x.parquet"), columns=["a", "b", "c"])
    _same(_fit(source), reference)


def test_csv_read_in_chunks_with_column_selection(tmp_path, data, reference):
    pytest.importorskip("pyarrow")
    path = tmp_path / "x.csv"
    with open(path, "w") as f:
        f.write("id,a,b,c\n")
        for i, row in enumerate(data):
            f.write(f"{i},{float(row[0])!r},{float(row[1])!r},{float(row[2])!r}\n")
    from suffstats.data.csv import CsvSource

    _same(_fit(CsvSource(str(path), columns=["a", "b", "c"], block_bytes=64 << 10)), reference)


def test_stream_of_batches(data, reference):
    batches = np.array_split(data, 17)
    _same(_fit(lambda: iter(batches)), reference)


def test_one_shot_iterator_is_refused(data):
    with pytest.raises(TypeError, match="one-shot iterator"):
        _fit(iter(np.array_split(data, 3)))
    exhausted = iter(np.array_split(data, 3))
    with pytest.raises(ValueError, match="fresh iterator"):
        _fit(lambda: exhausted)


def test_stream_refuses_minibatch_epochs(data):
    with pytest.raises(ValueError, match="batches_per_epoch needs a source that reads rows by position"):
        _fit(lambda: iter([data]), batches_per_epoch=2)


def test_dask_array(data, reference):
    da = pytest.importorskip("dask.array")
    _same(_fit(da.from_array(data, chunks=(1234, D))), reference)


def test_scoring_and_prediction_accept_sources(tmp_path, data, reference):
    np.save(tmp_path / "x.npy", data)
    np.testing.assert_array_equal(reference.predict(str(tmp_path / "x.npy")), reference.predict(data))
    assert reference.score(str(tmp_path / "x.npy")) == reference.score(data)


def test_missing_optional_library_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "h5py", None)  # makes ``import h5py`` fail
    with pytest.raises(ImportError, match=r"pip install 'suffstats\[hdf5\]'"):
        as_source("whatever.h5:rows")
