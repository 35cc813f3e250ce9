"""Compiled elementwise passes shared by the Numba kernels: log-densities, normalisation, scaled rows.

Each function is single-threaded, releases the GIL and writes into arrays
it is given; the callers run whole blocks of rows on threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = []


@njit(nogil=True, cache=True)
def _normalise(log_prob, w, resp, log_norm):
    """Row-wise log-sum-exp of ``log_prob`` (n, k); writes weighted responsibilities and the normaliser."""
    n, k = log_prob.shape
    for i in range(n):
        top = -np.inf
        for j in range(k):
            if log_prob[i, j] > top:
                top = log_prob[i, j]
        total = 0.0
        for j in range(k):
            e = np.exp(log_prob[i, j] - top)
            resp[i, j] = e
            total += e
        log_norm[i] = top + np.log(total)
        scale = w[i] / total
        for j in range(k):
            resp[i, j] *= scale


@njit(nogil=True, cache=True)
def _whitened_log_prob(Y, offsets, stride, log_const, out):
    """``out[i, j] = log_const[j] - ½·Σ_t (Y[i, j·stride + t] - offsets[j, t])²``."""
    n = Y.shape[0]
    k, d = offsets.shape
    for i in range(n):
        for j in range(k):
            base = j * stride
            s = 0.0
            for t in range(d):
                v = Y[i, base + t] - offsets[j, t]
                s += v * v
            out[i, j] = log_const[j] - 0.5 * s


@njit(nogil=True, cache=True)
def _scaled_centred(Xc, delta, r, out):
    """``out[i] = sqrt(r[i]) · (Xc[i] - delta)``."""
    n, d = Xc.shape
    for i in range(n):
        s = np.sqrt(r[i])
        for t in range(d):
            out[i, t] = s * (Xc[i, t] - delta[t])


@njit(nogil=True, cache=True)
def _sq_dist(Xc, centres, out):
    n, d = Xc.shape
    k = centres.shape[0]
    for i in range(n):
        for j in range(k):
            s = 0.0
            for t in range(d):
                v = Xc[i, t] - centres[j, t]
                s += v * v
            out[i, j] = s


@njit(nogil=True, cache=True)
def _nearest_pass(X, w, centres, counts, first):
    """Each row to its nearest centre in one pass: adds ``Σw`` and ``Σw(x - c)`` per centre; returns ``Σw·d²``.

    Distances are summed directly over ``(x - c)²`` (no cancellation); ties go to
    the lower index, as ``argmin`` does. ``w`` may be an empty array (unit
    weights). ``Σw·d²`` is summed as the fast kernel sums it
    (:mod:`suffstats.backends.numba_nearest`): ``Σw(x - c)²`` per centre and
    feature in row order, then over centres and features.
    """
    n, d = X.shape
    k = centres.shape[0]
    second = np.zeros((k, d))
    for i in range(n):
        best, label = np.inf, 0
        for j in range(k):
            s = 0.0
            for t in range(d):
                v = X[i, t] - centres[j, t]
                s += v * v
            if s < best:
                best, label = s, j
        if w.shape[0] == 0:
            counts[label] += 1.0
            for t in range(d):
                v = X[i, t] - centres[label, t]
                first[label, t] += v
                second[label, t] += v * v
        else:
            wi = w[i]
            counts[label] += wi
            for t in range(d):
                v = X[i, t] - centres[label, t]
                first[label, t] += wi * v
                second[label, t] += wi * (v * v)
    inertia = 0.0
    for j in range(k):
        for t in range(d):
            inertia += second[j, t]
    return inertia
