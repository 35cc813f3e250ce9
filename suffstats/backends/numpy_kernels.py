"""Reference kernels, written once against an array namespace: one block of rows in, its statistics out.

These define correctness; faster backends must agree with them. Inputs are
trusted (validated at the public boundary). Every statistic is accumulated in
float64 around a fixed shift per component -- the current mean or centre -- so
that no large offset is ever squared.

Every function finds the namespace of its input (``X.__array_namespace__()``:
NumPy here, CuPy for device arrays) and uses only what the array API
standard offers, so a device backend can call these formulas unchanged and
their logic is tested on the CPU with NumPy.
"""

from __future__ import annotations

import numpy as np

from ..data.blocks import BLOCK_ROWS
from .gaussian_math import layout_of, log_prob

__all__ = ["BLOCK_ROWS", "CONCURRENT_BLOCKS", "namespace", "logsumexp_rows", "weighted_log_prob", "gaussian_block",
           "squared_distances", "nearest_block"]

# BLOCK_ROWS (imported): rows per accumulation block; statistics are summed block by block, in order.
#: The reference computes blocks one after another.
CONCURRENT_BLOCKS = False


def namespace(x):
    """The array namespace of ``x``: its ``__array_namespace__()``, CuPy for CuPy arrays, else NumPy."""
    get = getattr(x, "__array_namespace__", None)
    if get is not None:
        return get()
    if type(x).__module__.split(".")[0] == "cupy":  # CuPy before 14 has no __array_namespace__
        import cupy

        return cupy
    return np


def _astype(xp, array, dtype):
    """``xp.astype`` where the namespace has it (the standard), else the array's method."""
    return xp.astype(array, dtype) if hasattr(xp, "astype") else array.astype(dtype)


def logsumexp_rows(xp, a):
    """Row-wise log-sum-exp in namespace ``xp``; a row whose entries are all ``-inf`` gives ``-inf``, not NaN."""
    top = xp.max(a, axis=1)
    safe = xp.where(xp.isfinite(top), top, xp.zeros_like(top))
    return xp.log(xp.sum(xp.exp(a - safe[:, None]), axis=1)) + safe


def _second_moment(xp, wZ, Z, layout):
    if layout == "full":
        return wZ.T @ Z
    diag = xp.sum(wZ * Z, axis=0)
    return diag if layout == "diag" else xp.sum(diag)


def weighted_log_prob(X, means, prec_chol, log_weights, covariance_type, dtype=np.float64):
    """``log π_j + log N(x | μ_j, Σ_j)`` for each row and component, shape (n, k).

    The reference always computes in float64 (``dtype`` is accepted for a
    common signature).
    """
    xp = namespace(X)
    return log_prob(xp.asarray(X, dtype=xp.float64), means, prec_chol, covariance_type, xp) + log_weights


def gaussian_block(X, w, means, prec_chol, log_weights, covariance_type, dtype=np.float64):
    """Fused E-step and accumulation for one block of a Gaussian mixture.

    Parameters
    ----------
    X : array (n, d)
    w : array (n,) or None
    means : array (k, d)
        Current means, also the shifts of the accumulated moments.
    prec_chol, log_weights : arrays
        Current precision Cholesky factors (shape by covariance type) and log
        mixture weights (k,).
    covariance_type : {"full", "tied", "diag", "spherical"}
    dtype : numpy dtype
        Precision of the large products (the reference ignores it).

    Returns
    -------
    weight, log_likelihood : float
        ``Σw`` and ``Σw·log p(x)``.
    resp : array (k,)
        ``Σw·r_j``.
    first : array (k, d)
        ``Σw·r_j·(x - μ_j)``.
    second : array (k, d, d), (k, d) or (k,)
        ``Σw·r_j·(x - μ_j)(x - μ_j)ᵀ`` in the covariance type's layout.
    """
    xp = namespace(X)
    X = xp.asarray(X, dtype=xp.float64)
    layout = layout_of(covariance_type)
    log_prob_ = weighted_log_prob(X, means, prec_chol, log_weights, covariance_type)
    log_norm = logsumexp_rows(xp, log_prob_)
    resp = xp.exp(log_prob_ - log_norm[:, None])
    if w is not None:
        resp = resp * xp.reshape(w, (-1, 1))
    firsts, seconds = [], []
    for j in range(means.shape[0]):
        Z = X - means[j, ...]
        wZ = Z * resp[:, j:j + 1]
        firsts.append(xp.sum(wZ, axis=0))
        seconds.append(_second_moment(xp, wZ, Z, layout))
    weight = float(X.shape[0]) if w is None else float(xp.sum(w))
    log_likelihood = float(xp.sum(log_norm) if w is None else xp.sum(w * log_norm))
    return weight, log_likelihood, xp.sum(resp, axis=0), xp.stack(firsts), xp.stack(seconds)


def squared_distances(X, centers):
    """Squared Euclidean distance of each row to each centre, shape (n, k), without cancellation."""
    xp = namespace(X)
    X = xp.asarray(X, dtype=xp.float64)
    return xp.stack([xp.sum((X - centers[j, ...]) ** 2, axis=1) for j in range(centers.shape[0])], axis=1)


def nearest_block(X, w, centers, layout=None):
    """Hard-assignment statistics of one block: each row to its nearest centre.

    Returns ``weight``, ``Σw·min distance²``, per-centre ``Σw`` (k,),
    ``Σw(x - c_j)`` (k, d) and, when ``layout`` is ``"full"``, ``"diag"`` or
    ``"trace"``, ``Σw(x - c_j)(x - c_j)ᵀ`` in it, else ``None``.
    """
    xp = namespace(X)
    X = xp.asarray(X, dtype=xp.float64)
    dist = squared_distances(X, centers)
    labels = xp.argmin(dist, axis=1)
    ww = xp.ones(X.shape[0], dtype=xp.float64) if w is None else w
    k = centers.shape[0]
    member = _astype(xp, labels[:, None] == xp.arange(k)[None, :], xp.float64)  # (n, k) one-hot
    Z = X - xp.take(centers, labels, axis=0)  # each row centred on its own centre
    wZ = Z * xp.reshape(ww, (-1, 1))
    first = member.T @ wZ
    if layout is None:
        second = None
    elif layout == "full":
        second = xp.stack([_second_moment(xp, wZ[labels == j], Z[labels == j], "full") for j in range(k)])
    else:
        squares = member.T @ (wZ * Z)
        second = squares if layout == "diag" else xp.sum(squares, axis=1)
    inertia = float(xp.sum(ww * xp.min(dist, axis=1)))
    return float(xp.sum(ww)), inertia, member.T @ ww, first, second
