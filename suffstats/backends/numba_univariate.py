"""Univariate statistics in one compiled pass that also validates the rows.

Each kernel returns an ``ok`` flag that is False on any non-finite value, bad
weight or value outside the support; callers then take the checked path,
which names the offending row. Four independent accumulators per sum
(combined in a fixed order) keep the loops fast without reassociating, so
results are deterministic.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .protocol import UNIVARIATE_SUPPORTS


#: Support codes for :func:`univariate_sums`: positions in the one list of support names.
SUPPORT_ANY, SUPPORT_NON_NEGATIVE, SUPPORT_COUNTS, SUPPORT_BINARY, SUPPORT_TRIALS = (
    UNIVARIATE_SUPPORTS.index(name) for name in ("any", "non-negative", "counts", "binary", "trials"))


@njit(nogil=True, cache=True)
def _outside(v, support):
    if support == SUPPORT_NON_NEGATIVE:
        return v < 0.0
    if support == SUPPORT_COUNTS:
        return v < 0.0 or v != np.floor(v)
    if support == SUPPORT_BINARY:
        return (v != 0.0) & (v != 1.0)
    if support == SUPPORT_TRIALS:
        return v < 1.0 or v != np.floor(v)
    return False


@njit(nogil=True, cache=True)
def univariate_moments(x, w, c):
    """``(ok, Σw, Σw(x-c), Σw(x-c)²)`` in one pass; ``ok`` is False on any non-finite value or bad weight."""
    n = x.shape[0]
    m = n - n % 4
    a0 = a1 = a2 = a3 = 0.0
    b0 = b1 = b2 = b3 = 0.0
    bad = False
    if w is None:
        for i in range(0, m, 4):
            v0, v1, v2, v3 = x[i] - c, x[i + 1] - c, x[i + 2] - c, x[i + 3] - c
            a0 += v0
            a1 += v1
            a2 += v2
            a3 += v3
            b0 += v0 * v0
            b1 += v1 * v1
            b2 += v2 * v2
            b3 += v3 * v3
        t0 = float(n)
        for i in range(m, n):
            v = x[i] - c
            a0 += v
            b0 += v * v
    else:
        z0 = z1 = z2 = z3 = 0.0
        for i in range(0, m, 4):
            v0, v1, v2, v3 = x[i] - c, x[i + 1] - c, x[i + 2] - c, x[i + 3] - c
            w0, w1, w2, w3 = w[i], w[i + 1], w[i + 2], w[i + 3]
            bad |= not (w0 >= 0.0 and w1 >= 0.0 and w2 >= 0.0 and w3 >= 0.0)
            z0 += w0
            z1 += w1
            z2 += w2
            z3 += w3
            a0 += w0 * v0
            a1 += w1 * v1
            a2 += w2 * v2
            a3 += w3 * v3
            b0 += w0 * v0 * v0
            b1 += w1 * v1 * v1
            b2 += w2 * v2 * v2
            b3 += w3 * v3 * v3
        for i in range(m, n):
            v = x[i] - c
            bad |= not w[i] >= 0.0
            z0 += w[i]
            a0 += w[i] * v
            b0 += w[i] * v * v
        t0 = (z0 + z1) + (z2 + z3)
    t1 = (a0 + a1) + (a2 + a3)
    t2 = (b0 + b1) + (b2 + b3)
    return (not bad) and np.isfinite(t0) and np.isfinite(t1) and np.isfinite(t2), t0, t1, t2


@njit(nogil=True, cache=True)
def univariate_sums(x, w, support):
    """``(ok, Σw, Σw·x)`` in one pass; ``ok`` is False on a non-finite value, bad weight or value outside ``support``."""
    n = x.shape[0]
    m = n - n % 4
    a0 = a1 = a2 = a3 = 0.0
    z0 = z1 = z2 = z3 = 0.0
    bad = False
    for i in range(0, m, 4):
        v0, v1, v2, v3 = x[i], x[i + 1], x[i + 2], x[i + 3]
        bad |= _outside(v0, support) | _outside(v1, support) | _outside(v2, support) | _outside(v3, support)
        if w is None:
            a0 += v0
            a1 += v1
            a2 += v2
            a3 += v3
        else:
            w0, w1, w2, w3 = w[i], w[i + 1], w[i + 2], w[i + 3]
            bad |= not (w0 >= 0.0 and w1 >= 0.0 and w2 >= 0.0 and w3 >= 0.0)
            z0 += w0
            z1 += w1
            z2 += w2
            z3 += w3
            a0 += w0 * v0
            a1 += w1 * v1
            a2 += w2 * v2
            a3 += w3 * v3
    for i in range(m, n):
        bad |= _outside(x[i], support)
        if w is None:
            a0 += x[i]
        else:
            bad |= not w[i] >= 0.0
            z0 += w[i]
            a0 += w[i] * x[i]
    t0 = float(n) if w is None else (z0 + z1) + (z2 + z3)
    t1 = (a0 + a1) + (a2 + a3)
    return (not bad) and np.isfinite(t0) and np.isfinite(t1), t0, t1


@njit(nogil=True, cache=True)
def univariate_range(x, w):
    """``(ok, Σw, min, max)`` over rows of positive weight in one pass; ``ok`` is False on a bad value or weight."""
    n = x.shape[0]
    lo, hi, total = np.inf, -np.inf, 0.0
    bad = False
    for i in range(n):
        v = x[i]
        bad |= not np.isfinite(v)
        wi = 1.0 if w is None else w[i]
        bad |= not wi >= 0.0
        total += wi
        if wi > 0.0:
            lo = min(lo, v)
            hi = max(hi, v)
    return (not bad) and np.isfinite(total), total, lo, hi


@njit(nogil=True, cache=True)
def category_counts(x, w, n_categories):
    """``(ok, counts)``: weighted counts of integer categories; ``ok`` is False on anything else."""
    counts = np.zeros(n_categories)
    bad = False
    for i in range(x.shape[0]):
        v = x[i]
        if not (v >= 0.0 and v < n_categories and v == np.floor(v)):
            bad = True
            continue
        wi = 1.0 if w is None else w[i]
        bad |= not (wi >= 0.0 and np.isfinite(wi))
        counts[int(v)] += wi
    return not bad, counts
