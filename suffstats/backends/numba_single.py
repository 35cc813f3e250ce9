"""Single-precision products for the Numba backend, centred so that float32 keeps its accuracy.

Rows are never rounded to float32 far from the components they belong to:
full covariance centres the rows at each component's own mean in float64
before the product; tied, diagonal and spherical covariance group the rows by
their nearest mean (the *anchor*) and run every product of a group on rows
centred at its anchor. Offsets, log-normalisers and the moves of the moments
to each component's mean are float64; responsibilities below ``1e-30`` of a
row's weight are dropped from the single-precision products (subnormal
numbers would slow them down many times, and their contribution is below
rounding). Used by :mod:`suffstats.backends.numba_kernels` when
``dtype=np.float32``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .gaussian_math import LOG_2PI, layout_of, log_det
from .numba_fused import _normalise, _whitened_log_prob

__all__ = ["is_single", "weighted_log_prob_single", "gaussian_block_single"]


#: Responsibilities below this fraction of a row's weight are dropped from single-precision products.
_FLUSH = 1e-30


def is_single(dtype):
    return np.dtype(dtype) == np.float32


def _as_float(X):
    X = np.asarray(X)
    return X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)


@njit(nogil=True, cache=True)
def _centre_rows(X, c, out):
    """``out[i] = X[i] - c``, subtracted in float64 and then rounded to ``out``'s dtype."""
    n, d = X.shape
    for i in range(n):
        for t in range(d):
            out[i, t] = np.float64(X[i, t]) - c[t]


@njit(nogil=True, cache=True)
def _nearest_anchor(G, half_sq, anchor):
    """``anchor[i] = argmin_j ½‖δ_j‖² - G[i, j]``: the nearest mean, with ``G = (x - c)·δ_j``."""
    n, k = G.shape
    for i in range(n):
        best = np.inf
        arg = 0
        for j in range(k):
            v = half_sq[j] - G[i, j]
            if v < best:
                best = v
                arg = j
        anchor[i] = arg


@njit(nogil=True, cache=True)
def _group_rows(X, means, anchor, Y, Ysq, sq, perm, bounds):
    """Rows in stable order of anchor, centred in float64 at their anchor's mean and rounded into ``Y``.

    ``Ysq`` (when it has rows) receives the squares, ``sq`` (when it has rows)
    the float64 ``‖x - μ_anchor‖²``; group ``g`` is ``perm[bounds[g]:bounds[g + 1]]``.
    """
    n, d = X.shape
    k = means.shape[0]
    counts = np.zeros(k + 1, np.int64)
    for i in range(n):
        counts[anchor[i] + 1] += 1
    for g in range(k):
        counts[g + 1] += counts[g]
    for g in range(k + 1):
        bounds[g] = counts[g]
    squares = Ysq.shape[0] > 0
    norms = sq.shape[0] > 0
    for i in range(n):
        g = anchor[i]
        p = counts[g]
        counts[g] += 1
        perm[p] = i
        for t in range(d):
            v = np.float64(X[i, t]) - means[g, t]
            Y[p, t] = v
            if squares:
                Ysq[p, t] = v * v
        if norms:
            s = 0.0
            for t in range(d):
                v = np.float64(X[i, t]) - means[g, t]
                s += v * v
            sq[p] = s


@njit(nogil=True, cache=True)
def _group_weights(means, factor, g, out):
    """``out[t, j] = (μ_jt - μ_gt)·factor[j, t]``: the cross-term weights of group ``g``, rounded to ``out``'s dtype."""
    k, d = means.shape
    for t in range(d):
        for j in range(k):
            out[t, j] = (means[j, t] - means[g, t]) * factor[j, t]


@njit(nogil=True, cache=True)
def _group_constants(means, p2, log_const, C):
    """``C[g, j] = log_const[j] - ½ Σ_t (μ_jt - μ_gt)² p2[j, t]``, differences taken first (no cancellation)."""
    k, d = means.shape
    for g in range(k):
        for j in range(k):
            s = 0.0
            for t in range(d):
                v = means[j, t] - means[g, t]
                s += v * v * p2[j, t]
            C[g, j] = log_const[j] - 0.5 * s


@njit(nogil=True, cache=True)
def _assemble(A, Q, sq, p2, C, bounds, out):
    """``out[p, j] = C[g, j] - ½(A[p, j] + q)`` for rows ``p`` of group ``g``, with ``q = Q[p, j]`` (diagonal)
    or ``p2[j]·sq[p]`` (spherical, ``Q`` empty)."""
    k = C.shape[0]
    diagonal = Q.shape[0] > 0
    for g in range(k):
        for p in range(bounds[g], bounds[g + 1]):
            for j in range(k):
                q = np.float64(Q[p, j]) if diagonal else p2[j] * sq[p]
                out[p, j] = C[g, j] - 0.5 * (np.float64(A[p, j]) + q)


