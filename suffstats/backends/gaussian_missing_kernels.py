"""The compiled loops of the missing-value E-step (see :mod:`suffstats.backends.gaussian_missing`).

Small dense linear algebra per row (Cholesky factor, triangular solves and
inverse of ``Λ_mm``), the Schur complement pass over rows with holes, and the
fused block passes: under full and tied precisions over chunks of
:data:`CHUNK_ROWS` rows (the completed rows of a chunk stay in cache between
its two BLAS products per component; a run of rows with the same holes shares
one factorisation per component), under diagonal and spherical ones row by
row with nothing allocated. Plain arrays in, plain arrays out, float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .gaussian_math import LOG_2PI

__all__ = ["CHUNK_ROWS", "centre_with_holes", "complete_full", "full_block", "grouped_by_pattern", "diagonal_block",
           "hole_counts"]


@njit(nogil=True, cache=True)
def _cholesky(A, m, inverse_diagonal):
    """In place on the leading ``m × m`` of ``A`` (its lower triangle): ``A`` becomes its lower Cholesky factor
    ``L`` and ``inverse_diagonal`` gets ``1 / L_cc``; returns ``log det A``."""
    # log det A = 2 Σ log L_cc, taken as the log of running products (one log per few factors, not one each),
    # folded into the sum before a product could leave the range of normal numbers.
    log_det_a = 0.0
    product = 1.0
    for c in range(m):
        s = A[c, c]
        for t in range(c):
            s -= A[c, t] * A[c, t]
        s = np.sqrt(s)
        A[c, c] = s
        inverse_s = 1.0 / s  # one division per column, products after it
        inverse_diagonal[c] = inverse_s
        product *= s
        if not 1e-100 < product < 1e100:
            log_det_a += np.log(product)
            product = 1.0
        for r in range(c + 1, m):
            v = A[r, c]
            for t in range(c):
                v -= A[r, t] * A[c, t]
            A[r, c] = v * inverse_s
    return 2.0 * (log_det_a + np.log(product))


@njit(nogil=True, cache=True)
def _solve(L, m, y, inverse_diagonal):
    """``y ← (L Lᵀ)⁻¹ y`` on the leading ``m`` entries, ``L`` from ``_cholesky``."""
    for r in range(m):  # L u = y
        v = y[r]
        for t in range(r):
            v -= L[r, t] * y[t]
        y[r] = v * inverse_diagonal[r]
    for r in range(m - 1, -1, -1):  # Lᵀ x = u
        v = y[r]
        for t in range(r + 1, m):
            v -= L[t, r] * y[t]
        y[r] = v * inverse_diagonal[r]


@njit(nogil=True, cache=True)
def _add_inverse_upper(L, inverse_diagonal, m, Li, r, miss, out):
    """``out[miss[a], miss[c]] += r·((L Lᵀ)⁻¹)[a, c]`` for ``a <= c`` (the upper triangle: ``miss`` ascends).

    ``L`` is lower-triangular (its leading ``m × m``) with ``inverse_diagonal`` holding ``1 / L_cc``;
    ``Li`` is a buffer for ``L⁻¹``, and ``(L Lᵀ)⁻¹ = L⁻ᵀ L⁻¹``.
    """
    for c in range(m):
        Li[c, c] = inverse_diagonal[c]
        for row in range(c + 1, m):
            v = 0.0
            for t in range(c, row):
                v -= L[row, t] * Li[t, c]
            Li[row, c] = v * inverse_diagonal[row]
    for a in range(m):
        for c in range(a, m):
            v = 0.0
            for t in range(c, m):
                v += Li[t, a] * Li[t, c]
            out[miss[a], miss[c]] += r * v


@njit(nogil=True, cache=True)
def centre_with_holes(X, means, Z):
    """``Z[j] = X - μ_j`` with zeros at the holes of ``X``."""
    n, d = X.shape
    for j in range(means.shape[0]):
        for i in range(n):
            for t in range(d):
                x = X[i, t]
                Z[j, i, t] = 0.0 if np.isnan(x) else x - means[j, t]


@njit(nogil=True, cache=True)
def complete_full(X, prec, log_det_chol, log_weights, w, Z, V, log_prob, log_norm, resp, conditional, accumulate):
    """One pass over rows with holes under full precisions.

    ``Z`` (k, n, d) holds the centred rows with zeros at the holes and ``V[j] = Z[j] @ Λ_j`` (BLAS products made
    by the caller): ``Λ_oo z_o`` at the observed and ``b = Λ_mo z_o`` at the missing coordinates. Per row and
    component this fills the holes of ``Z[j]`` with ``-Λ_mm⁻¹ b`` and writes the marginal log-density; then the
    row's responsibilities (times its weight ``w``) and log-normaliser, and, when ``accumulate``, adds
    ``r_j·Λ_mm⁻¹`` at the missing coordinates of the upper triangle of ``conditional[j]`` (the caller
    mirrors it). A run of rows with the same holes shares one factorisation of each ``Λ_mm`` and adds
    ``(Σ r_j)·Λ_mm⁻¹`` once: a row costs ``O(d + k·m²)`` within a run, ``O(d + k·m³)`` at its start.
    """
    n, d = X.shape
    k = prec.shape[0]
    miss = np.empty(d, np.int64)
    run_miss = np.empty(d, np.int64)
    run_m = -1
    b = np.empty(d)
    y = np.empty(d)
    Li = np.empty((d, d))
    C = np.empty((k, d, d))
    C_inverse_diagonal = np.empty((k, d))
    log_det_a = np.empty(k)
    run_resp = np.zeros(k)
    for i in range(n):
        nm = 0
        for t in range(d):
            if np.isnan(X[i, t]):
                miss[nm] = t
                nm += 1
        same = nm == run_m
        if same:
            for a in range(nm):
                if miss[a] != run_miss[a]:
                    same = False
                    break
        if not same:  # a new run: close the last one, factorise each Λ_mm of this one
            if accumulate:
                for j in range(k):
                    if run_resp[j] != 0.0:
                        _add_inverse_upper(C[j], C_inverse_diagonal[j], run_m, Li, run_resp[j], run_miss,
                                           conditional[j])
                    run_resp[j] = 0.0
            for j in range(k):
                L = prec[j]
                for a in range(nm):
                    for c in range(a + 1):  # the factorisation reads the lower triangle only
                        C[j, a, c] = L[miss[a], miss[c]]
                log_det_a[j] = _cholesky(C[j], nm, C_inverse_diagonal[j])
            for a in range(nm):
                run_miss[a] = miss[a]
            run_m = nm
        for j in range(k):
            z = Z[j, i]
            v = V[j, i]
            quad = 0.0
            for t in range(d):
                quad += z[t] * v[t]  # zeros at the holes: z_oᵀ Λ_oo z_o
            for a in range(nm):
                b[a] = v[miss[a]]
                y[a] = b[a]
            _solve(C[j], nm, y, C_inverse_diagonal[j])
            for a in range(nm):
                z[miss[a]] = -y[a]
                quad -= b[a] * y[a]
            log_prob[i, j] = -0.5 * ((d - nm) * LOG_2PI + quad) + log_det_chol[j] - 0.5 * log_det_a[j]
        top = -np.inf
        for j in range(k):
            top = max(top, log_prob[i, j] + log_weights[j])
        if not np.isfinite(top):
            top = 0.0
        total = 0.0
        for j in range(k):
            total += np.exp(log_prob[i, j] + log_weights[j] - top)
        log_norm[i] = np.log(total) + top
        for j in range(k):
            r = np.exp(log_prob[i, j] + log_weights[j] - log_norm[i]) * w[i]
            resp[i, j] = r
            run_resp[j] += r
    if accumulate:
        for j in range(k):
            if run_resp[j] != 0.0:
                _add_inverse_upper(C[j], C_inverse_diagonal[j], run_m, Li, run_resp[j], run_miss, conditional[j])


#: Rows of a block taken at a time by the fused pass: their completed rows stay in cache between the products.
CHUNK_ROWS = 256


@njit(nogil=True, cache=True)
def full_block(X, w, means, prec, log_det_chol, log_weights, first, second, nk):
    """The expected-statistics E-step of rows with holes under full precisions, ``CHUNK_ROWS`` rows at a time.

    Per chunk: the centred rows with zeros at the holes, their products with each precision (BLAS), the
    Schur complement pass of ``complete_full`` (holes filled, responsibilities, conditional
    covariances), then ``Σw·r_j·ẑ_j`` and ``Σw·r_j·ẑ_jẑ_jᵀ`` added to ``first`` and ``second``. The
    conditional covariances are added to ``second`` at the end. Returns ``Σw·log p(x_o)``.
    """
    n, d = X.shape
    k = means.shape[0]
    chunk = max(1, min(CHUNK_ROWS, n))  # no rows: no chunk, and a step of at least 1
    Z = np.empty((k, chunk, d))
    V = np.empty((k, chunk, d))
    log_prob = np.empty((chunk, k))
    log_norm = np.empty(chunk)
    resp = np.empty((chunk, k))
    scaled = np.empty((chunk, d))
    root = np.empty(chunk)
    conditional = np.zeros((k, d, d))
    total = 0.0
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        m = stop - start
        Xc = X[start:stop]
        centre_with_holes(Xc, means, Z)  # rows past m (a last, shorter chunk) are left as they were
        for j in range(k):
            V[j, :m] = np.dot(Z[j, :m], prec[j])
        complete_full(Xc, prec, log_det_chol, log_weights, w[start:stop], Z, V, log_prob, log_norm, resp,
                       conditional, True)
        for i in range(m):
            total += w[start + i] * log_norm[i]
        for j in range(k):
            for i in range(m):
                r = resp[i, j]
                nk[j] += r
                root[i] = np.sqrt(r)
                for t in range(d):
                    first[j, t] += r * Z[j, i, t]
                    scaled[i, t] = root[i] * Z[j, i, t]
            second[j] += np.dot(scaled[:m].T, scaled[:m])
    for j in range(k):  # the conditional covariances, kept in the upper triangle, mirrored
        for a in range(d):
            for c in range(a, d):
                second[j, a, c] += conditional[j, a, c]
                if c != a:
                    second[j, c, a] += conditional[j, a, c]
    return total


@njit(nogil=True, cache=True)
def _pattern_keys(X):
    """A 64-bit key of each row's pattern of holes (FNV-1a over the missing columns; equal patterns, equal keys)."""
    n, d = X.shape
    keys = np.empty(n, np.uint64)
    for i in range(n):
        h = np.uint64(14695981039346656037)
        for t in range(d):
            if np.isnan(X[i, t]):
                h = (h ^ np.uint64(t + 1)) * np.uint64(1099511628211)
        keys[i] = h
    return keys


