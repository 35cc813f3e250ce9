"""JSON persistence of every hidden Markov model: the loaded model scores, decodes and samples as the saved one."""

import json
import subprocess
import sys

import numpy as np
import pytest

import suffstats
from suffstats import Exponential, IndependentComponents, MultivariateNormal, Normal, Poisson
from suffstats.hmm import CategoricalHMM, GaussianHMM, GMMHMM, HiddenMarkovModel, PoissonHMM
from suffstats.io import ModelFormatError

RNG = np.random.default_rng(0)
REAL = RNG.normal(size=(600, 2)) + np.repeat([[0.0, 0.0], [4.0, 1.0]], 300, axis=0)
COUNTS = RNG.poisson(3.0, size=(600, 2)).astype(float)
SYMBOLS = RNG.integers(0, 4, size=(600, 1))


def _models():
    yield GaussianHMM(2, "full", n_iter=3, random_state=0).fit(REAL), REAL
    yield GaussianHMM(2, "spherical", n_iter=3, random_state=0, means_prior=np.array([[0.0, 1.0]])).fit(REAL), REAL
    for covariance_type in ("diag", "spherical", "full", "tied"):
        yield GMMHMM(2, 2, covariance_type=covariance_type, n_iter=3, random_state=0).fit(REAL), REAL
    yield PoissonHMM(2, n_iter=3, random_state=0).fit(COUNTS), COUNTS
    yield CategoricalHMM(2, n_iter=3, random_state=0).fit(SYMBOLS), SYMBOLS
    states = [IndependentComponents([Normal(), Poisson()]) for _ in range(2)]
    mixed = np.column_stack([REAL[:, 0], COUNTS[:, 0]])
    yield HiddenMarkovModel(states, n_iter=3, random_state=0).fit(mixed), mixed
    yield HiddenMarkovModel([Normal(), Exponential()], n_iter=3, random_state=0).fit(np.abs(REAL[:, 1])), \
        np.abs(REAL[:, 1])


@pytest.mark.parametrize("model, X", list(_models()), ids=lambda v: type(v).__name__ if not isinstance(v, np.ndarray)
                         else "")
def test_a_saved_model_loads_to_the_same_model(model, X, tmp_path):
    path = tmp_path / "model.json"
    suffstats.save(model, path)
    loaded = suffstats.load(path)
    assert type(loaded) is type(model)
    assert loaded.score(X) == model.score(X)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.sample(20, random_state=1)[0], model.sample(20, random_state=1)[0])
    assert suffstats.to_json(loaded) == suffstats.to_json(model)


def test_an_unfitted_model_round_trips_its_settings_and_fits_the_same():
    model = GMMHMM(2, 2, covariance_type="tied", n_iter=3, random_state=4, weights_prior=2.0)
    loaded = suffstats.from_json(suffstats.to_json(model))
    assert json.loads(suffstats.to_json(model))["fitted"] is None
    np.testing.assert_array_equal(loaded.fit(REAL).means_, model.fit(REAL).means_)


def test_a_model_loads_in_a_fresh_process_without_importing_the_hmm_module_first(tmp_path):
    path = tmp_path / "model.json"
    suffstats.save(GaussianHMM(2, n_iter=2, random_state=0).fit(REAL), path)
    code = f"import suffstats; m = suffstats.load({str(path)!r}); print(type(m).__name__, m.means_.shape)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["GaussianHMM", "(2,", "2)"]


def test_broken_documents_are_refused_naming_the_field():
    data = json.loads(suffstats.to_json(GaussianHMM(2, "diag", n_iter=2, random_state=0).fit(REAL)))
    bad = json.loads(json.dumps(data))
    bad["fitted"]["transmat_"] = [[0.9, 0.9], [0.5, 0.5]]
    with pytest.raises(ModelFormatError, match="transmat_ rows must sum to 1"):
        suffstats.from_json(json.dumps(bad))
    bad = json.loads(json.dumps(data))
    bad["fitted"]["means_"] = [[0.0, "x"], [1.0, 1.0]]
    with pytest.raises(ModelFormatError, match="fitted.means_ must hold numbers"):
        suffstats.from_json(json.dumps(bad))
    bad = json.loads(json.dumps(data))
    bad["settings"]["exec"] = "print(1)"
    with pytest.raises(ModelFormatError, match="unknown fields"):
        suffstats.from_json(json.dumps(bad))
    bad = json.loads(json.dumps(data))
    bad["fitted"]["covars_"] = [[1.0, -1.0], [1.0, 1.0]]
    with pytest.raises(ModelFormatError, match="covars must be positive"):
        suffstats.from_json(json.dumps(bad))
    states = json.loads(suffstats.to_json(HiddenMarkovModel([MultivariateNormal(np.zeros(2), np.eye(2)),
                                                              MultivariateNormal(np.ones(2), np.eye(2))],
                                                             startprob=[0.5, 0.5], transmat=np.full((2, 2), 0.5))))
    states["distributions"][1]["parameters"]["covariance"] = [[1.0, 2.0], [2.0, 1.0]]
    with pytest.raises(ModelFormatError, match=r"distributions\[1\]"):
        suffstats.from_json(json.dumps(states))
