"""HiddenMarkovModel over any suffstats distributions: against hmmlearn's models with the same states, holes
marginalised against a forward-backward written out here, batch-size invariance, hostile input."""

import numpy as np
import pytest
from scipy.special import logsumexp

from suffstats import Categorical, IndependentComponents, MultivariateNormal, Normal, Poisson
from suffstats.hmm import HiddenMarkovModel

hmm = pytest.importorskip("hmmlearn.hmm")

K = 3
START = np.array([0.5, 0.3, 0.2])
TRANS = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
MEANS = np.array([[0.0, 0.0], [3.0, 3.0], [-3.0, 2.0]])
COVARS = np.array([[[1.0, 0.3], [0.3, 1.0]], [[0.5, 0.0], [0.0, 2.0]], [[1.0, -0.2], [-0.2, 0.7]]])
#: Many sequences, a one-row one, and one longer than a block of rows (4096), so pieces carry messages.
LENGTHS = [4500, 1, 300, 1199]
UNIFORM = dict(startprob=np.full(K, 1 / K), transmat=np.full((K, K), 1 / K))


def _gaussian_data():
    truth = hmm.GaussianHMM(K, "full", init_params="")
    truth.startprob_, truth.transmat_, truth.means_, truth.covars_ = START, TRANS, MEANS, COVARS
    return truth.sample(sum(LENGTHS), random_state=np.random.RandomState(7))[0]


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _compare_inference(ours, ref, X, lengths):
    ll, post = ours.score_samples(X, lengths)
    ref_ll, ref_post = ref.score_samples(X, lengths)
    assert ll == pytest.approx(ref_ll, rel=1e-12)
    np.testing.assert_allclose(post, ref_post, rtol=0, atol=1e-9)
    lp, path = ours.decode(X, lengths)
    ref_lp, ref_path = ref.decode(X, lengths)
    np.testing.assert_array_equal(path, ref_path)
    assert lp == pytest.approx(ref_lp, rel=1e-12)


@pytest.mark.parametrize("implementation", ["log", "scaling"])
def test_multivariate_normal_states_fit_as_hmmlearns_full_gaussian_hmm(implementation):
    X = _gaussian_data()
    kw = dict(init_params="", n_iter=4, tol=0.0, implementation=implementation)
    ref = hmm.GaussianHMM(K, "full", covars_prior=0.0, covars_weight=0.0, **kw)
    ref.startprob_, ref.transmat_ = UNIFORM["startprob"], UNIFORM["transmat"]
    ref.means_, ref.covars_ = MEANS + 0.5, COVARS * 1.5
    ref.fit(X, LENGTHS)
    states = [MultivariateNormal(MEANS[k] + 0.5, COVARS[k] * 1.5, reg_covar=0.0) for k in range(K)]
    ours = HiddenMarkovModel(states, **UNIFORM, batch_size=2500, **kw).fit(X, LENGTHS)
    assert _rel(ours.monitor_.history, list(ref.monitor_.history)) < 1e-12
    assert _rel(ours.transmat_, ref.transmat_) < 1e-8 and _rel(ours.startprob_, ref.startprob_) < 1e-8
    assert _rel([d.mean for d in ours.distributions], ref.means_) < 1e-8
    assert _rel([d.covariance for d in ours.distributions], ref.covars_) < 1e-8
    _compare_inference(ours, ref, X, LENGTHS)


def test_independent_poisson_states_fit_as_hmmlearns_poisson_hmm():
    rates = np.array([[1.0, 8.0], [5.0, 2.0], [12.0, 12.0]])
    truth = hmm.PoissonHMM(K, init_params="")
    truth.startprob_, truth.transmat_, truth.lambdas_ = START, TRANS, rates
    X = truth.sample(sum(LENGTHS), random_state=np.random.RandomState(3))[0]
    ref = hmm.PoissonHMM(K, init_params="", n_iter=4, tol=0.0)
    ref.startprob_, ref.transmat_, ref.lambdas_ = UNIFORM["startprob"], UNIFORM["transmat"], rates + 1
    ref.fit(X, LENGTHS)
    states = [IndependentComponents([Poisson(r + 1) for r in row]) for row in rates]
    ours = HiddenMarkovModel(states, **UNIFORM, init_params="", n_iter=4, tol=0.0, batch_size=1000).fit(X, LENGTHS)
    assert _rel(ours.monitor_.history, list(ref.monitor_.history)) < 1e-12
    assert _rel(ours.transmat_, ref.transmat_) < 1e-8
    lambdas = [[c.rate for c in d.distributions] for d in ours.distributions]
    assert _rel(lambdas, ref.lambdas_) < 1e-8
    _compare_inference(ours, ref, X, LENGTHS)