def grouped_by_pattern(X, w):
    """``X`` and ``w`` with rows of the same holes next to each other, when at least a quarter of the rows repeat
    a pattern (then they share factorisations); else as they were. Depends only on the rows given."""
    keys = _pattern_keys(X)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    if 4 * int(np.count_nonzero(sorted_keys[1:] == sorted_keys[:-1])) < X.shape[0]:
        return X, w
    return X[order], w[order]


@njit(nogil=True, cache=True)
def diagonal_block(X, w, means, prec, log_weights, first, second, nk):
    """One fused pass over rows with holes under diagonal precisions ``prec`` (k, d); returns ``Σw·log p(x_o)``.

    Adds ``Σw·r_j`` to ``nk``, ``Σw·r_j·(x_o - μ_o)`` (zero at the holes: the conditional mean of a hole is
    ``μ_m``) to ``first`` and, per coordinate, ``Σw·r_j·(x_t - μ_jt)²`` where observed and ``Σw·r_j·σ²_jt``
    where missing to ``second``. A row costs ``O(k·d)``, nothing is allocated per row.
    """
    n, d = X.shape
    k = means.shape[0]
    log_prec = np.log(prec)
    variance = 1.0 / (prec * prec)
    log_prob = np.empty(k)
    seen = np.empty(d)  # 1 where the row has a value, 0 at a hole: the loops below have no branch
    values = np.empty(d)  # the row with zeros at its holes
    z = np.empty(d)
    total = 0.0
    for i in range(n):
        for t in range(d):
            x = X[i, t]
            observed = x == x
            seen[t] = 1.0 if observed else 0.0
            values[t] = x if observed else 0.0
        count = 0.0
        for t in range(d):
            count += seen[t]
        top = -np.inf
        for j in range(k):
            for t in range(d):
                z[t] = seen[t] * ((values[t] - means[j, t]) * prec[j, t])
            quad = 0.0
            log_det_j = 0.0
            for t in range(d):
                quad += z[t] * z[t]
                log_det_j += seen[t] * log_prec[j, t]
            log_prob[j] = -0.5 * (count * LOG_2PI + quad) + log_det_j + log_weights[j]
            top = max(top, log_prob[j])
        if not np.isfinite(top):
            top = 0.0
        s = 0.0
        for j in range(k):
            s += np.exp(log_prob[j] - top)
        log_norm = np.log(s) + top
        total += w[i] * log_norm
        for j in range(k):
            r = np.exp(log_prob[j] - log_norm) * w[i]
            nk[j] += r
            if r == 0.0:
                continue
            for t in range(d):
                zt = seen[t] * (values[t] - means[j, t])
                first[j, t] += r * zt
                second[j, t] += r * (zt * zt + (1.0 - seen[t]) * variance[j, t])
    return total


@njit(nogil=True, cache=True)
def hole_counts(X):
    """The number of NaN in each row of ``X`` (one pass, no temporary mask)."""
    n, d = X.shape
    counts = np.zeros(n, np.int64)
    for i in range(n):
        c = 0
        for t in range(d):
            x = X[i, t]
            if x != x:
                c += 1
        counts[i] = c
    return counts
