"""Device arrays in, device arrays out: rows of a non-NumPy array namespace are scored in that namespace.

``array_api_strict`` stands in for CuPy: its arrays are not NumPy arrays, so a result of its type proves the
rows were scored in their own namespace, and the host path is disabled to prove they never went through it.
"""

import warnings

import numpy as np
import pytest

import suffstats as ss
from suffstats.mixture import gaussian as gaussian_module
from suffstats.mixture import kmeans as kmeans_module
from suffstats.mixture._on_device import device_namespace

xp = pytest.importorskip("array_api_strict")
ARRAY = type(xp.asarray(0.0))

RNG = np.random.default_rng(7)
X = np.concatenate([RNG.normal(size=(150, 3)), RNG.normal(size=(150, 3)) * 0.5 + 4]) + 1e3


def _no_host_path(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("device rows went through the host path")
    monkeypatch.setattr(gaussian_module, "map_batches", refuse)
    monkeypatch.setattr(kmeans_module, "map_batches", refuse)


def _fit(covariance_type="full", **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ss.GaussianMixture(2, covariance_type=covariance_type, random_state=0, max_iter=20,
                                  **kwargs).fit(X)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_gaussian_scores_of_device_rows_are_device_arrays_equal_to_the_host_scores(monkeypatch, covariance_type):
    model = _fit(covariance_type)
    host = model.score_samples(X), model.predict_proba(X), model.predict(X), model.score(X)
    _no_host_path(monkeypatch)
    rows = xp.asarray(X)
    scores, proba, labels = model.score_samples(rows), model.predict_proba(rows), model.predict(rows)
    for got in (scores, proba, labels):
        assert isinstance(got, ARRAY) and device_namespace(got) is xp
    assert scores.dtype == xp.float64 and proba.dtype == xp.float64 and xp.isdtype(labels.dtype, "integral")
    np.testing.assert_allclose(np.asarray(scores), host[0], rtol=1e-12, atol=1e-12 * np.max(np.abs(host[0])))
    np.testing.assert_allclose(np.asarray(proba), host[1], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(np.asarray(labels), host[2])
    assert model.score(rows) == pytest.approx(host[3], rel=1e-12)


def test_float32_device_rows_give_float32_scores(monkeypatch):
    model = _fit("diag")
    rows = xp.asarray(X[:10], dtype=xp.float32)
    want = model.score_samples(X[:10].astype(np.float32))
    _no_host_path(monkeypatch)
    assert model.score_samples(rows).dtype == xp.float32 and model.predict_proba(rows).dtype == xp.float32
    np.testing.assert_allclose(np.asarray(model.score_samples(rows)), want, rtol=1e-6)


def test_kmeans_distances_and_labels_of_device_rows(monkeypatch):
    model = ss.KMeans(2, random_state=0, max_iter=20).fit(X)
    host_distances, host_labels = model.transform(X), model.predict(X)
    _no_host_path(monkeypatch)
    distances, labels = model.transform(xp.asarray(X)), model.predict(xp.asarray(X))
    assert isinstance(distances, ARRAY) and isinstance(labels, ARRAY)
    np.testing.assert_allclose(np.asarray(distances), host_distances, rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(labels), host_labels)


@pytest.mark.parametrize("rows, error, match", [
    (xp.asarray(X[:, :2]), ValueError, "2 features, but the mixture is expecting 3"),
    (xp.asarray(X[0]), ValueError, "must be 2-D"),
    (xp.asarray(X[:0]), ValueError, "empty"),
    (xp.asarray(np.where(np.arange(300)[:, None] == 5, np.nan, X)), ValueError, "NaN or infinity at row 5"),
    (xp.asarray(np.where(np.arange(300)[:, None] == 9, -np.inf, X)), ValueError, "at row 9"),
    (xp.asarray(np.ones((3, 3), dtype=np.complex128)), TypeError, "numeric"),
])
def test_bad_device_rows_are_refused_by_name(monkeypatch, rows, error, match):
    model = _fit("full")
    before = model.means_.copy()
    _no_host_path(monkeypatch)
    for method in (model.score_samples, model.predict_proba, model.predict):
        with pytest.raises(error, match=match):
            method(rows)
    np.testing.assert_array_equal(model.means_, before)


def test_marginalising_missing_values_asks_for_host_rows():
    model = _fit("diag", missing="marginalize")
    with pytest.raises(ValueError, match="host arrays only"):
        model.score_samples(xp.asarray(X))


def test_which_inputs_are_device_arrays(tmp_path):
    import dask.array as da

    path = tmp_path / "x.npy"
    np.save(path, X)
    assert device_namespace(xp.asarray(X)) is xp
    for host in (X, X.tolist(), np.load(path, mmap_mode="r"), da.from_array(X, chunks=100), str(path)):
        assert device_namespace(host) is None