def test_categorical_states_fit_as_hmmlearns_categorical_hmm_on_one_column():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    truth = hmm.CategoricalHMM(K, init_params="")
    truth.startprob_, truth.transmat_, truth.emissionprob_ = START, TRANS, probs
    X = truth.sample(sum(LENGTHS), random_state=np.random.RandomState(5))[0]
    start = np.roll(probs, 1, axis=1)
    ref = hmm.CategoricalHMM(K, init_params="", n_iter=4, tol=0.0)
    ref.startprob_, ref.transmat_, ref.emissionprob_ = UNIFORM["startprob"], UNIFORM["transmat"], start
    ref.fit(X, LENGTHS)
    ours = HiddenMarkovModel([Categorical(p) for p in start], **UNIFORM, init_params="", n_iter=4, tol=0.0,
                             batch_size=3000).fit(X[:, 0], LENGTHS)  # univariate states take 1-D data
    assert _rel(ours.monitor_.history, list(ref.monitor_.history)) < 1e-12
    assert _rel([d.probs for d in ours.distributions], ref.emissionprob_) < 1e-8
    _compare_inference(ours, ref, X, LENGTHS)


def _holes(X, seed=0):
    rng = np.random.default_rng(seed)
    X = X.copy()
    X[rng.random(X.shape) < 0.15] = np.nan
    X[[10, 11, 4600, 5000]] = np.nan  # rows with nothing observed stay in the chain
    return X


def _reference_em_step(X, lengths, start, trans, means, stds):
    """One EM step with holes, written out: densities of observed values, whole-sequence forward-backward."""
    obs = ~np.isnan(X)
    Z = np.where(obs, X, 0.0)
    ll = np.stack([np.sum(obs * (-0.5 * ((Z - means[k]) / stds[k]) ** 2 - np.log(stds[k]) - 0.5 * np.log(2 * np.pi)),
                          axis=1) for k in range(K)], axis=1)
    logA = np.log(trans)
    gammas, xi, first, total = [], np.zeros((K, K)), np.zeros(K), 0.0
    for s, n in zip(np.cumsum([0] + lengths[:-1]), lengths):
        a, b = np.empty((n, K)), np.zeros((n, K))
        a[0] = np.log(start) + ll[s]
        for t in range(1, n):
            a[t] = logsumexp(a[t - 1][:, None] + logA, axis=0) + ll[s + t]
        for t in range(n - 2, -1, -1):
            b[t] = logsumexp(logA + ll[s + t + 1] + b[t + 1], axis=1)
        lp = logsumexp(a[-1])
        total += lp
        gammas.append(np.exp(a + b - lp))
        first += gammas[-1][0]
        for t in range(n - 1):
            xi += np.exp(a[t][:, None] + logA + ll[s + t + 1] + b[t + 1] - lp)
    g = np.concatenate(gammas)
    w = g[:, :, None] * obs[:, None, :]
    new_means = np.einsum("tkd,td->kd", w, Z) / w.sum(axis=0)
    var = np.einsum("tkd,tkd->kd", w, (Z[:, None, :] - new_means) ** 2 * obs[:, None, :]) / w.sum(axis=0)
    return total, first / first.sum(), xi / xi.sum(axis=1, keepdims=True), new_means, np.sqrt(var)


