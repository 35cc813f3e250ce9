"""HMM fits resumed from a checkpoint end with the bits of an uninterrupted fit; other fits' checkpoints are refused."""

import numpy as np
import pytest

import suffstats.hmm._resume as resume_module
from suffstats import MultivariateNormal
from suffstats.hmm import GaussianHMM, GMMHMM, HiddenMarkovModel

from .checkpoints import forge

RNG = np.random.default_rng(0)
X = np.concatenate([RNG.normal(0, 1, (3000, 2)), RNG.normal(4, 1, (3000, 2)), RNG.normal(0, 1, (2500, 2))])
LENGTHS = [5000, 3500]


def _interrupted_after(monkeypatch, iterations):
    """Make the fit stop (as a kill would) right after writing its checkpoint of iteration ``iterations``."""
    real = resume_module.save_iteration

    def save_then_stop(model, checkpoint):
        real(model, checkpoint)
        if model.monitor_.iter == iterations:
            raise KeyboardInterrupt

    monkeypatch.setattr("suffstats.hmm.base.save_iteration", save_then_stop)


@pytest.mark.parametrize("make", [
    lambda: GaussianHMM(3, "full", n_iter=6, tol=0.0, random_state=0, batch_size=2000),
    lambda: GMMHMM(2, 2, covariance_type="diag", n_iter=6, tol=0.0, random_state=0, batch_size=3000),
    lambda: HiddenMarkovModel([MultivariateNormal() for _ in range(2)], n_iter=6, tol=0.0, random_state=0),
], ids=["GaussianHMM", "GMMHMM", "HiddenMarkovModel"])
def test_a_resumed_fit_ends_with_the_bits_of_an_uninterrupted_one(make, monkeypatch, tmp_path):
    path = tmp_path / "fit.checkpoint"
    reference = make().fit(X, LENGTHS)
    with monkeypatch.context() as patch:
        _interrupted_after(patch, 4)
        with pytest.raises(KeyboardInterrupt):
            make().fit(X, LENGTHS, checkpoint=path)
    passes = []
    model = make()
    real_pass = type(model)._pass_statistics
    monkeypatch.setattr(type(model), "_pass_statistics", lambda self, *a: passes.append(1) or real_pass(self, *a))
    model.fit(X, LENGTHS, checkpoint=path)
    assert len(passes) == len(reference.monitor_.history) - 4  # only the iterations after the 4th
    assert list(model.monitor_.history) == list(reference.monitor_.history)
    np.testing.assert_array_equal(model.transmat_, reference.transmat_)
    np.testing.assert_array_equal(model.startprob_, reference.startprob_)
    if hasattr(reference, "means_"):
        np.testing.assert_array_equal(model.means_, reference.means_)
        np.testing.assert_array_equal(model.covars_, reference.covars_)
    else:
        for a, b in zip(model.distributions, reference.distributions):
            np.testing.assert_array_equal(a.covariance, b.covariance)


def test_a_checkpoint_of_another_fit_is_refused_and_the_data_never_overwritten(tmp_path):
    path = tmp_path / "fit.checkpoint"
    GaussianHMM(2, n_iter=2, random_state=0).fit(X, LENGTHS, checkpoint=path)
    with pytest.raises(ValueError, match="different data"):
        GaussianHMM(2, n_iter=2, random_state=0).fit(X + 1.0, LENGTHS, checkpoint=path)
    with pytest.raises(ValueError, match="different data"):
        GaussianHMM(2, n_iter=2, random_state=0).fit(X, [4000, 4500], checkpoint=path)
    with pytest.raises(ValueError, match="different settings"):
        GaussianHMM(2, n_iter=2, random_state=1).fit(X, LENGTHS, checkpoint=path)
    data = tmp_path / "x.npy"
    np.save(data, X)
    with pytest.raises(ValueError, match="is the data file"):
        GaussianHMM(2, n_iter=2).fit(str(data), LENGTHS, checkpoint=data)
    np.testing.assert_array_equal(np.load(data), X)


