"""Single-precision compute mode keeps its accuracy at any separation of the clusters and any offset of the data.

float32 products must run on rows centred near their component: clusters 1000σ apart
(with k·d > 512, so that diagonal and spherical mixtures take the product path) and
data at 1e8 once gave variances wrong by factors, or negative.
"""

import warnings

import numpy as np
import pytest

import suffstats as ss
from suffstats.backends import numba_kernels, numpy_kernels


def _blobs(n, d, k, separation, offset=0.0, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, d)) * separation + offset
    labels = rng.integers(0, k, n)
    scales = rng.uniform(0.5, 2.0, size=(k, d))
    return centers[labels] + rng.normal(size=(n, d)) * scales[labels]


def _variances(model):
    c = model.covariances_
    return {"full": lambda: np.einsum("kii->ki", c), "tied": lambda: np.diag(c)[None],
            "diag": lambda: c, "spherical": lambda: c[:, None]}[model.covariance_type]()


def _fit_both(X, k, covariance_type, iters=2):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = ss.GaussianMixture(n_components=k, covariance_type=covariance_type, max_iter=3, tol=0,
                                   random_state=0, backend="numba").fit(X)
        kwargs = dict(n_components=k, covariance_type=covariance_type, max_iter=iters, tol=0, random_state=0,
                      backend="numba", means_init=start.means_, weights_init=start.weights_,
                      precisions_init=start.precisions_)
        double = ss.GaussianMixture(compute_dtype="float64", **kwargs).fit(X)
        single = ss.GaussianMixture(compute_dtype="float32", **kwargs).fit(X)
    return double, single


def _assert_parameters_agree(single, double, rtol):
    # Means: against the largest mean (the data's scale) and against each component's own spread.
    np.testing.assert_allclose(single.means_, double.means_, rtol=0, atol=rtol * np.abs(double.means_).max())
    spread = np.sqrt(_variances(double)).max(axis=1, keepdims=True)
    assert (np.abs(single.means_ - double.means_) / spread).max() < rtol
    # Covariances: relative to each component's own variance scale (not the largest component's).
    c64, c32 = double.covariances_, single.covariances_
    if double.covariance_type == "full":
        scale = np.einsum("kii->k", c64)[:, None, None] / c64.shape[1]
    elif double.covariance_type == "tied":
        scale = np.trace(c64) / c64.shape[0]
    else:
        scale = c64
    assert (np.abs(c32 - c64) / scale).max() < rtol
    np.testing.assert_allclose(single.weights_, double.weights_, rtol=0, atol=rtol)
    np.testing.assert_allclose(single.lower_bounds_, double.lower_bounds_, rtol=rtol)


@pytest.mark.parametrize("covariance_type, k", [("diag", 20), ("spherical", 20), ("full", 6), ("tied", 6)])
@pytest.mark.parametrize("separation", [2.0, 1000.0])
def test_float32_fit_agrees_with_float64_at_any_separation(covariance_type, k, separation):
    X = _blobs(6000, 32, k, separation)
    assert covariance_type in ("full", "tied") or k * 32 > numba_kernels.SMALL_DIAGONAL
    double, single = _fit_both(X, k, covariance_type)
    _assert_parameters_agree(single, double, rtol=1e-5)


@pytest.mark.parametrize("covariance_type, d, k", [("full", 3, 2), ("tied", 3, 2), ("diag", 32, 20),
                                                   ("spherical", 32, 20), ("full", 8, 4)])
def test_float32_fit_at_offset_1e8(covariance_type, d, k):
    X = _blobs(6000, d, k, 3.0, offset=1e8)
    double, single = _fit_both(X, k, covariance_type)
    variances = _variances(double)
    assert (np.abs(_variances(single) - variances) / variances).max() < 1e-4
    _assert_parameters_agree(single, double, rtol=1e-5)


