"""Rows with holes in a Gaussian mixture (``missing="marginalize"``): one block split in two, and the start.

A block without NaN goes through the backend's kernel unchanged -- the same
call, hence the same bits and the same speed as with ``missing="error"``. A
block with holes is split: its complete rows through the backend's kernel,
its incomplete rows through :mod:`suffstats.backends.gaussian_missing`
(marginal log-densities and conditional expected moments), and the two sums
are added; when complete rows are few (an eighth of the block or less, as
with holes spread at random over many columns) and no row is entirely
missing, the whole block takes the missing-value pass, without copies. The
split depends only on the block's rows, so the total is the same for every
batch size, thread count or worker.

A row with every value missing carries no information about the parameters:
it is given zero weight (it adds nothing to any statistic, nor to the row
count of the mean log-likelihood).

The initialisation works on rows with holes filled: the sample's holes by the
sample's column means (a column with no value in the sample is refused; a
:class:`~suffstats.GeneralMixtureModel` takes a random observed value of the
column instead, a value of any family's support), and
in the ``kmeans`` pass over all rows each row's holes by the coordinates of
its nearest centre measured on its observed coordinates.
"""

from __future__ import annotations

import numpy as np

from ..backends.gaussian_missing import incomplete_block, incomplete_log_prob
from ..backends.gaussian_missing_kernels import hole_counts

__all__ = ["marginal_block", "marginal_log_prob", "fill_sample", "fill_nearest", "zero_block"]


def zero_block(k, d, layout):
    """The statistics of no rows, in the block layout."""
    second = {"full": np.zeros((k, d, d)), "diag": np.zeros((k, d)), "trace": np.zeros(k)}[layout]
    return 0.0, 0.0, np.zeros(k), np.zeros((k, d)), second


def marginal_block(kernel, X, w, means, prec_chol, log_weights, covariance_type, layout):
    """Statistics of one block with holes: complete rows by ``kernel(X, w)``, incomplete ones by expectation.

    A block whose complete rows are an eighth or less (and none entirely missing) goes whole to the expectation.
    """
    count = hole_counts(X) if X.dtype == np.float64 and X.ndim == 2 else np.isnan(X).sum(axis=1)
    if not count.any():
        return kernel(X, w)
    complete, partial = count == 0, (count > 0) & (count < X.shape[1])
    if 8 * int(np.count_nonzero(complete)) <= X.shape[0] and not (count == X.shape[1]).any():
        # Holes spread at random leave few complete rows: the whole block in one pass, no copy of it
        # (a row without holes is the same formulas with nothing to integrate out).
        return incomplete_block(X, w, means, prec_chol, log_weights, covariance_type)
    total = zero_block(means.shape[0], X.shape[1], layout)
    if complete.any():
        total = _add(total, kernel(X[complete], None if w is None else w[complete]))
    if partial.any():
        total = _add(total, incomplete_block(X[partial], None if w is None else w[partial], means, prec_chol,
                                             log_weights, covariance_type))
    return total


def _add(a, b):
    return tuple(x + np.asarray(y) for x, y in zip(a, b))


def marginal_log_prob(complete_log_prob, X, means, prec_chol, log_weights, covariance_type):
    """``log π_j + log N(x_o | μ_jo, Σ_j,oo)`` of each row (n, k); complete rows by ``complete_log_prob(X)``.

    A row with every value missing gets ``log π_j`` (its marginal density is 1).
    """
    holes = np.isnan(X).any(axis=1)
    if not holes.any():
        return complete_log_prob(X)
    out = np.empty((X.shape[0], means.shape[0]))
    if (~holes).any():
        out[~holes] = complete_log_prob(X[~holes])
    out[holes] = incomplete_log_prob(X[holes], means, prec_chol, covariance_type) + log_weights
    out[np.isnan(X).all(axis=1)] = log_weights  # exactly: the marginal density of nothing observed is 1
    return out


def fill_sample(X, w, rng=None):
    """The initialisation sample with holes filled by its column means; rows with no value get weight 0.

    With ``rng``, each hole takes instead the value of a random observed row of its column (a value of the
    column's support, for families with a discrete or bounded one).
    """
    holes = np.isnan(X)
    if not holes.any():
        return X, w
    empty = holes.all(axis=0)
    if empty.any():
        raise ValueError(f"column {int(np.argmax(empty))} has no observed value in the {X.shape[0]} rows sampled "
                         "for initialisation: a feature that is never observed cannot be estimated")
    weights = np.ones(X.shape[0]) if w is None else np.array(w, dtype=np.float64)
    weights[holes.all(axis=1)] = 0.0
    if rng is not None:
        filled = X.copy()
        for column in np.flatnonzero(holes.any(axis=0)):
            observed = X[~holes[:, column], column]
            filled[holes[:, column], column] = observed[rng.integers(observed.size, size=int(holes[:, column].sum()))]
        return filled, weights
    means = np.nansum(np.where(holes, 0.0, X) * weights[:, None], axis=0) / np.maximum(
        ((~holes) * weights[:, None]).sum(axis=0), np.finfo(float).tiny)
    return np.where(holes, means, X), weights


def fill_nearest(X, w, centers):
    """Rows with each hole filled by the coordinate of the row's nearest centre (distance over observed values).

    Rows with every value missing get weight 0. Returns ``(X, w)`` unchanged when there is no hole.
    """
    holes = np.isnan(X)
    if not holes.any():
        return X, w
    Z = np.where(holes, 0.0, X)
    observed = (~holes).astype(np.float64)
    # Σ_o (x - c)² = Σ_o x² - 2 Σ_o x c + Σ_o c², computed per centre without cancellation worries for a start.
    dist = np.stack([np.sum(observed * (Z - c) ** 2, axis=1) for c in centers], axis=1)
    nearest = np.argmin(dist, axis=1)
    filled = np.where(holes, centers[nearest], X)
    weights = np.ones(X.shape[0]) if w is None else np.array(w, dtype=np.float64)
    weights[holes.all(axis=1)] = 0.0
    return filled, weights
