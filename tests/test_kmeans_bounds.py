"""Distance bounds carried between k-means passes: every pass gives the bits of the full pass.

A row whose bounds settle its label skips the distances
(:mod:`suffstats.mixture._row_bounds`); these tests hold the statistics of
each pass against the same pass without bounds, bit for bit, over data made
to break the bounds' rounding: exact ties, duplicate centres, rows far from
the origin, distances near float64's subnormals, centres that jump away and
back -- and check that rows are in fact settled, so the comparison is not vacuous.
"""

import copy
import pickle

import numpy as np
import pytest

import suffstats as ss
from suffstats.backends import numba_nearest
from suffstats.mixture import _row_bounds, kmeans
from suffstats.mixture._row_bounds import RowBounds

BLOCK = 256
#: The renewal policy as shipped (the fixture below renews always, for the kernel's every path).
SHIPPED_RENEW_WHEN_SETTLED = _row_bounds.RENEW_WHEN_SETTLED


def _blobs(n, d, k, seed=0, spread=1.0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 6.0, (k, d))
    return centres[rng.integers(0, k, n)] + rng.normal(0.0, spread, (n, d))


def _lloyd_sequence(X, centres, passes):
    """The centres of ``passes`` Lloyd steps from ``centres`` (the full pass, no bounds)."""
    sequence = [centres]
    for _ in range(passes - 1):
        size = 1 << (-(-X.shape[0] // BLOCK) - 1).bit_length()
        _, _, counts, first = numba_nearest.nearest_run(X, None, sequence[-1], BLOCK, size)
        sequence.append(sequence[-1] + first / np.maximum(counts, 1.0)[:, None])
    return sequence


def _bounds_hold(X, bounds, centres):
    """Every row with bounds of this generation: ``u² ≥`` its direct distance, ``l² ≤`` every other one."""
    current = bounds.generations == bounds._carried[1]
    direct = ((X[current, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    rows = np.arange(direct.shape[0])
    labels = bounds.labels[current]
    upper, lower = bounds.upper[current], bounds.lower[current]
    assert (upper * upper * (1 + 1e-12) >= direct[rows, labels]).all()
    direct[rows, labels] = np.inf
    assert (lower * lower * (1 - 1e-12) <= direct.min(axis=1)).all()


def _passes_agree(X, sequence, run_blocks=4, w=None):
    """Each pass with carried bounds against the full pass: identical bits, and every bound kept holds.

    Returns the rows settled.
    """
    n = X.shape[0]
    bounds = RowBounds(n)
    for index, centres in enumerate(sequence):
        if index and np.isfinite(sequence[index - 1]).all() and np.abs(X).max() < 1e100:
            _bounds_hold(X, bounds, sequence[index - 1])
        carried = bounds.begin(centres)
        for start in range(0, n, run_blocks * BLOCK):
            stop = min(start + run_blocks * BLOCK, n)
            wb = None if w is None else w[start:stop]
            with np.errstate(all="ignore"):
                full = numba_nearest.nearest_run(X[start:stop], wb, centres, BLOCK, run_blocks)
                fast = numba_nearest.nearest_run(X[start:stop], wb, centres, BLOCK, run_blocks,
                                                 bounds.slices(start, stop, carried))
            for a, b in zip(full, fast):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b), strict=True)
    bounds.begin(sequence[-1] + 1.0)  # gathers the last pass's tally
    return bounds.settled


@pytest.fixture(autouse=True)
def _renew_always(monkeypatch):
    """Every row renews its bounds each pass (not only while they pay), so every path is exercised."""
    monkeypatch.setattr(_row_bounds, "RENEW_WHEN_SETTLED", 0.0)


def test_lloyd_passes_settle_rows_and_keep_every_bit():
    X = _blobs(6000, 5, 4)
    sequence = _lloyd_sequence(X, X[:4].copy(), 8)
    settled = _passes_agree(X, sequence)
    assert settled > 6000 * 3  # most rows settle once the centres stop jumping


def test_weighted_rows_keep_every_bit():
    X = _blobs(3000, 3, 3, seed=1)
    w = np.random.default_rng(1).uniform(0.0, 3.0, 3000)
    assert _passes_agree(X, _lloyd_sequence(X, X[:3].copy(), 6), w=w) > 0


def test_centres_that_jump_away_and_back_keep_every_bit():
    X = _blobs(4000, 4, 5, seed=2)
    base = _lloyd_sequence(X, X[:5].copy(), 6)[-1]
    rng = np.random.default_rng(2)
    jitter = [base + rng.normal(0.0, s, base.shape) for s in (1e-12, 1e-3, 0.0, 5.0, 1e-6)]
    sequence = [base, base, jitter[0], jitter[1], jitter[2], base, jitter[3], base, jitter[4], base[::-1].copy()]
    assert _passes_agree(X, sequence) > 0


def test_exact_ties_and_duplicate_centres_keep_every_bit():
    rng = np.random.default_rng(3)
    X = rng.integers(0, 4, (5000, 2)).astype(float)  # a grid: many rows equidistant from two centres
    centres = np.array([[0.5, 0.5], [1.5, 0.5], [0.5, 1.5], [1.5, 1.5], [1.5, 1.5], [3.0, 3.0]])
    sequence = [centres, centres, centres + 0.5, centres + 0.5, centres, centres[::-1].copy(), centres]
    assert _passes_agree(X, sequence) > 0


@pytest.mark.parametrize("tiny", [1e-9, 1e-12, 3e-15])
def test_tied_rows_follow_a_centre_that_moves_by_less_than_the_filter_can_see(tiny):
    # Rows tied between two centres change sides when one centre moves by far less than the float32
    # filter's error: bounds taken from the filter without its error bound would keep the old side.
    rng = np.random.default_rng(8)
    X = rng.integers(0, 4, (5000, 2)).astype(float) + 0.1
    centres = np.array([[0.6, 0.6], [1.6, 0.6], [0.6, 1.6], [1.6, 1.6], [3.1, 3.1]])
    sequence = [centres]
    for j in (0, 1, 2, 0, 3):
        moved = sequence[-1].copy()
        moved[j] += tiny * rng.choice([-1.0, 1.0], 2)
        sequence.append(moved)
    assert _passes_agree(X, sequence) > 0


@pytest.mark.parametrize("offset", [1e8, -3e12])
def test_rows_far_from_the_origin_keep_every_bit(offset):
    X = _blobs(3000, 3, 4, seed=4) + offset
    _passes_agree(X, _lloyd_sequence(X, X[:4].copy(), 6))


@pytest.mark.parametrize("scale", [1e-160, 1e-300, 1e150])
def test_distances_near_the_ends_of_float64_keep_every_bit(scale):
    X = _blobs(2000, 3, 3, seed=5) * scale  # squares underflow to subnormals, or overflow
    sequence = _lloyd_sequence(X, X[:3].copy(), 4) if scale < 1 else [X[:3].copy()] * 3
    _passes_agree(X, sequence)


@pytest.mark.parametrize("k", [1, 2, 64])
def test_any_number_of_centres_keeps_every_bit(k):
    X = _blobs(4000, 6, max(k, 2), seed=6)
    assert _passes_agree(X, _lloyd_sequence(X, X[:k].copy(), 6)) > 0


def _fit(X, monkeypatch, bounds, **settings):
    """A KMeans fit with or without bounds; returns the model and the bounds it used (or None)."""
    made = []

    def make(n_rows):
        made.append(RowBounds(n_rows))
        return made[-1]

    monkeypatch.setattr(kmeans, "RowBounds", make if bounds else (lambda n_rows: None))
    model = ss.KMeans(**settings).fit(X)
    return model, (made[0] if made else None)


@pytest.mark.parametrize("rows, settings", [
    (30_000, dict(n_clusters=6, init="first-k", max_iter=25, tol=0)),
    (30_000, dict(n_clusters=3, init="k-means++", n_init=3, max_iter=15, random_state=0, batch_size=1000)),
    # Many runs per batch, on both threads; past the first run only probes renew until the bounds pay.
    (150_000, dict(n_clusters=5, init="first-k", max_iter=20, tol=0, batch_size=70_000)),
])
def test_a_fit_with_bounds_is_the_fit_without(monkeypatch, rows, settings):
    monkeypatch.setattr(_row_bounds, "RENEW_WHEN_SETTLED", SHIPPED_RENEW_WHEN_SETTLED)
    X = _blobs(rows, 8, settings["n_clusters"], seed=7, spread=2.0)
    with_bounds, used = _fit(X, monkeypatch, True, **settings)
    without, none = _fit(X, monkeypatch, False, **settings)
    assert none is None and used is not None
    np.testing.assert_array_equal(with_bounds.cluster_centers_, without.cluster_centers_, strict=True)
    assert with_bounds.inertia_ == without.inertia_ and with_bounds.n_iter_ == without.n_iter_
    assert used.settled > rows  # rows did skip the distances


def test_mini_batch_epochs_keep_no_bounds(monkeypatch):
    # A row comes back only after several updates of the centres: its bounds would be stale.
    X = _blobs(20_000, 4, 3, seed=9)
    _, used = _fit(X, monkeypatch, True, n_clusters=3, max_iter=5, batches_per_epoch=2, batch_size=4096)
    assert used is None


def test_a_copy_taken_during_the_fit_leaves_the_bounds_behind(monkeypatch):
    X = _blobs(40_000, 4, 3, seed=10)
    copies, sizes = [], []

    def keep(model, logs):
        copies.append(copy.deepcopy(model))
        sizes.append(len(pickle.dumps(copies[-1].set_params(callbacks=None))))

    _, used = _fit(X, monkeypatch, True, n_clusters=3, max_iter=3, callbacks=[keep])
    assert used is not None and len(copies) == 3
    assert not any(hasattr(c, "_row_bounds") for c in copies)
    assert max(sizes) < 20_000  # the bounds alone are 960,000 bytes


def test_bounds_are_dropped_when_the_fit_ends(monkeypatch):
    X = _blobs(2000, 2, 3)
    model, used = _fit(X, monkeypatch, True, n_clusters=3, max_iter=5)
    assert used is not None and model._row_bounds is None


def test_rows_past_the_memory_given_keep_no_bounds():
    bounds = RowBounds(10_000, max_bytes=_row_bounds.BYTES_PER_ROW * 1000)
    carried = bounds.begin(np.zeros((2, 3)))
    assert bounds.rows == 1000 and bounds.slices(0, 1000, carried) is not None
    assert bounds.slices(512, 1024, carried) is None
