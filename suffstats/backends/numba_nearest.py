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
  distance ``e`` in float64. ``‖y‖`` is bounded from above by the norm of the
  float32 row (its squares summed in float64, any order) widened by ``2⁻²⁰``,
  and ``e`` by ``2(‖y‖² + ‖S_top‖²)``;
* every centre with ``a_j <= min a + 2E + 4γ_{d+2}·e`` is a *candidate*: the
  exact nearest centre (and every centre tied with it) is always one. When the
  best is the only candidate -- almost every row -- it is the answer;
  otherwise the candidates' distances are summed directly and the exact rule
  (smallest direct distance, lowest index on ties) picks among them;
* a row whose bound is not finite, or whose values could leave float32's
  range (``‖y‖`` or ``‖y‖·max‖S_j‖`` above ``1e36``), takes the direct rule
  over all centres.

So the labels are bit for bit those of the direct rule. The statistics --
``Σw`` and ``Σw(x - c)`` per centre, and ``Σw(x - c)²`` per centre and
feature, whose sum in a fixed order is the block's inertia -- are added in row
order, exactly as the direct pass adds them. Only the bound depends on the
product, not the result: the BLAS, its threads and its order of summation
cannot change a bit. A block goes through the product and the passes
:data:`CHUNK_ROWS` rows at a time, in one compiled call, so that the passes
find the rows still in cache; while a chunk is added up, the next one is
fetched into the cache.

Across passes, a row may also skip the product altogether: :func:`nearest_run`
takes bounds carried per row from earlier passes
(:mod:`suffstats.backends.numba_carried_bounds`), and the rows they settle
keep their label without a distance computed, bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .numba_carried_bounds import keep_bounds, nothing_carried, skip_by_bounds
from .numba_prefetch import prefetch

__all__ = ["nearest_statistics", "nearest_run", "nearest_labels"]

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
def _assign(X, G, A, centres, sq, norms, bound, ynorm, labels, keep):
    """Each row's nearest centre by the exact rule, from ``G = Y Sᵀ`` and the bounds ``ynorm`` on ``‖y‖``.

    ``A`` receives the approximate ``a_j`` (float64). Per row: the ``a_j``,
    their smallest (four running minima side by side), the candidates' count,
    and the direct rule where a row has more than one candidate. With ``keep``
    (bounds to be taken from ``A`` next), a row whose product may have
    overflowed gets an infinite ``ynorm``: it keeps no bounds.
    """
    k = centres.shape[0]
    slack, slack_per_norm, relative, max_norm = bound[0], bound[1], bound[2], bound[3]
    for i in range(X.shape[0]):
        a, g = A[i], G[i]
        for j in range(k):
            a[j] = sq[j] - 2.0 * np.float64(g[j])
        # Four running minima side by side (any smallest a will do: near-ties are rechecked below).
        b0 = b1 = b2 = b3 = np.inf
        l0, l1, l2, l3 = 0, 1 % k, 2 % k, 3 % k
        j = 0
        while j + 4 <= k:
            if a[j] < b0:
                b0, l0 = a[j], j
            if a[j + 1] < b1:
                b1, l1 = a[j + 1], j + 1
            if a[j + 2] < b2:
                b2, l2 = a[j + 2], j + 2
            if a[j + 3] < b3:
                b3, l3 = a[j + 3], j + 3
            j += 4
        while j < k:
            if a[j] < b0:
                b0, l0 = a[j], j
            j += 1
        if b1 < b0:
            b0, l0 = b1, l1
        if b2 < b0:
            b0, l0 = b2, l2
        if b3 < b0:
            b0, l0 = b3, l3
        y = ynorm[i]
        limit = b0 + 2.0 * (slack + slack_per_norm * y) + relative * 2.0 * (y * y + norms[l0] * norms[l0])
        if not (y < _RANGE32 and y * max_norm < _RANGE32):
            limit = np.inf  # the product may have overflowed: every centre is a candidate
        many = 0
        for j in range(k):
            many += not a[j] > limit  # a NaN a_j counts as a candidate
        if many > 1 or not limit < np.inf:
            l0 = _resolve(X, i, A, centres, limit)  # the matrix, not the row: a view passed on costs every row
        labels[i] = l0
        if keep and not limit < np.inf:
            ynorm[i] = np.inf  # no bounds kept (keep_bounds skips an infinite ynorm): the product may have overflowed


