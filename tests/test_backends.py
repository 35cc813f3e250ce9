"""Fast kernels agree with the numpy reference; results do not depend on the thread count."""

import numpy as np
import pytest

import suffstats as ss
from suffstats.backends import get_backend, get_num_threads, set_num_threads
from suffstats.distributions.covariance import COVARIANCE_TYPES

from .tolerance import assert_close

REFERENCE, FAST = get_backend("numpy"), get_backend("numba")


def _parameters(rng, k, d, kind):
    cov = COVARIANCE_TYPES[kind]
    A = rng.normal(size=(k, d, d)) / np.sqrt(d)
    full = A @ A.transpose(0, 2, 1) + np.eye(d)
    covariances = {"full": full, "tied": full[0], "diag": np.diagonal(full, axis1=1, axis2=2).copy(),
                   "spherical": np.diagonal(full, axis1=1, axis2=2).mean(axis=1)}[kind]
    means = rng.normal(size=(k, d)) * 3
    weights = rng.dirichlet(np.ones(k))
    return means, cov.precision_cholesky(covariances), np.log(weights), kind


@pytest.mark.parametrize("kind", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("n, d, k", [(1, 1, 1), (1, 3, 2), (7, 2, 3), (4096, 5, 4), (1000, 12, 1), (333, 30, 6),
                                     (500, 40, 16)])  # the last: k·d above the one-pass threshold
@pytest.mark.parametrize("weighted", [False, True])
def test_gaussian_block_matches_reference(kind, n, d, k, weighted):
    rng = np.random.default_rng(n * 100 + d * 10 + k)
    X = rng.normal(size=(n, d)) * 2 + 1
    w = rng.uniform(0, 3, size=n) if weighted else None
    means, P, log_w, cov = _parameters(rng, k, d, kind)
    ref = REFERENCE.gaussian_block(X, w, means, P, log_w, cov)
    got = FAST.gaussian_block(X, w, means, P, log_w, cov)
    for a, b, name in zip(got, ref, ["weight", "log_likelihood", "resp", "first", "second"]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * np.max(np.abs(b)), err_msg=name)
    np.testing.assert_allclose(FAST.weighted_log_prob(X, means, P, log_w, cov),
                               REFERENCE.weighted_log_prob(X, means, P, log_w, cov), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("kind", ["full", "diag"])
def test_non_contiguous_memory_mapped_float32_slices(tmp_path, kind):
    rng = np.random.default_rng(0)
    path = tmp_path / "x.npy"
    np.save(path, rng.normal(size=(500, 9)).astype(np.float32))
    X = np.load(path, mmap_mode="r")[100:400:3, ::2]  # strided rows and columns
    means, P, log_w, cov = _parameters(rng, 3, X.shape[1], kind)
    ref = REFERENCE.gaussian_block(X, None, means, P, log_w, cov)
    got = FAST.gaussian_block(X, None, means, P, log_w, cov)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * np.max(np.abs(b)))


def test_squared_distances_match_reference():
    rng = np.random.default_rng(1)
    X, C = rng.normal(size=(50, 4)) + 1e6, rng.normal(size=(3, 4)) + 1e6
    assert_close(FAST.squared_distances(X, C), REFERENCE.squared_distances(X, C), rtol=1e-9)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_bit_identical_across_thread_counts(blobs_memmap, covariance_type):
    before = get_num_threads()
    fits = []
    try:
        for threads in (1, 2, 3):
            set_num_threads(threads)
            fits.append(ss.GaussianMixture(4, covariance_type=covariance_type, max_iter=3, tol=0, random_state=0,
                                           batch_size=5000).fit(blobs_memmap))
    finally:
        set_num_threads(before)
    for other in fits[1:]:
        assert np.array_equal(other.means_, fits[0].means_)
        assert np.array_equal(other.covariances_, fits[0].covariances_)


def test_numba_and_numpy_backends_fit_the_same_model(blobs_memmap):
    kwargs = dict(n_components=4, max_iter=5, tol=0, random_state=0, batch_size=3000)
    a = ss.GaussianMixture(backend="numba", **kwargs).fit(blobs_memmap)
    b = ss.GaussianMixture(backend="numpy", **kwargs).fit(blobs_memmap)
    assert_close(a.means_, b.means_, rtol=1e-9)
    assert_close(a.covariances_, b.covariances_, rtol=1e-8)


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match="unknown backend 'gpu9'"):
        get_backend("gpu9")


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_float32_compute_mode_stays_close_to_float64(blobs_memmap, covariance_type):
    kwargs = dict(n_components=4, covariance_type=covariance_type, max_iter=5, tol=0, random_state=0, batch_size=3000)
    double = ss.GaussianMixture(**kwargs).fit(blobs_memmap)
    single = ss.GaussianMixture(compute_dtype="float32", **kwargs).fit(blobs_memmap)
    scale = np.abs(double.means_).max()
    np.testing.assert_allclose(single.means_, double.means_, rtol=0, atol=1e-5 * scale)
    assert_close(single.covariances_, double.covariances_, rtol=1e-4)
    np.testing.assert_allclose(single.lower_bounds_, double.lower_bounds_, rtol=1e-6)
    for name in ("weights_", "means_", "covariances_"):
        assert getattr(single, name).dtype == np.float64


