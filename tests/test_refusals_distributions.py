"""Distributions given bad input: batches of the wrong shape or dtype, values outside the support, bad
sample weights, bad constructor and ``sample`` arguments, and absorbed statistics of the wrong kind, shape or
size are refused with an error naming the row, field or parameter. A refused call, including one that fails
half-way through ``from_summaries``, leaves the parameters and the pending statistics as they were, and threads
summarizing or absorbing into one model lose no rows.
"""

import threading

import numpy as np
import pytest

import suffstats as ss
from suffstats.distributions import FAMILIES
from suffstats.statistics import Additive, Composite, Moments, Statistics

from .families import snapshot


# -- batches, weights and parameters ---------------------------------------------------------------
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


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: ss.Normal(0.0, 1.0).sample(2.5), ValueError, r"n must be an integer >= 0; got 2.5"),
    (lambda: ss.Normal(0.0, 1.0).sample(-1), ValueError, r"n must be an integer"),
    (lambda: ss.Normal(frozen="no"), TypeError, "frozen must be True or False"),
    (lambda: ss.Categorical(n_categories=2.7), ValueError, "n_categories must be an integer"),
    (lambda: ss.Categorical(n_categories=2, pseudocount="a"), TypeError, "pseudocount must be a real number"),
    (lambda: ss.MultivariateNormal(reg_covar="big"), TypeError, "reg_covar must be a real number"),
    (lambda: ss.Normal(mean=[1.0, 2.0], std=1.0), ValueError, "mean must be a single number"),
    (lambda: ss.Normal(mean="1", std=1.0), TypeError, "mean must be a number"),
    (lambda: ss.MultivariateNormal([0.0], [[np.nan]]), ValueError, "covariances must be finite"),
])
def test_constructor_and_sample_arguments(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


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


# -- transactions -------------------------------------------------------------------------------
def test_squares_that_overflow_are_refused_at_summarize_naming_the_row():
    d = ss.Normal().fit([1.0, 2.0, 3.0])
    before = snapshot(d)
    with pytest.raises(ValueError, match=r"1e\+300 at row 3: .*overflow float64"):
        d.summarize(np.array([1.0, 2.0, 3.0, 1e300, 5.0]))
    with pytest.raises(ValueError, match=r"row 1: .*overflow"):
        d.fit(np.array([-1e300, 1e300]))
    assert snapshot(d) == before
    # Equal huge values have no spread: nothing overflows, nothing is refused.
    assert ss.Normal().fit([1e300, 1e300]).mean == 1e300


def test_a_failure_half_way_through_from_summaries_keeps_the_old_parameters(monkeypatch):
    d = ss.Normal().fit([1.0, 2.0, 3.0])
    d.summarize([10.0, 20.0])
    before = snapshot(d)
    # The new mean is stored, then the standard deviation is refused.
    monkeypatch.setattr(ss.Normal, "_estimate", lambda self, stats: {"mean": 99.0, "std": -1.0})
    with pytest.raises(ValueError, match="std must be positive"):
        d.from_summaries()
    assert snapshot(d) == before and d.mean == 2.0


def test_refused_refit_on_a_constant_column_keeps_the_covariance():
    rng = np.random.default_rng(0)
    d = ss.MultivariateNormal(reg_covar=0.0).fit(rng.normal(size=(50, 2)))
    before = snapshot(d)
    X = np.column_stack([rng.normal(size=50), np.ones(50)])
    with pytest.raises(ValueError, match="not positive definite"):
        d.fit(X)
    assert snapshot(d) == before and d.covariance is not None


def test_every_mutator_is_transactional_in_every_family():
    from suffstats.distributions._base import MUTATORS

    for cls in set(FAMILIES.values()):
        if cls.__module__.startswith("suffstats.distributions"):  # mixtures: their own engine
            for name in MUTATORS:
                assert getattr(getattr(cls, name), "__transactional__", False), (cls, name)


def test_independent_components_roll_back_their_features(monkeypatch):
    d = ss.IndependentComponents([ss.Normal(), ss.Poisson()]).fit(np.array([[0.5, 1], [1.5, 3]]))
    before = snapshot(d)
    monkeypatch.setattr(ss.Poisson, "_estimate", lambda self, stats: {"rate": -1.0})
    with pytest.raises(ValueError, match="rate must be non-negative"):
        d.fit(np.array([[5.0, 1], [7.0, 3]]))  # the Normal feature is updated first, then rolled back
    assert snapshot(d) == before


# -- threads -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, X", [
    (ss.MultivariateNormal, np.random.default_rng(0).normal(size=(40_000, 3)) + 1e3),
    (ss.Normal, np.random.default_rng(1).normal(size=40_000)),
    (lambda: ss.Categorical(n_categories=4), np.random.default_rng(2).integers(0, 4, 40_000).astype(float)),
])
def test_eight_threads_summarizing_one_model_keep_every_row(make, X):
    shared, alone = make(), make()
    chunks = np.array_split(X, 64)
    barrier = threading.Barrier(8)

    def work(mine):
        barrier.wait()
        for chunk in mine:
            shared.summarize(chunk)

    threads = [threading.Thread(target=work, args=(chunks[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    alone.summarize(X)
    assert shared.pending.allclose(alone.pending, rtol=1e-9)
    shared.from_summaries()
    alone.from_summaries()
    for k, v in alone.parameters().items():
        np.testing.assert_allclose(shared.parameters()[k], v, rtol=1e-9)


def test_eight_threads_absorbing_values():
    d = ss.Normal()
    values = [ss.Normal().statistics(np.arange(i, i + 100.0)) for i in range(80)]
    threads = [threading.Thread(target=lambda vs: [d.absorb(v) for v in vs], args=(values[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert d.pending.weight == 8000


def test_the_lock_is_not_part_of_the_model():
    import copy

    d = ss.Normal().fit([1.0, 2.0])
    d.summarize([3.0])
    assert not any("lock" in k.lower() for k in vars(d))
    e = copy.deepcopy(d)
    assert snapshot(e) == snapshot(d)


# -- absorb ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, value, error, pattern", [
    (ss.Normal, Moments.of(np.ones((3, 2))), ValueError,
     r"expected moments of 1 feature\(s\) with diag second moments; got moments of 2 feature\(s\) with full"),
    (ss.Normal, Additive({"weight": 1.0, "sum": 2.0}), ValueError, "expected moments .*got additive"),
    (ss.Poisson, ss.Exponential().statistics([1.0]) + Additive({"weight": 0.0, "sum": 0.0}), None, None),
    (ss.Poisson, ss.Gamma().statistics([1.0]), ValueError, "fields sum, weight; got .*sum_log"),
    (lambda: ss.Categorical(n_categories=2), ss.Categorical(n_categories=3).statistics([0.0]), ValueError,
     r"counts\[2\].*got .*counts\[3\]"),
    (lambda: ss.MultivariateNormal(covariance_type="diag"), ss.MultivariateNormal().statistics(np.ones((2, 2))),
     ValueError, "diag second moments; got .*full"),
    (lambda: ss.IndependentComponents([ss.Normal(), ss.Poisson()]),
     Composite([ss.Normal().statistics([1.0])]), ValueError, "2 part"),
    (ss.Normal, [1.0, 2.0], TypeError, "takes a Statistics value"),
    (ss.Normal, Moments(1.0, [0.0], [np.nan], [1.0]), ValueError, "'first' is not finite"),
    (ss.Normal, Moments(-1.0, [0.0], [0.0], [0.0]), ValueError, "weight is negative"),
    (ss.Normal, Moments(1.0, [0.0, 1.0], [0.0], [0.0]), ValueError, "inconsistent shapes"),
])
def test_absorb_checks_kind_shape_layout_and_numbers(make, value, error, pattern):
    d = make()
    if error is None:
        d.absorb(value)
        return
    with pytest.raises(error, match=pattern):
        d.absorb(value)
    assert d.pending is None


def test_absorb_into_a_pending_total_of_other_dimensions_is_refused():
    d = ss.MultivariateNormal()
    d.summarize(np.ones((3, 2)))
    before = snapshot(d)
    with pytest.raises(ValueError, match="moments of 2 feature.*got moments of 3"):
        d.absorb(ss.MultivariateNormal().statistics(np.ones((3, 3))))
    assert snapshot(d) == before


def test_absorb_refuses_a_total_that_overflows():
    d = ss.Poisson()
    d.absorb(Additive({"weight": 1.0, "sum": 1e308}))
    with pytest.raises(ValueError, match="overflow"):
        d.absorb(Additive({"weight": 1.0, "sum": 1e308}))
    assert d.pending.fields["sum"] == 1e308


@pytest.mark.parametrize("data, pattern", [
    ([1, 2], "must be a mapping"), ({"kind": "nope"}, "unknown statistics kind"),
    ({"kind": "moments", "weight": 1.0}, "malformed moments"),
    ({"kind": "additive", "fields": {"a": 1.0}, "rules": {"a": "product"}}, "unknown combining rule"),
    ({"kind": "composite", "parts": 3}, "malformed composite"),
    ({"kind": "moments", "weight": "x", "shift": [0], "first": [0], "second": [0]}, "malformed moments"),
])
def test_statistics_from_hostile_dicts(data, pattern):
    with pytest.raises(ValueError, match=pattern):
        Statistics.from_dict(data)
