"""HMM fits on a Dask cluster: runs of whole sequences per task, the local fit bit for bit."""

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

import suffstats.hmm._dask as hmm_dask  # noqa: E402
from suffstats import MultivariateNormal  # noqa: E402
from suffstats.fit.sequences import SequenceBoundaries  # noqa: E402
from suffstats.hmm import GaussianHMM, GMMHMM, HiddenMarkovModel  # noqa: E402

RNG = np.random.default_rng(0)
X = np.concatenate([RNG.normal(0, 1, (6000, 2)), RNG.normal(4, 1, (3000, 2)), RNG.normal(0, 1, (5000, 2))])
#: Short sequences, a one-row one, and sequences longer than a block (4096 rows), in several tasks.
LENGTHS = [300, 5000, 1, 700, 2999, 5000]


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.mark.parametrize("make", [
    lambda: GaussianHMM(2, "full", n_iter=3, tol=0.0, random_state=0, batch_size=3000),
    lambda: GMMHMM(2, 2, n_iter=3, tol=0.0, random_state=0),
    lambda: HiddenMarkovModel([MultivariateNormal(), MultivariateNormal()], n_iter=3, tol=0.0, random_state=0),
], ids=["GaussianHMM", "GMMHMM", "HiddenMarkovModel"])
def test_the_cluster_fit_is_the_local_fit_bit_for_bit(make, client, tmp_path, monkeypatch):
    path = tmp_path / "x.npy"
    np.save(path, X)
    monkeypatch.setattr(hmm_dask, "TASK_ROWS", 3000)  # five tasks: long sequences alone, short ones together
    assert hmm_dask.plan_sequence_tasks(SequenceBoundaries(LENGTHS, len(X)), 3000) == [(0, 1), (1, 2), (2, 4), (4, 5),
                                                                                      (5, 6)]
    for weights in (None, [1, 2, 0, 1, 3, 1]):
        local = make().fit(X, LENGTHS, sample_weight=weights)
        cluster = make().fit(str(path), LENGTHS, sample_weight=weights, client=client)
        assert list(cluster.monitor_.history) == list(local.monitor_.history)
        np.testing.assert_array_equal(cluster.transmat_, local.transmat_)
        np.testing.assert_array_equal(cluster.startprob_, local.startprob_)
        if hasattr(local, "means_"):
            np.testing.assert_array_equal(cluster.means_, local.means_)


def test_data_the_workers_cannot_open_is_refused_with_the_model_unchanged(client):
    model = GaussianHMM(2, n_iter=2, random_state=0)
    with pytest.raises(TypeError, match="cannot be read by cluster workers"):
        model.fit(X, LENGTHS, client=client)
    assert not hasattr(model, "means_")
