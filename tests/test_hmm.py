"""suffstats.hmm against hmmlearn from the same parameters, batch-size invariance, memory maps, hostile input."""

import numpy as np
import pytest

from suffstats.hmm import GaussianHMM

hmm = pytest.importorskip("hmmlearn.hmm")

K, D = 3, 2
START = np.array([0.5, 0.3, 0.2])
TRANS = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
MEANS = np.array([[0.0, 0.0], [3.0, 3.0], [-3.0, 2.0]])
COVARS = {"full": np.array([[[1.0, 0.3], [0.3, 1.0]], [[0.5, 0.0], [0.0, 2.0]], [[1.0, -0.2], [-0.2, 0.7]]]),
          "tied": np.array([[1.0, 0.3], [0.3, 1.0]]),
          "diag": np.array([[1.0, 0.5], [0.7, 1.2], [2.0, 1.0]]),
          "spherical": np.array([1.0, 0.5, 2.0])}
#: Many sequences, a one-row one, and one longer than a block of rows (4096), so pieces carry messages.
LENGTHS = [4500, 1, 300, 1200]


def _data(covariance_type="diag", offset=0.0):
    truth = hmm.GaussianHMM(K, covariance_type, init_params="")
    truth.startprob_, truth.transmat_, truth.means_ = START, TRANS, MEANS + offset
    truth.covars_ = COVARS[covariance_type]
    X, states = truth.sample(sum(LENGTHS), random_state=np.random.RandomState(7))
    return X, states


def _set(model, covariance_type, offset=0.0):
    model.startprob_ = np.full(K, 1 / K)
    model.transmat_ = np.full((K, K), 1 / K)
    model.means_ = MEANS + offset + 0.5
    model.covars_ = COVARS[covariance_type] * 1.5
    return model


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("covariance_type", ["full", "diag", "tied", "spherical"])
def test_same_fit_as_hmmlearn_from_the_same_parameters(covariance_type, implementation):
    X, _ = _data(covariance_type)
    kw = dict(init_params="", n_iter=4, tol=0.0, implementation=implementation)
    ref = _set(hmm.GaussianHMM(K, covariance_type, **kw), covariance_type).fit(X, LENGTHS)
    ours = _set(GaussianHMM(K, covariance_type, batch_size=3000, **kw), covariance_type).fit(X, LENGTHS)
    assert _rel(ours.monitor_.history, ref.monitor_.history) < 1e-12
    assert ours.monitor_.iter == ref.monitor_.iter == 4
    assert _rel(ours.startprob_, ref.startprob_) < 1e-8
    assert _rel(ours.transmat_, ref.transmat_) < 1e-8
    assert _rel(ours.means_, ref.means_) < 1e-8
    ref_covars = ref._covars_[:, 0] if covariance_type == "spherical" else ref._covars_
    assert _rel(ours._covars_, ref_covars) < 1e-8
    assert ours.covars_.shape == (K, D, D)
    assert ours.score(X, LENGTHS) == pytest.approx(ref.score(X, LENGTHS), rel=1e-12)
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
        model = GaussianHMM(K, covariance_type, n_iter=3, tol=0.0, random_state=0, batch_size=batch_size)
        return model.fit(data, LENGTHS)

    reference = fit(X, None)
    for data, batch_size in [(X, 1000), (X, 4097), (np.load(path, mmap_mode="r"), 777), (str(path), 5000)]:
        other = fit(data, batch_size)
        for name in ("startprob_", "transmat_", "means_", "_covars_"):
            np.testing.assert_array_equal(getattr(other, name), getattr(reference, name), err_msg=name)
        assert list(other.monitor_.history) == list(reference.monitor_.history)
        np.testing.assert_array_equal(other.predict(data, LENGTHS), reference.predict(X, LENGTHS))
        assert other.score(data, LENGTHS) == reference.score(X, LENGTHS)


