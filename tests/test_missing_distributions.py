"""Missing values in the distributions and in GeneralMixtureModel (``missing="marginalize"``)."""

import warnings

import numpy as np
import pytest
from scipy.stats import norm

from suffstats import (Exponential, GaussianMixture, GeneralMixtureModel, IndependentComponents, MultivariateNormal,
                       Normal, Poisson, from_json, to_json)
from tests.test_missing import _data, _start, reference_em
from tests.tolerance import assert_close


def _quiet_fit(model, X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, **kw)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_general_mixture_of_multivariate_normals_equals_the_textbook_em(covariance_type):
    X = _data(n=200, d=3, seed=21, offset=50.0)
    weights, means, covariance = _start(X, 2, covariance_type, seed=22)
    components = [MultivariateNormal(means[j], covariance[j], covariance_type=covariance_type) for j in range(2)]
    model = _quiet_fit(GeneralMixtureModel(components, weights, max_iter=3, tol=0.0, missing="marginalize",
                                           batch_size=64), X)
    ref_weights, ref_means, ref_cov, log_likelihoods = reference_em(X, weights, means, covariance, covariance_type,
                                                                    3, 1e-6)
    assert_close(model.weights, ref_weights, 1e-10)
    assert_close(np.array([d.mean for d in model.distributions]), ref_means, 1e-10)
    assert_close(np.array([d.covariance for d in model.distributions]), ref_cov, 1e-10)
    assert_close(np.array(model.lower_bounds_) * X.shape[0], log_likelihoods, 1e-10)


def _reference_independent_normals(X, weights, means, stds, n_iter):
    """EM with only the component latent: a hole drops out of the product of per-feature densities."""
    for _ in range(n_iter):
        observed = ~np.isnan(X)
        log_p = np.log(weights) + np.stack(
            [np.where(observed, norm.logpdf(X, means[j], stds[j]), 0.0).sum(axis=1) for j in range(len(weights))],
            axis=1)
        r = np.exp(log_p - log_p.max(axis=1, keepdims=True))
        r /= r.sum(axis=1, keepdims=True)
        weights = r.sum(axis=0) / r.sum()
        filled = np.where(observed, X, 0.0)
        mass = r.T @ observed  # (k, d): responsibility mass over observed values of each feature
        means = (r.T @ filled) / mass
        stds = np.sqrt(np.stack([(r[:, j:j + 1] * observed * (filled - means[j]) ** 2).sum(axis=0)
                                 for j in range(len(weights))]) / mass)
    return weights, means, stds


def test_general_mixture_of_independent_components_equals_its_reference():
    X = _data(n=300, d=3, seed=23)
    rng = np.random.default_rng(24)
    means, stds, weights = rng.normal(size=(2, 3)), np.ones((2, 3)) * 1.5, np.array([0.4, 0.6])
    components = [IndependentComponents([Normal(means[j, t], stds[j, t]) for t in range(3)]) for j in range(2)]
    model = _quiet_fit(GeneralMixtureModel(components, weights, max_iter=4, tol=0.0, missing="marginalize"), X)
    ref_weights, ref_means, ref_stds = _reference_independent_normals(X, weights, means, stds, 4)
    assert_close(model.weights, ref_weights, 1e-10)
    assert_close([[c.mean for c in d.distributions] for d in model.distributions], ref_means, 1e-10)
    assert_close([[c.std for c in d.distributions] for d in model.distributions], ref_stds, 1e-10)


def test_general_mixture_with_holes_is_the_same_for_every_batch_size_and_without_nan_as_error(tmp_path):
    X = _data(n=9000, d=3, fraction=0.3, seed=25)

    def fit(data, missing="marginalize", **kw):
        return _quiet_fit(GeneralMixtureModel([MultivariateNormal(), MultivariateNormal()], random_state=0,
                                              max_iter=4, tol=0.0, missing=missing, **kw), data)

    reference = fit(X)
    np.save(tmp_path / "x.npy", X)
    for other in (fit(X, batch_size=1000), fit(str(tmp_path / "x.npy"), batch_size=4097)):
        assert other.lower_bounds_ == reference.lower_bounds_
        for a, b in zip(reference.distributions, other.distributions):
            assert np.array_equal(a.covariance, b.covariance)
    assert np.all(np.diff(reference.lower_bounds_) > -1e-12)
    complete = np.nan_to_num(X, nan=0.5)
    a, b = fit(complete, missing="error"), fit(complete)
    assert a.lower_bounds_ == b.lower_bounds_
    assert all(np.array_equal(p.covariance, q.covariance) for p, q in zip(a.distributions, b.distributions))


