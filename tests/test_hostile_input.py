"""Hostile input: each gets an error naming the file, row or parameter, and nothing is lost."""

import os
import warnings

import numpy as np
import pytest

import suffstats as ss
from suffstats.data import as_source


def _fit(X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ss.GaussianMixture(2, max_iter=3, tol=0, random_state=0, init_params="k-means++",
                                  batch_size=1000, **kwargs).fit(X)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_nan_in_the_middle_of_a_memory_map_keeps_the_last_good_parameters(tmp_path):
    rng = np.random.default_rng(0)
    good = rng.normal(size=(6000, 2))
    model = _fit(good, warm_start=True)
    before = (model.weights_.copy(), model.means_.copy(), model.covariances_.copy())
    bad = np.lib.format.open_memmap(tmp_path / "bad.npy", mode="w+", dtype=np.float64, shape=good.shape)
    bad[:] = good
    bad[4321, 0] = np.inf
    bad.flush()
    with pytest.raises(ValueError, match="row 4321, column 0"):
        model.fit(np.load(tmp_path / "bad.npy", mmap_mode="r"))
    for a, b in zip(before, (model.weights_, model.means_, model.covariances_)):
        assert np.array_equal(a, b)


def test_pickled_payload_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "executed"
    np.save(tmp_path / "evil.npy", np.array([_Exploit(str(marker))], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="Python objects .*refused, nothing was executed"):
        _fit(str(tmp_path / "evil.npy"))
    assert not marker.exists()


def test_truncated_npy(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((1000, 3)))
    with open(tmp_path / "x.npy", "r+b") as f:
        f.truncate(os.path.getsize(tmp_path / "x.npy") // 2)
    with pytest.raises(ValueError, match="x.npy: not a readable .npy file .*truncated"):
        _fit(str(tmp_path / "x.npy"))


def test_shards_with_different_features_or_dtypes(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((10, 3)))
    np.save(tmp_path / "b.npy", np.ones((10, 2)))
    np.save(tmp_path / "c.npy", np.ones((10, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="b.npy has 2 features; .*a.npy has 3"):
        as_source([str(tmp_path / "a.npy"), str(tmp_path / "b.npy")])
    with pytest.raises(ValueError, match="c.npy has dtype float32; .*a.npy has float64"):
        as_source([str(tmp_path / "a.npy"), str(tmp_path / "c.npy")])


def test_empty_sources(tmp_path):
    np.save(tmp_path / "empty.npy", np.ones((0, 3)))
    with pytest.raises(ValueError, match="empty.npy: holds no rows"):
        _fit(str(tmp_path / "empty.npy"))
    with pytest.raises(ValueError, match="the stream is empty"):
        _fit(lambda: iter([]))
    with pytest.raises(ValueError, match="n_samples = 0"):
        _fit(np.empty((0, 2)))


def test_csv_with_a_non_numeric_cell(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "x.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(50)) + "7,oops\n")
    with pytest.raises(ValueError, match="x.csv: .*(not numeric|not a number)"):
        _fit(str(path))


@pytest.mark.parametrize("batch_size", [0, -5, 2.5, "100"])
def test_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        ss.GaussianMixture(2, batch_size=batch_size).fit(np.ones((10, 2)))


def test_gaussian_mixture_json_round_trip(tmp_path):
    model = _fit(np.random.default_rng(0).normal(size=(500, 2)))
    ss.save(model, tmp_path / "m.json")
    loaded = ss.load(tmp_path / "m.json")
    X = np.random.default_rng(1).normal(size=(50, 2))
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))


def test_a_malformed_npy_header_is_a_damaged_header(tmp_path):
    path = tmp_path / "bad.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00\x20\x00{'descr': '<f8', 'fortran_order': False, 'shape': (3,  }\n")
    with pytest.raises(ValueError, match="the .npy header is damaged"):
        ss.GaussianMixture(2).fit(str(path))


def test_kmeans_on_rows_whose_squared_differences_underflow_is_refused():
    X = np.random.default_rng(0).normal(size=(200, 2)) * 1e-310
    with pytest.raises(ValueError, match="squared distances underflow"):
        ss.KMeans(2, random_state=0).fit(X)


def test_declared_sizes_are_found_below_lists_of_numbers():
    from suffstats.distributions._registry import _check_declared_sizes

    with pytest.raises(ValueError, match="declares n_categories = 100000000000"):
        _check_declared_sizes({"distributions": [[{"n_categories": 10**11}]], "means": [[1.0, 2.0]]})
