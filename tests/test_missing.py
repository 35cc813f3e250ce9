"""Exact EM for data missing at random (``missing="marginalize"``), against the textbook per-row algorithm."""

import warnings

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from suffstats import GaussianMixture
from suffstats.backends.gaussian_missing import incomplete_log_prob
from tests.tolerance import assert_close

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


def _data(n=240, d=4, fraction=0.25, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d))
    X = np.concatenate([rng.normal(size=(n // 2, d)) @ A - 2.0, rng.normal(size=(n - n // 2, d)) * 0.7 + 2.0])
    X = X[rng.permutation(n)] + offset
    holes = rng.random(X.shape) < fraction
    holes[holes.all(axis=1), 0] = False  # no row entirely missing here (tested on its own)
    Xm = X.copy()
    Xm[holes] = np.nan
    return Xm


def _start(X, k, covariance_type, seed=1):
    """Initial weights, means and precisions (from complete data), the same for the model and the reference."""
    rng = np.random.default_rng(seed)
    d = X.shape[1]
    means = np.nanmean(X, axis=0) + rng.normal(size=(k, d))
    weights = np.full(k, 1.0 / k)
    variance = np.nanvar(X, axis=0)
    full = np.diag(variance)
    covariance = {"full": np.stack([full] * k), "tied": full, "diag": np.stack([variance] * k),
                  "spherical": np.full(k, variance.mean())}[covariance_type]
    return weights, means, covariance


def _precisions(covariance, covariance_type):
    return np.linalg.inv(covariance) if covariance_type in ("full", "tied") else 1.0 / covariance


def _as_full(covariance, covariance_type, k, d):
    if covariance_type == "full":
        return covariance
    if covariance_type == "tied":
        return np.stack([covariance] * k)
    if covariance_type == "diag":
        return np.stack([np.diag(c) for c in covariance])
    return np.stack([np.eye(d) * c for c in covariance])


def reference_em(X, weights, means, covariance, covariance_type, n_iter, reg_covar):
    """Textbook EM with missing values (Ghahramani & Jordan 1994), one row at a time, plain NumPy."""
    n, d = X.shape
    k = means.shape[0]
    log_likelihoods = []
    for _ in range(n_iter):
        S = _as_full(covariance, covariance_type, k, d)
        N, S1, S2, total = np.zeros(k), np.zeros((k, d)), np.zeros((k, d, d)), 0.0
        for x in X:
            o = ~np.isnan(x)
            m = ~o
            if not o.any():
                continue
            log_p, filled, conditional = np.empty(k), np.empty((k, d)), np.zeros((k, d, d))
            for j in range(k):
                Soo, Smo = S[j][np.ix_(o, o)], S[j][np.ix_(m, o)]
                log_p[j] = np.log(weights[j]) + multivariate_normal(means[j][o], Soo).logpdf(x[o])
                filled[j] = x
                gain = Smo @ np.linalg.inv(Soo)
                filled[j][m] = means[j][m] + gain @ (x[o] - means[j][o])
                conditional[j][np.ix_(m, m)] = S[j][np.ix_(m, m)] - gain @ Smo.T
            top = log_p.max()
            norm = top + np.log(np.exp(log_p - top).sum())
            total += norm
            r = np.exp(log_p - norm)
            N += r
            S1 += r[:, None] * filled
            S2 += r[:, None, None] * (np.einsum("jd,je->jde", filled, filled) + conditional)
        log_likelihoods.append(total)
        weights = N / N.sum()
        means = S1 / N[:, None]
        scatter = S2 - N[:, None, None] * np.einsum("jd,je->jde", means, means)
        if covariance_type == "full":
            covariance = scatter / N[:, None, None] + reg_covar * np.eye(d)
        elif covariance_type == "tied":
            covariance = scatter.sum(axis=0) / N.sum() + reg_covar * np.eye(d)
        else:
            diag = np.einsum("jdd->jd", scatter) / N[:, None] + reg_covar
            covariance = diag if covariance_type == "diag" else diag.mean(axis=1)
    return weights, means, covariance, log_likelihoods


def _model(covariance_type, start, n_iter, **kw):
    weights, means, covariance = start
    return GaussianMixture(len(weights), covariance_type=covariance_type, weights_init=weights, means_init=means,
                           precisions_init=_precisions(covariance, covariance_type), max_iter=n_iter, tol=0.0,
                           missing="marginalize", **kw)


def _fit(model, X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a fit stopped after a few iterations warns that it did not converge
        return model.fit(X, **kw)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_equals_the_textbook_em_one_row_at_a_time(covariance_type, backend):
    X = _data(offset=100.0)
    start = _start(X, 2, covariance_type)
    model = _fit(_model(covariance_type, start, 4, backend=backend, batch_size=97), X)
    weights, means, covariance, log_likelihoods = reference_em(X, *start, covariance_type, 4, 1e-6)
    assert_close(model.weights_, weights, 1e-10)
    assert_close(model.means_, means, 1e-10)
    assert_close(model.covariances_, covariance, 1e-10)
    # lower_bounds_[t] is the mean log-likelihood of the E-step of epoch t, under the parameters before it.
    assert_close(np.array(model.lower_bounds_) * X.shape[0], log_likelihoods, 1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_marginal_log_density_equals_scipy_on_the_observed_coordinates(covariance_type):
    X = _data(n=30, seed=3)
    start = _start(X, 3, covariance_type, seed=4)
    model = _fit(_model(covariance_type, start, 0), X)
    S = _as_full(model.covariances_, covariance_type, 3, X.shape[1])
    expected = np.array([[multivariate_normal(model.means_[j][~np.isnan(x)], S[j][np.ix_(~np.isnan(x), ~np.isnan(x))])
                          .logpdf(x[~np.isnan(x)]) for j in range(3)] for x in X])
    got = incomplete_log_prob(X, model.means_, model.precisions_cholesky_, covariance_type)
    assert_close(got, expected, 1e-11)
    mixture = np.log(np.exp(expected) @ model.weights_)
    assert_close(model.score_samples(X), mixture, 1e-11)
    assert_close(model.predict_proba(X), np.exp(expected) * model.weights_ / np.exp(mixture)[:, None], 1e-10)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_without_nan_marginalize_gives_the_same_bits_as_error(covariance_type, backend):
    rng = np.random.default_rng(5)
    X = np.concatenate([rng.normal(-2, 1, (3000, 3)), rng.normal(2, 1, (5000, 3))])
    a = GaussianMixture(2, covariance_type=covariance_type, random_state=0, backend=backend).fit(X)
    b = GaussianMixture(2, covariance_type=covariance_type, random_state=0, backend=backend,
                        missing="marginalize").fit(X)
    for name in ("weights_", "means_", "covariances_", "lower_bounds_"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a.score_samples(X), b.score_samples(X))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_bit_identical_for_every_batch_size_and_from_a_memory_map(covariance_type, tmp_path):
    X = _data(n=9000, d=3, fraction=0.3, seed=7)
    path = tmp_path / "x.npy"
    np.save(path, X)
    settings = dict(covariance_type=covariance_type, random_state=0, missing="marginalize", max_iter=5, tol=0.0)
    reference = _fit(GaussianMixture(2, **settings), X)
    for batch_size, data in [(1000, X), (4097, X), (3000, np.load(path, mmap_mode="r")), (None, str(path))]:
        other = _fit(GaussianMixture(2, batch_size=batch_size, **settings), data)
        for name in ("weights_", "means_", "covariances_", "lower_bounds_"):
            assert np.array_equal(getattr(reference, name), getattr(other, name)), (batch_size, name)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_likelihood_never_decreases(covariance_type):
    X = _data(n=2000, d=5, fraction=0.4, seed=11)
    model = _fit(GaussianMixture(3, covariance_type=covariance_type, random_state=0, missing="marginalize",
                                 max_iter=30, tol=0.0), X)
    steps = np.diff(model.lower_bounds_)
    assert (steps >= -1e-12 * np.abs(model.lower_bounds_[1:])).all(), steps.min()


def test_the_recovered_parameters_approach_the_truth():
    rng = np.random.default_rng(2)
    cov = np.array([[2.0, 0.9, 0.3], [0.9, 1.0, -0.4], [0.3, -0.4, 1.5]])
    X = rng.multivariate_normal([1.0, -2.0, 0.5], cov, size=40_000)
    X[rng.random(X.shape) < 0.3] = np.nan
    model = GaussianMixture(1, missing="marginalize", tol=1e-8, max_iter=200, reg_covar=0.0).fit(X)
    assert np.abs(model.means_[0] - [1.0, -2.0, 0.5]).max() < 0.03
    assert np.abs(model.covariances_[0] - cov).max() < 0.05
    # Pairwise deletion gets the same target here; mean imputation does not: its covariance shrinks by ~30%.
    filled = np.where(np.isnan(X), np.nanmean(X, axis=0), X)
    assert np.abs(np.cov(filled.T) - cov).max() > 0.4


def test_a_row_with_every_value_missing_adds_nothing():
    X = _data(n=300, seed=13)
    start = _start(X, 2, "full")
    empty = np.full((5, X.shape[1]), np.nan)
    with_empty = np.concatenate([X[:100], empty, X[100:]])
    a = _fit(_model("full", start, 3), X)
    b = _fit(_model("full", start, 3), with_empty)
    assert_close(b.means_, a.means_, 1e-12)
    assert_close(b.covariances_, a.covariances_, 1e-12)
    # The mean log-likelihood counts only rows with an observed value.
    assert_close(b.lower_bounds_, a.lower_bounds_, 1e-12)
    assert np.abs(b.score_samples(empty)).max() < 1e-15  # log of a density of 1
    assert_close(b.predict_proba(empty), np.tile(b.weights_, (5, 1)), 1e-12)


def test_missing_error_refuses_nan_naming_row_and_column_and_leaves_the_model_unchanged():
    X = _data(n=100, fraction=0.0)
    model = GaussianMixture(2, random_state=0).fit(X)
    means = model.means_.copy()
    bad = X.copy()
    bad[57, 2] = np.nan
    with pytest.raises(ValueError, match="row 57, column 2"):
        model.fit(bad)
    assert np.array_equal(model.means_, means)
    with pytest.raises(ValueError, match="row 57, column 2"):
        model.score_samples(bad)


def test_infinity_is_refused_under_marginalize_and_a_bad_policy_is_named():
    X = _data(n=100)
    X[3, 1] = np.inf
    with pytest.raises(ValueError, match="row 3, column 1"):
        GaussianMixture(2, missing="marginalize", random_state=0).fit(X)
    with pytest.raises(ValueError, match="missing must be one of"):
        GaussianMixture(2, missing="drop").fit(_data(n=100))


def test_a_column_never_observed_is_refused():
    X = _data(n=100)
    X[:, 2] = np.nan
    model = GaussianMixture(2, missing="marginalize", random_state=0)
    with pytest.raises(ValueError, match="column 2 has no observed value"):
        model.fit(X)
    assert not hasattr(model, "means_")


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data", "first-k"])
def test_every_initialisation_takes_rows_with_holes(init_params):
    X = _data(n=600, fraction=0.3, seed=17)
    X[0, :2] = np.nan  # the first rows (first-k) have holes
    model = _fit(GaussianMixture(2, init_params=init_params, random_state=0, missing="marginalize", max_iter=5), X)
    assert np.isfinite(model.means_).all() and np.isfinite(model.covariances_).all()
    assert np.all(np.diff(model.lower_bounds_) > -1e-12)


def test_float32_data_with_holes():
    X = _data(n=500, fraction=0.2, seed=19)
    a = _fit(GaussianMixture(2, random_state=0, missing="marginalize", max_iter=10), X)
    b = _fit(GaussianMixture(2, random_state=0, missing="marginalize", max_iter=10, compute_dtype="float32"),
             X.astype(np.float32))
    assert b.means_.dtype == np.float32
    assert_close(b.means_, a.means_, 1e-4)


def test_bit_identical_for_every_thread_count():
    from suffstats.backends import get_num_threads, set_num_threads

    X = _data(n=13_000, d=4, fraction=0.2, seed=37)
    settings = dict(random_state=0, missing="marginalize", max_iter=3, tol=0.0)
    previous = get_num_threads()
    try:
        set_num_threads(1)
        one = _fit(GaussianMixture(2, **settings), X)
        set_num_threads(3)
        three = _fit(GaussianMixture(2, **settings), X)
    finally:
        set_num_threads(previous)
    assert np.array_equal(one.covariances_, three.covariances_)
    assert one.lower_bounds_ == three.lower_bounds_


def test_a_fit_with_holes_resumes_from_a_checkpoint_bit_for_bit(tmp_path):
    X = _data(n=9000, d=3, fraction=0.2, seed=41)
    settings = dict(random_state=0, missing="marginalize", max_iter=4, tol=0.0, batch_size=2000)
    whole = _fit(GaussianMixture(2, **settings), X)

    class Stop(Exception):
        pass

    calls = []

    def interrupt(model, logs):
        calls.append(logs["epoch"])
        if len(calls) == 2:
            raise Stop

    path = tmp_path / "fit.ckpt"
    with pytest.raises(Stop):
        _fit(GaussianMixture(2, callbacks=[interrupt], **settings), X, checkpoint=path)
    resumed = _fit(GaussianMixture(2, callbacks=[interrupt], **settings), X, checkpoint=path)
    assert calls[2] > calls[0], calls  # the second run went on from the checkpoint, not from the start
    assert np.array_equal(resumed.covariances_, whole.covariances_)
    assert resumed.lower_bounds_ == whole.lower_bounds_


def test_kmeans_over_all_rows_asks_for_complete_rows():
    X = _data(n=300)
    with pytest.raises(ValueError, match="init_params='kmeans_full' needs complete rows .*row"):
        GaussianMixture(2, init_params="kmeans_full", missing="marginalize", random_state=0).fit(X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_block_statistics_with_integer_weights_are_those_of_repeated_rows(covariance_type):
    from suffstats.backends.gaussian_missing import incomplete_block

    X = _data(n=60, seed=17, offset=1e3)
    X = X[np.isnan(X).any(axis=1)]
    start = _start(X, 3, covariance_type, seed=2)
    model = _fit(_model(covariance_type, start, 0), X)
    w = np.random.default_rng(3).integers(0, 4, X.shape[0])
    args = (model.means_, model.precisions_cholesky_, np.log(model.weights_), covariance_type)
    weighted = incomplete_block(X, w.astype(float), *args)
    repeated = incomplete_block(np.repeat(X, w, axis=0), None, *args)
    for a, b in zip(weighted, repeated):
        assert_close(a, b, 1e-12)
    # And the compiled pass agrees with the per-row expectations used for imputation.
    from suffstats.backends.gaussian_missing import _e_step, _second_moments
    from suffstats.backends.gaussian_math import layout_of

    Z, _, log_norm, resp, conditional = _e_step(X, args[0], args[1], covariance_type, args[2], w, True)
    assert_close(weighted[1], w @ log_norm, 1e-12)
    assert_close(weighted[2], resp.sum(axis=0), 1e-12)
    assert_close(weighted[3], np.einsum("nj,jnd->jd", resp, Z), 1e-12)
    assert_close(weighted[4], _second_moments(Z, resp, conditional, layout_of(covariance_type)), 1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_blocks_of_several_chunks_equal_the_textbook_em(covariance_type):
    from suffstats.backends.gaussian_missing_kernels import CHUNK_ROWS

    # One block of three chunks, the last short (offset 100 as above: the reference sums raw moments).
    X = _data(n=2 * CHUNK_ROWS + 77, d=5, fraction=0.3, seed=19, offset=100.0)
    start = _start(X, 2, covariance_type, seed=6)
    model = _fit(_model(covariance_type, start, 2), X)
    weights, means, covariance, log_likelihoods = reference_em(X, *start, covariance_type, 2, 1e-6)
    assert_close(model.weights_, weights, 1e-10)
    assert_close(model.means_, means, 1e-10)
    assert_close(model.covariances_, covariance, 1e-10)
    assert_close(np.array(model.lower_bounds_) * X.shape[0], log_likelihoods, 1e-10)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_rows_sharing_a_pattern_of_holes_equal_the_textbook_em(covariance_type):
    # Three patterns repeated over 600 rows in random order (grouped, sharing factorisations), a few others.
    X = _data(n=600, d=5, fraction=0.0, seed=20, offset=100.0)
    rng = np.random.default_rng(21)
    patterns = np.array([[1, 0, 0, 1, 0], [0, 1, 1, 0, 0], [0, 0, 0, 0, 1]], dtype=bool)
    which = rng.integers(0, 4, X.shape[0])
    holes = np.where(which[:, None] < 3, patterns[np.minimum(which, 2)], rng.random(X.shape) < 0.3)
    holes[holes.all(axis=1), 0] = False
    X[holes] = np.nan
    start = _start(X, 2, covariance_type, seed=8)
    model = _fit(_model(covariance_type, start, 2), X)
    weights, means, covariance, log_likelihoods = reference_em(X, *start, covariance_type, 2, 1e-6)
    assert_close(model.weights_, weights, 1e-10)
    assert_close(model.means_, means, 1e-10)
    assert_close(model.covariances_, covariance, 1e-10)
    assert_close(np.array(model.lower_bounds_) * X.shape[0], log_likelihoods, 1e-10)
    for batch_size in (97, 256):
        other = _fit(_model(covariance_type, start, 2, batch_size=batch_size), X)
        for name in ("weights_", "means_", "covariances_", "lower_bounds_"):
            assert np.array_equal(getattr(model, name), getattr(other, name)), (batch_size, name)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_a_block_with_few_complete_rows_in_one_pass_equals_the_textbook_em(covariance_type):
    X = _data(n=300, d=10, fraction=0.3, seed=23, offset=100.0)
    complete = int((~np.isnan(X).any(axis=1)).sum())
    assert 0 < 8 * complete <= X.shape[0]  # complete rows, few: the block takes the missing-value pass whole
    start = _start(X, 2, covariance_type, seed=9)
    model = _fit(_model(covariance_type, start, 2), X)
    weights, means, covariance, log_likelihoods = reference_em(X, *start, covariance_type, 2, 1e-6)
    assert_close(model.weights_, weights, 1e-10)
    assert_close(model.means_, means, 1e-10)
    assert_close(model.covariances_, covariance, 1e-10)
    assert_close(np.array(model.lower_bounds_) * X.shape[0], log_likelihoods, 1e-10)
    # And the same bits for any batch size (blocks, not batches, decide how rows are taken).
    other = _fit(_model(covariance_type, start, 2, batch_size=37), X)
    for name in ("weights_", "means_", "covariances_", "lower_bounds_"):
        assert np.array_equal(getattr(model, name), getattr(other, name)), name
