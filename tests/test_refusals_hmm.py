"""Hidden Markov models given bad settings: refused by name at fit time, the fitted model left as it was."""

import numpy as np
import pytest

import suffstats as ss
from suffstats import hmm

X = np.random.default_rng(0).normal(size=(120, 2))


@pytest.mark.parametrize("setting, value, message", [
    ("n_iter", -1, "n_iter must be an integer >= 0"),
    ("n_iter", 2.5, "n_iter must be an integer >= 0"),
    ("tol", float("nan"), "tol must be finite"),
    ("tol", "small", "tol must be a real number"),
    ("startprob_prior", -1.0, "startprob_prior must be finite and >= 0"),
    ("transmat_prior", [[1.0, np.inf], [1.0, 1.0]], "transmat_prior must be finite and >= 0"),
    ("transmat_prior", "flat", "transmat_prior must be a number or an array of numbers"),
])
@pytest.mark.parametrize("model_class", [hmm.GaussianHMM, hmm.GMMHMM])
def test_bad_settings_are_refused_by_name_and_the_fitted_model_is_unchanged(model_class, setting, value, message):
    model = model_class(2, n_iter=3, random_state=0).fit(X)
    before = ss.to_json(model)
    setattr(model, setting, value)
    with pytest.raises((ValueError, TypeError), match=message):
        model.fit(X)
    setattr(model, setting, getattr(model_class(2, n_iter=3, random_state=0), setting))
    assert ss.to_json(model) == before


def test_a_negative_tol_runs_every_iteration():
    model = hmm.GaussianHMM(2, n_iter=4, tol=-1.0, random_state=0).fit(X)
    assert model.monitor_.iter == 4