@njit(nogil=True, cache=True)
def _group_sums(resp, bounds, out):
    """``out[g, j] = Σ_{p in group g} resp[p, j]``."""
    k = resp.shape[1]
    for g in range(k):
        for j in range(k):
            out[g, j] = 0.0
        for p in range(bounds[g], bounds[g + 1]):
            for j in range(k):
                out[g, j] += resp[p, j]


@njit(nogil=True, cache=True)
def _shift_moments(means, M1, nkg, S2, diagonal, first, second):
    """Moments of each group around its anchor moved to each component's mean, in float64.

    ``M1[g, j] = Σ r_j (x - μ_g)`` over group ``g``; ``S2[j]`` is ``Σ r_j (x - μ_g(x))²`` over all rows
    (per feature when ``diagonal``, else summed over features in ``S2[j, 0]``).
    """
    k, d = means.shape
    for j in range(k):
        for t in range(d):
            first[j, t] = 0.0
        for t in range(second.shape[1]):
            second[j, t] = S2[j, t]
        for g in range(k):
            n = nkg[g, j]
            for t in range(d):
                delta = means[j, t] - means[g, t]
                m1 = np.float64(M1[g, j, t])
                first[j, t] += m1 - n * delta
                c = -2.0 * delta * m1 + n * delta * delta
                if diagonal:
                    second[j, t] += c
                else:
                    second[j, 0] += c


@njit(nogil=True, cache=True)
def _half_sq_norm(W, const, out, j):
    """``out[i, j] = const - ½‖W[i]‖²`` (accumulated in float64)."""
    n, d = W.shape
    for i in range(n):
        s = 0.0
        for t in range(d):
            v = np.float64(W[i, t])
            s += v * v
        out[i, j] = const - 0.5 * s


@njit(nogil=True, cache=True)
def _flush_single(resp, w, scale, out):
    """Zero responsibilities below ``_FLUSH`` of the row's weight in place; ``out = resp / scale`` rounded."""
    n, k = resp.shape
    for i in range(n):
        tiny = _FLUSH * w[i]
        for j in range(k):
            if resp[i, j] < tiny:
                resp[i, j] = 0.0
            out[i, j] = resp[i, j] / scale


@njit(nogil=True, cache=True)
def _scaled_rows(X, mean, resp, j, scale, out, first):
    """``out[i] = sqrt(r_i / scale)·(x_i - μ)`` centred in float64 before rounding; ``first = Σ r_i (x_i - μ)`` in float64."""
    n, d = X.shape
    for t in range(d):
        first[t] = 0.0
    for i in range(n):
        r = resp[i, j]
        s = np.sqrt(r / scale)
        for t in range(d):
            v = np.float64(X[i, t]) - mean[t]
            out[i, t] = s * v
            first[t] += r * v


def _grouped(X, means, layout):
    """Rows grouped by nearest mean, centred there in float64 and rounded to float32 (see :func:`_group_rows`)."""
    n, d = X.shape
    k = means.shape[0]
    anchor = np.zeros(n, np.int64)
    if k > 1:
        c = means.mean(axis=0)
        delta = means - c
        Xc = np.empty((n, d), np.float32)
        _centre_rows(X, c, Xc)
        # Only the choice of a nearby mean rests on this product; its rounding changes no result.
        G = Xc @ np.ascontiguousarray(delta.T, dtype=np.float32)
        _nearest_anchor(G, 0.5 * (delta * delta).sum(axis=1), anchor)
    Y = np.empty((n, d), np.float32)
    Ysq = np.empty((n if layout == "diag" else 0, d), np.float32)
    sq = np.empty(n if layout == "trace" else 0)
    perm = np.empty(n, np.int64)
    bounds = np.empty(k + 1, np.int64)
    _group_rows(X, means, anchor, Y, Ysq, sq, perm, bounds)
    return Y, Ysq, sq, perm, bounds


def _log_const(prec_chol, log_weights, covariance_type, d, k):
    return log_weights + log_det(covariance_type, prec_chol, d, k) - 0.5 * d * LOG_2PI


def _full_log_prob_single(X, means, prec_chol, log_weights):
    """Full covariance in single precision: rows centred at each component's mean (float64) before rounding."""
    n, d = X.shape
    k = means.shape[0]
    log_const = _log_const(prec_chol, log_weights, "full", d, k)
    out = np.empty((n, k))
    Z = np.empty((n, d), np.float32)
    for j in range(k):
        _centre_rows(X, means[j], Z)
        _half_sq_norm(Z @ prec_chol[j].astype(np.float32), log_const[j], out, j)
    return out


