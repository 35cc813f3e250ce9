"""The fit on a Dask cluster: bit for bit the local fit, rows read on the workers, a lost worker survived."""

import os
import pickle
import signal
import threading
import time
import warnings

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

import suffstats as ss  # noqa: E402
from suffstats.data.npy import NpySource  # noqa: E402
from suffstats.distributed import DaskAccumulation, plan_tasks  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def one_worker():
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Three blobs, 61,003 rows x 3 (15 blocks, the last partial), as .npy, as two shards, and one column."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(m, 1.0, size=(20_001, 3)) for m in (0.0, 4.0, 8.0)] + [rng.normal(size=(1000, 3))])
    X = X[rng.permutation(len(X))]
    folder = tmp_path_factory.mktemp("dask")
    np.save(folder / "x.npy", X)
    np.save(folder / "x1.npy", X[:, :1])
    (folder / "shards").mkdir()
    np.save(folder / "shards" / "a.npy", X[:25_000])
    np.save(folder / "shards" / "b.npy", X[25_000:])
    return {"X": X, "npy": str(folder / "x.npy"), "column": str(folder / "x1.npy"), "shards": str(folder / "shards")}


def _gaussian(cov="full", **kw):
    return ss.GaussianMixture(3, covariance_type=cov, **{"random_state": 0, "max_iter": 4, "tol": 0, **kw})


def _same_gaussian(a, b):
    return all(np.array_equal(getattr(a, n), getattr(b, n)) for n in ("weights_", "means_", "covariances_")) \
        and a.lower_bounds_ == b.lower_bounds_


def test_tasks_are_aligned_power_of_two_runs():
    assert plan_tasks([(0, 13 * 4096 - 5)], 4096, blocks_per_task=4) == [
        (0, 4, [(0, 16384)]), (4, 4, [(16384, 32768)]), (8, 4, [(32768, 49152)]), (12, 1, [(49152, 53243)])]
    # a resumed epoch continues at block 6; a mini-batch run crossing two batches reads both pieces
    assert [t[:2] for t in plan_tasks([(0, 40960)], 4096, first_block=6, blocks_per_task=8)] == [(6, 2), (8, 8)]
    assert plan_tasks([(8000, 10000), (0, 3000)], 4096, blocks_per_task=2) == [(0, 2, [(8000, 10000), (0, 3000)])]
    with pytest.raises(ValueError, match="power of two"):
        DaskAccumulation(object.__new__(distributed.Client), blocks_per_task=3)


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_gaussian_mixture_is_the_local_fit_bit_for_bit(client, one_worker, data, cov):
    local = _gaussian(cov).fit(data["npy"])
    for c, blocks in [(one_worker, 4), (client, 1), (client, 4)]:
        strategy = DaskAccumulation(c, blocks_per_task=blocks)
        assert _same_gaussian(_gaussian(cov).fit(data["npy"], client=strategy), local)
    assert _same_gaussian(_gaussian(cov).fit(data["shards"], client=client), local)


def test_kmeans_and_general_mixture_are_the_local_fit(client, one_worker, data):
    local = ss.KMeans(3, random_state=0, max_iter=5).fit(data["npy"])
    for c in (one_worker, DaskAccumulation(client, blocks_per_task=2)):
        km = ss.KMeans(3, random_state=0, max_iter=5).fit(data["npy"], client=c)
        assert np.array_equal(km.cluster_centers_, local.cluster_centers_) and km.inertia_ == local.inertia_

    def general():
        return ss.GeneralMixtureModel([ss.Normal(), ss.Normal(), ss.Normal()], random_state=0, max_iter=3, tol=0)

    local = general().fit(data["column"])
    for c in (one_worker, DaskAccumulation(client, blocks_per_task=8)):
        assert general().fit(data["column"], client=c).to_dict() == local.to_dict()


def test_weights_and_mini_batches_are_the_local_fit(client, data):
    w = np.random.default_rng(1).uniform(0, 2, size=len(data["X"]))
    assert _same_gaussian(_gaussian().fit(data["npy"], sample_weight=w, client=client),
                          _gaussian().fit(data["npy"], sample_weight=w))
    kw = dict(batch_size=5000, batches_per_epoch=3)  # batches that are not whole blocks, wrapping around the data
    assert _same_gaussian(_gaussian(**kw).fit(data["npy"], client=DaskAccumulation(client, 2)), _gaussian(**kw).fit(data["npy"]))


