"""suffstats against pomegranate (1.x, and 0.14.8 as ``protopunica``) on the same data.

pomegranate 1.x sums its counts and divides them in float32 (its
``ConditionalCategorical`` casts every weight to float32), so its own
probabilities agree with ours only to float32 rounding. The checks to 1e-12
therefore go through what is exact on its side: its count tables (integers,
exact in float32 below 2**24) divided in float64, and its log-probability
code run on our float64 tables.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the pomegranate comparisons need torch (pip install suffstats[peers])")
pytest.importorskip("pomegranate", minversion="1.0",
                    reason="the pomegranate comparisons need pomegranate>=1.0 (pip install suffstats[peers])")

from pomegranate.bayesian_network import BayesianNetwork as PgBayesianNetwork  # noqa: E402
from pomegranate.distributions import Categorical, ConditionalCategorical  # noqa: E402
from pomegranate.markov_chain import MarkovChain as PgMarkovChain  # noqa: E402

from suffstats import BayesianNetwork, MarkovChain  # noqa: E402

FLOAT32_REL = 4 * np.finfo(np.float32).eps


def _numpy(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _normalised(counts):
    """A count table divided along its last axis in float64 (pomegranate's M-step, in double precision).

    A context never seen gets the uniform distribution, as pomegranate's own
    ``from_summaries`` gives it (the float32 comparison checks that).
    """
    counts = _numpy(counts)
    totals = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        return np.where(totals > 0, counts / totals, 1.0 / counts.shape[-1])


@pytest.fixture(scope="module")
def sequences():
    rng = np.random.default_rng(25)
    n, length, c = 300, 17, 4
    # A chain with structure, so the tables are not all near 1/c.
    trans = rng.dirichlet(np.full(c, 0.7), size=(c, c))
    X = np.empty((n, length), dtype=np.int64)
    X[:, :2] = rng.integers(0, c, (n, 2))
    for t in range(2, length):
        u = rng.random(n)[:, None]
        X[:, t] = (u > np.cumsum(trans[X[:, t - 2], X[:, t - 1]], axis=1)).sum(axis=1).clip(max=c - 1)
    return X, c


@pytest.mark.parametrize("k", [1, 2, 3])
def test_markov_chain_tables_and_log_probabilities(sequences, k):
    X, c = sequences
    n, length = X.shape
    Xt = torch.from_numpy(X[:, :, None])
    ours = MarkovChain(k, n_categories=c).fit(X.reshape(-1), lengths=[length] * n)

    theirs = PgMarkovChain(k=k).fit(Xt)
    # pomegranate's distributions: position 0, positions 1..k-1 given the codes before, then the transitions.
    pg_tables = [theirs.distributions[0].probs[0]] + [d.probs[0] for d in theirs.distributions[1:]]
    ours_tables = list(ours.initial_probs_) + [ours.transition_probs_]
    assert len(pg_tables) == len(ours_tables) == k + 1
    for mine, pg in zip(ours_tables, pg_tables):
        np.testing.assert_allclose(_numpy(pg), mine, rtol=FLOAT32_REL, atol=FLOAT32_REL)

    # Its count tables (exact integers) divided in float64: the same tables to 1e-12.
    counting = PgMarkovChain(k=k)
    counting.summarize(Xt)
    pg_counts = [counting.distributions[0]._xw_sum[0]] + [d._xw_sum[0] for d in counting.distributions[1:]]
    for mine, counts in zip(ours_tables, pg_counts):
        np.testing.assert_allclose(_normalised(counts), mine, rtol=0, atol=1e-12)

    # Its own log-probability code on our float64 tables: the same value per sequence.
    dists = [Categorical(torch.from_numpy(ours.initial_probs_[0][None, :].copy()))]
    dists += [ConditionalCategorical([torch.from_numpy(t.copy())]) for t in ours_tables[1:]]
    evaluator = PgMarkovChain(dists, k=k)
    mine = ours.log_probability(X.reshape(-1), lengths=[length] * n)
    np.testing.assert_allclose(_numpy(evaluator.log_probability(Xt)), mine, rtol=1e-12, atol=0)
    # And pomegranate's fitted (float32) model scores the sequences the same to float32 rounding.
    np.testing.assert_allclose(_numpy(theirs.log_probability(Xt)), mine, rtol=length * FLOAT32_REL)


@pytest.fixture(scope="module")
def table_rows():
    rng = np.random.default_rng(20)
    n, cards = 5000, (3, 2, 4, 3, 2)
    X = np.empty((n, len(cards)), dtype=np.int64)
    X[:, 0] = rng.integers(0, cards[0], n)
    X[:, 1] = (X[:, 0] + rng.integers(0, 2, n)) % cards[1]
    X[:, 2] = (X[:, 0] * X[:, 1] + rng.integers(0, 3, n)) % cards[2]
    X[:, 3] = (X[:, 2] + (rng.random(n) < 0.2)) % cards[3]
    X[:, 4] = rng.integers(0, cards[4], n)
    # Every category of every column appears, so pomegranate reads the same cardinalities.
    structure = ((), (0,), (1, 0), (2,), ())
    return X, cards, structure


def test_bayesian_network_given_structure(table_rows):
    X, cards, structure = table_rows
    ours = BayesianNetwork(structure, n_categories=cards).fit(X)
    Xt = torch.from_numpy(X)

    theirs = PgBayesianNetwork(structure=structure).fit(Xt)
    # Its distributions follow the columns; a table's axes are the parents in the structure's order, then the column.
    assert len(theirs.distributions) == len(cards)
    for j, (dist, mine) in enumerate(zip(theirs.distributions, ours.cpts_)):
        pg = dist.probs[0]
        assert tuple(pg.shape) == mine.shape, f"column {j}"
        np.testing.assert_allclose(_numpy(pg), mine, rtol=FLOAT32_REL, atol=FLOAT32_REL, err_msg=f"column {j}")

    # Its count tables divided in float64: identical tables to 1e-12.
    counting = PgBayesianNetwork(structure=structure).fit(Xt)
    counting.summarize(Xt)
    for j, (dist, mine) in enumerate(zip(counting.distributions, ours.cpts_)):
        np.testing.assert_allclose(_normalised(dist._xw_sum[0]), mine, rtol=0, atol=1e-12, err_msg=f"column {j}")

    # Its log-probability code on our float64 tables: the same log-probability of every row.
    dists = [Categorical(torch.from_numpy(t[None, :].copy())) if not parents
             else ConditionalCategorical([torch.from_numpy(t.copy())])
             for parents, t in zip(structure, ours.cpts_)]
    edges = [(dists[p], dists[j]) for j, parents in enumerate(structure) for p in parents]
    evaluator = PgBayesianNetwork(dists, edges)
    # Its network sums the columns' terms in float32: add its per-column terms in float64 instead.
    terms = np.zeros(len(X))
    for j, dist in enumerate(evaluator.distributions):
        columns = evaluator._parents[j] + (j,)
        assert columns == tuple(structure[j]) + (j,)
        Xj = Xt[:, columns] if len(columns) == 1 else Xt[:, columns].unsqueeze(-1)
        terms += _numpy(dist.log_probability(Xj))
    mine = ours.log_probability(X)
    np.testing.assert_allclose(terms, mine, rtol=1e-12, atol=0)
    np.testing.assert_allclose(_numpy(theirs.log_probability(Xt)), mine, rtol=len(cards) * FLOAT32_REL)


# --- Bayes classifiers (issue: NaiveBayes / BayesClassifier against pomegranate) ---------------------------------

@pytest.fixture(scope="module")
def labelled():
    rng = np.random.default_rng(2020)
    d = 4
    cov1 = np.array([[1.0, 0.5, 0.0, 0.2], [0.5, 2.0, 0.3, 0.0], [0.0, 0.3, 1.5, 0.4], [0.2, 0.0, 0.4, 1.0]])
    X = np.concatenate([rng.normal(0.0, 1.0, (700, d)),
                        rng.multivariate_normal(np.full(d, 1.5), cov1, 900)])
    # Near the origin: pomegranate 1.x sums raw moments in float32, so with an offset of 100 its covariances
    # are off by ~4e-3 and the comparison would measure that, not the parameters.
    y = np.repeat([0, 1], [700, 900])
    return X, y


def _pomegranate_classifier(X, y, covariance_type):
    from pomegranate.bayes_classifier import BayesClassifier as PgBayesClassifier
    from pomegranate.distributions import Normal as PgNormal

    return PgBayesClassifier([PgNormal(covariance_type=covariance_type) for _ in range(2)]).fit(
        torch.from_numpy(X), torch.from_numpy(y))


def test_naive_bayes_supervised_against_pomegranate(labelled):
    from suffstats import NaiveBayes, Normal

    X, y = labelled
    ours = NaiveBayes([Normal(), Normal()]).fit(X, y)
    theirs = _pomegranate_classifier(X, y, "diag")
    np.testing.assert_allclose(_numpy(theirs.priors), ours.priors_, rtol=FLOAT32_REL)
    for c in range(2):
        features = ours.distributions[c].distributions
        np.testing.assert_allclose(_numpy(theirs.distributions[c].means), [f.mean for f in features],
                                   rtol=FLOAT32_REL)
        # pomegranate 1.x keeps variances (maximum likelihood, divided by n), summed as raw moments in float32.
        np.testing.assert_allclose(_numpy(theirs.distributions[c].covs), [f.std ** 2 for f in features],
                                   rtol=FLOAT32_REL)
    assert np.mean(ours.predict(X) == _numpy(theirs.predict(torch.from_numpy(X)))) > 0.999


def test_bayes_classifier_supervised_against_pomegranate(labelled):
    from suffstats import BayesClassifier, MultivariateNormal

    X, y = labelled
    ours = BayesClassifier([MultivariateNormal(reg_covar=0.0), MultivariateNormal(reg_covar=0.0)]).fit(X, y)
    theirs = _pomegranate_classifier(X, y, "full")
    np.testing.assert_allclose(_numpy(theirs.priors), ours.priors_, rtol=FLOAT32_REL)
    for c in range(2):
        np.testing.assert_allclose(_numpy(theirs.distributions[c].means), ours.distributions[c].mean,
                                   rtol=FLOAT32_REL)
        cov = ours.distributions[c].covariance
        np.testing.assert_allclose(_numpy(theirs.distributions[c].covs), cov,
                                   rtol=FLOAT32_REL, atol=FLOAT32_REL * np.abs(cov).max())


def _protopunica():
    return pytest.importorskip("protopunica", reason="pomegranate 0.14.8 (pip install protopunica) is not importable")


def test_naive_bayes_supervised_against_pomegranate_0_14(labelled):
    from suffstats import NaiveBayes, Normal

    pp = _protopunica()
    X, y = labelled
    X = X + 100.0  # 0.14 sums in float64 around no shift; an offset tests that ours keeps every digit it keeps
    ours = NaiveBayes([Normal(), Normal()]).fit(X, y)
    theirs = pp.NaiveBayes.from_samples(pp.NormalDistribution, X, y)
    np.testing.assert_allclose(np.exp(theirs.weights), ours.priors_, rtol=1e-12)
    for c in range(2):
        pg = np.array([f.parameters for f in theirs.distributions[c].parameters[0]])  # (mean, std) per feature
        features = ours.distributions[c].distributions
        np.testing.assert_allclose(pg[:, 0], [f.mean for f in features], rtol=1e-12)
        np.testing.assert_allclose(pg[:, 1], [f.std for f in features], rtol=1e-9)  # raw moments at offset 100
    np.testing.assert_array_equal(theirs.predict(X), ours.predict(X))


def test_bayes_classifier_supervised_against_pomegranate_0_14(labelled):
    from suffstats import BayesClassifier, MultivariateNormal

    pp = _protopunica()
    X, y = labelled
    ours = BayesClassifier([MultivariateNormal(reg_covar=0.0), MultivariateNormal(reg_covar=0.0)]).fit(X, y)
    theirs = pp.BayesClassifier.from_samples(pp.MultivariateGaussianDistribution, X, y)
    np.testing.assert_allclose(np.exp(theirs.weights), ours.priors_, rtol=1e-12)
    for c in range(2):
        mean, cov = (np.asarray(v) for v in theirs.distributions[c].parameters)
        np.testing.assert_allclose(mean, ours.distributions[c].mean, rtol=1e-12)
        np.testing.assert_allclose(cov, ours.distributions[c].covariance, rtol=1e-10, atol=1e-12)


