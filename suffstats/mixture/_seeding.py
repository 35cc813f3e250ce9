"""Seeds for k-means and mixtures: a uniform sample of rows and centres chosen on it.

The names of the initialisation methods live here, once; the parameter
constraints, the CLI's choices and the documentation read them from here.
"""

from __future__ import annotations

import numpy as np

from .._validation import first_bad_row

#: ``init_params`` of the mixtures (see :mod:`suffstats.mixture._initialize`).
INIT_METHODS = ("kmeans", "kmeans_full", "k-means++", "random", "random_from_data", "first-k")
#: String ``init`` values of :class:`~suffstats.KMeans` (an array of centres is also accepted).
SEED_METHODS = ("k-means++", "random_from_data", "first-k")


def draw_sample(source, sample_weight, size, rng, validate=None):
    """A seeded uniform sample of rows as float64, with its weights (or None).

    With ``validate(X, w, row_offset) -> (X, w)`` (a model's batch check) the
    sample is checked, and a refused row is named by its row in the data, not
    in the sample.
    """
    rows = source.sample_indices(size, rng)
    X = np.asarray(source.take(rows), dtype=np.float64)
    w = None if sample_weight is None else np.asarray(sample_weight[rows], dtype=np.float64)
    if validate is None:
        return X, w
    try:
        return validate(X, w, 0)
    except ValueError:
        pass
    # The first refused row of the sample (refusal is a prefix property), checked again as the data's row.
    def refused(stop):
        try:
            validate(X[:stop], None if w is None else w[:stop], 0)
        except ValueError:
            return True
        return False

    i = first_bad_row(lambda start, stop: stop, X.shape[0], refused)
    validate(X[i:i + 1], None if w is None else w[i:i + 1], int(rows[i]))
    raise AssertionError("a sample refused as a whole passed row by row")  # pragma: no cover


def seed_centers(method, X, w, k, rng, source=None):
    """Initial centres for a hard-assignment method, from the sample ``X``."""
    if method == "k-means++":
        return kmeans_plusplus(X, k, w, rng)
    if method == "random_from_data":
        candidates = np.flatnonzero(w > 0) if w is not None else np.arange(X.shape[0])
        return X[np.sort(rng.choice(candidates, size=k, replace=False))]
    if method == "first-k":
        return np.asarray(source.read(0, k), dtype=np.float64)
    raise ValueError(f"init must be one of {list(SEED_METHODS)}; got {method!r}")


def kmeans_plusplus(X, k, w, rng):
    """``k`` centres chosen among the rows of ``X`` by greedy k-means++ (Arthur and Vassilvitskii, 2007).

    The first centre is a row drawn with probability proportional to its weight;
    each next one is the best, by the weighted sum of squared distances to the
    nearest centre, of ``2 + ⌊ln k⌋`` rows drawn with probability proportional
    to weight times squared distance to the nearest centre so far (scikit-learn's
    variant). Distances are summed coordinate by coordinate, exactly as written.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [10.0, 10.0], [10.1, 10.0]])
    >>> centres = kmeans_plusplus(X, 2, None, np.random.default_rng(0))
    >>> sorted(round(float(c[0])) for c in centres)
    [0, 10]
    """
    n = X.shape[0]
    w = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    if not w.sum() > 0:
        raise ValueError(f"the {n} rows sampled to seed k-means++ all have sample_weight 0; give more rows a "
                         "positive weight, or a larger init_sample_size")
    # Draws come from a legacy RandomState seeded from ``rng`` in the order scikit-learn's
    # kmeans_plusplus makes them, so a given random_state seeds the same centres as before.
    draws = np.random.RandomState(int(rng.integers(np.iinfo(np.int32).max)))
    trials = 2 + int(np.log(k))
    centers = np.empty((k, X.shape[1]))
    first = draws.choice(n, p=w / w.sum())
    centers[0] = X[first]
    closest = _squared_distances(X, X[first])
    for c in range(1, k):
        cumulative = np.cumsum(w * closest)
        candidates = np.searchsorted(cumulative, draws.uniform(size=trials) * float(closest @ w))
        candidates = np.minimum(candidates, n - 1)
        best, best_potential, best_closest = -1, np.inf, None
        for row in candidates:
            nearest = np.minimum(closest, _squared_distances(X, X[row]))
            potential = float(nearest @ w)
            if potential < best_potential:
                best, best_potential, best_closest = row, potential, nearest
        centers[c], closest = X[best], best_closest
    return centers


def _squared_distances(X, centre):
    """Squared Euclidean distance of every row of ``X`` to ``centre``, summed coordinate by coordinate in order.

    One compiled pass (no ``X - centre`` of the sample's size), called for every k-means++ trial.
    """
    from ..backends.numba_fused import _sq_dist

    out = np.empty((X.shape[0], 1))
    _sq_dist(np.ascontiguousarray(X, dtype=np.float64), np.ascontiguousarray(centre, dtype=np.float64)[None], out)
    return out[:, 0]
