"""Nearest-centre statistics through one matrix product per block, with the exact float64 rule kept.

The exact rule (:func:`suffstats.backends.numba_fused._nearest_pass`) sums
``(x_t - c_t)²`` directly for every row and centre: no cancellation, but
``k·d`` scalar steps per row. Here the distances come from one product
instead, and only a row's near-ties are recomputed exactly:

* with ``c0`` the mean of the centres and ``S_j = c_j - c0``, the product
  ``G = X Sᵀ`` (BLAS) gives ``a_j = ‖S_j‖² - 2(x·S_j - c0·S_j)``, which is
  ``‖x - c_j‖² - ‖x - c0‖²`` up to rounding -- the same for every centre, so
  the smallest ``a_j`` points at the nearest centre;
* the rounding of ``a_j`` is bounded (for any order of summation in the
  product) by ``E = 4γ_{d+3}(2(‖x‖ + ‖c0‖)·max‖S_j‖ + max‖S_j‖²)`` and the
  direct sum's by ``γ_{d+2}`` of the distance, with ``γ_m = mu/(1 - mu)``;
* the direct distance ``e`` to the best ``a`` is computed, and every centre
  with ``a_j <= min a + 2E + 4γ_{d+2}·e`` is a *candidate*: the exact
  nearest centre (and every centre tied with it) is always one. When the best
  is the only candidate -- almost every row -- it is the answer; otherwise
  the candidates are recomputed directly and the exact rule (smallest direct
  distance, lowest index on ties) picks among them;
* a row whose bound is not finite (values near the float64 limit) takes the
  direct rule over all centres.

So the labels, and the statistics -- ``Σw``, ``Σw(x - c)`` and ``Σw·d²``
per block, summed in row order exactly as the direct pass sums them -- are
bit for bit those of the direct pass, at the cost of one product and a few
passes over each row.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit

__all__ = ["nearest_statistics", "nearest_labels"]

_U = 2.0**-53


@njit(nogil=True, cache=True)
def _direct(X, i, centres, j):
    """``Σ_t (X[i, t] - centres[j, t])²`` summed in order: the exact rule's distance."""
    s = 0.0
    for t in range(X.shape[1]):
        v = X[i, t] - centres[j, t]
        s += v * v
    return s


@njit(nogil=True, cache=True)
def _assign(X, G, centres, offsets, sq, norms, bound, labels, distances):
    """Each row's nearest centre by the exact rule and its direct squared distance, from ``G = X Sᵀ``.

    ``G`` is overwritten with the approximate ``a_j``. Four passes over the
    block, each a simple loop: the best ``a`` of each row; the direct distance
    to it (four rows at a time, each summed in order); the candidates' check;
    the direct rule where a row has more than one candidate.
    """
    n, d = X.shape
    k = centres.shape[0]
    slack, slack_per_norm, relative = bound[0], bound[1], bound[2]
    best = np.empty(n)
    for i in range(n):
        for j in range(k):
            G[i, j] = sq[j] - 2.0 * (G[i, j] - offsets[j])
        # Four running minima side by side (any smallest a will do: near-ties are rechecked below).
        b0 = b1 = b2 = b3 = np.inf
        l0, l1, l2, l3 = 0, 1 % k, 2 % k, 3 % k
        j = 0
        while j + 4 <= k:
            if G[i, j] < b0:
                b0, l0 = G[i, j], j
            if G[i, j + 1] < b1:
                b1, l1 = G[i, j + 1], j + 1
            if G[i, j + 2] < b2:
                b2, l2 = G[i, j + 2], j + 2
            if G[i, j + 3] < b3:
                b3, l3 = G[i, j + 3], j + 3
            j += 4
        while j < k:
            if G[i, j] < b0:
                b0, l0 = G[i, j], j
            j += 1
        if b1 < b0:
            b0, l0 = b1, l1
        if b2 < b0:
            b0, l0 = b2, l2
        if b3 < b0:
            b0, l0 = b3, l3
        best[i], labels[i] = b0, l0
    i = 0
    while i + 4 <= n:
        c0, c1, c2, c3 = labels[i], labels[i + 1], labels[i + 2], labels[i + 3]
        s0 = s1 = s2 = s3 = 0.0
        for t in range(d):
            v0 = X[i, t] - centres[c0, t]
            v1 = X[i + 1, t] - centres[c1, t]
            v2 = X[i + 2, t] - centres[c2, t]
            v3 = X[i + 3, t] - centres[c3, t]
            s0 += v0 * v0
            s1 += v1 * v1
            s2 += v2 * v2
            s3 += v3 * v3
        distances[i], distances[i + 1], distances[i + 2], distances[i + 3] = s0, s1, s2, s3
        i += 4
    while i < n:
        distances[i] = _direct(X, i, centres, labels[i])
        i += 1
    for i in range(n):
        e = distances[i]
        # ‖x‖ <= ‖x - c_top‖ + ‖c_top‖ (the 1.5 covers the rounding of e and of the square root).
        norm = 1.5 * np.sqrt(e) + norms[labels[i]]
        limit = best[i] + 2.0 * (slack + slack_per_norm * norm) + relative * e
        many = 0
        for j in range(k):
            many += not G[i, j] > limit  # a NaN a_j counts as a candidate
        if many > 1 or not limit < np.inf:
            labels[i], distances[i] = _resolve(X, i, G, centres, limit, labels[i], e)


@njit(nogil=True, cache=True)
def _resolve(X, i, G, centres, limit, top, e):
    """The direct rule (smallest direct distance, lowest index on ties) over the candidates of row ``i``."""
    every = not limit < np.inf
    best, label = np.inf, 0
    for j in range(centres.shape[0]):
        if every or not G[i, j] > limit:
            s = e if j == top else _direct(X, i, centres, j)
            if s < best:
                best, label = s, j
    return label, best