def test_registry_is_the_one_list_of_backend_names(monkeypatch):
    """A registered module that provides the protocol is usable by name everywhere; others are refused."""
    import types

    from suffstats import backends

    good = types.ModuleType("suffstats_test_backend")
    for name in ("weighted_log_prob", "gaussian_block", "squared_distances", "nearest_block"):
        setattr(good, name, getattr(REFERENCE, name))
    good.BLOCK_ROWS, good.CONCURRENT_BLOCKS = REFERENCE.BLOCK_ROWS, False
    bad = types.ModuleType("suffstats_broken_backend")
    monkeypatch.setitem(__import__("sys").modules, good.__name__, good)
    monkeypatch.setitem(__import__("sys").modules, bad.__name__, bad)
    monkeypatch.setattr(backends, "_LAZY", dict(backends._LAZY))
    monkeypatch.setattr(backends, "_LOADED", dict(backends._LOADED))
    backends.register_lazy("testing", good.__name__)
    backends.register_lazy("broken", bad.__name__)
    X = np.random.default_rng(0).normal(size=(300, 2))
    fitted = ss.GaussianMixture(2, backend="testing", random_state=0, max_iter=3).fit(X)
    reference = ss.GaussianMixture(2, backend="numpy", random_state=0, max_iter=3).fit(X)
    assert np.array_equal(fitted.means_, reference.means_)
    with pytest.raises(TypeError, match="does not provide"):
        ss.GaussianMixture(2, backend="broken").fit(X)
    with pytest.raises(ValueError, match="backend must be one of"):
        ss.GaussianMixture(2, backend="gpu9").fit(X)


def test_a_backend_provides_whole_capabilities_and_models_ask_for_theirs(monkeypatch):
    """A Gaussian-only device fits Gaussian mixtures; k-means on it, or half a capability, is refused by name."""
    import sys
    import types

    from suffstats import backends

    gaussian_only = types.ModuleType("suffstats_gaussian_only")
    half = types.ModuleType("suffstats_half_gaussian")
    for module, names in ((gaussian_only, ("weighted_log_prob", "gaussian_block")), (half, ("gaussian_block",))):
        for name in names:
            setattr(module, name, getattr(REFERENCE, name))
        module.BLOCK_ROWS, module.CONCURRENT_BLOCKS = REFERENCE.BLOCK_ROWS, False
        monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(backends, "_LAZY", dict(backends._LAZY))
    monkeypatch.setattr(backends, "_LOADED", dict(backends._LOADED))
    backends.register_lazy("gaussian-only", gaussian_only.__name__)
    backends.register_lazy("half", half.__name__)
    X = np.random.default_rng(0).normal(size=(300, 2))
    for init in ("kmeans", "k-means++"):  # initialisation assigns rows to centres with the NumPy reference
        kw = dict(random_state=0, max_iter=3, init_params=init)
        fitted = ss.GaussianMixture(2, backend="gaussian-only", **kw).fit(X)
        assert np.array_equal(fitted.means_, ss.GaussianMixture(2, backend="numpy", **kw).fit(X).means_)
    with pytest.raises(ValueError, match="backend 'gaussian-only' has no nearest-centre kernels"):
        ss.KMeans(2, backend="gaussian-only").fit(X)
    with pytest.raises(TypeError, match=r"weighted_log_prob \(for 'gaussian'\)"):
        get_backend("half")
    assert backends.protocol.capabilities(FAST) == ("gaussian", "nearest-centre", "univariate")
    assert backends.protocol.capabilities(REFERENCE) == ("gaussian", "nearest-centre")