def test_one_long_sequence_is_exact_in_pieces():
    """A sequence of many blocks gives the posteriors of hmmlearn's whole-sequence recursion."""
    X, _ = _data("diag")
    model = _set(GaussianHMM(K, "diag", init_params="", batch_size=2048), "diag")
    ref = _set(hmm.GaussianHMM(K, "diag", init_params=""), "diag")
    ll, post = model.score_samples(X)
    ref_ll, ref_post = ref.score_samples(X)
    assert ll == pytest.approx(ref_ll, rel=1e-12)
    np.testing.assert_allclose(post, ref_post, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(model.predict(X), ref.predict(X))


def test_statistics_add_and_summarize_is_one_em_iteration():
    X, _ = _data("full")
    model = _set(GaussianHMM(K, "full", init_params="", n_iter=1), "full")
    a, b = X[:4501], X[4501:]
    total = model.statistics(a, LENGTHS[:2]) + model.statistics(b, LENGTHS[2:])
    assert total.allclose(model.statistics(X, LENGTHS), rtol=1e-12)
    looped = _set(GaussianHMM(K, "full", init_params=""), "full")
    lp = looped.summarize(a, LENGTHS[:2]) + looped.summarize(b, LENGTHS[2:])
    looped.from_summaries()
    fitted = model.fit(X, LENGTHS)
    assert lp == pytest.approx(fitted.monitor_.history[0], rel=1e-12)
    for name in ("startprob_", "transmat_", "means_", "_covars_"):
        np.testing.assert_allclose(getattr(looped, name), getattr(fitted, name), rtol=1e-10, atol=1e-14)


def test_large_offset_data_fit_like_centred_data():
    X, _ = _data("diag")
    offset = 1e8
    kw = dict(init_params="", n_iter=3, tol=0.0)
    centred = _set(GaussianHMM(K, "diag", **kw), "diag").fit(X, LENGTHS)
    shifted = _set(GaussianHMM(K, "diag", **kw), "diag", offset=offset).fit(X + offset, LENGTHS)
    np.testing.assert_allclose(shifted.means_ - offset, centred.means_, atol=1e-6)
    np.testing.assert_allclose(shifted._covars_, centred._covars_, rtol=1e-6)


def test_structural_zeros_stay_zero():
    X, _ = _data("diag")
    left_right = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]])
    model = GaussianHMM(K, "diag", init_params="mc", params="stmc", n_iter=3, random_state=0)
    model.startprob_ = np.array([1.0, 0.0, 0.0])
    model.transmat_ = left_right.copy()
    model.fit(X, LENGTHS)
    assert (model.transmat_[left_right == 0] == 0).all() and (model.startprob_[1:] == 0).all()
    assert np.isfinite(model.score(X, LENGTHS))


def _snapshot(model):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(model).items() if k != "monitor_"}


def _unchanged(model, before):
    after = _snapshot(model)
    assert after.keys() == before.keys()
    for k, v in before.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(after[k], v)
        else:
            assert after[k] == v or after[k] is v


@pytest.mark.parametrize("lengths, message", [
    ([100, 100], "lengths sum to 200 rows, but the data has"),
    ([-5, 6006], "lengths\\[0\\] is -5"),
    ([0, 6001], "lengths\\[0\\] is 0"),
    ([], "non-empty"),
    ([1.5, 2.5], "integers"),
])
def test_bad_lengths_are_refused_and_leave_the_model_unchanged(lengths, message):
    X, _ = _data("diag")
    model = _set(GaussianHMM(K, "diag", init_params="", n_iter=2), "diag").fit(X, LENGTHS)
    before = _snapshot(model)
    for call in (lambda: model.fit(X, lengths), lambda: model.score(X, lengths), lambda: model.predict(X, lengths),
                 lambda: model.summarize(X, lengths)):
        with pytest.raises(ValueError, match=message):
            call()
    _unchanged(model, before)