def test_holes_are_marginalised_exactly():
    X = _holes(_gaussian_data())
    means, stds = MEANS + 0.5, np.full((K, 2), 1.3)
    states = [IndependentComponents([Normal(m, s) for m, s in zip(means[k], stds[k])]) for k in range(K)]
    model = HiddenMarkovModel(states, **UNIFORM, missing="marginalize", init_params="", n_iter=1, batch_size=1500)
    lp, start, trans, new_means, new_stds = _reference_em_step(X, LENGTHS, UNIFORM["startprob"], UNIFORM["transmat"],
                                                               means, stds)
    assert model.score(X, LENGTHS) == pytest.approx(lp, rel=1e-12)
    model.fit(X, LENGTHS)
    assert model.monitor_.history[0] == pytest.approx(lp, rel=1e-12)
    assert _rel(model.startprob_, start) < 1e-8 and _rel(model.transmat_, trans) < 1e-8
    assert _rel([[c.mean for c in d.distributions] for d in model.distributions], new_means) < 1e-8
    assert _rel([[c.std for c in d.distributions] for d in model.distributions], new_stds) < 1e-8
    # Rows with nothing observed are decoded from their neighbours, not refused.
    assert model.predict(X, LENGTHS).shape == (X.shape[0],)


def test_fit_with_holes_is_bit_identical_for_every_batch_size_and_from_a_memory_map(tmp_path):
    X = _holes(_gaussian_data(), seed=1)
    path = tmp_path / "x.npy"
    np.save(path, X)

    def fit(data, batch_size):
        states = [MultivariateNormal() for _ in range(K)]  # initialised from k-means of a sample
        return HiddenMarkovModel(states, missing="marginalize", n_iter=3, tol=0.0, random_state=0,
                                 batch_size=batch_size).fit(data, LENGTHS)

    reference = fit(X, None)
    for data, batch_size in [(X, 1000), (np.load(path, mmap_mode="r"), 4097), (str(path), 777)]:
        other = fit(data, batch_size)
        np.testing.assert_array_equal(other.transmat_, reference.transmat_)
        for a, b in zip(other.distributions, reference.distributions):
            np.testing.assert_array_equal(a.covariance, b.covariance)
        assert list(other.monitor_.history) == list(reference.monitor_.history)


def test_frozen_states_keep_their_parameters():
    X = _gaussian_data()
    states = [MultivariateNormal(MEANS[k], COVARS[k], frozen=k == 0) for k in range(K)]
    model = HiddenMarkovModel(states, **UNIFORM, init_params="", n_iter=2).fit(X, LENGTHS)
    np.testing.assert_array_equal(model.distributions[0].mean, MEANS[0])
    assert not np.array_equal(model.distributions[1].mean, MEANS[1])


def test_hostile_input_is_refused_naming_the_problem_with_the_model_unchanged():
    X = _gaussian_data()
    states = [MultivariateNormal(MEANS[k], COVARS[k]) for k in range(K)]
    model = HiddenMarkovModel(states, **UNIFORM, init_params="", n_iter=1).fit(X, LENGTHS)
    before = ([d.mean.copy() for d in model.distributions], model.transmat_.copy())
    bad = X.copy()
    bad[4321, 1] = np.nan
    with pytest.raises(ValueError, match="4321"):
        model.fit(bad, LENGTHS)
    with pytest.raises(ValueError, match="features|columns"):
        model.score(np.ones((5, 3)))
    np.testing.assert_array_equal(model.transmat_, before[1])
    for d, mean in zip(model.distributions, before[0]):
        np.testing.assert_array_equal(d.mean, mean)
    d = Normal(0.0, 1.0)
    with pytest.raises(ValueError, match="same object"):
        HiddenMarkovModel([d, d])
    with pytest.raises(ValueError, match="univariate or all multivariate"):
        HiddenMarkovModel([Normal(), MultivariateNormal()])
    with pytest.raises(TypeError, match="Distribution"):
        HiddenMarkovModel([Normal(), "normal"])
    with pytest.raises(ValueError, match="outside the support"):
        HiddenMarkovModel([Poisson(1.0), Poisson(2.0)], startprob=[0.5, 0.5], transmat=np.full((2, 2), 0.5)).score(
            np.array([1.0, -1.0, 2.0]))
    with pytest.raises(ValueError, match="unknown letters"):
        HiddenMarkovModel([Normal(), Normal()], params="stm").fit(np.arange(10.0))


