"""K-means through one product per block: the exact float64 nearest-centre rule, bit-identity, scikit-learn.

The reference rule is brute force: every squared distance summed over
``(x_t - c_t)²`` in column order in float64 (``np.cumsum`` sums in order), the
smallest taken, ties to the lowest index.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import suffstats as ss
from suffstats.backends import get_num_threads, numba_kernels, set_num_threads
from suffstats.backends.numba_nearest import nearest_labels, nearest_statistics


def brute_force(X, C):
    """``(labels, distances)`` by the exact rule, one row and centre at a time in column order."""
    diff = X[:, None, :] - C[None, :, :]
    with np.errstate(over="ignore", invalid="ignore"):
        d2 = np.cumsum(diff * diff, axis=2)[:, :, -1]
    labels = np.array([int(np.argmin(np.where(np.isnan(r), np.inf, r))) for r in d2])
    return labels, d2[np.arange(len(X)), labels]


def assert_exact(X, C, w=None):
    labels, distances = nearest_labels(X, C)
    want_labels, want_distances = brute_force(X, C)
    np.testing.assert_array_equal(labels, want_labels)
    np.testing.assert_array_equal(distances, want_distances)
    got, want = nearest_statistics(X, w, C), numba_kernels.nearest_block_direct(X, w, C)[:4]
    assert got[0] == want[0] and got[1] == want[1]
    np.testing.assert_array_equal(got[2], want[2])
    np.testing.assert_array_equal(got[3], want[3])
    return labels


def ties(offset, d=6, n=3000, seed=0):
    """Rows exactly halfway between pairs of centres, duplicated centres, and rows a hair off halfway."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(-8, 9, size=(5, d)).astype(float)
    centres = np.vstack([centres, centres[2]])  # a duplicate: its rows go to the lower index
    pairs = rng.integers(0, 5, size=(n, 2))
    halfway = (centres[pairs[:, 0]] + centres[pairs[:, 1]]) / 2  # exact in binary: integers / 2
    X = halfway.copy()
    X[: n // 3] += rng.choice([-1.0, 1.0], size=(n // 3, 1)) * 2.0**-40 * (centres[pairs[: n // 3, 0]]
                                                                        - centres[pairs[: n // 3, 1]])
    return X + offset, centres + offset


@pytest.mark.parametrize("offset", [0.0, 1e4, 1e8, -3e8])
def test_exact_rule_at_ties_and_far_from_the_origin(offset):
    X, C = ties(offset)
    labels = assert_exact(X, C, np.random.default_rng(1).uniform(0, 2, size=len(X)))
    assert 5 not in labels  # the duplicate of centre 2 never wins a tie
    if offset == 0.0:  # equidistant rows do occur, and go to the lower index
        d2 = ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
        tied = np.sum(d2 == d2.min(axis=1, keepdims=True), axis=1) > 1
        assert tied.sum() > 100


def test_exact_rule_where_the_product_cancels():
    """Spread 1 at 1e8 from the origin: the product's distances carry errors near 1e-3, the rule none."""
    rng = np.random.default_rng(2)
    C = 1e8 + rng.normal(size=(8, 10))
    X = C[rng.integers(0, 8, size=4096)] + rng.normal(scale=0.7, size=(4096, 10))
    # Rows on the plane halfway between two centres, up to the float64 grid (1.5e-8 apart at 1e8):
    # their two distances differ by less than the product's error, and hundreds go each way.
    u = (C[1] - C[0]) / np.linalg.norm(C[1] - C[0])
    spread = rng.normal(scale=0.5, size=(2000, 10))
    spread -= np.outer(spread @ u, u)
    X = np.vstack([X, (C[0] + C[1]) / 2 + spread])
    labels = assert_exact(X, C)
    assert min(np.sum(labels[4096:] == 0), np.sum(labels[4096:] == 1)) > 200


def test_rows_near_the_float64_limit_take_the_direct_rule():
    rng = np.random.default_rng(3)
    C = rng.normal(size=(4, 3))
    X = rng.normal(size=(64, 3))
    X[5] = [1e160, 0.0, 0.0]  # every square overflows: all distances infinite, centre 0 by the rule
    X[9] = [1e152, -1e152, 3.0]
    labels, distances = nearest_labels(X, C)
    want_labels, want_distances = brute_force(X, C)
    np.testing.assert_array_equal(labels, want_labels)
    np.testing.assert_array_equal(distances, want_distances)
    assert labels[5] == 0 and np.isinf(distances[5])


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(1, 60), d=st.integers(1, 9), k=st.integers(1, 9),
       offset=st.sampled_from([0.0, 1e6, 1e8, -1e12]))
def test_exact_rule_on_small_integer_grids(data, n, d, k, offset):
    """Small integers make exact ties common; the offset makes the product cancel."""
    values = st.integers(-3, 3)
    X = np.array(data.draw(st.lists(st.lists(values, min_size=d, max_size=d), min_size=n, max_size=n)), float)
    C = np.array(data.draw(st.lists(st.lists(values, min_size=d, max_size=d), min_size=k, max_size=k)), float)
    assert_exact(X / 2 + offset, C / 2 + offset)


def blobs(n=20_000, d=5, k=6, offset=0.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10, 10, size=(k, d))
    return offset + centres[rng.integers(0, k, n)] + 2.0 * rng.normal(size=(n, d))


def fit(X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sample_weight = kwargs.pop("sample_weight", None)
        return ss.KMeans(**{"n_clusters": 6, "random_state": 0, "max_iter": 8, "tol": 0, **kwargs}).fit(
            X, sample_weight=sample_weight)


def test_bit_identical_across_batch_sizes_threads_and_memory_maps(tmp_path):
    X = blobs(offset=1e6)
    np.save(tmp_path / "x.npy", X)
    X_map = np.load(tmp_path / "x.npy", mmap_mode="r")
    reference = fit(X)
    threads = get_num_threads()
    try:
        runs = [fit(X, batch_size=999), fit(X_map, batch_size=4096 * 3 + 1), fit(X_map)]
        set_num_threads(1)
        runs.append(fit(X, batch_size=5000))
        set_num_threads(3)
        runs.append(fit(X))
    finally:
        set_num_threads(threads)
    for run in runs:
        assert np.array_equal(run.cluster_centers_, reference.cluster_centers_)
        assert run.inertia_ == reference.inertia_


def test_same_statistics_as_the_direct_pass_over_a_whole_fit(monkeypatch):
    X = blobs(offset=-1e7)
    fast = fit(X)
    # Block by block (no run kernel), each block through the direct pass.
    monkeypatch.delattr(numba_kernels, "nearest_run")
    monkeypatch.setattr(numba_kernels, "nearest_block",
                        lambda X, w, c, layout=None: numba_kernels.nearest_block_direct(X, w, c))
    direct = fit(X)
    assert np.array_equal(fast.cluster_centers_, direct.cluster_centers_) and fast.inertia_ == direct.inertia_


@pytest.mark.parametrize("weighted", [False, True])
def test_runs_of_blocks_in_one_call_give_the_bits_of_blocks_one_by_one(monkeypatch, weighted):
    """The run kernel's sums over the block tree are those of pushing each block, at every alignment."""
    X = blobs(n=4096 * 21 + 77)
    w = np.random.default_rng(1).random(X.shape[0]) * 3 if weighted else None
    runs = [fit(X, sample_weight=w, batch_size=b) for b in (None, 4096 * 3 + 1, 4096 * 5, 999)]
    monkeypatch.delattr(numba_kernels, "nearest_run")
    blocks = fit(X, sample_weight=w)
    for run in runs:
        assert np.array_equal(run.cluster_centers_, blocks.cluster_centers_) and run.inertia_ == blocks.inertia_


@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_same_centres_as_scikit_learn_lloyd(offset):
    from sklearn.cluster import KMeans as SkKMeans

    X = blobs(n=30_000, d=7, k=10, offset=offset, seed=4)
    init = X[np.random.default_rng(5).choice(len(X), 10, replace=False)]
    ours = fit(X, n_clusters=10, init=init, max_iter=15, batch_size=7001)
    theirs = SkKMeans(10, init=init, n_init=1, max_iter=15, tol=0, algorithm="lloyd").fit(X)
    spread = np.sqrt(np.mean(np.var(X, axis=0)))
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=0, atol=1e-9 * spread)
    np.testing.assert_array_equal(ours.predict(X), theirs.labels_)
    # inertia_ is the last epoch's (before its M-step); the final centres' is -score.
    np.testing.assert_allclose(-ours.score(X), theirs.inertia_, rtol=1e-9)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("batch_size", [None, 3000])
def test_a_non_finite_value_is_refused_naming_row_and_column(bad, batch_size, tmp_path):
    X = blobs(n=10_000)
    X[8193, 3] = bad
    np.save(tmp_path / "x.npy", X)
    model = ss.KMeans(6, random_state=0, max_iter=3, batch_size=batch_size, init=X[:6])
    for data in (X, np.load(tmp_path / "x.npy", mmap_mode="r")):
        with pytest.raises(ValueError, match=r"X contains -?(nan|inf) \(NaN or infinity\) at row 8193, column 3"):
            model.fit(data)
        assert not hasattr(model, "cluster_centers_")


def test_a_non_finite_value_with_zero_weight_is_refused_too():
    X = blobs(n=5000)
    X[17, 0] = np.nan
    w = np.ones(len(X))
    w[17] = 0.0
    with pytest.raises(ValueError, match=r"at row 17, column 0"):
        ss.KMeans(6, random_state=0, max_iter=2, init=X[:6] + 1e-3).fit(X, sample_weight=w)
    with pytest.raises(ValueError, match=r"at row 17, column 0"):
        ss.KMeans(6, random_state=0).fit(np.nan_to_num(X)).summarize(X, sample_weight=w)


def test_predict_refuses_a_non_finite_value():
    X = blobs(n=3000)
    model = fit(X)
    X[2999, 1] = np.inf
    with pytest.raises(ValueError, match=r"at row 2999, column 1"):
        model.predict(X)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("k", [1, 3, 8])
def test_kmeans_plusplus_seeds_the_centres_scikit_learn_seeds_from_the_same_draws(k, weighted):
    from sklearn.cluster import kmeans_plusplus as sklearn_kmeans_plusplus

    from suffstats.mixture._seeding import kmeans_plusplus

    rng = np.random.default_rng(k)
    X = rng.normal(size=(400, 3)) * [1.0, 10.0, 0.1]
    w = rng.uniform(size=400) if weighted else None
    ours = kmeans_plusplus(X, k, w, np.random.default_rng(5))
    seed = int(np.random.default_rng(5).integers(np.iinfo(np.int32).max))
    reference, _ = sklearn_kmeans_plusplus(X, k, sample_weight=w, random_state=seed)
    np.testing.assert_array_equal(ours, reference)
