"""``BayesianGaussianMixture`` against scikit-learn from the same start, and the invariants of batching.

scikit-learn's own tests of the estimator run in ``tests/test_sklearn_bayesian_mixture_suite.py``;
the cluster fit is in ``tests/test_dask.py``.
"""

import json

import numpy as np
import pytest
from sklearn.mixture import BayesianGaussianMixture as SkBGM

import suffstats as ss
from suffstats import BayesianGaussianMixture

from .tolerance import assert_close

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-3, 1, (4000, 3)), rng.normal(3, 0.5, (3000, 3)),
                        rng.normal(0, 2, (3000, 3)) @ np.array([[1, 0.5, 0], [0, 1, 0.3], [0, 0, 1]])])
    return X[rng.permutation(len(X))]


@pytest.fixture(scope="module")
def npy(X, tmp_path_factory):
    path = tmp_path_factory.mktemp("bgm") / "x.npy"
    np.save(path, X)
    return path


class FirstRowsStart(SkBGM):
    """scikit-learn's estimator started as ``init_params="first-k"`` starts: each row to the nearest of the first k rows."""

    def _initialize_parameters(self, X, random_state, xp=None):
        centres = X[: self.n_components]
        nearest = np.argmin(((X[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        resp = np.zeros((len(X), self.n_components))
        resp[np.arange(len(X)), nearest] = 1
        self._initialize(X, resp)


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_every_epoch_is_scikit_learns(X, prior_type, covariance_type):
    settings = dict(n_components=6, covariance_type=covariance_type, weight_concentration_prior_type=prior_type,
                    max_iter=25, tol=1e-12)
    reference = FirstRowsStart(**settings).fit(X)
    ours = BayesianGaussianMixture(init_params="first-k", **settings).fit(X)
    assert ours.n_iter_ == reference.n_iter_
    # scikit-learn's tied lower bound is a one-element array: ravel it.
    assert_close(ours.lower_bounds_, np.ravel(reference.lower_bounds_), rtol=1e-8)
    for name in ("weights_", "means_", "covariances_", "precisions_", "mean_precision_", "degrees_of_freedom_",
                 "mean_prior_", "covariance_prior_"):
        assert_close(getattr(ours, name), getattr(reference, name), rtol=1e-8, err_msg=name)
    assert_close(np.asarray(ours.weight_concentration_), np.asarray(reference.weight_concentration_), rtol=1e-8)
    assert_close(ours.predict_proba(X), reference.predict_proba(X), rtol=1e-8)
    assert_close(ours.score_samples(X), reference.score_samples(X), rtol=1e-8)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_the_fit_is_the_same_bits_for_every_batch_size_and_from_a_memory_map(X, npy, covariance_type):
    def fit(data, batch_size):
        return BayesianGaussianMixture(n_components=5, covariance_type=covariance_type, random_state=1,
                                       max_iter=8, tol=0, batch_size=batch_size).fit(data)

    reference = fit(X, None)
    for data, batch_size in [(X, 1000), (np.load(npy, mmap_mode="r"), 4097), (str(npy), 9000)]:
        other = fit(data, batch_size)
        for name in ("weights_", "means_", "covariances_", "mean_prior_", "covariance_prior_"):
            assert np.array_equal(getattr(other, name), getattr(reference, name)), name
        assert other.lower_bounds_ == reference.lower_bounds_


def test_surplus_components_are_switched_off():
    rng = np.random.default_rng(2)
    X = np.concatenate([rng.normal(centre, 1.0, (3000, 2)) for centre in (-10, 0, 10)])
    model = BayesianGaussianMixture(n_components=10, weight_concentration_prior=1e-3, random_state=0,
                                    max_iter=500).fit(X)
    assert model.converged_
    assert int(np.sum(model.weights_ > 0.01)) == 3
    assert np.all(np.diff(model.lower_bounds_) >= -1e-9 * np.abs(model.lower_bounds_[1:]))


def test_a_resumed_fit_ends_where_an_uninterrupted_one_does(X, tmp_path):
    def settings():
        return dict(n_components=5, random_state=3, max_iter=10, tol=0)

    full = BayesianGaussianMixture(**settings()).fit(X)

    def stop_at_four(model, logs):
        if logs["epoch"] == 4:
            raise KeyboardInterrupt

    checkpoint = tmp_path / "bgm.ckpt"
    with pytest.raises(KeyboardInterrupt):
        BayesianGaussianMixture(**settings(), callbacks=[stop_at_four]).fit(X, checkpoint=checkpoint)
    resumed = BayesianGaussianMixture(**settings()).fit(X, checkpoint=checkpoint)
    assert resumed.lower_bounds_ == full.lower_bounds_
    assert np.array_equal(resumed.means_, full.means_) and np.array_equal(resumed.covariances_, full.covariances_)


def test_warm_start_continues_the_same_epochs(X):
    full = BayesianGaussianMixture(n_components=4, random_state=0, max_iter=10, tol=0).fit(X)
    warm = BayesianGaussianMixture(n_components=4, random_state=0, max_iter=4, tol=0, warm_start=True).fit(X)
    warm.set_params(max_iter=6).fit(X)
    assert np.array_equal(warm.means_, full.means_) and np.array_equal(warm.covariances_, full.covariances_)
    assert warm.lower_bound_ == full.lower_bound_


def test_integer_sample_weights_are_repeated_rows(X):
    rng = np.random.default_rng(5)
    w = rng.integers(0, 3, len(X))
    rows = np.repeat(X, w, axis=0)
    settings = dict(n_components=3, init_params="first-k", max_iter=5, tol=0)
    # first-k takes the first rows of the data: make them rows of weight 1, the same rows in both.
    first = np.flatnonzero(w == 1)[:3]
    order = np.concatenate([first, np.setdiff1d(np.arange(len(X)), first)])
    weighted = BayesianGaussianMixture(**settings).fit(X[order], sample_weight=w[order])
    repeated = BayesianGaussianMixture(**settings).fit(np.repeat(X[order], w[order], axis=0))
    assert rows.shape == (w.sum(), 3)
    for name in ("means_", "covariances_", "weights_", "mean_prior_", "covariance_prior_"):
        assert_close(getattr(weighted, name), getattr(repeated, name), rtol=1e-10, err_msg=name)
    assert_close(weighted.lower_bounds_, repeated.lower_bounds_, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_json_round_trip_scores_the_same(X, covariance_type):
    model = BayesianGaussianMixture(n_components=4, covariance_type=covariance_type, random_state=0,
                                    max_iter=5, weight_concentration_prior_type="dirichlet_distribution").fit(X)
    loaded = ss.from_json(ss.to_json(model))
    assert type(loaded) is BayesianGaussianMixture
    assert np.array_equal(loaded.score_samples(X[:500]), model.score_samples(X[:500]))
    assert np.array_equal(loaded.predict_proba(X[:500]), model.predict_proba(X[:500]))
    assert loaded.lower_bounds_ == model.lower_bounds_ and loaded.n_iter_ == model.n_iter_
    assert np.array_equal(loaded.covariance_prior_, model.covariance_prior_)


def test_json_with_a_bad_posterior_is_refused(X):
    data = json.loads(ss.to_json(BayesianGaussianMixture(n_components=2, max_iter=2, random_state=0).fit(X)))
    data["posterior"][1] = [-1.0, 2.0]
    with pytest.raises(ValueError, match="mean_precision must be positive"):
        ss.from_json(json.dumps(data))


def _snapshot(model):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(model).items()}


def _same(a, b):
    return a.keys() == b.keys() and all(
        np.array_equal(a[k], b[k]) if isinstance(a[k], np.ndarray) else repr(a[k]) == repr(b[k]) for k in a)


@pytest.mark.parametrize("settings, message", [
    (dict(degrees_of_freedom_prior=1.5), "degrees_of_freedom_prior' should be greater than 2"),
    (dict(weight_concentration_prior=-1.0), "weight_concentration_prior"),
    (dict(mean_precision_prior=float("nan")), "mean_precision_prior"),
    (dict(mean_prior=[0.0, 1.0]), r"'means' should have the shape of \(3,\)"),
    (dict(covariance_prior=np.eye(2)), r"'full covariance_prior' should have the shape of \(3, 3\)"),
    (dict(covariance_prior=-np.eye(3)), "'full covariance_prior' should be symmetric, positive-definite"),
    (dict(covariance_type="diag", covariance_prior=[1.0, 0.0, 1.0]), "'diag covariance_prior' should be positive"),
    (dict(covariance_type="spherical", covariance_prior=0.0), "covariance_prior"),
    (dict(weight_concentration_prior_type="dirichlet"), "weight_concentration_prior_type must be one of"),
])
def test_bad_priors_are_refused_by_name_and_the_model_is_unchanged(X, settings, message):
    model = BayesianGaussianMixture(n_components=2, max_iter=2, random_state=0).fit(X)
    before = _snapshot(model)
    with pytest.raises(ValueError, match=message):
        model.set_params(**settings).fit(X)
    assert _same(_snapshot(model), before | {k: getattr(model, k) for k in settings})


def test_a_bad_row_is_named_and_the_model_is_unchanged(X, tmp_path):
    bad = X.copy()
    bad[7777, 1] = np.nan
    model = BayesianGaussianMixture(n_components=2, max_iter=2, random_state=0).fit(X)
    before = _snapshot(model)
    with pytest.raises(ValueError, match="row 7777"):
        model.fit(bad)
    assert _same(_snapshot(model), before)


@pytest.mark.parametrize("change", [dict(covariance_type="diag"), dict(weight_concentration_prior_type="dirichlet_distribution")])
def test_a_warm_start_after_a_change_of_meaning_is_refused(change):
    """Tied and diag parameters have the same shape when n_components == n_features: the setting is compared too."""
    X = np.random.default_rng(4).normal(size=(400, 2))
    model = BayesianGaussianMixture(n_components=2, covariance_type="tied", warm_start=True, max_iter=3,
                                    random_state=0).fit(X)
    before = _snapshot(model)
    with pytest.raises(ValueError, match="warm_start=True but the fitted parameters were made with"):
        model.set_params(**change).fit(X)
    assert _same(_snapshot(model), before | {k: getattr(model, k) for k in change})


@pytest.mark.parametrize("name, value, message", [
    ("degrees_of_freedom_prior_", 0.1, "must exceed n_features - 1"),
    ("weight_concentration_prior_", -5.0, "must be a positive number"),
    ("weight_concentration_prior_", [1.0, 2.0], "must be a positive number"),
    ("covariance_prior_", [[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]], "symmetric, positive-definite"),
    ("covariance_prior_", [1.0, 2.0, 3.0], "should have the shape"),
])
def test_json_priors_are_held_to_what_fit_accepts(X, name, value, message):
    data = json.loads(ss.to_json(BayesianGaussianMixture(n_components=2, max_iter=2, random_state=0).fit(X)))
    data["priors"][name] = value
    with pytest.raises(ValueError, match=message):
        ss.from_json(json.dumps(data))
