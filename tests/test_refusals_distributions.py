"""Bad input gets an error naming the problem, and the model loses nothing."""

import numpy as np
import pytest

import suffstats as ss

from .families import snapshot


def _with_nan(row, shape):
    X = np.ones(shape)
    X[row] = np.nan
    return X


GOOD = {
    "Normal": (ss.Normal, np.array([1.0, 2.0, 4.0])),
    "MVN": (ss.MultivariateNormal, np.random.default_rng(0).normal(size=(10, 3))),
    "Poisson": (ss.Poisson, np.array([0.0, 1, 3])),
    "Gamma": (ss.Gamma, np.array([0.5, 1.0, 2.0])),
    "Exponential": (ss.Exponential, np.array([0.5, 1.0, 2.0])),
    "Beta": (ss.Beta, np.array([0.2, 0.5, 0.7])),
    "Bernoulli": (ss.Bernoulli, np.array([0.0, 1.0, 1.0])),
    "Categorical": (lambda: ss.Categorical(n_categories=3), np.array([0.0, 1, 2])),
    "Independent": (lambda: ss.IndependentComponents([ss.Normal(), ss.Poisson()]), np.array([[0.5, 1], [1.0, 2]])),
}

BAD = [
    # family, X, sample_weight, error, message pattern
    ("Normal", np.ones((4, 2)), None, ValueError, r"1-D .* shape \(4, 2\)"),
    ("MVN", np.ones(5), None, ValueError, r"2-D .* shape \(5,\)"),
    ("MVN", np.ones((4, 2)), None, ValueError, r"2 features, but MultivariateNormal is expecting 3 features"),
    ("Normal", np.array([1.0, 2.0, np.nan, 4.0]), None, ValueError, r"NaN or infinity\) at row 2"),
    ("MVN", _with_nan(6, (8, 3)), None, ValueError, r"row 6"),
    ("Normal", np.array([1.0, np.inf]), None, ValueError, r"inf .*row 1"),
    ("Normal", np.array([1.0, -np.inf]), None, ValueError, r"-inf .*row 1"),
    ("Poisson", np.array([1.0, 2.0, -1.0]), None, ValueError, r"-1.0 at row 2; values must be non-negative integers"),
    ("Poisson", np.array([1.0, 2.5]), None, ValueError, r"2.5 at row 1; values must be non-negative integers"),
    ("Gamma", np.array([1.0, 0.0]), None, ValueError, r"row 1; values must be positive"),
    ("Exponential", np.array([-0.1]), None, ValueError, r"row 0; values must be non-negative"),
    ("Beta", np.array([0.5, 1.5]), None, ValueError, r"row 1; values must be strictly between 0 and 1"),
    ("Beta", np.array([0.0]), None, ValueError, r"row 0; values must be strictly between 0 and 1"),
    ("Bernoulli", np.array([1.0, 0.5]), None, ValueError, r"row 1; values must be 0 or 1"),
    ("Categorical", np.array([0.0, 3.0]), None, ValueError, r"row 1; values must be integer categories in \[0, 3\)"),
    ("Categorical", np.array([-1.0]), None, ValueError, r"row 0"),
    ("Independent", np.array([[0.5, 1.0], [0.1, -2.0]]), None, ValueError, r"feature 1 \(Poisson\).*row 1"),
    ("Normal", np.array([1.0, 2.0]), np.array([1.0, -1.0]), ValueError, r"non-negative; row 1 has -1.0"),
    ("Normal", np.array([1.0, 2.0]), np.array([np.nan, 1.0]), ValueError, r"row 0 has nan"),
    ("Normal", np.array([1.0, 2.0]), np.array([1.0, np.inf]), ValueError, r"row 1 has inf"),
    ("Normal", np.array([1.0, 2.0]), np.array([1.0, 1.0, 1.0]), ValueError, r"shape \(3,\); expected \(2,\)"),
    ("Normal", np.array([1.0, 2.0]), np.array(["a", "b"]), TypeError, r"sample_weight has dtype"),
    ("Normal", np.array([]), None, ValueError, r"empty"),
    ("MVN", np.empty((0, 3)), None, ValueError, r"empty"),
    ("Normal", np.array([1.0, "x"], dtype=object), None, TypeError, r"dtype object with a non-numeric entry"),
    ("Normal", np.array(["1.0", "2.0"]), None, TypeError, r"dtype <U3"),
    ("Normal", "1.0 2.0", None, TypeError, r"string"),
]