@njit(nogil=True, cache=True)
def _statistics_pass(X, G, w, centres, offsets, sq, norms, bound, labels, distances, counts, first, inertia):
    """Add ``Σw`` and ``Σw(x - c)`` per nearest centre, in row order; return ``inertia + Σw·d²``."""
    n, d = X.shape
    _assign(X, G, centres, offsets, sq, norms, bound, labels, distances)
    for i in range(n):
        label = labels[i]
        wi = 1.0 if w.shape[0] == 0 else w[i]
        counts[label] += wi
        inertia += wi * distances[i]
        for t in range(d):
            first[label, t] += wi * (X[i, t] - centres[label, t])
    return inertia


_WORK = threading.local()


def _work(n, k):
    """This thread's scratch arrays for ``n`` rows and ``k`` centres: ``G`` (n, k), labels, distances.

    Reused from block to block: fresh arrays of this size would be fresh pages,
    and faulting them in costs as much as the product.
    """
    work = getattr(_WORK, "arrays", None)
    if work is None or work[0].size < n * k or work[1].size < n:
        size = max(n, getattr(_WORK, "rows", 0))
        work = (np.empty(size * k), np.empty(size, dtype=np.intp), np.empty(size))
        _WORK.arrays, _WORK.rows = work, size
    return work[0][:n * k].reshape(n, k), work[1][:n], work[2][:n]


@njit(nogil=True, cache=True)
def _constants(centres):
    """``(Sᵀ, c0·S_j, ‖S_j‖², ‖c_j‖, [slack, slack per unit of ‖x‖, relative])`` with ``S = centres - c0``."""
    k, d = centres.shape
    c0 = np.zeros(d)
    for j in range(k):
        for t in range(d):
            c0[t] += centres[j, t]
    c0 /= k
    ST = np.empty((d, k))
    offsets, sq, norms = np.zeros(k), np.zeros(k), np.zeros(k)
    for j in range(k):
        for t in range(d):
            v = centres[j, t] - c0[t]
            ST[t, j] = v
            offsets[j] += c0[t] * v
            sq[j] += v * v
            norms[j] += centres[j, t] * centres[j, t]
    norms = np.sqrt(norms)
    norm_c0 = np.sqrt(np.sum(c0 * c0))
    max_sq = sq.max()
    gamma = (d + 3) * _U / (1.0 - (d + 3) * _U)
    bound = np.empty(3)
    bound[0] = 4.0 * gamma * (2.0 * norm_c0 * np.sqrt(max_sq) + max_sq)
    bound[1] = 4.0 * gamma * 2.0 * np.sqrt(max_sq)
    bound[2] = 4.0 * (d + 2) * _U / (1.0 - (d + 2) * _U)
    return ST, offsets, sq, norms, bound


_WORK = threading.local()


def _work(n, k):
    """This thread's scratch arrays for ``n`` rows and ``k`` centres: ``G`` (n, k), labels, distances.

    Reused from block to block: fresh arrays of this size would be fresh pages,
    and faulting them in costs as much as the product.
    """
    work = getattr(_WORK, "arrays", None)
    if work is None or work[0].size < n * k or work[1].size < n:
        size = max(n, getattr(_WORK, "rows", 0))
        work = (np.empty(size * max(k, getattr(_WORK, "k", 0))), np.empty(size, dtype=np.intp), np.empty(size))
        _WORK.arrays, _WORK.rows, _WORK.k = work, size, max(k, getattr(_WORK, "k", 0))
    return work[0][:n * k].reshape(n, k), work[1][:n], work[2][:n]


def _prepared(X, centres):
    """``X`` as contiguous float64, ``G = X Sᵀ`` (in this thread's scratch) and the constants of the bound."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    centres = np.ascontiguousarray(centres, dtype=np.float64)
    ST, offsets, sq, norms, bound = _constants(centres)
    G, labels, distances = _work(X.shape[0], centres.shape[0])
    np.matmul(X, ST, out=G)
    return X, G, centres, offsets, sq, norms, bound, labels, distances


#: Rows per product: small enough that the rows are still in cache when the pass over them reads them again.
CHUNK_ROWS = 512


def nearest_statistics(X, w, centres):
    """``(weight, Σw·d², Σw per centre (k,), Σw(x - c) per centre (k, d))`` of one block by the exact rule.

    The rows go through the product and the pass ``CHUNK_ROWS`` at a time,
    every sum still taken in row order.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    centres = np.ascontiguousarray(centres, dtype=np.float64)
    ST, offsets, sq, norms, bound = _constants(centres)
    n = X.shape[0]
    k, d = centres.shape
    G, labels, distances = _work(min(n, CHUNK_ROWS), k)
    counts, first = np.zeros(k), np.zeros((k, d))
    ww = np.empty(0) if w is None else np.ascontiguousarray(w, dtype=np.float64)
    inertia = 0.0
    for start in range(0, n, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n)
        rows, g = X[start:stop], G[:stop - start]
        np.matmul(rows, ST, out=g)
        inertia = _statistics_pass(rows, g, ww[start:stop] if ww.shape[0] else ww, centres, offsets, sq, norms,
                                   bound, labels[:stop - start], distances[:stop - start], counts, first, inertia)
    weight = float(X.shape[0]) if w is None else float(ww.sum())
    return weight, float(inertia), counts, first


def nearest_labels(X, centres):
    """``(labels, direct squared distances)`` of the rows of ``X`` by the exact rule (fresh arrays)."""
    X, G, centres, offsets, sq, norms, bound, labels, distances = _prepared(X, centres)
    _assign(X, G, centres, offsets, sq, norms, bound, labels, distances)
    return labels.copy(), distances.copy()
