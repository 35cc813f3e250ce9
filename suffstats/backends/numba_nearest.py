"""Nearest-centre statistics through one single-precision product per block, with the exact float64 rule kept.

The exact rule (:func:`suffstats.backends.numba_fused._nearest_pass`) sums
``(x_t - c_t)²`` directly in float64 for every row and centre: no
cancellation, but ``k·d`` scalar steps per row. Here the distances come from
one product instead, used only as a filter, and a row's near-ties are
recomputed exactly:

* with ``c0`` the mean of the centres, ``S_j = c_j - c0`` and
  ``y = x - c0`` (both rounded to float32 after the float64 subtraction), the
  float32 product ``G = Y Sᵀ`` (BLAS) gives ``a_j = ‖S_j‖² - 2·y·S_j``, which
  is ``‖x - c_j‖² - ‖x - c0‖²`` up to rounding -- the same offset for every
  centre, so the smallest ``a_j`` points at the nearest centre. Centring
  first makes the rounding relative to the spread of the centres, not to the
  distance of the data from the origin;
* the error of every ``a_j`` is bounded (for any order of summation in the
  product, fused multiply-adds included) by
  ``E = 4γ_{d+3}(2‖y‖·max‖S_j‖ + max‖S_j‖²) + 16dη(1 + max‖S_j‖ + ‖y‖)``
  with ``γ_m = m·u/(1 - m·u)``, ``u = 2⁻²⁴`` and ``η = 2⁻¹⁵⁰`` (values that
  fall below float32's normal range); the direct sum's by ``γ_{d+2}`` of the
  distance in float64 (``‖y‖`` is taken as ``1.5√e + ‖S_top‖``, above it
  whatever the rounding);
* the direct distance ``e`` to the best ``a`` is computed, and every centre
  with ``a_j <= min a + 2E + 4γ_{d+2}·e`` is a *candidate*: the exact
  nearest centre (and every centre tied with it) is always one. When the best
  is the only candidate -- almost every row -- it is the answer; otherwise
  the candidates are recomputed directly and the exact rule (smallest direct
  distance, lowest index on ties) picks among them;
* a row whose bound is not finite, or whose values could leave float32's
  range (``‖y‖`` or ``‖y‖·max‖S_j‖`` above ``1e36``), takes the direct rule
  over all centres.

So the labels, and the statistics -- ``Σw``, ``Σw(x - c)`` and ``Σw·d²``
per block, summed in row order exactly as the direct pass sums them -- are
bit for bit those of the direct pass, at the cost of one single-precision
product and a few passes over each row. Only the bound depends on the
product, not the result: the BLAS, its threads and its order of summation
cannot change a bit of it. A block goes through the product and the pass
:data:`CHUNK_ROWS` rows at a time, in one compiled call, so that the pass
finds the rows still in cache.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["nearest_statistics", "nearest_labels"]

#: Unit roundoff of float64 (the direct sums) and of float32 (the product), and half float32's smallest subnormal.
_U = 2.0**-53
_U32 = 2.0**-24
_ETA32 = 2.0**-150
#: Above this, ``‖y‖`` or ``‖y‖·max‖S_j‖`` could overflow float32 in the product: such rows take the direct rule.
_RANGE32 = 1e36


@njit(nogil=True, cache=True)
def _direct(X, i, centres, j):
    """``Σ_t (X[i, t] - centres[j, t])²`` summed in order: the exact rule's distance."""
    s = 0.0
    for t in range(X.shape[1]):
        v = X[i, t] - centres[j, t]
        s += v * v
    return s