@pytest.mark.parametrize("kind", ["full", "tied", "diag", "spherical"])
def test_reference_kernels_use_only_the_array_api_standard(kind):
    """The reference's formulas run on the standard's strictest namespace, as a device backend will run them."""
    xp = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(3)
    X, w = rng.normal(size=(60, 3)), rng.uniform(size=60)
    means, P, log_w, _ = _parameters(rng, 2, 3, kind)
    strict = REFERENCE.gaussian_block(xp.asarray(X), xp.asarray(w), xp.asarray(means), xp.asarray(P),
                                      xp.asarray(log_w), kind)
    plain = REFERENCE.gaussian_block(X, w, means, P, log_w, kind)
    for a, b in zip(strict, plain):
        assert_close(np.asarray(a), b, rtol=1e-12)
    layout = {"full": "full", "tied": "full", "diag": "diag", "spherical": "trace"}[kind]
    strict = REFERENCE.nearest_block(xp.asarray(X), xp.asarray(w), xp.asarray(means), layout)
    for a, b in zip(strict, REFERENCE.nearest_block(X, w, means, layout)):
        assert_close(np.asarray(a), b, rtol=1e-12)


def test_univariate_families_follow_the_default_backend(monkeypatch):
    """With the NumPy backend as default, the one-pass Numba kernels are not used, and the statistics agree."""
    from suffstats import backends

    x = np.random.default_rng(4).normal(5.0, 2.0, size=10_000)
    fast = ss.Normal().statistics(x)
    previous = backends.set_default_backend("numpy")
    try:
        monkeypatch.setattr(FAST, "univariate_moments", lambda *a: (_ for _ in ()).throw(AssertionError("used")))
        checked = ss.Normal().statistics(x)
    finally:
        backends.set_default_backend(previous)
    assert checked.allclose(fast, rtol=1e-12)
    with pytest.raises(ValueError, match="unknown backend"):
        backends.set_default_backend("gpu9")


class _DeviceArray(np.ndarray):
    """A stand-in for a device array: operations stay on the 'device', ``get()`` copies to the host, and
    implicit conversion to NumPy is refused as CuPy refuses it."""

    def get(self):
        return np.array(self.view(np.ndarray))

    def __array__(self, dtype=None, copy=None):
        raise TypeError("implicit conversion to a NumPy array is not allowed (use .get())")


def test_cupy_backend_moves_blocks_to_the_device_and_statistics_back(monkeypatch):
    """The CuPy backend's plumbing, with a stand-in device: device arrays in, host statistics out."""
    import importlib
    import sys
    import types

    shim = types.ModuleType("cupy")
    shim.float64 = np.float64
    shim.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 1))
    shim.asarray = lambda a, dtype=None: np.asarray(a.get() if isinstance(a, _DeviceArray) else a,
                                                    dtype=dtype).view(_DeviceArray)
    monkeypatch.setitem(sys.modules, "cupy", shim)
    sys.modules.pop("suffstats.backends.cupy_kernels", None)
    try:
        device = importlib.import_module("suffstats.backends.cupy_kernels")
    finally:
        sys.modules.pop("suffstats.backends.cupy_kernels", None)  # the stand-in must not outlive the test
    rng = np.random.default_rng(5)
    X, w = rng.normal(size=(300, 3)), rng.uniform(size=300)
    for kind in ("full", "tied", "diag", "spherical"):
        means, P, log_w, _ = _parameters(rng, 3, 3, kind)
        got = device.gaussian_block(X, w, means, P, log_w, kind)
        for a, b in zip(got, REFERENCE.gaussian_block(X, w, means, P, log_w, kind)):
            assert not isinstance(a, _DeviceArray)
            assert_close(a, b, rtol=1e-12)
    got = device.nearest_block(X, w, means, "diag")
    assert all(not isinstance(a, _DeviceArray) for a in got)
    assert device.BLOCK_ROWS % REFERENCE.BLOCK_ROWS == 0 and not device.CONCURRENT_BLOCKS


def test_cupy_is_registered_lazily_and_named_when_missing():
    import subprocess
    import sys

    code = "import sys, suffstats; print('cupy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    from suffstats.backends.device import device_available

    if device_available():
        pytest.skip("a CUDA device works here")
    if __import__("importlib").util.find_spec("cupy") is not None:  # CuPy imports, but no device answers
        message = r"needs an NVIDIA (driver and CUDA runtime|GPU)"
    else:
        message = r"needs CuPy, which is not installed: pip install 'suffstats\[cuda12\]'"
    with pytest.raises(ValueError, match=message):
        ss.GaussianMixture(2, backend="cupy").fit(np.random.default_rng(0).normal(size=(50, 2)))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("layout", [None, "full", "diag", "trace"])
def test_nearest_block_matches_reference(weighted, layout):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(4096, 7)) * 3 + 1e4  # far from the origin: distances must not cancel
    C = X[rng.choice(4096, 5, replace=False)]
    w = rng.uniform(0, 2, size=4096) if weighted else None
    for got, want in zip(FAST.nearest_block(X, w, C, layout), REFERENCE.nearest_block(X, w, C, layout)):
        if want is None:
            assert got is None
        else:
            assert_close(got, want, rtol=1e-12)
