"""Initial statistics for mixtures, independent of the batch size.

Every method works on a seeded uniform sample of rows drawn from the whole
data (``init_sample_size`` rows; all rows when there are fewer), never on "the
first batch". ``kmeans`` additionally runs out-of-core Lloyd iterations over
all the data and assigns every row to its nearest centre.

=================  ============================================================
method             initial responsibilities
=================  ============================================================
kmeans             hard, nearest centre after k-means over all the data
k-means++          hard, nearest k-means++ seed (chosen on the sample)
random             random soft responsibilities on the sample
random_from_data   hard, nearest of k distinct sample rows
first-k            hard, nearest of the first k rows of the data
=================  ============================================================
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import kmeans_plusplus

from ..backends import get_backend
from ..data.blocks import BLOCK_ROWS
from ._moments import ComponentMoments

INIT_METHODS = ("kmeans", "k-means++", "random", "random_from_data", "first-k")


def draw_sample(source, sample_weight, size, rng):
    """A seeded uniform sample of rows as float64, with its weights (or None)."""
    rows = source.sample_indices(size, rng)
    X = np.asarray(source.take(rows), dtype=np.float64)
    return X, (None if sample_weight is None else np.asarray(sample_weight[rows], dtype=np.float64))


def seed_centers(method, X, w, k, rng, source=None):
    """Initial centres for a hard-assignment method, from the sample ``X``."""
    if method == "k-means++":
        seed = int(rng.integers(np.iinfo(np.int32).max))
        centers, _ = kmeans_plusplus(X, k, sample_weight=w, random_state=seed)
        return centers
    if method == "random_from_data":
        candidates = np.flatnonzero(w > 0) if w is not None else np.arange(X.shape[0])
        return X[np.sort(rng.choice(candidates, size=k, replace=False))]
    if method == "first-k":
        return np.asarray(source.read(0, k), dtype=np.float64)
    raise ValueError(f"init must be one of {list(INIT_METHODS)}; got {method!r}")


def hard_moments(X, w, centers, diagonal, acc=None, backend="numpy"):
    """Moments of rows assigned to their nearest centre, added block by block to ``acc``."""
    kernels = get_backend(backend)
    acc = ComponentMoments(centers, diagonal) if acc is None else acc
    second = "diag" if diagonal else "full"
    for start in range(0, X.shape[0], BLOCK_ROWS):
        stop = start + BLOCK_ROWS
        weight, inertia, counts, first, sec = kernels.nearest_block(
            X[start:stop], None if w is None else w[start:stop], acc.shifts, second)
        acc.add(weight, -inertia, counts, first, sec)
    return acc


def random_moments(X, w, k, diagonal, rng):
    """Moments of the sample under random soft responsibilities (rows normalised)."""
    resp = rng.uniform(size=(X.shape[0], k))
    resp /= resp.sum(axis=1, keepdims=True)
    if w is not None:
        resp *= w[:, None]
    shift = X[0]
    acc = ComponentMoments(np.tile(shift, (k, 1)), diagonal)
    Z = X - shift
    first = resp.T @ Z
    second = resp.T @ (Z * Z) if diagonal else np.einsum("ij,ik,il->jkl", resp, Z, Z)
    acc.add(float(resp.sum()), 0.0, resp.sum(axis=0), first, second)
    return acc
