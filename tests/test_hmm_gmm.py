"""GMMHMM against hmmlearn from the same parameters, batch-size invariance, statistics, hostile input."""

import numpy as np
import pytest

from suffstats.hmm import GMMHMM

hmm = pytest.importorskip("hmmlearn.hmm")

K, M, D = 3, 2, 2
_rng = np.random.RandomState(0)
MEANS = _rng.normal(0, 4, (K, M, D))
COVARS = {"spherical": _rng.uniform(0.5, 2, (K, M)), "diag": _rng.uniform(0.5, 2, (K, M, D)),
          "full": np.array([[np.eye(D) + 0.3 * (m + 1) * np.ones((D, D)) for m in range(M)] for _ in range(K)]),
          "tied": np.array([np.eye(D) + 0.2 * np.ones((D, D)) for _ in range(K)])}
#: Many sequences, a one-row one, and one longer than a block of rows (4096), so pieces carry messages.
LENGTHS = [4500, 1, 300, 1199]


def _set(model, covariance_type, shift=0.0):
    model.startprob_ = np.full(K, 1 / K)
    model.transmat_ = np.full((K, K), 0.5 / K) + 0.5 * np.eye(K)
    model.weights_ = np.array([[0.5, 0.5], [0.3, 0.7], [0.6, 0.4]])
    model.means_ = MEANS + shift
    model.covars_ = COVARS[covariance_type].copy()
    return model


def _data(covariance_type):
    truth = _set(hmm.GMMHMM(K, M, covariance_type=covariance_type, init_params=""), covariance_type)
    return truth.sample(sum(LENGTHS), random_state=1)


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("covariance_type", ["full", "diag", "tied", "spherical"])
def test_same_fit_as_hmmlearn_from_the_same_parameters(covariance_type, implementation):
    X, _ = _data(covariance_type)
    kw = dict(covariance_type=covariance_type, init_params="", n_iter=4, tol=0.0, implementation=implementation,
              covars_prior=None if covariance_type != "diag" else 0.1, means_weight=0.5, weights_prior=1.5)
    ref = _set(hmm.GMMHMM(K, M, **kw), covariance_type, 0.3).fit(X, LENGTHS)
    ours = _set(GMMHMM(K, M, batch_size=2500, **kw), covariance_type, 0.3).fit(X, LENGTHS)
    assert _rel(ours.monitor_.history, list(ref.monitor_.history)) < 1e-12
    for name in ("startprob_", "transmat_", "weights_", "means_", "covars_"):
        assert getattr(ours, name).shape == getattr(ref, name).shape, name
        assert _rel(getattr(ours, name), getattr(ref, name)) < 1e-8, name
    ll, post = ours.score_samples(X, LENGTHS)
    ref_ll, ref_post = ref.score_samples(X, LENGTHS)
    assert ll == pytest.approx(ref_ll, rel=1e-12)
    np.testing.assert_allclose(post, ref_post, rtol=0, atol=1e-9)
    for algorithm in ("viterbi", "map"):
        lp, path = ours.decode(X, LENGTHS, algorithm=algorithm)
        ref_lp, ref_path = ref.decode(X, LENGTHS, algorithm=algorithm)
        np.testing.assert_array_equal(path, ref_path)
        assert lp == pytest.approx(ref_lp, rel=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "spherical"])
def test_fit_is_bit_identical_for_every_batch_size_and_from_a_memory_map(covariance_type, tmp_path):
    X, _ = _data(covariance_type)
    path = tmp_path / "x.npy"
    np.save(path, X)

    def fit(data, batch_size):
        return GMMHMM(K, M, covariance_type=covariance_type, n_iter=3, tol=0.0, random_state=0,
                      batch_size=batch_size).fit(data, LENGTHS)

    reference = fit(X, None)
    for data, batch_size in [(X, 1000), (np.load(path, mmap_mode="r"), 4097), (str(path), 777)]:
        other = fit(data, batch_size)
        for name in ("startprob_", "transmat_", "weights_", "means_", "covars_"):
            np.testing.assert_array_equal(getattr(other, name), getattr(reference, name), err_msg=name)
        assert list(other.monitor_.history) == list(reference.monitor_.history)


def test_statistics_add_and_summarize_is_one_em_iteration():
    X, _ = _data("diag")
    model = _set(GMMHMM(K, M, init_params="", n_iter=1), "diag")
    a, b = X[:4501], X[4501:]
    total = model.statistics(a, LENGTHS[:2]) + model.statistics(b, LENGTHS[2:])
    assert total.allclose(model.statistics(X, LENGTHS), rtol=1e-12)
    looped = _set(GMMHMM(K, M, init_params=""), "diag")
    lp = looped.summarize(a, LENGTHS[:2]) + looped.summarize(b, LENGTHS[2:])
    looped.from_summaries()
    fitted = model.fit(X, LENGTHS)
    assert lp == pytest.approx(fitted.monitor_.history[0], rel=1e-12)
    for name in ("startprob_", "transmat_", "weights_", "means_", "covars_"):
        np.testing.assert_allclose(getattr(looped, name), getattr(fitted, name), rtol=1e-10, atol=1e-14)


