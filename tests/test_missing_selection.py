"""Choosing the number of components with missing values: the search, and the criteria on rows with holes."""

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from suffstats import GaussianMixture, GaussianMixtureSearch
from tests.test_missing import _as_full, _data
from tests.tolerance import assert_close


def _reference_log_densities(model, X):
    """``log π_j + log N(x_o | μ_jo, Σ_j,oo)`` per row and component by scipy (0 + log π_j for an empty row)."""
    k, d = model.means_.shape
    S = _as_full(model.covariances_, model.covariance_type, k, d)
    out = np.empty((X.shape[0], k))
    for i, x in enumerate(X):
        o = ~np.isnan(x)
        for j in range(k):
            density = multivariate_normal(model.means_[j][o], S[j][np.ix_(o, o)]).logpdf(x[o]) if o.any() else 0.0
            out[i, j] = np.log(model.weights_[j]) + density
    return out


def _with_empty_rows(X, n_empty=7):
    empty = np.full((n_empty, X.shape[1]), np.nan)
    return np.concatenate([X[:50], empty, X[50:]])


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_bic_and_aic_use_the_observed_log_likelihood_and_the_rows_with_a_value(covariance_type):
    X = _with_empty_rows(_data(n=200, seed=21, fraction=0.3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = GaussianMixture(2, covariance_type=covariance_type, random_state=0, missing="marginalize",
                                max_iter=5).fit(X)
    reference = _reference_log_densities(model, X)
    total = logsumexp(reference, axis=1).sum()
    n_rows = int((~np.isnan(X)).any(axis=1).sum())  # 200: the 7 empty rows count for nothing
    assert n_rows == 200
    p = model._n_parameters()
    assert_close(model.bic(X), -2 * total + p * np.log(n_rows), 1e-11)
    assert_close(model.aic(X), -2 * total + 2 * p, 1e-11)
    observed = X[~np.isnan(X).all(axis=1)]
    assert_close(model.bic(X), model.bic(observed), 1e-13)
    with pytest.raises(ValueError, match="none of the 7 rows has an observed value"):
        model.bic(X[np.isnan(X).all(axis=1)])
    assert_close(model.predict_proba(X), np.exp(reference - logsumexp(reference, axis=1, keepdims=True)), 1e-10)
    assert np.array_equal(model.predict(X), np.argmax(reference, axis=1))


def test_bic_without_holes_is_unchanged_by_the_policy():
    rng = np.random.default_rng(2)
    X = np.concatenate([rng.normal(-3, 1, (300, 3)), rng.normal(3, 1, (300, 3))])
    a = GaussianMixture(2, random_state=0).fit(X)
    b = GaussianMixture(2, random_state=0, missing="marginalize").fit(X)
    assert_close(b.bic(X), a.bic(X), 1e-13)
    assert_close(b.aic(X), a.aic(X), 1e-13)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_search_candidates_are_the_models_fitted_alone(covariance_type):
    X = _data(n=400, seed=22, fraction=0.2)
    settings = dict(covariance_type=covariance_type, max_iter=6, tol=0.0, batch_size=97, missing="marginalize")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search = GaussianMixtureSearch([1, 2, 3], random_state=0, **settings).fit(X)
        for row, candidate in zip(search.results_, search.candidates_):
            alone = GaussianMixture(row["n_components"], random_state=row["random_state"], **settings).fit(X)
            for name in ("weights_", "means_", "covariances_", "lower_bounds_"):
                assert np.array_equal(getattr(candidate, name), getattr(alone, name)), (row["n_components"], name)


def test_search_criteria_count_rows_with_a_value_as_the_model_does():
    rng = np.random.default_rng(23)
    X = np.concatenate([rng.normal(-4, 1, (300, 3)), rng.normal(4, 1, (300, 3))])
    X[rng.random(X.shape) < 0.2] = np.nan
    X = _with_empty_rows(X, 40)
    search = GaussianMixtureSearch([1, 2, 3], random_state=0, tol=1e-10, max_iter=500,
                                   missing="marginalize").fit(X)
    assert search.best_params_["n_components"] == 2
    for row, candidate in zip(search.results_, search.candidates_):
        assert row["converged"]
        # The search's log-likelihood is its last E-step's; converged to 1e-10 per row, it is the model's.
        assert abs(row["bic"] - candidate.bic(X)) < 1e-6 * len(X)
        assert abs(row["aic"] - candidate.aic(X)) < 1e-6 * len(X)
        # Counting the 40 empty rows would move the penalty by p·log(640/600), far more than that.
        assert row["n_parameters"] * np.log(len(X) / 600) > 100 * 1e-6 * len(X)
    best = search.best_estimator_
    assert np.array_equal(search.score_samples(X), best.score_samples(X))
    assert np.array_equal(search.predict_proba(X), best.predict_proba(X))
    reference = _reference_log_densities(best, X)
    assert_close(search.score_samples(X), logsumexp(reference, axis=1), 1e-11)
    assert np.array_equal(search.predict(X), np.argmax(reference, axis=1))


def test_search_refuses_nan_by_default_naming_row_and_column():
    X = _data(n=120, seed=24)
    row, column = np.argwhere(np.isnan(X))[0]
    search = GaussianMixtureSearch([1, 2], random_state=0)
    with pytest.raises(ValueError, match=rf"row {row}\b.*column {column}\b|column {column}\b.*row {row}\b"):
        search.fit(X)
    assert not hasattr(search, "best_estimator_")
    with pytest.raises(ValueError, match="missing must be one of"):
        GaussianMixtureSearch([1, 2], missing="drop").fit(X)


def test_command_line_select_with_missing(tmp_path, capsys):
    import json

    import suffstats.cli as cli

    rng = np.random.default_rng(25)
    X = np.concatenate([rng.normal(-4, 1, (300, 2)), rng.normal(4, 1, (300, 2))])
    X[rng.random(X.shape) < 0.15] = np.nan
    np.save(tmp_path / "in.npy", X)
    code = cli.main(["select", str(tmp_path / "in.npy"), "--out", str(tmp_path / "m.json"), "--components", "1-3",
                     "--missing", "marginalize", "--quiet"])
    assert code == 0, capsys.readouterr().err
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved["settings"]["missing"] == "marginalize"
    assert saved["settings"]["n_components"] == 2
    code = cli.main(["select", str(tmp_path / "in.npy"), "--out", str(tmp_path / "m2.json"), "--quiet"])
    assert code == 1 and "row" in capsys.readouterr().err


def test_search_says_it_takes_nan_only_when_it_marginalises():
    pytest.importorskip("sklearn")
    assert GaussianMixtureSearch(missing="marginalize").__sklearn_tags__().input_tags.allow_nan
    assert not GaussianMixtureSearch().__sklearn_tags__().input_tags.allow_nan