@njit(nogil=True, cache=True)
def _assign(X, G, A, centres, sq, norms, bound, labels, distances):
    """Each row's nearest centre by the exact rule and its direct squared distance, from ``G = Y Sᵀ``.

    ``A`` receives the approximate ``a_j`` (float64). Four passes over the
    block, each a simple loop: the best ``a`` of each row; the direct distance
    to it (eight rows at a time, each summed in order); the candidates' check;
    the direct rule where a row has more than one candidate.
    """
    n, d = X.shape
    k = centres.shape[0]
    slack, slack_per_norm, relative, max_norm = bound[0], bound[1], bound[2], bound[3]
    best = np.empty(n)
    for i in range(n):
        for j in range(k):
            A[i, j] = sq[j] - 2.0 * np.float64(G[i, j])
        # Four running minima side by side (any smallest a will do: near-ties are rechecked below).
        b0 = b1 = b2 = b3 = np.inf
        l0, l1, l2, l3 = 0, 1 % k, 2 % k, 3 % k
        j = 0
        while j + 4 <= k:
            if A[i, j] < b0:
                b0, l0 = A[i, j], j
            if A[i, j + 1] < b1:
                b1, l1 = A[i, j + 1], j + 1
            if A[i, j + 2] < b2:
                b2, l2 = A[i, j + 2], j + 2
            if A[i, j + 3] < b3:
                b3, l3 = A[i, j + 3], j + 3
            j += 4
        while j < k:
            if A[i, j] < b0:
                b0, l0 = A[i, j], j
            j += 1
        if b1 < b0:
            b0, l0 = b1, l1
        if b2 < b0:
            b0, l0 = b2, l2
        if b3 < b0:
            b0, l0 = b3, l3
        best[i], labels[i] = b0, l0
    i = 0
    while i + 8 <= n:  # eight rows side by side, each summed in order
        c0, c1, c2, c3 = labels[i], labels[i + 1], labels[i + 2], labels[i + 3]
        c4, c5, c6, c7 = labels[i + 4], labels[i + 5], labels[i + 6], labels[i + 7]
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
        for t in range(d):
            v0 = X[i, t] - centres[c0, t]
            v1 = X[i + 1, t] - centres[c1, t]
            v2 = X[i + 2, t] - centres[c2, t]
            v3 = X[i + 3, t] - centres[c3, t]
            v4 = X[i + 4, t] - centres[c4, t]
            v5 = X[i + 5, t] - centres[c5, t]
            v6 = X[i + 6, t] - centres[c6, t]
            v7 = X[i + 7, t] - centres[c7, t]
            s0 += v0 * v0
            s1 += v1 * v1
            s2 += v2 * v2
            s3 += v3 * v3
            s4 += v4 * v4
            s5 += v5 * v5
            s6 += v6 * v6
            s7 += v7 * v7
        distances[i], distances[i + 1], distances[i + 2], distances[i + 3] = s0, s1, s2, s3
        distances[i + 4], distances[i + 5], distances[i + 6], distances[i + 7] = s4, s5, s6, s7
        i += 8
    while i < n:
        distances[i] = _direct(X, i, centres, labels[i])
        i += 1
    for i in range(n):
        e = distances[i]
        # ‖y‖ <= ‖x - c_top‖ + ‖c_top - c0‖ (the 1.5 covers the rounding of e, of y and of the square root).
        norm = 1.5 * np.sqrt(e) + norms[labels[i]]
        limit = best[i] + 2.0 * (slack + slack_per_norm * norm) + relative * e
        if not (norm < _RANGE32 and norm * max_norm < _RANGE32):
            limit = np.inf  # the product may have overflowed: every centre is a candidate
        many = 0
        for j in range(k):
            many += not A[i, j] > limit  # a NaN a_j counts as a candidate
        if many > 1 or not limit < np.inf:
            labels[i], distances[i] = _resolve(X, i, A, centres, limit, labels[i], e)


@njit(nogil=True, cache=True)
def _resolve(X, i, A, centres, limit, top, e):
    """The direct rule (smallest direct distance, lowest index on ties) over the candidates of row ``i``."""
    every = not limit < np.inf
    best, label = np.inf, 0
    for j in range(centres.shape[0]):
        if every or not A[i, j] > limit:
            s = e if j == top else _direct(X, i, centres, j)
            if s < best:
                best, label = s, j
    return label, best


@njit(nogil=True, cache=True)
def _statistics_pass(X, G, A, w, centres, sq, norms, bound, labels, distances, counts, first, inertia):
    """Add ``Σw`` and ``Σw(x - c)`` per nearest centre, in row order; return ``inertia + Σw·d²``."""
    n, d = X.shape
    _assign(X, G, A, centres, sq, norms, bound, labels, distances)
    if w.shape[0] == 0:  # unit weights: the products by 1 left out (they are exact)
        for i in range(n):
            label = labels[i]
            counts[label] += 1.0
            inertia += distances[i]
            for t in range(d):
                first[label, t] += X[i, t] - centres[label, t]
    else:
        for i in range(n):
            label = labels[i]
            wi = w[i]
            counts[label] += wi
            inertia += wi * distances[i]
            for t in range(d):
                first[label, t] += wi * (X[i, t] - centres[label, t])
    return inertia


