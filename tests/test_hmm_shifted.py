"""The log implementation's shifted kernels: the log-sum-exp recursion's results, and its fallback where they cannot be.

Each piece runs first through kernels on densities divided by each row's
largest, with messages normalised per row (no exponential or logarithm per
row); a piece where a normaliser would fall toward the subnormal range goes
through the log-sum-exp kernels instead. Both give the forward-backward
quantities to rounding, and the choice is made per piece, so a fit stays the
same for every batch size.
"""

import numpy as np
import pytest

import suffstats.hmm._kernels as kernels
import suffstats.hmm._passes as passes
from suffstats.hmm import CategoricalHMM, GaussianHMM

RNG = np.random.default_rng(3)
STATES = np.repeat(RNG.integers(0, 3, 30), 500)  # 15,000 rows: pieces of 4,096 with messages carried across
GAUSSIAN = np.array([[-2.0, 0.0], [0.0, 2.0], [3.0, -1.0]])[STATES] + RNG.normal(size=(STATES.size, 2))
SYMBOLS = np.where(RNG.random(STATES.size) < 0.7, STATES, RNG.integers(0, 5, STATES.size))[:, None]
LENGTHS = [9000, 6000]


def _models():
    return [GaussianHMM(3, "full", n_iter=5, tol=0.0, random_state=1),
            CategoricalHMM(3, n_iter=5, tol=0.0, random_state=1)]


def _log_kernels_only(monkeypatch):
    monkeypatch.setattr(passes._Recursion, "_forward_shifted", lambda self, *args: None)


@pytest.mark.parametrize("index", [0, 1], ids=["GaussianHMM", "CategoricalHMM"])
def test_the_shifted_kernels_give_the_log_sum_exp_results(index, monkeypatch):
    X = GAUSSIAN if index == 0 else SYMBOLS
    fast = _models()[index].fit(X, LENGTHS)
    fast_posteriors = fast.predict_proba(X, LENGTHS)
    with monkeypatch.context() as patch:
        _log_kernels_only(patch)
        exact = _models()[index].fit(X, LENGTHS)
        exact_posteriors = exact.predict_proba(X, LENGTHS)
        exact_score = fast.score(X, LENGTHS)  # the same model scored by the log kernels
    np.testing.assert_allclose(fast.monitor_.history, exact.monitor_.history, rtol=1e-12)
    np.testing.assert_allclose(fast.transmat_, exact.transmat_, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(fast_posteriors, exact_posteriors, atol=1e-10)
    np.testing.assert_allclose(fast.score(X, LENGTHS), exact_score, rtol=1e-12)


def _forbidding_model():
    """Two states that never switch; state 1 cannot start, so its densities never count."""
    model = GaussianHMM(2, "diag", init_params="", params="m", n_iter=3, tol=0.0)
    model.startprob_ = np.array([1.0, 0.0])
    model.transmat_ = np.eye(2)
    model.means_ = np.array([[0.0], [40.0]])
    model.covars_ = np.array([[1.0], [1.0]])
    return model


def test_a_piece_the_shifted_kernels_cannot_take_goes_through_the_log_kernels(monkeypatch):
    """An outlier row 40 standard deviations away is 800 nats likelier under the unreachable state: its shifted
    density under the reachable one underflows, so that piece (and only that piece) takes the log kernels."""
    X = RNG.normal(size=(12_000, 1))
    X[6000] = 40.0
    calls = []
    real = kernels.forward_log
    monkeypatch.setattr(kernels, "forward_log", lambda *args: calls.append(1) or real(*args))
    fast = _forbidding_model().fit(X)
    assert 0 < len(calls) <= 2 * 3  # the outlier's piece, in each pass at most twice
    assert np.isfinite(fast.monitor_.history).all() and np.isfinite(fast.means_).all()
    for batch_size in (4096, 5000):
        other = _forbidding_model()
        other.batch_size = batch_size
        other.fit(X)
        assert list(other.monitor_.history) == list(fast.monitor_.history)
        np.testing.assert_array_equal(other.means_, fast.means_)
    with monkeypatch.context() as patch:
        _log_kernels_only(patch)
        exact = _forbidding_model().fit(X)
    np.testing.assert_allclose(fast.monitor_.history, exact.monitor_.history, rtol=1e-12)
    np.testing.assert_allclose(fast.means_, exact.means_, rtol=1e-12, atol=1e-12)


def test_the_shifted_forward_messages_are_the_log_messages():
    """Kernel level: normalised messages and their log-factors give the log-sum-exp kernel's messages."""
    K, n = 4, 300
    trans = RNG.dirichlet(np.ones(K), K)
    ll = RNG.normal(-30, 10, (n, K))
    message = RNG.normal(-5, 3, K)
    log_alpha = np.empty((n, K))
    kernels.forward_log(np.zeros(K), np.log(trans), ll, message, False, log_alpha)
    P, top = np.empty((n, K)), np.empty(n)
    assert kernels.shift_rows(ll, P, top)
    alpha, norm = np.empty((n, K)), np.empty(n)
    offset = message.max()
    assert kernels.forward_shifted(trans, np.exp(P), np.exp(message - offset), False, alpha, norm)
    np.testing.assert_allclose(np.log(alpha) + (offset + np.cumsum(np.log(norm) + top))[:, None], log_alpha,
                               rtol=1e-12)


@pytest.mark.parametrize("order", ["apart, then the other", "the other, then apart"])
def test_a_state_thousands_of_nats_below_the_other_is_not_lost(order):
    """Two states that never switch: for thousands of rows one is ~10 nats per row less likely than the other,
    then the data moves to it. A shared shift (or normalising per row) would let it underflow to zero and
    never come back; each state's own log-sum-exp keeps it. The same as hmmlearn, over several pieces."""
    from hmmlearn.hmm import GaussianHMM as Peer

    a, b = np.zeros(5_000), np.full(4_000, 4.5)
    X = np.concatenate([a, b] if order.startswith("apart") else [b, a])[:, None]

    def start(model):
        model.startprob_, model.transmat_ = np.array([0.5, 0.5]), np.eye(2)
        model.means_, model.covars_ = np.array([[0.0], [4.5]]), np.ones((2, 1))
        return model

    ours, theirs = start(GaussianHMM(2, "diag", init_params="", params="")), start(Peer(2, "diag", init_params=""))
    np.testing.assert_allclose(ours.score(X), theirs.score(X), rtol=1e-12)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-10)
    # Fitting the means: one state takes every row (the states never switch), so its mean is the data's; the
    # other keeps its own (hmmlearn divides 0 by 0 there).
    fitted = start(GaussianHMM(2, "diag", init_params="", params="m", n_iter=2, tol=0.0)).fit(X)
    taker = int(np.argmax(fitted.predict_proba(X)[0]))
    np.testing.assert_allclose(fitted.means_[taker], X.mean(axis=0), rtol=1e-12)
    assert fitted.means_[1 - taker, 0] == [0.0, 4.5][1 - taker]
