"""Fast CPU kernels: BLAS for the large products, Numba for the fused elementwise work.

The same functions as :mod:`suffstats.backends.numpy_kernels`, agreeing with
them to rounding. Per block of rows:

* rows are centred once on a reference point ``c`` (the mean of the component
  means) while being converted to float64, so that data far from the origin
  keeps its digits;
* full and tied covariance: one product ``Xc @ [P_1 ... P_k]`` whitens every
  component at once; a fused Numba pass turns it into log-densities,
  log-normaliser and responsibilities; each component's second moment is one
  product ``S.T @ S`` of the centred rows scaled by the square root of the
  responsibilities (as a general product: OpenBLAS's ``gemm`` runs at about
  twice ``syrk``'s rate);
* diagonal covariance: one product of ``[x, x²]`` gives every component's
  Mahalanobis distances and one gives the moments; spherical covariance
  needs only ``‖x‖²`` and one product with the means each way.

The kernels are single-threaded and release the GIL: parallelism comes from
running whole blocks on a thread pool (see :func:`suffstats.backends.map_blocks`)
with BLAS limited to one thread, so results do not depend on the thread count.
Numba functions are compiled with ``cache=True``: once per machine.

Single precision (``dtype=np.float32``) rounds each row only after it has been
centred in float64 on a nearby component mean, never on a common point far
from the component: rows are grouped by their nearest mean (the *anchor*) and
every product of a group runs on rows centred at its anchor, so rounding is
relative to the spread of the components a row belongs to, not to their
separation or to the offset of the data. Full covariance centres the rows at
each component's own mean. Offsets, log-normalisers and the moves of the
moments to each component's mean are float64; responsibilities below
``1e-30`` of a row's weight are dropped from the single-precision products
(subnormal numbers would slow them down many times, and their contribution is
below rounding).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import numpy_kernels
from .gaussian_math import LOG_2PI, layout_of, log_det
from .numba_nearest import nearest_run as _nearest_run, nearest_statistics
from .numba_fused import _nearest_pass, _normalise, _scaled_centred, _sq_dist, _whitened_log_prob
from .numba_single import gaussian_block_single, is_single, weighted_log_prob_single
from .numba_univariate import category_counts, univariate_moments, univariate_range, univariate_sums  # noqa: F401

__all__ = ["BLOCK_ROWS", "CONCURRENT_BLOCKS", "gaussian_block", "weighted_log_prob", "squared_distances",
           "nearest_block", "nearest_run"]

#: Rows per accumulation block (the same as the reference: the two agree block for block).
BLOCK_ROWS = numpy_kernels.BLOCK_ROWS
#: Blocks of rows may be computed concurrently on threads.
CONCURRENT_BLOCKS = True


def _centre(X, means, squares=False, dtype=np.float64):
    """Rows minus ``c`` (the mean of ``means``) in ``dtype``, with their squares appended when asked."""
    c = means.mean(axis=0)
    if not squares:
        return np.subtract(X, c, dtype=dtype), means - c
    n, d = X.shape
    Z = np.empty((n, 2 * d), dtype=dtype)
    np.subtract(X, c, out=Z[:, :d], dtype=dtype)
    np.multiply(Z[:, :d], Z[:, :d], out=Z[:, d:])
    return Z, means - c


def _log_prob(Xc, delta, prec_chol, log_weights, covariance_type, squares=None):
    """Weighted per-component log-densities of centred rows (with squares appended for diagonal types), (n, k).

    The products run in the dtype of ``Xc``; everything else in float64.
    """
    n, d = Xc.shape[0], delta.shape[1]
    k = delta.shape[0]
    log_const = log_weights + log_det(covariance_type, prec_chol, d, k) - 0.5 * d * LOG_2PI
    out = np.empty((n, k))
    if covariance_type in ("full", "tied"):
        if covariance_type == "full":
            P = prec_chol.transpose(1, 0, 2).reshape(d, k * d)
            offsets = np.einsum("jt,jts->js", delta, prec_chol)
            stride = d
        else:
            P, offsets, stride = prec_chol, delta @ prec_chol, 0
        Y = Xc @ np.ascontiguousarray(P, dtype=Xc.dtype)
        _whitened_log_prob(Y, np.ascontiguousarray(offsets), stride, log_const, out)
        return out
    if covariance_type == "spherical":
        # p²‖x - δ‖² = p²(‖x‖² - 2x·δ + ‖δ‖²), x centred on c (no large offset).
        p2 = prec_chol**2
        squares = np.einsum("ij,ij->i", Xc, Xc, dtype=np.float64) if squares is None else squares
        out[:] = Xc @ delta.T.astype(Xc.dtype)
        out *= -2.0
        out += squares[:, None] + (delta * delta).sum(axis=1)
        out *= -0.5 * p2
        out += log_const
        return out
    p2 = prec_chol**2
    # Σ_t p²(x - δ)² = Σ x²p² - 2 Σ x·δp² + Σ δ²p² with x centred on c (no large offset):
    # one product of [x, x²] with [-2δp², p²].
    weights = np.concatenate([-2.0 * delta * p2, p2], axis=1)
    out[:] = Xc @ weights.T.astype(Xc.dtype)
    out *= -0.5
    out += log_const - 0.5 * (delta * delta * p2).sum(axis=1)
    return out


def weighted_log_prob(X, means, prec_chol, log_weights, covariance_type, dtype=np.float64):
    """``log π_j + log N(x | μ_j, Σ_j)`` for each row and component, shape (n, k)."""
    if is_single(dtype):
        return weighted_log_prob_single(X, means, prec_chol, log_weights, covariance_type)
    Xc, delta = _centre(X, means, squares=covariance_type == "diag", dtype=dtype)
    return _log_prob(Xc, delta, prec_chol, log_weights, covariance_type)


def gaussian_block(X, w, means, prec_chol, log_weights, covariance_type, dtype=np.float64):
    """Fused E-step and accumulation for one block; see :func:`numpy_kernels.gaussian_block`.

    ``dtype=np.float32`` runs the products in single precision on rows
    centred near their components (see the module notes); the statistics of
    each block are still added in float64.
    Diagonal and spherical mixtures with small k·d take one compiled pass
    in float64 instead (products that small do not pay for themselves).
    """
    layout = layout_of(covariance_type)
    if layout != "full" and means.size <= SMALL_DIAGONAL:
        return _small_diagonal(X, w, means, prec_chol, log_weights, covariance_type)
    if is_single(dtype):
        return gaussian_block_single(X, w, means, prec_chol, log_weights, covariance_type)
    Xc, delta = _centre(X, means, squares=layout == "diag", dtype=dtype)
    n, d = X.shape
    k = means.shape[0]
    squares = np.einsum("ij,ij->i", Xc, Xc, dtype=np.float64) if layout == "trace" else None
    log_prob = _log_prob(Xc, delta, prec_chol, log_weights, covariance_type, squares)
    resp = np.empty((n, k))
    log_norm = np.empty(n)
    ww = np.ones(n) if w is None else np.ascontiguousarray(w, dtype=np.float64)
    _normalise(log_prob, ww, resp, log_norm)
    nk = resp.sum(axis=0)
    weight = float(n) if w is None else float(ww.sum())
    log_likelihood = float(ww @ log_norm)
    if layout != "full":
        # Moments around c, moved to each component's mean.
        m12 = (resp.T.astype(dtype) @ Xc).astype(np.float64)
        m1 = m12[:, :d]
        first = m1 - nk[:, None] * delta
        if layout == "diag":
            second = m12[:, d:] - 2.0 * delta * m1 + nk[:, None] * delta * delta
        else:
            second = resp.T @ squares - 2.0 * (delta * m1).sum(axis=1) + nk * (delta * delta).sum(axis=1)
        return weight, log_likelihood, nk, first, second
    first = np.empty((k, d))
    second = np.empty((k, d, d))
    scaled = np.empty((n, d), dtype=dtype)
    for j in range(k):
        r = np.ascontiguousarray(resp[:, j])
        _scaled_centred(Xc, delta[j], r, scaled)
        # A general product beats syrk here: OpenBLAS's gemm runs at about twice syrk's rate.
        second[j] = scaled.T @ scaled
        first[j] = scaled.T @ np.sqrt(r).astype(dtype)
    return weight, log_likelihood, nk, first, second


@njit(nogil=True, cache=True)
def _small_diagonal_block(X, w, means, prec2, log_const):
    """The whole block in one compiled pass, for diagonal and spherical covariance with small k·d.

    Distances and moments are taken directly around each component's mean
    (no expansion, no cancellation); ``prec2`` is (k, d) for diagonal and
    (k, 1) for spherical covariance, which then keeps only the trace.
    """
    n, d = X.shape
    k = means.shape[0]
    spherical = prec2.shape[1] == 1
    nk = np.zeros(k)
    first = np.zeros((k, d))
    second = np.zeros((k, 1 if spherical else d))
    lp = np.empty(k)
    weight = 0.0
    log_likelihood = 0.0
    for i in range(n):
        top = -np.inf
        for j in range(k):
            s = 0.0
            if spherical:
                for t in range(d):
                    v = X[i, t] - means[j, t]
                    s += v * v
                s *= prec2[j, 0]
            else:
                for t in range(d):
                    v = X[i, t] - means[j, t]
                    s += v * v * prec2[j, t]
            lp[j] = log_const[j] - 0.5 * s
            if lp[j] > top:
                top = lp[j]
        total = 0.0
        for j in range(k):
            lp[j] = np.exp(lp[j] - top)
            total += lp[j]
        wi = 1.0 if w is None else w[i]
        weight += wi
        log_likelihood += wi * (top + np.log(total))
        for j in range(k):
            r = lp[j] / total * wi
            nk[j] += r
            if spherical:
                q = 0.0
                for t in range(d):
                    v = X[i, t] - means[j, t]
                    first[j, t] += r * v
                    q += v * v
                second[j, 0] += r * q
            else:
                for t in range(d):
                    v = X[i, t] - means[j, t]
                    first[j, t] += r * v
                    second[j, t] += r * v * v
    return weight, log_likelihood, nk, first, second


#: Below this k·d, diagonal and spherical blocks run as one compiled pass rather than as products.
SMALL_DIAGONAL = 512


def _small_diagonal(X, w, means, prec_chol, log_weights, covariance_type):
    k, d = means.shape
    prec2 = prec_chol**2 if covariance_type == "diag" else (prec_chol**2)[:, None]
    log_const = log_weights + log_det(covariance_type, prec_chol, d, k) - 0.5 * d * LOG_2PI
    X = np.ascontiguousarray(X, dtype=np.float64)
    w = None if w is None else np.ascontiguousarray(w, dtype=np.float64)
    weight, log_likelihood, nk, first, second = _small_diagonal_block(
        X, w, np.ascontiguousarray(means), np.ascontiguousarray(prec2), log_const)
    return weight, log_likelihood, nk, first, (second if covariance_type == "diag" else second[:, 0])


def squared_distances(X, centers):
    """Squared Euclidean distances (n, k), computed directly (no cancellation)."""
    Xc, delta = _centre(X, centers)
    out = np.empty((Xc.shape[0], centers.shape[0]))
    _sq_dist(Xc, np.ascontiguousarray(delta), out)
    return out


def nearest_block(X, w, centers, layout=None):
    """Hard-assignment statistics of one block (see :func:`numpy_kernels.nearest_block`).

    Without second moments (k-means) the distances come from one product per
    block with the exact float64 rule kept (near-ties recomputed directly, see
    :mod:`suffstats.backends.numba_nearest`); the statistics are bit for bit
    those of the direct pass :func:`~suffstats.backends.numba_fused._nearest_pass`.
    With second moments (the initialisation's single pass) the reference's
    products are used.
    """
    if layout is not None:
        return numpy_kernels.nearest_block(X, w, centers, layout)
    weight, inertia, counts, first = nearest_statistics(X, w, centers)
    return weight, inertia, counts, first, None


def nearest_run(X, w, centers, size, carried=None):
    """:func:`nearest_block` (k-means) of an aligned run of ``size`` blocks, summed over the block tree in one call.

    ``carried``: the rows' distance bounds from earlier passes (see
    :func:`suffstats.backends.numba_nearest.nearest_run`); the same bits with or without.
    """
    weight, inertia, counts, first = _nearest_run(X, w, centers, BLOCK_ROWS, size, carried)
    return weight, inertia, counts, first, None


def nearest_block_direct(X, w, centers):
    """The direct pass: every distance summed over ``(x - c)²`` (the exact rule itself; a reference)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    k, d = centers.shape
    counts, first = np.zeros(k), np.zeros((k, d))
    ww = np.empty(0) if w is None else np.ascontiguousarray(w, dtype=np.float64)
    inertia = _nearest_pass(X, ww, np.ascontiguousarray(centers, dtype=np.float64), counts, first)
    weight = float(X.shape[0]) if w is None else float(ww.sum())
    return weight, float(inertia), counts, first, None
