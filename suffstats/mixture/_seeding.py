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
        from sklearn.cluster import kmeans_plusplus  # imported when used: sklearn.cluster takes ~0.1 s to import

        seed = int(rng.integers(np.iinfo(np.int32).max))
        centers, _ = kmeans_plusplus(X, k, sample_weight=w, random_state=seed)
        return centers
    if method == "random_from_data":
        candidates = np.flatnonzero(w > 0) if w is not None else np.arange(X.shape[0])
        return X[np.sort(rng.choice(candidates, size=k, replace=False))]
    if method == "first-k":
        return np.asarray(source.read(0, k), dtype=np.float64)
    raise ValueError(f"init must be one of {list(SEED_METHODS)}; got {method!r}")
