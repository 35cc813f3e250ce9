"""GaussianMixture: batch-size independence, scikit-learn equality, EM invariants."""

import warnings

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import suffstats as ss
from suffstats.fit.driver import effective_inertia

from .sources import Counting
from .tolerance import assert_close

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
PARAMS = ["weights_", "means_", "covariances_", "precisions_cholesky_"]


def _fit(X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=Warning)
        return ss.GaussianMixture(**kwargs).fit(X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_bit_identical_across_batch_sizes_on_a_memory_map(blobs_memmap, covariance_type):
    kwargs = dict(n_components=4, covariance_type=covariance_type, max_iter=4, tol=0, random_state=1)
    reference = _fit(blobs_memmap, **kwargs)
    for batch_size in (4096, 5000, 1237, 97, 10_006):
        batched = _fit(blobs_memmap, batch_size=batch_size, **kwargs)
        for name in PARAMS + ["lower_bounds_"]:
            assert np.array_equal(getattr(batched, name), getattr(reference, name)), (batch_size, name)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_equals_scikit_learn_from_the_same_initialisation(blobs_memmap, covariance_type):
    X = np.asarray(blobs_memmap)
    start = SkGaussianMixture(4, covariance_type=covariance_type, max_iter=1, random_state=0).fit(X)
    kwargs = dict(covariance_type=covariance_type, weights_init=start.weights_, means_init=start.means_,
                  precisions_init=start.precisions_, max_iter=6, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = ss.GaussianMixture(4, batch_size=3000, **kwargs).fit(blobs_memmap)
        theirs = SkGaussianMixture(4, **kwargs).fit(X)
    for name in PARAMS + ["precisions_", "lower_bound_"]:
        assert_close(getattr(ours, name), getattr(theirs, name), rtol=1e-7, err_msg=name)
    assert_close(ours.score_samples(blobs_memmap), theirs.score_samples(X), rtol=1e-10)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(ours.bic(X), theirs.bic(X), rtol=1e-10)
    np.testing.assert_allclose(ours.aic(X), theirs.aic(X), rtol=1e-10)
    assert ours.n_iter_ == theirs.n_iter_


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_likelihood_never_decreases_in_exact_mode(blobs_memmap, covariance_type):
    model = _fit(blobs_memmap, n_components=5, covariance_type=covariance_type, max_iter=30, tol=0,
                 init_params="random", random_state=0, batch_size=2000)
    assert len(model.lower_bounds_) == 30
    assert np.all(np.diff(model.lower_bounds_) >= -1e-10)


def test_fit_equals_the_user_written_loop(blobs_memmap):
    start = _fit(blobs_memmap, n_components=4, random_state=3, max_iter=0)
    init = dict(n_components=4, weights_init=start.weights_, means_init=start.means_,
                precisions_init=start.precisions_, tol=0)
    fitted = _fit(blobs_memmap, max_iter=5, **init)
    model = _fit(blobs_memmap, max_iter=0, **init)
    for _ in range(5):
        for i in range(0, blobs_memmap.shape[0], 8192):  # batches on block boundaries: bit for bit
            model.summarize(blobs_memmap[i : i + 8192])
        model.from_summaries()
    for name in PARAMS:
        assert np.array_equal(getattr(model, name), getattr(fitted, name)), name


def test_user_loop_with_any_batches_and_merged_values(blobs_memmap):
    model = _fit(blobs_memmap, n_components=4, random_state=3, max_iter=0)
    other = _fit(blobs_memmap, n_components=4, random_state=3, max_iter=0)
    for i in range(0, blobs_memmap.shape[0], 999):
        model.summarize(blobs_memmap[i : i + 999])
    halves = [other.statistics(blobs_memmap[:5000]), other.statistics(blobs_memmap[5000:])]
    other.absorb(ss.Statistics.from_dict(sum(halves).to_dict()))
    model.from_summaries()
    other.from_summaries()
    for name in PARAMS:
        assert_close(getattr(model, name), getattr(other, name), rtol=1e-11)


def test_batches_per_epoch_cycles_through_all_rows():
    X = np.arange(1000, dtype=float).reshape(-1, 1)
    seen = []

    class Recording(ss.data.ArraySource):
        def read(self, start, stop):
            seen.append((start, stop))
            return super().read(start, stop)

    _fit(Recording(X), n_components=2, batch_size=100, batches_per_epoch=3, max_iter=4, tol=0,
         init_params="random_from_data", random_state=0)
    assert seen == [(i % 10 * 100, i % 10 * 100 + 100) for i in range(12)]


def test_minibatch_updates_use_the_step_size():
    assert effective_inertia(0.0, 0.0, 5) == 0.0
    assert effective_inertia(0.3, 0.0, 5) == pytest.approx(0.3)
    assert effective_inertia(0.0, 0.5, 2) == pytest.approx(1 - 4**-0.5)


def test_max_iter_zero_keeps_the_initialisation(blobs_memmap):
    model = _fit(blobs_memmap, n_components=3, max_iter=0, random_state=0)
    assert model.n_iter_ == 0 and model.lower_bounds_ == [] and model.lower_bound_ == -np.inf
    assert np.isfinite(model.means_).all()


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data", "first-k"])
def test_initialisation_does_not_depend_on_batch_size(blobs_memmap, init_params):
    kwargs = dict(n_components=4, init_params=init_params, max_iter=0, random_state=7, init_sample_size=3000)
    a, b = _fit(blobs_memmap, **kwargs), _fit(blobs_memmap, batch_size=1000, **kwargs)
    assert np.array_equal(a.means_, b.means_) and np.array_equal(a.covariances_, b.covariances_)


def test_n_init_keeps_the_best_run(blobs_memmap):
    runs = [_fit(blobs_memmap, n_components=4, init_params="random", max_iter=3, random_state=s) for s in range(3)]
    best = _fit(blobs_memmap, n_components=4, init_params="random", max_iter=3, n_init=3, random_state=0)
    assert best.lower_bound_ >= max(r.lower_bound_ for r in runs[:1])


def test_warm_start_continues_from_the_current_parameters(blobs_memmap):
    two = _fit(blobs_memmap, n_components=4, max_iter=4, tol=0, random_state=0)
    model = _fit(blobs_memmap, n_components=4, max_iter=2, tol=0, random_state=0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(blobs_memmap)
    assert np.array_equal(model.means_, two.means_)


def test_verbose_and_callbacks(blobs_memmap, capsys):
    logs = []
    _fit(blobs_memmap, n_components=2, max_iter=3, tol=0, verbose=2, verbose_interval=1,
         callbacks=[lambda model, log: logs.append(log)], random_state=0)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert len(lines) == 3 and "improvement" in lines[0] and "log-likelihood" in lines[0]
    assert [log["epoch"] for log in logs] == [1, 2, 3]
    assert all(log["rows"] == blobs_memmap.shape[0] for log in logs)


def test_interrupt_leaves_the_last_completed_epoch(blobs_memmap):
    reads = {"n": 0}

    class Interrupting(ss.data.ArraySource):
        def read(self, start, stop):
            reads["n"] += 1
            if reads["n"] == 2 * 3 + 2:  # in the third epoch (3 batches per epoch)
                raise KeyboardInterrupt
            return super().read(start, stop)

    start = _fit(blobs_memmap, n_components=4, max_iter=0, random_state=0, init_params="k-means++")
    init = dict(n_components=4, weights_init=start.weights_, means_init=start.means_,
                precisions_init=start.precisions_, tol=0, batch_size=4096)
    model = ss.GaussianMixture(max_iter=10, **init)
    with pytest.raises(KeyboardInterrupt):
        model.fit(Interrupting(blobs_memmap))
    two_epochs = _fit(blobs_memmap, max_iter=2, **init)
    assert np.array_equal(model.means_, two_epochs.means_)


def test_nan_in_the_middle_of_a_memory_map_names_the_global_row(tmp_path):
    X = np.lib.format.open_memmap(tmp_path / "bad.npy", mode="w+", dtype=np.float64, shape=(5000, 2))
    X[:] = np.random.default_rng(0).normal(size=X.shape)
    X[3217, 1] = np.nan
    X.flush()
    data = np.load(tmp_path / "bad.npy", mmap_mode="r")
    with pytest.raises(ValueError, match="row 3217, column 1"):
        ss.GaussianMixture(2, batch_size=1000, init_params="first-k").fit(data)


def test_degenerate_data_never_gives_nan():
    rng = np.random.default_rng(0)
    same = np.ones((50, 2))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        dup = ss.GaussianMixture(2, random_state=0).fit(same)
        few = ss.GaussianMixture(5, random_state=0).fit(np.repeat(rng.normal(size=(3, 2)), 20, axis=0))
        offset = ss.GaussianMixture(2, random_state=0, batch_size=500).fit(rng.normal(size=(2000, 2)) + 1e6)
    for model in (dup, few, offset):
        for name in PARAMS:
            assert np.isfinite(getattr(model, name)).all()
    np.testing.assert_allclose(offset.means_.mean(axis=0), 1e6, rtol=1e-6)


def test_component_far_from_the_data_keeps_its_parameters_with_a_warning():
    X = np.random.default_rng(0).normal(size=(500, 2))
    means = np.array([[0.0, 0.0], [1e6, 1e6]])
    model = ss.GaussianMixture(2, means_init=means, weights_init=[0.5, 0.5], precisions_init=np.array([np.eye(2)] * 2),
                               max_iter=3, tol=0)
    with pytest.warns(ss.EmptyComponentWarning, match=r"components \[1\] received no mass"):
        model.fit(X)
    assert np.array_equal(model.means_[1], means[1])
    assert np.isfinite(model.covariances_).all() and np.isfinite(model.weights_).all()


def test_peak_memory_grows_with_batch_size_not_with_the_file(tmp_path):
    import tracemalloc

    n, d, batch = 400_000, 8, 10_000
    X = np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", dtype=np.float64, shape=(n, d))
    for i in range(0, n, 50_000):
        X[i : i + 50_000] = np.random.default_rng(i).normal(size=(50_000, d))
    X.flush()
    del X
    data = np.load(tmp_path / "big.npy", mmap_mode="r")
    model = ss.GaussianMixture(3, batch_size=batch, max_iter=2, tol=0, init_params="k-means++",
                               init_sample_size=5000, random_state=0)
    tracemalloc.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    file_bytes, batch_bytes = n * d * 8, batch * d * 8
    assert peak < 8 * batch_bytes, (peak, batch_bytes)
    assert peak < file_bytes / 4


@pytest.mark.parametrize("kwargs, pattern", [
    ({"n_components": 0}, "n_components must be an integer >= 1"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1"),
    ({"batch_size": 2.5}, "batch_size must be an integer >= 1"),
    ({"covariance_type": "banana"}, "covariance_type must be one of"),
    ({"init_params": "median"}, "init_params must be one of"),
    ({"inertia": 2.0}, r"inertia must be a number in \[0, 1\]"),
    ({"n_components": 50}, "n_components = 50, n_samples = 20"),
    ({"weights_init": [0.2, 0.2]}, r"The parameter 'weights' should be normalized, but got sum\(weights\) = 0.40000"),
])
def test_bad_settings_are_refused(kwargs, pattern):
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match=pattern):
        ss.GaussianMixture(**{"n_components": 2, **kwargs}).fit(X)


def test_sample_weight_length_is_checked():
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match=r"sample_weight has shape \(19,\); expected \(20,\)"):
        ss.GaussianMixture(2).fit(X, sample_weight=np.ones(19))


def test_integer_weights_equal_repeated_rows(blobs_memmap):
    X = np.asarray(blobs_memmap[:3000])
    w = np.random.default_rng(0).integers(0, 3, size=3000)
    start = _fit(X, n_components=3, max_iter=0, random_state=0)
    init = dict(n_components=3, weights_init=start.weights_, means_init=start.means_,
                precisions_init=start.precisions_, max_iter=5, tol=0)
    weighted, repeated = _fit(X, **init), _fit(np.repeat(X, w, axis=0), **init)
    weighted = ss.GaussianMixture(**init).fit(X, sample_weight=w)
    for name in PARAMS:
        assert_close(getattr(weighted, name), getattr(repeated, name), rtol=1e-10)


def test_summarize_after_absorb_runs_the_e_step_at_the_current_means(blobs_memmap):
    """A value absorbed from elsewhere carries its own shifts; the E-step must still use the model's means."""
    X = np.asarray(blobs_memmap)
    model = _fit(X, n_components=4, random_state=0, max_iter=3)
    elsewhere = _fit(X, n_components=4, random_state=1, max_iter=1)  # other means, so other shifts
    model.absorb(elsewhere.statistics(X[:100]))
    log_likelihood = model.summarize(X[100:2100])
    assert log_likelihood == pytest.approx(model.score_samples(X[100:2100]).sum(), rel=1e-10)
    merged = model.pending
    direct = _fit(X, n_components=4, random_state=0, max_iter=3)
    assert merged.allclose(elsewhere.statistics(X[:100]) + direct.statistics(X[100:2100]), rtol=1e-10)


def test_a_refused_refit_leaves_the_fitted_model_unchanged(blobs_memmap):
    X = np.asarray(blobs_memmap)
    model = _fit(X, n_components=3, random_state=0, max_iter=3)
    before = {k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in vars(model).items()}
    bad = X.copy()
    bad[9000, 1] = np.nan  # a late row: found after the initialisation has run
    narrow = X[:, :2].copy()  # another number of columns, refused late as well
    narrow[9000, 0] = np.inf
    for data in (bad, narrow):
        with pytest.raises(ValueError):
            model.fit(data)
        assert vars(model).keys() == before.keys()
        for key, value in before.items():
            assert np.array_equal(getattr(model, key), value) if isinstance(value, np.ndarray) else \
                getattr(model, key) == value, key
    np.testing.assert_array_equal(model.predict(X[:10]), _fit(X, n_components=3, random_state=0, max_iter=3).predict(X[:10]))


def test_float32_data_keeps_float32_parameters_and_outputs(blobs_memmap):
    X32 = np.asarray(blobs_memmap, dtype=np.float32)
    model = _fit(X32, n_components=4, random_state=0, max_iter=5, batch_size=3000)
    for name in PARAMS + ["precisions_", "precisions_cholesky_"]:
        assert getattr(model, name).dtype == np.float32, name
    assert model.score_samples(X32).dtype == np.float32
    assert model.predict_proba(X32).dtype == np.float32
    assert model.score_samples(X32.astype(np.float64)).dtype == np.float64
    other = _fit(X32, n_components=4, random_state=0, max_iter=5, batch_size=7000)
    for name in PARAMS:  # still bit for bit across batch sizes
        assert np.array_equal(getattr(model, name), getattr(other, name)), name


def test_warm_start_detects_convergence_across_fit_calls(blobs_memmap):
    model = ss.GaussianMixture(4, warm_start=True, max_iter=1, random_state=0, tol=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for calls in range(1, 100):
            model.fit(blobs_memmap)
            if model.converged_:
                break
    assert model.converged_ and model.n_iter_ == 1 and calls > 1


@pytest.mark.parametrize("init_params, most_passes", [("kmeans", 1), ("kmeans_full", 100)])
def test_default_initialisation_reads_the_data_once(blobs_memmap, init_params, most_passes, capsys):
    """``kmeans`` runs Lloyd on the in-memory sample and needs one pass; ``kmeans_full`` iterates over all rows."""
    X = np.asarray(blobs_memmap)
    counting = Counting(X)
    model = _fit(counting, n_components=4, max_iter=0, init_params=init_params, random_state=0,
                 init_sample_size=2000, batch_size=3000, verbose=1)
    passes = counting.rows_read / X.shape[0]
    assert passes <= most_passes
    assert passes > 1 if init_params == "kmeans_full" else passes == 1
    assert "Initialization: k-means" in capsys.readouterr().out
    other = _fit(X, n_components=4, max_iter=0, init_params=init_params, random_state=0, init_sample_size=2000,
                 batch_size=5000)
    for name in PARAMS:  # the same start whatever the batch size
        assert np.array_equal(getattr(model, name), getattr(other, name)), name



ONE_BLAS_THREAD = """
import numpy as np
from threadpoolctl import threadpool_info
import suffstats.backends as backends
from suffstats.distributions.covariance import covariance_type

backends._blas_controller()  # found before SciPy is loaded, as a fit's first E-step finds it
blas_threads = lambda: max(info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas")
import scipy.linalg
seen, solve = [], scipy.linalg.solve_triangular
scipy.linalg.solve_triangular = lambda *a, **k: seen.append(blas_threads()) or solve(*a, **k)
covariance_type("full").precision_cholesky(np.stack([np.eye(3), 2.0 * np.eye(3)]))
covariance_type("tied").precision_cholesky(np.eye(3))
print(blas_threads(), seen)
"""


def test_the_covariance_factors_run_on_one_blas_thread():
    """OpenBLAS's threads made each small triangular solve take milliseconds on busy cores (issue 22).

    In a fresh process, SciPy loaded after the BLAS libraries were first found (as in a fit).
    """
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", ONE_BLAS_THREAD], capture_output=True, text=True, check=True)
    threads, seen = out.stdout.split(" ", 1)
    if int(threads) < 2:
        pytest.skip("BLAS runs on one thread here already")
    assert seen.strip() == "[1, 1, 1]"