def test_hostile_rows_and_parameters_are_refused_with_the_model_unchanged():
    X, _ = _data("diag")
    model = _set(GaussianHMM(K, "diag", init_params="", n_iter=2, batch_size=1000), "diag").fit(X, LENGTHS)
    before = _snapshot(model)
    bad = X.copy()
    bad[5001, 1] = np.nan
    with pytest.raises(ValueError, match=r"X\[5001\] contains NaN"):
        model.fit(bad, LENGTHS)
    with pytest.raises(ValueError, match="features"):
        model.score(X[:, :1])
    _unchanged(model, before)
    with pytest.raises(ValueError, match="unknown letters"):
        GaussianHMM(K, params="stmx").fit(X)
    with pytest.raises(ValueError, match="covariance_type"):
        GaussianHMM(K, covariance_type="round").fit(X)
    broken = _set(GaussianHMM(K, "diag", init_params=""), "diag")
    broken.transmat_ = np.full((K, K), 0.5)
    with pytest.raises(ValueError, match="transmat_ rows must sum to 1"):
        broken.fit(X)
    with pytest.raises(ValueError, match="2-D"):
        GaussianHMM(K).fit(X[:, 0])


def test_scaling_fails_loudly_where_log_space_is_needed():
    x = np.concatenate([np.zeros(50), [1e4], np.full(50, 5.0)])[:, None]
    kw = dict(init_params="", n_iter=3, covariance_type="spherical")
    models = {impl: GaussianHMM(2, implementation=impl, **kw) for impl in ("log", "scaling")}
    for m in models.values():
        m.startprob_, m.transmat_ = np.array([0.0, 1.0]), np.array([[0.4, 0.6], [0.6, 0.4]])
        m.means_, m.covars_ = np.array([[0.0], [5.0]]), np.array([1.0, 1.0])
    with pytest.raises(ValueError, match="implementation='log'"):
        models["scaling"].fit(x)
    assert np.isfinite(models["log"].fit(x).score(x))


def test_sample_draws_hmmlearns_samples():
    ours = _set(GaussianHMM(K, "full"), "full")
    ref = _set(hmm.GaussianHMM(K, "full"), "full")
    X, states = ours.sample(200, random_state=3)
    ref_X, ref_states = ref.sample(200, random_state=3)
    np.testing.assert_array_equal(states, ref_states)
    np.testing.assert_allclose(X, ref_X, rtol=1e-12)


def test_default_initialisation_fits_and_converges():
    X, _ = _data("diag")
    model = GaussianHMM(K, "diag", n_iter=100, tol=1e-4, random_state=0, batch_size=4096).fit(X, LENGTHS)
    assert model.monitor_.converged and len(model.monitor_.history) < 100
    assert np.all(np.diff(model.monitor_.history) > -1e-6)
    order = np.argsort(model.means_[:, 0])
    np.testing.assert_allclose(model.means_[order], MEANS[np.argsort(MEANS[:, 0])], atol=0.1)


def test_integer_sequence_weights_count_a_sequence_that_many_times():
    X, _ = _data("diag")
    starts = np.cumsum([0] + LENGTHS)
    seqs = [X[a:b] for a, b in zip(starts[:-1], starts[1:])]
    weights = [2, 1, 0, 3]
    repeated = [seqs[i] for i, w in enumerate(weights) for _ in range(w)]
    kw = dict(init_params="", n_iter=3, tol=0.0, batch_size=2000)
    weighted = _set(GaussianHMM(K, "diag", **kw), "diag").fit(X, LENGTHS, sample_weight=weights)
    copies = _set(GaussianHMM(K, "diag", **kw), "diag").fit(np.concatenate(repeated), [len(s) for s in repeated])
    np.testing.assert_allclose(weighted.monitor_.history, copies.monitor_.history, rtol=1e-12)
    for name in ("startprob_", "transmat_", "means_", "_covars_"):
        np.testing.assert_allclose(getattr(weighted, name), getattr(copies, name), rtol=1e-10, atol=1e-14)
    # summarize takes the same weights: a user's loop gives the fit's first step
    looped = _set(GaussianHMM(K, "diag", init_params=""), "diag")
    assert looped.summarize(X, LENGTHS, sample_weight=weights) == pytest.approx(weighted.monitor_.history[0])