@pytest.mark.parametrize("family, X, weight, error, pattern", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_rejected_batch_names_the_problem_and_changes_nothing(family, X, weight, error, pattern):
    make, good = GOOD[family]
    d = make().fit(good)
    d.summarize(good[:2])
    before = snapshot(d)
    with pytest.raises(error, match=pattern):
        d.summarize(X, sample_weight=weight)
    assert snapshot(d) == before
    with pytest.raises(error, match=pattern):
        d.statistics(X, sample_weight=weight)
    assert snapshot(d) == before
    with pytest.raises(error, match=pattern):
        d.fit(X, sample_weight=weight)
    assert snapshot(d) == before


@pytest.mark.parametrize(
    "build, pattern",
    [
        (lambda: ss.Normal(0.0, -1.0), "std must be positive"),
        (lambda: ss.Normal(np.nan, 1.0), "mean must be finite"),
        (lambda: ss.Poisson(-2.0), "rate must be non-negative"),
        (lambda: ss.Bernoulli(1.5), r"p must be in \[0, 1\]"),
        (lambda: ss.Categorical([0.5, 0.6]), "summing to 1"),
        (lambda: ss.Categorical(), "needs n_categories"),
        (lambda: ss.Uniform(2.0, 1.0), "low <= high"),
        (lambda: ss.MultivariateNormal(np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]])), "not positive definite"),
        (lambda: ss.MultivariateNormal(np.zeros(2), np.eye(3)), r"shape \(1, 2, 2\)"),
        (lambda: ss.MultivariateNormal(covariance_type="tied"), "covariance_type must be one of"),
        (lambda: ss.Normal(inertia=1.5), r"inertia must be a number in \[0, 1\]"),
        (lambda: ss.IndependentComponents([ss.MultivariateNormal()]), "univariate"),
    ],
)
def test_bad_parameters_are_refused(build, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        build()


def test_unfitted_model_says_so():
    with pytest.raises(ValueError, match="no parameters yet"):
        ss.Normal().log_probability([1.0])


def test_fit_with_weights_summing_to_zero_is_refused():
    X = np.random.default_rng(0).normal(size=(50, 2))
    for model, data in ((ss.Normal(), X[:, 0]), (ss.MultivariateNormal(), X)):
        with pytest.raises(ValueError, match="sample_weight sums to zero"):
            model.fit(data, sample_weight=np.zeros(50))


def test_weights_too_large_for_float64_sums_are_named():
    X = np.random.default_rng(0).normal(size=(50, 2))
    w = np.ones(50)
    w[7] = 1e305
    for fit in (lambda: ss.MultivariateNormal().fit(X, sample_weight=w),
                lambda: ss.GaussianMixture(2).fit(X, sample_weight=w)):
        with pytest.raises(ValueError, match="sample_weight of row 7 is 1e\\+305.*divide them all by one constant"):
            fit()


def test_a_batch_with_other_features_than_the_pending_ones_is_named():
    d = ss.MultivariateNormal()
    d.summarize(np.ones((4, 2)))
    with pytest.raises(ValueError, match="X has 3 features, but MultivariateNormal is expecting 2"):
        d.summarize(np.ones((4, 3)))


def test_constant_data_gives_a_concentrated_beta_not_an_internal_error():
    d = ss.Beta().fit(np.full(100, 0.3))
    assert d.alpha / (d.alpha + d.beta) == pytest.approx(0.3) and d.alpha + d.beta > 1e11