def test_dask_array_chunks_are_computed_on_the_workers(client, data):
    X = da.from_array(np.load(data["npy"], mmap_mode="r"), chunks=(7000, 3))
    local = _gaussian().fit(data["npy"])
    assert _same_gaussian(_gaussian().fit(X, client=client), local)
    assert _same_gaussian(_gaussian().fit(X.rechunk((16384, 3)), client=DaskAccumulation(client, 4)), local)


@pytest.mark.parametrize("fmt", ["h5", "zarr", "parquet"])
def test_hdf5_zarr_and_parquet_are_opened_on_the_workers(client, data, tmp_path, fmt):
    X = data["X"][:30_000]
    if fmt == "h5":
        h5py = pytest.importorskip("h5py")
        with h5py.File(tmp_path / "x.h5", "w") as f:
            f["rows"] = X
        path = f"{tmp_path / 'x.h5'}:rows"
    elif fmt == "zarr":
        zarr = pytest.importorskip("zarr")
        zarr.open_array(str(tmp_path / "x.zarr"), mode="w", shape=X.shape, dtype=X.dtype, chunks=(5000, 3))[:] = X
        path = str(tmp_path / "x.zarr")
    else:
        pa, pq = pytest.importorskip("pyarrow"), pytest.importorskip("pyarrow.parquet")
        pq.write_table(pa.table({f"c{j}": X[:, j] for j in range(3)}), tmp_path / "x.parquet", row_group_size=7000)
        path = str(tmp_path / "x.parquet")
    model = _gaussian("diag").fit(path, client=DaskAccumulation(client, blocks_per_task=2))
    assert _same_gaussian(model, _gaussian("diag").fit(X))


class ClientMustNotRead(NpySource):
    """A .npy source whose rows may be read only inside a Dask task (samples by ``take`` are allowed)."""

    def read(self, start, stop):
        try:
            distributed.get_worker()
        except ValueError:
            raise AssertionError(f"rows {start}:{stop} were read on the client") from None
        return super().read(start, stop)


def test_rows_never_pass_through_the_client(client, data):
    source = ClientMustNotRead(data["npy"])
    with pytest.raises(AssertionError, match="read on the client"):
        _gaussian(init_params="k-means++").fit(source)  # the guard works
    local = _gaussian(init_params="k-means++").fit(data["npy"])
    progress = []
    model = _gaussian(init_params="k-means++", callbacks=[lambda m, logs: progress.append(logs["rows"])])
    assert _same_gaussian(model.fit(source, client=client), local)
    assert progress == [len(data["X"])] * 4
    km = ss.KMeans(3, random_state=0, max_iter=3).fit(source, client=client)
    assert np.array_equal(km.cluster_centers_, ss.KMeans(3, random_state=0, max_iter=3).fit(data["npy"]).cluster_centers_)
    # The default start (k-means on the sample, then one pass assigning every row) reads on the workers too.
    assert _same_gaussian(_gaussian().fit(source, client=client), _gaussian().fit(data["npy"]))


def test_in_memory_arrays_and_streams_are_refused(client, data):
    with pytest.raises(TypeError, match="numpy.save"):
        _gaussian().fit(data["X"], client=client)
    with pytest.raises(TypeError, match="Client"):
        _gaussian().fit(data["npy"], client="tcp://scheduler:8786")


def test_a_bad_row_raises_the_local_error_and_the_model_is_untouched(client, data, tmp_path):
    X = data["X"].copy()
    X[[33_000, 50_000], 1] = np.nan
    np.save(tmp_path / "bad.npy", X)
    given = dict(weights_init=[1 / 3] * 3, means_init=[[0.0] * 3, [4.0] * 3, [8.0] * 3], precisions_init=[np.eye(3)] * 3)
    with pytest.raises(ValueError) as local:
        _gaussian(**given).fit(tmp_path / "bad.npy")
    model = _gaussian(**given)
    with pytest.raises(ValueError) as remote:
        model.fit(str(tmp_path / "bad.npy"), client=DaskAccumulation(client, 1))
    assert str(remote.value) == str(local.value) and "33000" in str(remote.value)
    assert not hasattr(model, "means_")