@njit(nogil=True, cache=True)
def _resolve(X, i, A, centres, limit):
    """The direct rule (smallest direct distance, lowest index on ties) over the candidates of row ``i``."""
    every = not limit < np.inf
    best, label = np.inf, 0
    for j in range(centres.shape[0]):
        if every or not A[i, j] > limit:
            s = _direct(X, i, centres, j)
            if s < best:
                best, label = s, j
    return label


@njit(nogil=True, cache=True)
def _accumulate(X, w, centres, labels, counts, first, second, ahead, ahead_start, ahead_stop):
    """Add ``Σw``, ``Σw(x - c)`` and ``Σw(x - c)²`` (per feature) per nearest centre, in row order.

    Meanwhile the flat range ``ahead[ahead_start:ahead_stop]`` (the next rows)
    is fetched into the cache, a few lines per row.
    """
    n, d = X.shape
    lines = (ahead_stop - ahead_start + 8 * n - 1) // (8 * n) if n else 0
    for i in range(n):
        label = labels[i]
        x, c, f, s = X[i], centres[label], first[label], second[label]
        p = ahead_start + 8 * lines * i
        for _ in range(lines):
            if p < ahead_stop:
                prefetch(ahead, p)
            p += 8
        if w.shape[0] == 0:  # unit weights: the products by 1 left out (they are exact)
            counts[label] += 1.0
            for t in range(d):
                v = x[t] - c[t]
                f[t] += v
                s[t] += v * v
        else:
            wi = w[i]
            counts[label] += wi
            for t in range(d):
                v = x[t] - c[t]
                f[t] += wi * v
                s[t] += wi * (v * v)


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
def _centred_single(X, c0, Y, ynorm):
    """``Y = float32(X - c0)`` (the rows centred in float64, then rounded for the product), and bounds on ``‖y‖``."""
    for i in range(X.shape[0]):
        x, y = X[i], Y[i]
        for t in range(X.shape[1]):
            y[t] = np.float32(x[t] - c0[t])
    _norm_bounds(Y, ynorm)


@njit(nogil=True, cache=True, fastmath={"reassoc", "contract"})
def _norm_bounds(Y, ynorm):
    """``ynorm[i] >= ‖y_i‖``: the float32 row's squares summed in float64 (exact products, any order), widened.

    Reassociation lets the sum run in vector lanes; the widening by ``2⁻²⁰``
    covers its rounding and that of ``y`` to float32. A non-finite row gives a
    non-finite bound (no finite-math assumption), which sends it to the direct rule.
    """
    for i in range(Y.shape[0]):
        y = Y[i]
        s = 0.0
        for t in range(Y.shape[1]):
            v = np.float64(y[t])
            s += v * v
        ynorm[i] = np.sqrt(s) * (1.0 + 2.0**-20) + _ETA32 * Y.shape[1]


#: Rows per product: small enough that the rows are still in cache when the pass over them reads them again.
CHUNK_ROWS = 512