def test_sample_draws_hmmlearns_samples():
    for covariance_type in ("tied", "diag"):
        ours = _set(GMMHMM(K, M, covariance_type=covariance_type), covariance_type)
        ref = _set(hmm.GMMHMM(K, M, covariance_type=covariance_type), covariance_type)
        X, states = ours.sample(100, random_state=3)
        ref_X, ref_states = ref.sample(100, random_state=3)
        np.testing.assert_array_equal(states, ref_states)
        np.testing.assert_allclose(X, ref_X, rtol=1e-12)


def test_default_initialisation_reaches_the_likelihood_of_the_generating_parameters():
    X, _ = _data("diag")
    scores = [GMMHMM(K, M, n_iter=50, random_state=seed, batch_size=3000).fit(X, LENGTHS).score(X, LENGTHS)
              for seed in range(3)]
    truth = _set(GMMHMM(K, M, init_params=""), "diag").score(X, LENGTHS)
    # The maximum likelihood is at least that of the parameters that drew the data (EM finds it from some start).
    assert max(scores) > truth


def test_a_component_without_weight_stays_finite_where_hmmlearn_gives_nan():
    X, _ = _data("diag")
    models = []
    for cls in (GMMHMM, hmm.GMMHMM):
        model = _set(cls(K, M, init_params="", n_iter=2), "diag")
        model.means_[0, 1] = 1e6  # no row comes near: its responsibilities underflow to 0
        models.append(model.fit(X, LENGTHS))
    ours, ref = models
    assert np.isnan(ref.means_).all()
    assert np.isfinite(ours.means_).all() and np.isfinite(ours.covars_).all()
    # Its weight goes to 0 and its mean to 0 (hmmlearn's rule for a component of weight 0); its covariance stays.
    assert ours.weights_[0, 1] == 0 and (ours.means_[0, 1] == 0).all()
    np.testing.assert_array_equal(ours.covars_[0, 1], COVARS["diag"][0, 1])
    assert np.isfinite(ours.score(X, LENGTHS))


def test_hostile_input_is_refused_naming_the_problem_with_the_model_unchanged():
    X, _ = _data("diag")
    model = _set(GMMHMM(K, M, init_params="", n_iter=1), "diag").fit(X, LENGTHS)
    before = {k: np.copy(getattr(model, k)) for k in ("startprob_", "transmat_", "weights_", "means_", "covars_")}
    bad = X.copy()
    bad[4700, 0] = np.inf
    with pytest.raises(ValueError, match=r"X\[4700\]"):
        model.fit(bad, LENGTHS)
    with pytest.raises(ValueError, match="lengths sum to"):
        model.fit(X, [10, 10])
    for k, v in before.items():
        np.testing.assert_array_equal(getattr(model, k), v, err_msg=k)
    with pytest.raises(ValueError, match="unknown letters"):
        GMMHMM(K, M, params="stmq").fit(X)
    with pytest.raises(ValueError, match="n_mix"):
        GMMHMM(K, 0).fit(X)
    broken = _set(GMMHMM(K, M, init_params=""), "diag")
    broken.weights_ = np.full((K, M), 0.7)
    with pytest.raises(ValueError, match="weights_ rows must sum to 1"):
        broken.score(X)
    broken = _set(GMMHMM(K, M, covariance_type="full", init_params=""), "full")
    broken.covars_ = COVARS["full"][:, :, :1, :1]
    with pytest.raises(ValueError, match="covars_ must have shape"):
        broken.score(X)


def test_integer_sequence_weights_count_a_sequence_that_many_times():
    X, _ = _data("full")
    starts = np.cumsum([0] + LENGTHS)
    seqs = [X[a:b] for a, b in zip(starts[:-1], starts[1:])]
    weights = [1, 3, 2, 0]
    repeated = [seqs[i] for i, w in enumerate(weights) for _ in range(w)]
    kw = dict(covariance_type="full", init_params="", n_iter=3, tol=0.0)
    weighted = _set(GMMHMM(K, M, **kw), "full").fit(X, LENGTHS, sample_weight=weights)
    copies = _set(GMMHMM(K, M, **kw), "full").fit(np.concatenate(repeated), [len(s) for s in repeated])
    np.testing.assert_allclose(weighted.monitor_.history, copies.monitor_.history, rtol=1e-12)
    for name in ("startprob_", "transmat_", "weights_", "means_", "covars_"):
        np.testing.assert_allclose(getattr(weighted, name), getattr(copies, name), rtol=1e-9, atol=1e-13)