def _grouped_log_prob(Y, Ysq, sq, bounds, means, prec_chol, log_weights, covariance_type):
    """Weighted log-densities (n, k) of rows grouped by anchor, in group order: float32 products of rows centred
    at their anchor, offsets and constants in float64."""
    n = Y.shape[0]
    k, d = means.shape
    log_const = _log_const(prec_chol, log_weights, covariance_type, d, k)
    out = np.empty((n, k))
    if covariance_type == "tied":
        P = prec_chol.astype(np.float32)
        for g in range(k):
            lo, hi = bounds[g], bounds[g + 1]
            if lo < hi:
                offsets = np.ascontiguousarray((means - means[g]) @ prec_chol)
                _whitened_log_prob(Y[lo:hi] @ P, offsets, 0, log_const, out[lo:hi])
        return out
    p2 = prec_chol**2
    p2kd = np.ascontiguousarray(p2 if covariance_type == "diag" else np.repeat(p2[:, None], d, axis=1))
    C = np.empty((k, k))
    _group_constants(means, p2kd, log_const, C)
    # Σ_t p²(y - δ)² = Σ_t p²y² - 2 Σ_t y·δp² + Σ_t δ²p², y centred at the anchor, δ = μ_j - μ_anchor.
    A = np.empty((n, k), np.float32)
    W = np.empty((d, k), np.float32)
    factor = -2.0 * p2kd
    for g in range(k):
        lo, hi = bounds[g], bounds[g + 1]
        if lo < hi:
            _group_weights(means, factor, g, W)
            np.matmul(Y[lo:hi], W, out=A[lo:hi])
    Q = Ysq @ np.ascontiguousarray(p2.T, dtype=np.float32) if covariance_type == "diag" else Ysq[:, :0]
    _assemble(A, np.ascontiguousarray(Q), sq, p2 if covariance_type == "spherical" else log_const, C, bounds, out)
    return out


def weighted_log_prob_single(X, means, prec_chol, log_weights, covariance_type):
    X = _as_float(X)
    means = np.ascontiguousarray(means, dtype=np.float64)
    if covariance_type == "full":
        return _full_log_prob_single(X, means, prec_chol, log_weights)
    Y, Ysq, sq, perm, bounds = _grouped(X, means, layout_of(covariance_type))
    lp = _grouped_log_prob(Y, Ysq, sq, bounds, means, prec_chol, log_weights, covariance_type)
    out = np.empty_like(lp)
    out[perm] = lp
    return out


def gaussian_block_single(X, w, means, prec_chol, log_weights, covariance_type):
    """:func:`gaussian_block` with float32 products on rows centred near their components (see the module notes)."""
    X = _as_float(X)
    means = np.ascontiguousarray(means, dtype=np.float64)
    n, d = X.shape
    k = means.shape[0]
    layout = layout_of(covariance_type)
    ww = np.ones(n) if w is None else np.ascontiguousarray(w, dtype=np.float64)
    weight = float(n) if w is None else float(ww.sum())
    perm = None
    if covariance_type == "full":
        log_prob = _full_log_prob_single(X, means, prec_chol, log_weights)
    else:
        Y, Ysq, sq, perm, bounds = _grouped(X, means, layout)
        log_prob = _grouped_log_prob(Y, Ysq, sq, bounds, means, prec_chol, log_weights, covariance_type)
        ww = ww[perm]
    resp = np.empty((n, k))
    log_norm = np.empty(n)
    _normalise(log_prob, ww, resp, log_norm)
    log_likelihood = float(ww @ log_norm)
    # Products of responsibilities relative to the largest weight cannot overflow float32.
    scale = float(ww.max()) if n else 1.0
    scale = scale if scale > 0 else 1.0
    R = np.empty((n, k), np.float32)
    _flush_single(resp, ww, scale, R)
    nk = resp.sum(axis=0)
    if layout == "full":
        if perm is not None:
            resp = resp[np.argsort(perm)]
        first = np.empty((k, d))
        second = np.empty((k, d, d))
        scaled = np.empty((n, d), np.float32)
        for j in range(k):
            _scaled_rows(X, means[j], resp, j, scale, scaled, first[j])
            second[j] = scaled.T @ scaled
            second[j] *= scale
        return weight, log_likelihood, nk, first, second
    # Moments of each group around its anchor, moved to each component's mean in float64.
    M1 = np.empty((k, k, d), np.float32)
    for g in range(k):
        lo, hi = bounds[g], bounds[g + 1]
        if lo < hi:
            np.matmul(R[lo:hi].T, Y[lo:hi], out=M1[g])
        else:
            M1[g] = 0.0
    nkg = np.empty((k, k))
    _group_sums(resp, bounds, nkg)
    if layout == "diag":
        S2 = (R.T @ Ysq).astype(np.float64)
        S2 *= scale
    else:
        S2 = (resp.T @ sq)[:, None]
    M1 = M1.astype(np.float64)
    M1 *= scale
    first = np.empty((k, d))
    second = np.empty((k, d if layout == "diag" else 1))
    _shift_moments(means, M1, nkg, S2, layout == "diag", first, second)
    return weight, log_likelihood, nk, first, (second if layout == "diag" else second[:, 0])