class InterruptAfter(DaskAccumulation):
    """Ctrl-C on the client after ``chunks`` task results of the second epoch were added."""

    def __init__(self, client, chunks, **kw):
        super().__init__(client, **kw)
        self.epochs, self.chunks = 0, chunks

    def accumulate(self, model, source, ranges, sample_weight, acc=None, on_batch=None, on_chunk=None):
        self.epochs += 1
        seen = []

        def interrupting(acc, rows):
            on_chunk(acc, rows)
            seen.append(rows)
            if self.epochs == 2 and len(seen) == self.chunks:
                raise KeyboardInterrupt

        return super().accumulate(model, source, ranges, sample_weight, acc, on_batch, interrupting)


def test_an_interrupted_client_resumes_from_its_checkpoint(client, data, tmp_path):
    local = _gaussian(init_params="k-means++").fit(data["npy"])
    checkpoint = tmp_path / "fit.ckpt"
    with pytest.raises(KeyboardInterrupt):
        _gaussian(init_params="k-means++").fit(data["npy"], checkpoint=checkpoint, checkpoint_every=1,
                                               client=InterruptAfter(client, 3, blocks_per_task=2))
    resumed = _gaussian(init_params="k-means++").fit(data["npy"], checkpoint=checkpoint, checkpoint_every=1,
                                                     client=DaskAccumulation(client, blocks_per_task=4))
    assert _same_gaussian(resumed, local)


def test_statistics_values_travel_through_dask_and_add_up(client, data):
    """A user's own loop: statistics of chunks mapped on the cluster, summed, absorbed."""
    model = _gaussian(max_iter=1).fit(data["npy"])
    X = data["X"]
    chunks = [X[i:i + 8192] for i in range(0, len(X), 8192)]
    values = client.gather(client.map(model.statistics, chunks))
    assert pickle.loads(pickle.dumps(values[0])) == values[0]
    model.absorb(sum(values[1:], values[0]))
    expected = _gaussian(max_iter=1).fit(data["npy"])
    expected.absorb(expected.statistics(X))
    assert model.pending.allclose(expected.pending)
    model.from_summaries()


