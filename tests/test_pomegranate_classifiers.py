"""The classifiers against pomegranate 0.14 (``protopunica``, pomegranate frozen at 0.14.8) on the same data.

Supervised, both fit each class's distribution to that class's rows: the parameters agree to rounding.
Semi-supervised (rows labelled ``-1``), both run EM over the unlabelled rows: ours must be at least as accurate.
"""

import warnings

import numpy as np
import pytest

from suffstats import BayesClassifier, MultivariateNormal, NaiveBayes, Normal, Poisson

pomegranate = pytest.importorskip("protopunica", reason="pomegranate 0.14 (protopunica) is in the test extra")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 6000)
    X = np.column_stack([rng.normal(1.2 * y, 1.0), rng.poisson(np.where(y == 1, 6.0, 3.5))]).astype(float)
    return X, y


def _theirs(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit()


def test_naive_bayes_of_mixed_families_has_pomegranates_parameters(data):
    X, y = data
    ours = NaiveBayes([[Normal(), Poisson()], [Normal(), Poisson()]]).fit(X, y)
    theirs = _theirs(lambda: pomegranate.NaiveBayes.from_samples(
        [pomegranate.NormalDistribution, pomegranate.PoissonDistribution], X, y))
    for c in range(2):
        normal, poisson = ours.distributions[c].distributions
        their_normal, their_poisson = theirs.distributions[c].distributions
        np.testing.assert_allclose([normal.mean, normal.std], their_normal.parameters, rtol=1e-12)
        np.testing.assert_allclose(poisson.rate, their_poisson.parameters[0], rtol=1e-12)
    np.testing.assert_allclose(ours.priors_, np.exp(theirs.weights), rtol=1e-12)
    np.testing.assert_allclose(ours.predict_log_proba(X[:500]), theirs.predict_log_proba(X[:500]), rtol=1e-9,
                               atol=1e-9)


def test_bayes_classifier_of_multivariate_normals_has_pomegranates_parameters(data):
    X, y = data
    # pomegranate 0.14 adds nothing to the diagonal: reg_covar=0 gives the same maximum-likelihood covariance.
    ours = BayesClassifier([MultivariateNormal(reg_covar=0.0) for _ in range(2)]).fit(X, y)
    theirs = _theirs(lambda: pomegranate.BayesClassifier.from_samples(
        pomegranate.MultivariateGaussianDistribution, X, y))
    for c in range(2):
        mean, covariance = theirs.distributions[c].parameters
        np.testing.assert_allclose(ours.distributions[c].mean, mean, rtol=1e-12)
        np.testing.assert_allclose(ours.distributions[c].covariance, covariance, rtol=1e-10,
                                   atol=1e-12 * np.abs(covariance).max())
    assert np.array_equal(ours.predict(X), theirs.predict(X))


@pytest.mark.parametrize("fraction", [0.01, 0.002])
def test_semi_supervised_is_at_least_as_accurate_as_pomegranates(data, fraction):
    X, y = data
    rng = np.random.default_rng(3)
    labels = np.where(rng.random(len(y)) < fraction, y, -1)
    labels[:2] = [0, 1]  # both classes labelled at least once
    ours = NaiveBayes([[Normal(), Poisson()], [Normal(), Poisson()]], tol=1e-8).fit(X, labels)
    theirs = _theirs(lambda: pomegranate.NaiveBayes.from_samples(
        [pomegranate.NormalDistribution, pomegranate.PoissonDistribution], X, labels))
    our_accuracy, their_accuracy = ours.score(X, y), float(np.mean(theirs.predict(X) == y))
    assert our_accuracy >= their_accuracy - 1e-3, (our_accuracy, their_accuracy)
    assert our_accuracy > 0.75
