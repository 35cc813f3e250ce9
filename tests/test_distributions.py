"""Every family against scipy.stats and closed-form or scipy MLEs, plus the protocol's laws."""

import numpy as np
import pytest

import suffstats as ss
from suffstats.io import from_json, to_json

from .families import CASES, NAMES, assert_parameters_close

N = 2_000


@pytest.fixture(params=NAMES)
def case(request):
    return CASES[request.param]


def test_log_probability_matches_scipy(case):
    X = case.data(np.random.default_rng(1), N)
    d = case.make().fit(X)
    np.testing.assert_allclose(d.log_probability(X), case.scipy_logpdf(d)(X), rtol=1e-10, atol=1e-12)


def test_mle_matches_reference(case):
    X = case.data(np.random.default_rng(2), N)
    assert_parameters_close(case.make().fit(X), case.mle(X), case.mle_rtol)


def test_integer_weights_equal_repeated_rows(case):
    rng = np.random.default_rng(3)
    X = case.data(rng, 300)
    w = rng.integers(0, 4, size=300)
    weighted = case.make().fit(X, sample_weight=w)
    repeated = case.make().fit(np.repeat(X, w, axis=0))
    assert_parameters_close(weighted, repeated.parameters(), 1e-10)


def test_zero_weights_equal_dropped_rows(case):
    rng = np.random.default_rng(4)
    X = case.data(rng, 300)
    w = (rng.random(300) < 0.6).astype(float)
    assert_parameters_close(case.make().fit(X, sample_weight=w), case.make().fit(X[w > 0]).parameters(), 1e-10)


def test_statistics_do_not_mutate_and_equal_summarize(case):
    X = case.data(np.random.default_rng(5), 100)
    d = case.make()
    before = d.to_dict()
    s = d.statistics(X)
    assert d.to_dict() == before and d.pending is None
    d.summarize(X)
    assert d.pending == s


def test_absorb_value_from_elsewhere(case):
    """Statistics from another model instance (another process) fit this one."""
    X = case.data(np.random.default_rng(6), 500)
    worker_a, worker_b, main = case.make(), case.make(), case.make()
    total = worker_a.statistics(X[:200]) + worker_b.statistics(X[200:])
    rebuilt = ss.Statistics.from_dict(total.to_dict())
    assert rebuilt == total
    main.absorb(rebuilt)
    main.from_summaries()
    assert_parameters_close(main, case.make().fit(X).parameters(), 1e-10)


def test_monoid_laws(case):
    rng = np.random.default_rng(7)
    d = case.make()
    a, b, c = (d.statistics(case.data(rng, n)) for n in (5, 17, 40))
    zero = d.statistics(case.data(rng, 3), sample_weight=np.zeros(3))
    assert a + zero == a and zero + a == a and 0 + a == a
    assert (a + b).allclose(b + a, rtol=1e-13)
    assert ((a + b) + c).allclose(a + (b + c), rtol=1e-12)
    assert sum([a, b, c]).allclose(a + b + c, rtol=1e-13)


def test_inertia_blends_old_and_new(case):
    rng = np.random.default_rng(8)
    old = case.make().fit(case.data(rng, 500))
    X = case.data(rng, 500)
    new = case.make().fit(X).parameters()
    d = from_json(to_json(old))
    d.inertia = 0.25
    d.fit(X)
    expected = {k: 0.25 * v + 0.75 * new[k] for k, v in old.parameters().items()}
    assert_parameters_close(d, expected, 1e-12)


def test_frozen_ignores_updates(case):
    rng = np.random.default_rng(9)
    d = case.make().fit(case.data(rng, 200)).freeze()
    before = d.parameters()
    d.summarize(case.data(rng, 100))
    d.from_summaries()
    assert d.pending is None
    assert_parameters_close(d, before, 0)
    d.unfreeze().fit(case.data(rng, 100))
    assert any(not np.array_equal(v, before[k]) for k, v in d.parameters().items())


def test_json_round_trip(case):
    X = case.data(np.random.default_rng(10), 300)
    d = case.make().fit(X)
    loaded = from_json(to_json(d))
    assert type(loaded) is type(d)
    assert_parameters_close(loaded, d.parameters(), 0)
    np.testing.assert_array_equal(loaded.log_probability(X), d.log_probability(X))


def test_sample_has_the_fitted_parameters(case):
    d = case.make().fit(case.data(np.random.default_rng(11), 4000))
    refit = case.make().fit(d.sample(200_000, random_state=0))
    assert_parameters_close(refit, d.parameters(), 0.05)
    np.testing.assert_array_equal(d.sample(5, random_state=1), d.sample(5, random_state=1))


def test_n_parameters():
    assert ss.Normal().n_parameters == 2
    assert ss.Categorical(n_categories=5).n_parameters == 4
    assert ss.MultivariateNormal(np.zeros(3), np.eye(3)).n_parameters == 3 + 6
    assert ss.MultivariateNormal(np.zeros(3), np.ones(3), covariance_type="diag").n_parameters == 6
    assert ss.MultivariateNormal(np.zeros(3), 1.0, covariance_type="spherical").n_parameters == 4
    assert ss.IndependentComponents([ss.Normal(), ss.Poisson()]).n_parameters == 3


def test_log_probability_outside_support_is_minus_inf():
    assert ss.Poisson(2.0).log_probability([0.5, -1, 2])[:2].tolist() == [-np.inf, -np.inf]
    assert ss.Categorical([0.5, 0.5]).log_probability([2.0, 1.0])[0] == -np.inf
    assert np.isneginf(ss.Beta(2.0, 3.0).log_probability([1.0])[0])


@pytest.mark.parametrize("weighted", [False, True])
def test_one_pass_kernels_agree_with_the_checked_path(case, weighted):
    rng = np.random.default_rng(12)
    x = case.data(rng, 1001)
    if x.ndim != 1:
        pytest.skip("the one-pass kernels are for univariate families")
    w = rng.uniform(0, 2, size=x.shape[0]) if weighted else None
    strided = np.stack([x, x], axis=1)[:, 0]  # not contiguous: takes the checked path
    d = case.make()
    fast, checked = d.statistics(x, sample_weight=w), d.statistics(strided, sample_weight=w)
    assert fast.allclose(checked, rtol=1e-12)


def test_allclose_judges_each_field_at_its_own_scale():
    """An entry near zero may carry the rounding of the field's largest entries, and no more."""
    base = ss.Moments(4.0, np.zeros(2), np.zeros(2), np.array([[4.0, 5e-4], [5e-4, 4.0]]))
    rounded = ss.Moments(4.0, np.zeros(2), np.zeros(2), np.array([[4.0, 5e-4 + 9e-15], [5e-4 + 9e-15, 4.0]]))
    wrong = ss.Moments(4.0, np.zeros(2), np.zeros(2), np.array([[4.0, 5e-4 + 1e-9], [5e-4 + 1e-9, 4.0]]))
    assert rounded.allclose(base, rtol=1e-12)
    assert not wrong.allclose(base, rtol=1e-12)