@njit(nogil=True, cache=True)
def _constants(centres):
    """``(c0, Sᵀ in float32, ‖S_j‖², ‖S_j‖, [slack, slack per unit of ‖y‖, relative, max‖S_j‖])``, ``S = centres - c0``."""
    k, d = centres.shape
    c0 = np.zeros(d)
    for j in range(k):
        for t in range(d):
            c0[t] += centres[j, t]
    c0 /= k
    ST = np.empty((d, k), dtype=np.float32)
    sq, norms = np.zeros(k), np.zeros(k)
    for j in range(k):
        for t in range(d):
            v = centres[j, t] - c0[t]
            ST[t, j] = np.float32(v)
            sq[j] += v * v
    # ‖S_j‖ a little above the float64 sums (their rounding is far below the float32 terms of the bound).
    norms = np.sqrt(sq) * (1.0 + 4.0 * (d + 2) * _U)
    max_norm = norms.max()
    gamma = (d + 3) * _U32 / (1.0 - (d + 3) * _U32)
    bound = np.empty(4)
    bound[0] = 4.0 * gamma * max_norm * max_norm + 16.0 * d * _ETA32 * (1.0 + max_norm)
    bound[1] = 8.0 * gamma * max_norm + 16.0 * d * _ETA32
    bound[2] = 4.0 * (d + 2) * _U / (1.0 - (d + 2) * _U)
    # Centres beyond float32's range could make the product overflow for any row: all take the direct rule.
    bound[3] = max_norm if max_norm < _RANGE32 else np.inf
    return c0, ST, sq, norms, bound


@njit(nogil=True, cache=True)
def _centred_single(X, c0, Y):
    """``Y = float32(X - c0)``: the rows centred in float64, then rounded for the product."""
    for i in range(X.shape[0]):
        for t in range(X.shape[1]):
            Y[i, t] = np.float32(X[i, t] - c0[t])


#: Rows per product: small enough that the rows are still in cache when the pass over them reads them again.
CHUNK_ROWS = 512


@njit(nogil=True, cache=True)
def _block_statistics(X, w, centres):
    """``(Σw·d², Σw per centre, Σw(x - c) per centre)`` of a block: products and passes ``CHUNK_ROWS`` at a time."""
    n, d = X.shape
    k = centres.shape[0]
    c0, ST, sq, norms, bound = _constants(centres)
    counts, first = np.zeros(k), np.zeros((k, d))
    rows = min(n, CHUNK_ROWS)
    labels, distances = np.empty(rows, dtype=np.intp), np.empty(rows)
    Y, G, A = np.empty((rows, d), dtype=np.float32), np.empty((rows, k), dtype=np.float32), np.empty((rows, k))
    inertia = 0.0
    for start in range(0, n, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n)
        m = stop - start
        _centred_single(X[start:stop], c0, Y[:m])
        np.dot(Y[:m], ST, G[:m])
        inertia = _statistics_pass(X[start:stop], G[:m], A[:m], w[start:stop] if w.shape[0] else w, centres, sq,
                                   norms, bound, labels[:m], distances[:m], counts, first, inertia)
    return inertia, counts, first


@njit(nogil=True, cache=True)
def _labels(X, centres, labels, distances):
    n, d = X.shape
    k = centres.shape[0]
    c0, ST, sq, norms, bound = _constants(centres)
    rows = min(n, CHUNK_ROWS)
    Y, G, A = np.empty((rows, d), dtype=np.float32), np.empty((rows, k), dtype=np.float32), np.empty((rows, k))
    for start in range(0, n, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n)
        m = stop - start
        _centred_single(X[start:stop], c0, Y[:m])
        np.dot(Y[:m], ST, G[:m])
        _assign(X[start:stop], G[:m], A[:m], centres, sq, norms, bound, labels[start:stop], distances[start:stop])


def nearest_statistics(X, w, centres):
    """``(weight, Σw·d², Σw per centre (k,), Σw(x - c) per centre (k, d))`` of one block by the exact rule.

    The rows go through the product and the pass ``CHUNK_ROWS`` at a time,
    every sum still taken in row order.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    ww = np.empty(0) if w is None else np.ascontiguousarray(w, dtype=np.float64)
    inertia, counts, first = _block_statistics(X, ww, np.ascontiguousarray(centres, dtype=np.float64))
    weight = float(X.shape[0]) if w is None else float(ww.sum())
    return weight, float(inertia), counts, first


def nearest_labels(X, centres):
    """``(labels, direct squared distances)`` of the rows of ``X`` by the exact rule."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    labels, distances = np.empty(X.shape[0], dtype=np.intp), np.empty(X.shape[0])
    _labels(X, np.ascontiguousarray(centres, dtype=np.float64), labels, distances)
    return labels, distances
