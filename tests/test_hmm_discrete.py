"""CategoricalHMM and PoissonHMM against hmmlearn from the same parameters; batch-size and memory-map identity."""

import numpy as np
import pytest

from suffstats.hmm import CategoricalHMM, PoissonHMM

hmm = pytest.importorskip("hmmlearn.hmm")

START = np.array([0.6, 0.4])
TRANS = np.array([[0.9, 0.1], [0.2, 0.8]])
EMISSION = np.array([[0.7, 0.2, 0.1, 0.0], [0.1, 0.1, 0.3, 0.5]])
LAMBDAS = np.array([[1.0, 6.0, 0.5], [5.0, 1.5, 3.0]])
LENGTHS = [5000, 1, 900, 100]


def _categorical(cls, **kw):
    m = cls(2, init_params="", **kw)
    m.startprob_, m.transmat_ = np.array([0.5, 0.5]), np.array([[0.6, 0.4], [0.3, 0.7]])
    m.emissionprob_ = np.array([[0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4]])
    return m


def _poisson(cls, **kw):
    m = cls(2, init_params="", **kw)
    m.startprob_, m.transmat_ = np.array([0.5, 0.5]), np.array([[0.6, 0.4], [0.3, 0.7]])
    m.lambdas_ = np.array([[2.0, 4.0, 1.0], [4.0, 2.0, 2.0]])
    return m


def _sample_categorical():
    truth = hmm.CategoricalHMM(2, init_params="")
    truth.startprob_, truth.transmat_, truth.emissionprob_ = START, TRANS, EMISSION
    return truth.sample(sum(LENGTHS), random_state=np.random.RandomState(3))[0]


def _sample_poisson():
    truth = hmm.PoissonHMM(2, init_params="")
    truth.startprob_, truth.transmat_, truth.lambdas_ = START, TRANS, LAMBDAS
    return truth.sample(sum(LENGTHS), random_state=np.random.RandomState(3))[0]


CASES = {"categorical": (_categorical, CategoricalHMM, hmm.CategoricalHMM, _sample_categorical, "emissionprob_"),
         "poisson": (_poisson, PoissonHMM, hmm.PoissonHMM, _sample_poisson, "lambdas_")}


@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_same_fit_as_hmmlearn_from_the_same_parameters(case, implementation):
    make, ours_cls, ref_cls, sample, name = CASES[case]
    X = sample()
    kw = dict(n_iter=4, tol=0.0, implementation=implementation)
    ref = make(ref_cls, **kw).fit(X, LENGTHS)
    ours = make(ours_cls, batch_size=2500, **kw).fit(X, LENGTHS)
    np.testing.assert_allclose(ours.monitor_.history, ref.monitor_.history, rtol=1e-12)
    for attr in ("startprob_", "transmat_", name):
        np.testing.assert_allclose(getattr(ours, attr), getattr(ref, attr), rtol=1e-8, atol=1e-14, err_msg=attr)
    np.testing.assert_allclose(ours.predict_proba(X, LENGTHS), ref.predict_proba(X, LENGTHS), atol=1e-9)
    np.testing.assert_array_equal(ours.predict(X, LENGTHS), ref.predict(X, LENGTHS))
    assert ours.score(X, LENGTHS) == pytest.approx(ref.score(X, LENGTHS), rel=1e-12)


@pytest.mark.parametrize("case", sorted(CASES))
def test_default_fit_is_bit_identical_for_every_batch_size_and_from_a_memory_map(case, tmp_path):
    _, ours_cls, _, sample, name = CASES[case]
    X = sample()
    np.save(tmp_path / "x.npy", X)
    fits = [ours_cls(2, n_iter=3, tol=0.0, random_state=0, batch_size=b).fit(data, LENGTHS)
            for data, b in [(X, None), (X, 1000), (np.load(tmp_path / "x.npy", mmap_mode="r"), 4097)]]
    for other in fits[1:]:
        for attr in ("startprob_", "transmat_", name):
            np.testing.assert_array_equal(getattr(other, attr), getattr(fits[0], attr), err_msg=attr)
        assert list(other.monitor_.history) == list(fits[0].monitor_.history)


def test_bad_symbols_and_counts_are_refused_with_the_model_unchanged():
    X = _sample_categorical()
    model = CategoricalHMM(2, n_iter=2, random_state=0).fit(X, LENGTHS)
    before = model.emissionprob_.copy()
    bad = X.copy()
    bad[5100, 0] = -1
    with pytest.raises(ValueError, match=r"nonnegative \(X\[5100\]"):
        model.fit(bad, LENGTHS)
    with pytest.raises(ValueError, match="Largest symbol is 9"):
        model.score(np.array([[0], [9]]))
    with pytest.raises(ValueError, match="integers"):
        model.fit(X + 0.5, LENGTHS)
    np.testing.assert_array_equal(model.emissionprob_, before)
    counts = _sample_poisson().astype(float)
    counts[7, 2] = -3
    with pytest.raises(ValueError, match=r"X\[7\] has a negative count"):
        PoissonHMM(2).fit(counts)
