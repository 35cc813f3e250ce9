"""HMM fits resumed from a checkpoint end with the bits of an uninterrupted fit; other fits' checkpoints are refused."""

import numpy as np
import pytest

import suffstats.hmm._resume as resume_module
from suffstats import MultivariateNormal
from suffstats.hmm import GaussianHMM, GMMHMM, HiddenMarkovModel

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
    assert len(passes) == 2  # iterations 5 and 6 only
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