@njit(nogil=True, cache=True)
def _block_into(X, w, start, stop, centres, c0, ST, sq, norms, bound, buffers, counts, first, second, carried):
    """Add the statistics of rows ``start:stop`` of ``X`` (one block) into ``counts``, ``first``, ``second``.

    Rows go through the product and the passes ``CHUNK_ROWS`` at a time; the
    next chunk's rows are fetched meanwhile, past ``stop`` too (the next block
    of a run), never past the end of ``X``. ``carried`` holds the rows'
    bounds from earlier passes (see :mod:`.numba_carried_bounds`; empty arrays: none):
    rows they settle skip the product, and the others' bounds are renewed.
    """
    n, d = X.shape
    labels, ynorm, Y, G, A, rows, gathered, gathered_labels = buffers
    upper, lower, known, gens, _, gen, _, _, _, renew, _ = carried
    keep = renew and upper.shape[0] > 0  # rows that go through the product renew their bounds
    flat = X.ravel()
    for lo in range(start, stop, CHUNK_ROWS):
        hi = min(lo + CHUNK_ROWS, stop)
        m = skip_by_bounds(lo, hi, carried, bound[2], labels, rows)
        if m == hi - lo:  # no row settled: the rows as they lie
            _nearest_of(X[lo:hi], c0, ST, centres, sq, norms, bound, Y[:m], ynorm[:m], G[:m], A[:m], labels[:m], keep)
        elif m:  # the rows left, gathered
            for r in range(m):
                gathered[r] = X[rows[r]]
            _nearest_of(gathered[:m], c0, ST, centres, sq, norms, bound, Y[:m], ynorm[:m], G[:m], A[:m],
                        gathered_labels[:m], keep)
            for r in range(m):
                labels[rows[r] - lo] = gathered_labels[r]
        if keep and m:
            keep_bounds(rows[:m], A[:m], labels[:m] if m == hi - lo else gathered_labels[:m], ynorm[:m], bound[0],
                        bound[1], 2.0 * d * _ETA32, upper, lower, known, gens, gen)
        _accumulate(X[lo:hi], w[lo:hi] if w.shape[0] else w, centres, labels[:hi - lo], counts, first, second,
                    flat, hi * d, min(hi + CHUNK_ROWS, n) * d)


@njit(nogil=True, cache=True)
def _nearest_of(X, c0, ST, centres, sq, norms, bound, Y, ynorm, G, A, labels, keep):
    """``labels``: the nearest centre of each row of ``X`` by the exact rule, through the float32 product."""
    _centred_single(X, c0, Y, ynorm)
    np.dot(Y, ST, G)
    _assign(X, G, A, centres, sq, norms, bound, ynorm, labels, keep)


@njit(nogil=True, cache=True)
def _buffers(rows, d, k):
    """Scratch for ``rows`` rows: labels, norm bounds, the float32 rows, the product, the ``a_j``, the indices of
    rows left for the product, those rows gathered and their labels."""
    return (np.empty(rows, dtype=np.intp), np.empty(rows), np.empty((rows, d), dtype=np.float32),
            np.empty((rows, k), dtype=np.float32), np.empty((rows, k)), np.empty(rows, dtype=np.intp),
            np.empty((rows, d)), np.empty(rows, dtype=np.intp))


@njit(nogil=True, cache=True)
def _inertia(second):
    """``Σw·d²`` of a block: its ``Σw(x - c)²`` summed over centres, then features."""
    inertia = 0.0
    for j in range(second.shape[0]):
        for t in range(second.shape[1]):
            inertia += second[j, t]
    return inertia


@njit(nogil=True, cache=True)
def _block_statistics(X, w, centres):
    """``(Σw·d², Σw per centre, Σw(x - c) per centre)`` of a block."""
    n, d = X.shape
    k = centres.shape[0]
    c0, ST, sq, norms, bound = _constants(centres)
    counts, first, second = np.zeros(k), np.zeros((k, d)), np.zeros((k, d))
    _block_into(X, w, 0, n, centres, c0, ST, sq, norms, bound, _buffers(min(n, CHUNK_ROWS), d, k), counts, first,
                second, nothing_carried())
    return _inertia(second), counts, first