def test_general_mixture_agrees_with_gaussian_mixture_on_holes():
    X = _data(n=400, d=3, seed=27)
    weights, means, covariance = _start(X, 2, "full", seed=28)
    general = _quiet_fit(GeneralMixtureModel([MultivariateNormal(means[j], covariance[j]) for j in range(2)], weights,
                                             max_iter=5, tol=0.0, missing="marginalize"), X)
    gaussian = _quiet_fit(GaussianMixture(2, weights_init=weights, means_init=means, max_iter=5, tol=0.0,
                                          precisions_init=np.linalg.inv(covariance), missing="marginalize"), X)
    assert_close(np.array([d.covariance for d in general.distributions]), gaussian.covariances_, 1e-10)
    assert_close(general.log_probability(X), gaussian.score_samples(X), 1e-10)
    assert_close(general.predict_proba(X), gaussian.predict_proba(X), 1e-9)


def test_univariate_mixture_gives_rows_with_a_hole_no_weight():
    rng = np.random.default_rng(29)
    x = np.concatenate([rng.normal(10.0, 1.0, 3000), rng.exponential(1.0, 3000)])
    x = x[rng.permutation(x.size)]
    holes = rng.random(x.size) < 0.2
    xm = np.where(holes, np.nan, x)

    def start():
        return [Normal(9.0, 2.0), Exponential(0.8)], [0.5, 0.5]

    a = _quiet_fit(GeneralMixtureModel(*start(), max_iter=5, tol=0.0, missing="marginalize"), xm)
    b = _quiet_fit(GeneralMixtureModel(*start(), max_iter=5, tol=0.0), x[~holes])
    assert_close(a.weights, b.weights, 1e-12)
    assert_close(a.distributions[0].mean, b.distributions[0].mean, 1e-12)
    assert_close(a.lower_bounds_, b.lower_bounds_, 1e-12)
    assert np.array_equal(a.log_probability(np.array([np.nan, 10.0]))[:1], [0.0])


def test_univariate_family_fits_the_observed_rows_bit_for_bit_across_batch_sizes():
    rng = np.random.default_rng(31)
    x = rng.poisson(4.0, 20_000).astype(np.float64)
    x[rng.random(x.size) < 0.3] = np.nan
    x[:5000] = np.nan  # the first block has nothing observed
    a = Poisson(missing="marginalize").fit(x)
    b = Poisson(missing="marginalize").fit(x, batch_size=3000)
    assert a.rate == b.rate
    assert a.rate == pytest.approx(np.nanmean(x), rel=1e-12)
    d = Normal(missing="marginalize").fit(x)
    assert d.mean == pytest.approx(np.nanmean(x), rel=1e-12) and d.std == pytest.approx(np.nanstd(x), rel=1e-10)
    assert from_json(to_json(d)).missing == "marginalize"
    assert np.array_equal(d.log_probability(np.array([np.nan])), [0.0])


def test_refusals_name_the_problem_and_leave_the_model_unchanged():
    x = np.array([1.0, np.nan, 2.0])
    d = Normal(0.0, 1.0)
    with pytest.raises(ValueError, match="nan .* at row 1"):
        d.fit(x)
    assert (d.mean, d.std) == (0.0, 1.0)
    with pytest.raises(ValueError, match="at row 2"):
        Normal(missing="marginalize").fit(np.array([1.0, np.nan, np.inf]))
    with pytest.raises(ValueError, match="no observed value"):
        Normal(missing="marginalize").fit(np.full(4, np.nan))
    with pytest.raises(ValueError, match="Poisson.*non-negative integers|non-negative integers"):
        Poisson(missing="marginalize").fit(np.array([1.0, np.nan, 2.5]))
    with pytest.raises(ValueError, match="fitted alone needs complete rows"):
        MultivariateNormal(missing="marginalize")

    class NoHoles(MultivariateNormal):
        handles_missing = False

    with pytest.raises(ValueError, match=r"distributions\[1\] \(NoHoles\) does not"):
        GeneralMixtureModel([MultivariateNormal(), NoHoles()], missing="marginalize")
    with pytest.raises(ValueError, match="missing must be one of"):
        GeneralMixtureModel([Normal()], missing="skip")
    X = _data(n=50)
    with pytest.raises(ValueError, match=r"row \d+, column \d+"):
        GeneralMixtureModel([MultivariateNormal(), MultivariateNormal()]).fit(X)


def test_independent_components_with_a_poisson_feature_takes_holes():
    rng = np.random.default_rng(33)
    X = np.column_stack([rng.normal(size=2000), rng.poisson(3.0, 2000)]).astype(np.float64)
    X[rng.random(X.shape) < 0.2] = np.nan
    model = _quiet_fit(GeneralMixtureModel([IndependentComponents([Normal(), Poisson()]) for _ in range(2)],
                                           random_state=0, missing="marginalize", max_iter=10), X)
    assert np.isfinite(model.log_probability(X)).all()
    assert np.all(np.diff(model.lower_bounds_) > -1e-12)
