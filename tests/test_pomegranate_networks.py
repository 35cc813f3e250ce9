"""``BayesianNetwork`` and ``MarkovChain`` against pomegranate 1.x on the same data (skipped without it).

pomegranate 1.x keeps its tables in float32 (torch's default; a float64 run fails inside its
``ConditionalCategorical``), so tables and log-probabilities agree to float32 rounding, ~1e-7
relative; against pgmpy, which works in float64, the tables agree to 1e-12 (``tests/test_bayesian_network.py``).
The install is large (torch): ``pip install pomegranate torch``.
"""

import numpy as np
import pytest

import suffstats as ss

torch = pytest.importorskip("torch", reason="pomegranate 1.x needs torch")
pytest.importorskip("pomegranate.bayesian_network", reason="pomegranate 1.x is not installed")
from pomegranate.bayesian_network import BayesianNetwork as PomegranateNetwork  # noqa: E402
from pomegranate.markov_chain import MarkovChain as PomegranateChain  # noqa: E402

#: float32 tables: a probability's rounding (2^-24 relative) times a few operations.
FLOAT32 = 1e-6


def _table(distribution):
    """A pomegranate distribution's table (a Categorical's (1, c) row, a ConditionalCategorical's first table)."""
    return distribution.probs[0].detach().numpy().astype(np.float64)


@pytest.fixture(scope="module")
def codes():
    rng = np.random.default_rng(0)
    n = 30_000
    a = rng.integers(0, 3, n)
    b = (a + rng.integers(0, 2, n)) % 4
    c = (b + a + rng.integers(0, 2, n)) % 2
    d = (c + rng.integers(0, 3, n)) % 3
    return np.column_stack([a, b, c, d]).astype(np.int64)


def test_network_with_a_given_structure_has_pomegranates_tables_and_log_probabilities(codes):
    structure = ((), (0,), (0, 1), (2,))
    ours = ss.BayesianNetwork(structure=structure).fit(codes)
    theirs = PomegranateNetwork(structure=structure).fit(torch.from_numpy(codes))
    for i in range(len(structure)):
        np.testing.assert_allclose(ours.cpts_[i], _table(theirs.distributions[i]), rtol=FLOAT32)
    theirs_lp = theirs.log_probability(torch.from_numpy(codes)).numpy()
    np.testing.assert_allclose(ours.log_probability(codes), theirs_lp, rtol=FLOAT32)


@pytest.mark.parametrize("k", [1, 2])
def test_markov_chain_has_pomegranates_tables_and_log_probabilities(k):
    rng = np.random.default_rng(k)
    sequences = rng.choice(3, size=(800, 30), p=[0.5, 0.3, 0.2]).astype(np.int64)
    lengths = [30] * len(sequences)
    ours = ss.MarkovChain(k).fit(sequences.reshape(-1), lengths=lengths)
    theirs = PomegranateChain(k=k).fit(torch.from_numpy(sequences[:, :, None]))
    np.testing.assert_allclose(ours.transition_probs_, _table(theirs.distributions[-1]), rtol=FLOAT32)
    for p in range(k):
        np.testing.assert_allclose(ours.initial_probs_[p], np.squeeze(_table(theirs.distributions[p])),
                                   rtol=FLOAT32)
    theirs_lp = theirs.log_probability(torch.from_numpy(sequences[:, :, None])).numpy()
    np.testing.assert_allclose(ours.log_probability(sequences.reshape(-1), lengths=lengths), theirs_lp, rtol=FLOAT32)