def _put(*keys_and_value):
    *keys, value = keys_and_value

    def change(state):
        target = state
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value(target[keys[-1]]) if callable(value) else value
    return change


def _smaller_model(state):
    """Another GaussianHMM's JSON (two states fewer features), valid on its own."""
    other = GaussianHMM(3, "full", n_iter=6, tol=0.0, random_state=0).fit(X[:, :1], LENGTHS)
    from suffstats.hmm._persistence import hmm_to_dict

    state["model"] = hmm_to_dict(other)


HMM_FORGERIES = {
    "an empty state": (lambda state: state.clear(), "lacks 'model', 'history'"),
    "a list for a state": (lambda state: [1, 2], "'state' must be an object"),
    "a foreign field": (_put("extra", 1), "field 'extra'"),
    "history as a string": (_put("history", "abc"), "field 'history'"),
    "an empty history": (_put("history", []), "field 'history'"),
    "history past n_iter": (_put("history", lambda h: h * 4), "field 'history'"),
    "a NaN log-likelihood": (_put("history", lambda h: [float("nan")] + h[1:]), "field 'history[0]'"),
    "a log-likelihood as text": (_put("history", lambda h: h[:-1] + ["-1.0"]), "field 'history[2]'"),
    "a boolean log-likelihood": (_put("history", lambda h: [True] + h[1:]), "field 'history[0]'"),
    "another family": (_put("model", "family", "PoissonHMM"), "field 'model.family'"),
    "another setting": (_put("model", "settings", "covariance_type", "diag"), "field 'model.settings.covariance_type'"),
    "another number of states": (_put("model", "settings", "n_components", 2), "field 'model.settings.n_components'"),
    "no parameters": (_put("model", "fitted", None), "field 'model.fitted'"),
    "a transmat row not summing to one": (_put("model", "fitted", "transmat_", lambda t: [[2 * v for v in r] for r in t]),
                                          "field 'model'"),
    "means of another width": (_smaller_model, "field 'model.fitted'"),
    "a model that is not an object": (_put("model", [1, 2]), "field 'model'"),
    "a parameter of text": (_put("model", "fitted", "means_", "nonsense"), "field 'model'"),
}


@pytest.mark.parametrize("forgery", list(HMM_FORGERIES))
def test_a_forged_checkpoint_with_a_valid_checksum_is_refused_by_meaning(forgery, monkeypatch, tmp_path):
    """Every field of the state is checked; the message names the checkpoint and the field; the model is untouched."""
    change, field = HMM_FORGERIES[forgery]
    path = tmp_path / "fit.checkpoint"
    make = lambda: GaussianHMM(3, "full", n_iter=6, tol=0.0, random_state=0)  # noqa: E731
    with monkeypatch.context() as patch:
        _interrupted_after(patch, 3)
        with pytest.raises(KeyboardInterrupt):
            make().fit(X, LENGTHS, checkpoint=path)
    forge(path, change)
    model = make()
    before = dict(model.__dict__)
    with pytest.raises(ValueError) as error:
        model.fit(X, LENGTHS, checkpoint=path)
    assert str(path) in str(error.value) and field in str(error.value), str(error.value)
    assert model.__dict__.keys() == before.keys() and not hasattr(model, "transmat_")


def test_a_forged_history_that_says_the_fit_converged_is_still_checked(monkeypatch, tmp_path):
    """A history of n_iter finite values resumes as finished: the parameters it comes with are the fit's own."""
    path = tmp_path / "fit.checkpoint"
    reference = GaussianHMM(3, "full", n_iter=6, tol=0.0, random_state=0).fit(X, LENGTHS, checkpoint=path)
    model = GaussianHMM(3, "full", n_iter=6, tol=0.0, random_state=0).fit(X, LENGTHS, checkpoint=path)
    np.testing.assert_array_equal(model.transmat_, reference.transmat_)
    assert list(model.monitor_.history) == list(reference.monitor_.history)
