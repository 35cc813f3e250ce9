"""``bic`` and ``aic`` of every distribution and of ``GeneralMixtureModel``, against scipy's densities."""

import numpy as np
import pytest
from scipy import stats

import suffstats as ss


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.default_rng(0)
    X = np.column_stack([np.r_[rng.normal(-2, 1, 1500), rng.normal(3, 0.5, 1500)],
                         np.r_[rng.poisson(1, 1500), rng.poisson(6, 1500)]]).astype(float)
    return X[rng.permutation(len(X))]


def test_general_mixture_criteria_are_scipys(mixed, tmp_path):
    model = ss.GeneralMixtureModel([ss.IndependentComponents([ss.Normal(), ss.Poisson()]) for _ in range(2)],
                                   random_state=0).fit(mixed)
    per_component = [np.log(w) + stats.norm.logpdf(mixed[:, 0], c.distributions[0].mean, c.distributions[0].std)
                     + stats.poisson.logpmf(mixed[:, 1], c.distributions[1].rate)
                     for w, c in zip(model.weights, model.distributions)]
    log_likelihood = np.logaddexp(*per_component).sum()
    assert model.n_parameters == 2 * (2 + 1) + 1  # two (mean, std) and a rate per component, one free weight
    np.testing.assert_allclose(model.bic(mixed), -2 * log_likelihood + 7 * np.log(len(mixed)), rtol=1e-12)
    np.testing.assert_allclose(model.aic(mixed), -2 * log_likelihood + 14, rtol=1e-12)
    np.save(tmp_path / "x.npy", mixed)
    np.testing.assert_allclose(model.bic(str(tmp_path / "x.npy"), batch_size=700), model.bic(mixed), rtol=1e-12)


def test_multivariate_normal_bic_is_scipys():
    rng = np.random.default_rng(1)
    X = rng.multivariate_normal([1, 2, 3], [[2, 0.5, 0], [0.5, 1, 0.2], [0, 0.2, 0.5]], size=2000)
    model = ss.MultivariateNormal().fit(X)
    log_likelihood = stats.multivariate_normal(model.mean, model.covariance).logpdf(X).sum()
    np.testing.assert_allclose(model.bic(X), -2 * log_likelihood + (3 + 6) * np.log(2000), rtol=1e-12)


def test_rows_with_nothing_observed_count_neither_in_the_likelihood_nor_in_n():
    x = np.random.default_rng(2).normal(3, 2, size=1000)
    x[::10] = np.nan
    model = ss.Normal(missing="marginalize").fit(x)
    observed = x[~np.isnan(x)]
    expected = -2 * stats.norm.logpdf(observed, model.mean, model.std).sum() + 2 * np.log(len(observed))
    np.testing.assert_allclose(model.bic(x), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="none of the 3 rows of X has an observed value"):
        model.bic(np.full(3, np.nan))


def test_an_unfitted_model_and_a_bad_row_are_refused():
    with pytest.raises(ValueError, match="fitted|parameters"):
        ss.Normal().bic(np.zeros(3))
    model = ss.Normal().fit(np.arange(10.0))
    bad = np.arange(200_000.0)
    bad[150_000] = np.inf
    with pytest.raises(ValueError, match="150000"):
        model.bic(bad, batch_size=65_536)