def test_float32_full_covariance_far_clusters_at_offset_1e8():
    X = _blobs(6000, 16, 4, 1000.0, offset=1e8)
    double, single = _fit_both(X, 4, "full")
    _assert_parameters_agree(single, double, rtol=1e-5)


def _parameters(X, k, covariance_type):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ss.GaussianMixture(n_components=k, covariance_type=covariance_type, max_iter=2, tol=0, random_state=0,
                               backend="numba").fit(X)
    return m.means_, m.precisions_cholesky_, np.log(m.weights_)


@pytest.mark.parametrize("covariance_type, k", [("diag", 20), ("spherical", 20), ("full", 6), ("tied", 6)])
@pytest.mark.parametrize("separation, offset", [(2.0, 0.0), (1000.0, 0.0), (3.0, 1e8), (1000.0, 1e8)])
def test_float32_kernel_agrees_with_reference(covariance_type, k, separation, offset):
    X = _blobs(3000, 32, k, separation, offset, seed=1)
    means, prec_chol, log_weights = _parameters(X, k, covariance_type)
    rng = np.random.default_rng(2)
    w = rng.uniform(0.5, 2.0, len(X))
    got = numba_kernels.gaussian_block(X, w, means, prec_chol, log_weights, covariance_type, np.float32)
    want = numpy_kernels.gaussian_block(X, w, means, prec_chol, log_weights, covariance_type, np.float64)
    weight, log_likelihood, nk, first, second = want
    assert got[0] == pytest.approx(weight, rel=1e-12)
    # The log-likelihood is judged against Σw·|log p|, its own scale.
    assert abs(got[1] - log_likelihood) <= 1e-6 * abs(log_likelihood)
    np.testing.assert_allclose(got[2], nk, rtol=0, atol=1e-6 * weight)
    # First moments Σ r (x - μ_j) are near zero: judge them against Σ r·σ_j, the size of one deviation.
    if covariance_type == "full":
        sd = np.sqrt(np.einsum("kii->ki", second) / np.maximum(nk, 1e-300)[:, None])
    elif covariance_type == "tied":
        sd = np.sqrt(np.diag(second.sum(axis=0)) / weight)[None]
    elif covariance_type == "diag":
        sd = np.sqrt(second / np.maximum(nk, 1e-300)[:, None])
    else:
        sd = np.sqrt(second / np.maximum(nk, 1e-300) / X.shape[1])[:, None]
    assert (np.abs(got[3] - first) <= 1e-5 * (nk[:, None] * sd + 1e-300)).all()
    # Second moments: each component's own scale.
    if second.ndim == 3:
        scale = np.einsum("kii->k", second)[:, None, None] / X.shape[1]
    else:
        scale = second
    assert (np.abs(got[4] - second) <= 1e-5 * scale + 1e-300).all()


@pytest.mark.parametrize("covariance_type, k", [("diag", 20), ("spherical", 20), ("full", 6), ("tied", 6)])
def test_float32_log_prob_agrees_with_reference(covariance_type, k):
    X = _blobs(2000, 32, k, 1000.0, 1e8, seed=3)
    means, prec_chol, log_weights = _parameters(X, k, covariance_type)
    got = numba_kernels.weighted_log_prob(X, means, prec_chol, log_weights, covariance_type, np.float32)
    want = numpy_kernels.weighted_log_prob(X, means, prec_chol, log_weights, covariance_type)
    # Each row's best log-density to 1e-6 of its size; far components to their own size.
    np.testing.assert_allclose(got.max(axis=1), want.max(axis=1), rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)


def test_float32_kernel_is_deterministic_and_independent_of_row_count():
    X = _blobs(5000, 32, 20, 1000.0, seed=4)
    means, prec_chol, log_weights = _parameters(X, 20, "diag")
    a = numba_kernels.gaussian_block(X, None, means, prec_chol, log_weights, "diag", np.float32)
    b = numba_kernels.gaussian_block(X.copy(), None, means, prec_chol, log_weights, "diag", np.float32)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