@njit(nogil=True, cache=True)
def _run_statistics(X, w, centres, block_rows, size, carried):
    """The statistics of an aligned run of ``size`` blocks (a power of two), summed over the block tree.

    Each block's ``(Σw·d², Σw, Σw(x - c))`` is computed as :func:`_block_statistics`
    computes it, then pairs are added left to right, level by level: the sums
    :class:`~suffstats.block_tree.BlockTree` forms when the blocks are pushed one by one.
    """
    n, d = X.shape
    k = centres.shape[0]
    c0, ST, sq, norms, bound = _constants(centres)
    inertia, counts, first = np.zeros(size), np.zeros((size, k)), np.zeros((size, k, d))
    second = np.empty((k, d))
    buffers = _buffers(min(n, CHUNK_ROWS), d, k)
    for b in range(size):
        second[:] = 0.0
        start = min(b * block_rows, n)
        _block_into(X, w, start, min(start + block_rows, n), centres, c0, ST, sq, norms, bound, buffers, counts[b],
                    first[b], second, carried)
        inertia[b] = _inertia(second)
    step = 1
    while step < size:
        for b in range(0, size, 2 * step):
            inertia[b] = inertia[b] + inertia[b + step]
            counts[b] += counts[b + step]
            first[b] += first[b + step]
        step *= 2
    return inertia[0], counts[0], first[0]


@njit(nogil=True, cache=True)
def _labels(X, centres, labels, distances):
    n, d = X.shape
    k = centres.shape[0]
    c0, ST, sq, norms, bound = _constants(centres)
    _, ynorm, Y, G, A, _, _, _ = _buffers(min(n, CHUNK_ROWS), d, k)
    for start in range(0, n, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n)
        m = stop - start
        _nearest_of(X[start:stop], c0, ST, centres, sq, norms, bound, Y[:m], ynorm[:m], G[:m], A[:m],
                    labels[start:stop], False)
    _distances(X, centres, labels, distances)


@njit(nogil=True, cache=True)
def _distances(X, centres, labels, distances):
    """Each row's direct squared distance to its centre, eight rows side by side (each summed in order)."""
    n, d = X.shape
    i = 0
    while i + 8 <= n:
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


def nearest_run(X, w, centres, block_rows, size, carried=None):
    """:func:`nearest_statistics` of an aligned run of ``size`` blocks of ``block_rows`` rows, summed over the tree.

    The same bits as pushing each block's :func:`nearest_statistics` onto a
    :class:`~suffstats.block_tree.BlockTree` at a position that is a multiple
    of ``size``, in one compiled call (``size`` a power of two; the last block
    may be short, and blocks past the rows of ``X`` are empty).

    ``carried``: the rows' bounds from earlier passes, read and renewed in
    place (the tuple :mod:`suffstats.backends.numba_carried_bounds` describes).
    Rows whose bounds settle their label skip the distances; the result is the
    same bits either way.
    """
    if size < 1 or size & (size - 1) or X.shape[0] > size * block_rows:
        raise ValueError(f"a run is a power of two of blocks holding the rows given; got size {size} for "
                         f"{X.shape[0]} rows in blocks of {block_rows}")
    X = np.ascontiguousarray(X, dtype=np.float64)
    ww = np.empty(0) if w is None else np.ascontiguousarray(w, dtype=np.float64)
    carried = nothing_carried() if carried is None else carried
    inertia, counts, first = _run_statistics(X, ww, np.ascontiguousarray(centres, dtype=np.float64), block_rows, size,
                                             carried)
    # Each block's weight as nearest_statistics sums it (NumPy's sum of its weights), added over the same tree.
    weights = [float(min(block_rows, max(X.shape[0] - s, 0))) if w is None else float(ww[s:s + block_rows].sum())
               for s in range(0, size * block_rows, block_rows)]
    while len(weights) > 1:
        weights = [a + b for a, b in zip(weights[::2], weights[1::2])]
    return weights[0], float(inertia), counts, first


def nearest_labels(X, centres):
    """``(labels, direct squared distances)`` of the rows of ``X`` by the exact rule."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    labels, distances = np.empty(X.shape[0], dtype=np.intp), np.empty(X.shape[0])
    _labels(X, np.ascontiguousarray(centres, dtype=np.float64), labels, distances)
    return labels, distances
