"""Reference kernels in plain numpy: one block of rows in, that block's statistics out.

These define correctness; faster backends must agree with them. Inputs are
trusted (validated at the public boundary). Every statistic is accumulated in
float64 around a fixed shift per component -- the current mean or centre -- so
that no large offset is ever squared.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from ..statistics import LAYOUTS, second_moment



def weighted_log_prob(X, means, prec_chol, log_weights, cov, dtype=np.float64):
    """``log π_j + log N(x | μ_j, Σ_j)`` for each row and component, shape (n, k)."""
    return cov.log_prob(np.asarray(X, dtype=np.float64), means, prec_chol) + log_weights


def gaussian_block(X, w, means, prec_chol, log_weights, cov, dtype=np.float64):
    """Fused E-step and accumulation for one block of a Gaussian mixture.

    The reference always computes in float64 (``dtype`` is accepted for a
    common signature).

    Parameters
    ----------
    X : ndarray (n, d)
    w : ndarray (n,) or None
    means : ndarray (k, d)
        Current means, also the shifts of the accumulated moments.
    prec_chol, log_weights, cov
        Current precision Cholesky factors, log mixture weights and the
        covariance strategy.

    Returns
    -------
    weight, log_likelihood : float
        ``Σw`` and ``Σw·log p(x)``.
    resp : ndarray (k,)
        ``Σw·r_j``.
    first : ndarray (k, d)
        ``Σw·r_j·(x - μ_j)``.
    second : ndarray (k, d, d) or (k, d)
        ``Σw·r_j·(x - μ_j)(x - μ_j)ᵀ`` in the covariance type's layout (k, d, d), (k, d) or (k,).
    """
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    k = means.shape[0]
    log_prob = weighted_log_prob(X, means, prec_chol, log_weights, cov)
    log_norm = logsumexp(log_prob, axis=1)
    resp = np.exp(log_prob - log_norm[:, None])
    if w is not None:
        resp *= w[:, None]
    first = np.empty((k, d))
    second = np.empty((k, d, d)[: 1 + LAYOUTS[cov.layout]])
    for j in range(k):
        Z = X - means[j]
        wZ = Z * resp[:, j, None]
        first[j] = wZ.sum(axis=0)
        second[j] = second_moment(wZ, Z, cov.layout)
    weight = float(n) if w is None else float(w.sum())
    log_likelihood = float(log_norm.sum() if w is None else w @ log_norm)
    return weight, log_likelihood, resp.sum(axis=0), first, second


def squared_distances(X, centers):
    """Squared Euclidean distance of each row to each centre, shape (n, k), without cancellation."""
    X = np.asarray(X, dtype=np.float64)
    return np.stack([np.einsum("ij,ij->i", X - c, X - c) for c in centers], axis=1)


def nearest_block(X, w, centers, second=None):
    """Hard-assignment statistics of one block: each row to its nearest centre.

    Returns ``weight``, ``Σw·min distance²``, per-centre ``Σw`` (k,),
    ``Σw(x - c_j)`` (k, d) and, when ``second`` is a layout (``"full"``,
    ``"diag"`` or ``"trace"``), ``Σw(x - c_j)(x - c_j)ᵀ`` in it, else ``None``.
    """
    X = np.asarray(X, dtype=np.float64)
    dist = squared_distances(X, centers)
    labels = np.argmin(dist, axis=1)
    ww = np.ones(X.shape[0]) if w is None else w
    k, d = centers.shape
    counts = np.bincount(labels, weights=ww, minlength=k).astype(np.float64)
    first = np.zeros((k, d))
    out_second = None if second is None else np.zeros((k, d, d)[: 1 + LAYOUTS[second]])
    for j in range(k):
        rows = labels == j
        if not rows.any():
            continue
        Z = X[rows] - centers[j]
        wZ = Z * ww[rows, None]
        first[j] = wZ.sum(axis=0)
        if second is not None:
            out_second[j] = second_moment(wZ, Z, second)
    inertia = float(ww @ dist[np.arange(X.shape[0]), labels])
    return float(ww.sum()), inertia, counts, first, out_second