@pytest.mark.slow
def test_a_worker_killed_mid_epoch_changes_nothing(data):
    """Three worker processes; one is SIGKILLed while it runs a task; the fit is still the local one."""
    local = _gaussian(max_iter=6).fit(data["npy"])
    with distributed.LocalCluster(n_workers=3, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        pids = c.run(os.getpid)
        killed = []

        def kill_one_busy_worker():
            deadline = time.time() + 60
            while time.time() < deadline and not killed:
                for worker, keys in c.processing().items():
                    if any(str(k).startswith("suffstats-accumulate") for k in keys) and worker in pids:
                        os.kill(pids[worker], signal.SIGKILL)
                        killed.append(worker)
                        break
                time.sleep(0.002)

        killer = threading.Thread(target=kill_one_busy_worker, daemon=True)
        killer.start()
        # On a loaded machine a whole fit may end before the killer sees a task running: fit again (every fit
        # must be the local one) until a worker has been killed during one.
        for _ in range(5):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted = _gaussian(max_iter=6).fit(data["npy"], client=DaskAccumulation(c, blocks_per_task=1))
            assert _same_gaussian(fitted, local)
            if killed:
                break
        killer.join()
    assert killed, "no worker was killed during five fits"


@pytest.mark.parametrize("held_out", [None, 0.2])
def test_search_is_the_local_search_bit_for_bit(client, data, held_out):
    def search():
        return ss.GaussianMixtureSearch(n_components=[1, 2, 3], covariance_type=["full", "diag"], random_state=0,
                                        max_iter=3, tol=0, validation_fraction=held_out)

    local = search().fit(data["npy"])
    for c in (client, DaskAccumulation(client, blocks_per_task=2)):
        remote = search().fit(data["npy"], client=c)
        assert remote.results_ == local.results_
        for a, b in zip(remote.candidates_, local.candidates_):
            assert _same_gaussian(a, b)


def test_distributions_fit_on_the_cluster_bit_for_bit(client, data):
    """Blocks are computed around the first block's shift: the cluster settles that block first."""
    for model, path in ((ss.MultivariateNormal, data["npy"]), (ss.Normal, data["column"])):
        local = model().fit(path, batch_size=5000)
        for c in (client, DaskAccumulation(client, blocks_per_task=2)):
            assert model().fit(path, client=c).to_dict() == local.to_dict()
    X = da.from_array(data["X"], chunks=(16384, 3))
    assert ss.MultivariateNormal().fit(X, client=client).to_dict() == ss.MultivariateNormal().fit(data["X"]).to_dict()
def test_fits_with_missing_values_are_the_local_fit(client, one_worker, data, tmp_path):
    X = data["X"].copy()
    X[np.random.default_rng(2).random(X.shape) < 0.2] = np.nan
    X[7] = np.nan  # a row with nothing observed
    np.save(tmp_path / "holes.npy", X)
    path = str(tmp_path / "holes.npy")
    local = _gaussian(missing="marginalize").fit(path)
    for c in (one_worker, DaskAccumulation(client, blocks_per_task=2)):
        assert _same_gaussian(_gaussian(missing="marginalize").fit(path, client=c), local)

    def general():
        return ss.GeneralMixtureModel([ss.MultivariateNormal() for _ in range(3)], random_state=0, max_iter=3, tol=0,
                                      missing="marginalize")

    local = general().fit(path)
    assert general().fit(path, client=DaskAccumulation(client, blocks_per_task=4)).to_dict() == local.to_dict()


@pytest.mark.parametrize("structure, algorithm", [(((), (0,), (0, 1), (2,)), None), (None, "chow-liu")])
def test_bayesian_network_tables_are_the_local_fit_bit_for_bit(client, one_worker, tmp_path, structure, algorithm):
    rng = np.random.default_rng(3)
    X = rng.integers(0, 3, size=(200_003, 4)).astype(np.int8)
    X[:, 1] = (X[:, 0] + (rng.random(len(X)) < 0.2)) % 3
    path = tmp_path / "codes.npy"
    np.save(path, X)
    w = rng.random(len(X))
    for weights in (None, w):
        local = ss.BayesianNetwork(structure, algorithm, n_categories=3).fit(path, weights, batch_size=30_000)
        for c in (one_worker, client, DaskAccumulation(client, blocks_per_task=2)):
            model = ss.BayesianNetwork(structure, algorithm, n_categories=3).fit(path, weights, client=c)
            assert model.structure_ == local.structure_
            assert all(np.array_equal(a, b) for a, b in zip(model.cpts_, local.cpts_))
            assert model.to_dict() == local.to_dict()


@pytest.mark.parametrize("k", [1, 3])
def test_markov_chain_is_the_local_fit_bit_for_bit(client, one_worker, tmp_path, k):
    rng = np.random.default_rng(4)
    lengths = rng.integers(1, 9, 30_000)  # sequences crossing every task's first row
    lengths[100] = 70_000  # and one spanning several tasks
    x = rng.integers(0, 4, int(lengths.sum())).astype(np.int8)
    path = tmp_path / "chain.npy"
    np.save(path, x)
    w = rng.random(x.size)
    for lens, weights in ((lengths, None), (lengths, w), (None, w)):
        local = ss.MarkovChain(k, n_categories=4).fit(path, lens, weights)
        for c in (one_worker, client, DaskAccumulation(client, blocks_per_task=2)):
            assert ss.MarkovChain(k, n_categories=4).fit(path, lens, weights, client=c).to_dict() == local.to_dict()
    x[123_456] = 7
    np.save(path, x)
    with pytest.raises(ValueError, match="row 123456"):
        ss.MarkovChain(k, n_categories=4).fit(path, lengths, client=client)


def test_bayesian_mixture_is_the_local_fit_bit_for_bit(client, data):
    """The priors' pass, the initialisation pass and every epoch run on the workers; the fit is the local one."""
    def fit(**kw):
        return ss.BayesianGaussianMixture(n_components=5, random_state=0, max_iter=4, tol=0).fit(data["npy"], **kw)

    local, remote = fit(), fit(client=DaskAccumulation(client, blocks_per_task=2))
    for name in ("weights_", "means_", "covariances_", "mean_prior_", "covariance_prior_", "mean_precision_"):
        assert np.array_equal(getattr(local, name), getattr(remote, name)), name
    assert local.lower_bounds_ == remote.lower_bounds_