def test_mixture_states_take_one_em_step_as_hmmlearns_gmmhmm():
    """Mixture states are GMMHMM's states; hmmlearn's covariance is the scatter around the E-step's means, so after
    one step it exceeds the exact maximum-likelihood variance by exactly the square of the means' move."""
    from suffstats import GeneralMixtureModel

    rng = np.random.default_rng(0)
    x = np.concatenate([np.where(rng.random(3000) < 0.5, rng.normal(0, 1, 3000), rng.normal(5, 1, 3000)),
                        rng.normal(20, 1, 3000)])
    means, start, trans = np.array([[0.5, 4.5], [19.0, 21.0]]), np.array([0.5, 0.5]), np.array([[0.99, 0.01],
                                                                                                 [0.01, 0.99]])
    states = [GeneralMixtureModel([Normal(m, 1.0) for m in row], weights=[0.5, 0.5]) for row in means]
    ours = HiddenMarkovModel(states, start, trans, init_params="", n_iter=1).fit(x, [4000, 2000])
    ref = hmm.GMMHMM(2, 2, covariance_type="diag", init_params="", n_iter=1)
    ref.startprob_, ref.transmat_, ref.weights_ = start, trans, np.full((2, 2), 0.5)
    ref.means_, ref.covars_ = means[..., None], np.ones((2, 2, 1))
    ref.fit(x[:, None], [4000, 2000])
    assert ours.monitor_.history[0] == pytest.approx(ref.monitor_.history[0], rel=1e-12)
    assert _rel(ours.transmat_, ref.transmat_) < 1e-10
    assert _rel([d.weights for d in ours.distributions], ref.weights_) < 1e-10
    new_means = np.array([[c.mean for c in d.distributions] for d in ours.distributions])
    assert _rel(new_means, ref.means_[..., 0]) < 1e-10
    variances = np.array([[c.std ** 2 for c in d.distributions] for d in ours.distributions])
    assert _rel(variances + (new_means - means) ** 2, ref.covars_[..., 0]) < 1e-9


def test_integer_sequence_weights_count_a_sequence_that_many_times():
    X = _holes(_gaussian_data(), seed=2)
    starts = np.cumsum([0] + LENGTHS)
    seqs = [X[a:b] for a, b in zip(starts[:-1], starts[1:])]
    weights = [2, 0, 1, 3]
    repeated = [seqs[i] for i, w in enumerate(weights) for _ in range(w)]

    def model():
        states = [IndependentComponents([Normal(m, 1.5) for m in MEANS[k] + 0.5]) for k in range(K)]
        return HiddenMarkovModel(states, **UNIFORM, missing="marginalize", init_params="", n_iter=3, tol=0.0)

    weighted = model().fit(X, LENGTHS, sample_weight=weights)
    copies = model().fit(np.concatenate(repeated), [len(s) for s in repeated])
    np.testing.assert_allclose(weighted.monitor_.history, copies.monitor_.history, rtol=1e-12)
    np.testing.assert_allclose(weighted.transmat_, copies.transmat_, rtol=1e-10)
    for a, b in zip(weighted.distributions, copies.distributions):
        for c, e in zip(a.distributions, b.distributions):
            np.testing.assert_allclose([c.mean, c.std], [e.mean, e.std], rtol=1e-10)


def test_probabilities_given_to_the_constructor_are_where_every_fit_starts():
    X = _gaussian_data()
    start, trans = np.array([0.2, 0.3, 0.5]), np.full((K, K), 0.1) + 0.7 * np.eye(K)

    def states():
        return [MultivariateNormal(MEANS[k] + 0.5, COVARS[k]) for k in range(K)]

    given = HiddenMarkovModel(states(), start, trans, n_iter=2, tol=0.0).fit(X, LENGTHS)  # init_params "ste"
    explicit = HiddenMarkovModel(states(), init_params="", n_iter=2, tol=0.0)
    explicit.startprob_, explicit.transmat_ = start.copy(), trans.copy()
    explicit.fit(X, LENGTHS)
    np.testing.assert_array_equal(given.transmat_, explicit.transmat_)
    assert list(given.monitor_.history) == list(explicit.monitor_.history)
    with pytest.raises(ValueError, match="startprob_ must sum to 1"):
        HiddenMarkovModel(states(), [0.5, 0.6, 0.1], trans).fit(X, LENGTHS)