@pytest.mark.parametrize("weights, message", [
    ([1, 1, 1], "3 weights, but there are 4 sequences"),
    ([1, -1, 1, 1], r"sample_weight\[1\] is -1.0"),
    ([1, np.nan, 1, 1], r"sample_weight\[1\] is nan"),
    ([0, 0, 0, 0], "0 for every sequence"),
])
def test_bad_sequence_weights_are_refused_with_the_model_unchanged(weights, message):
    X, _ = _data("diag")
    model = _set(GaussianHMM(K, "diag", init_params="", n_iter=1), "diag").fit(X, LENGTHS)
    before = _snapshot(model)
    with pytest.raises(ValueError, match=message):
        model.fit(X, LENGTHS, sample_weight=weights)
    _unchanged(model, before)


@pytest.mark.parametrize("cache_bytes", [0, 200_000])
def test_the_backward_sweep_gives_the_same_bits_with_or_without_the_forward_results_kept(cache_bytes, monkeypatch):
    """The backward sweep takes the latest pieces' forward results from a cache and recomputes the others."""
    import suffstats.hmm._passes as passes

    rng = np.random.default_rng(7)
    X = np.concatenate([rng.normal(0, 1, (9000, 2)), rng.normal(3, 1, (8000, 2))])
    lengths = [12_000, 5_000]  # two sequences longer than a piece

    def fit(implementation):
        model = GaussianHMM(2, "diag", n_iter=3, tol=0, random_state=0, implementation=implementation)
        return model.fit(X, lengths)

    references = {impl: fit(impl) for impl in ("log", "scaling")}
    monkeypatch.setattr(passes, "PIECE_CACHE_BYTES", cache_bytes)
    for impl, reference in references.items():
        other = fit(impl)
        assert other.monitor_.history == reference.monitor_.history
        assert np.array_equal(other.means_, reference.means_) and np.array_equal(other.transmat_,
                                                                                 reference.transmat_)


def test_every_hmm_has_scikit_learns_parameter_protocol():
    """As hmmlearn's estimators: get_params / set_params over __init__'s names, and clone gives an unfitted copy."""
    from sklearn.base import clone

    from suffstats import Normal
    from suffstats.hmm import GMMHMM, CategoricalHMM, HiddenMarkovModel, PoissonHMM

    X = np.random.default_rng(0).normal(size=(300, 1))
    for model in [GaussianHMM(2, "full", n_iter=3, random_state=0), GMMHMM(2, 2, n_iter=3, random_state=0),
                  CategoricalHMM(2, n_features=3, n_iter=3), PoissonHMM(2, n_iter=3),
                  HiddenMarkovModel([Normal(), Normal()], n_iter=3, random_state=0)]:
        params = model.get_params()
        assert params["n_iter"] == 3 and model.set_params(n_iter=4) is model and model.n_iter == 4
        with pytest.raises(ValueError, match="Invalid parameter 'n_iterations'"):
            model.set_params(n_iterations=4)
        copy = clone(model)
        assert type(copy) is type(model) and copy.get_params().keys() == params.keys() and copy.n_iter == 4
        if isinstance(model, (GaussianHMM, HiddenMarkovModel)):
            model.fit(X)
            assert not hasattr(clone(model), "transmat_")


def test_a_long_sequence_from_a_stream_fits_as_from_the_array():
    """A stream cannot be read again by position: the backward sweep keeps the rows of its pieces.

    (The stream's batches are whole blocks here: a stream's pieces are also cut where its batches end.)
    """
    from suffstats.data import StreamSource

    X = np.random.default_rng(0).normal(size=(20_000, 2))
    X[7_000:13_000] += 3.0
    stream = StreamSource(lambda: (X[i:i + 8_192] for i in range(0, 20_000, 8_192)))

    def model():  # the same start for both (the passes are under test, not the initialisation)
        m = GaussianHMM(2, "diag", n_iter=3, init_params="")
        m.startprob_, m.transmat_ = np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]])
        m.means_, m.covars_ = np.array([[0.0, 0.0], [3.0, 3.0]]), np.ones((2, 2))
        return m

    from_stream = model().fit(stream, [20_000])
    from_array = model().fit(X, [20_000])
    assert list(from_stream.monitor_.history) == list(from_array.monitor_.history)
    np.testing.assert_array_equal(from_stream.means_, from_array.means_)
