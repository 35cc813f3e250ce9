"""Column names, as scikit-learn keeps them: recorded at fit from a DataFrame, checked when scoring."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import suffstats as ss

RNG = np.random.default_rng(0)
TABLE = pd.DataFrame(np.concatenate([RNG.normal(m, 1.0, (300, 3)) for m in (-4.0, 4.0)]), columns=["a", "b", "c"])

MODELS = {
    "GaussianMixture": lambda: ss.GaussianMixture(2, random_state=0),
    "BayesianGaussianMixture": lambda: ss.BayesianGaussianMixture(n_components=2, random_state=0),
    "KMeans": lambda: ss.KMeans(2, random_state=0),
    "GaussianMixtureSearch": lambda: ss.GaussianMixtureSearch([1, 2], random_state=0),
}


def _score(model, X):
    return model.predict(X)


@pytest.mark.parametrize("name", list(MODELS))
def test_names_are_recorded_as_scikit_learn_records_them(name):
    model = MODELS[name]().fit(TABLE)
    np.testing.assert_array_equal(model.feature_names_in_, SkGaussianMixture(2).fit(TABLE).feature_names_in_)
    assert model.feature_names_in_.dtype == object
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _score(model, TABLE)  # the same names: no warning
    assert not hasattr(MODELS[name]().fit(TABLE.to_numpy()), "feature_names_in_")
    model.fit(TABLE.to_numpy())  # a refit without names forgets them
    assert not hasattr(model, "feature_names_in_")


@pytest.mark.parametrize("name", list(MODELS))
def test_scoring_rows_whose_names_differ_is_refused_or_warned_as_in_scikit_learn(name):
    model = MODELS[name]().fit(TABLE)
    with pytest.warns(UserWarning, match="X does not have valid feature names, but .* was fitted with feature names"):
        _score(model, TABLE.to_numpy())
    with pytest.raises(ValueError, match="The feature names should match those that were passed during fit"):
        _score(model, TABLE[["b", "a", "c"]])
    with pytest.raises(ValueError, match="Names unseen at fit time: \\['z'\\]"):
        _score(model, TABLE.rename(columns={"c": "z"}))
    plain = MODELS[name]().fit(TABLE.to_numpy())
    with pytest.warns(UserWarning, match="X has feature names, but .* was fitted without feature names"):
        _score(plain, TABLE)


def test_names_of_mixed_kinds_are_refused_at_fit_and_leave_the_model_unfitted():
    mixed = TABLE.rename(columns={"a": 0})
    model = ss.GaussianMixture(2, random_state=0)
    with pytest.raises(TypeError, match="only supported if all input features have string names"):
        model.fit(mixed)
    assert not hasattr(model, "means_")
    # Names that are all integers are no names, as in scikit-learn.
    assert not hasattr(ss.GaussianMixture(2, random_state=0).fit(TABLE.set_axis([0, 1, 2], axis=1)),
                       "feature_names_in_")


def test_batches_summarized_after_a_fit_with_names_are_checked_as_when_scoring():
    model = ss.GaussianMixture(2, random_state=0).fit(TABLE)
    with pytest.raises(ValueError, match="The feature names should match"):
        model.summarize(TABLE[["b", "a", "c"]])
    with pytest.raises(ValueError, match="The feature names should match"):
        model.statistics(TABLE[["c", "b", "a"]])
    model.summarize(TABLE)  # the same names: taken
    # A distribution records no names: tables are summarized as before, without a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ss.MultivariateNormal().summarize(TABLE)
