"""Gaussian E-step for rows with holes: marginal log-densities and conditional expected moments.

A row ``x`` with observed coordinates ``o`` and missing coordinates ``m``
(NaN) contributes, for each component ``j`` with mean ``μ`` and precision
``Λ = Σ⁻¹``, the marginal log-density ``log N(x_o | μ_o, Σ_oo)`` and the
conditional moments of ``x_m`` given ``x_o``. Everything is read off the
precision matrix through the Schur complement, so no ``Σ_oo`` is ever
factorised: with ``z_o = x_o - μ_o`` and ``b = Λ_mo z_o``,

* ``E[x_m | x_o] - μ_m = -Λ_mm⁻¹ b`` and ``Cov[x_m | x_o] = Λ_mm⁻¹``;
* ``z_oᵀ Σ_oo⁻¹ z_o = z_oᵀ Λ_oo z_o - bᵀ Λ_mm⁻¹ b``;
* ``log det Σ_oo = log det Σ + log det Λ_mm``;

a row costs ``O(d·|o| + |m|³)`` per component. The completed centred rows
``ẑ`` (observed ``x_o - μ_o``, missing ``E[x_m | x_o] - μ_m``) give the
moments around the component means, ``Σw·r·ẑ`` and ``Σw·r·(ẑẑᵀ + Cov[x_m | x_o])``:
the expected sufficient statistics of exact EM for data missing at random
(Ghahramani & Jordan 1994). Diagonal and spherical components have
independent coordinates: the conditional mean is ``μ_m`` and the conditional
variances are the component's.

A block's statistics come from one compiled pass: under full and tied
precisions over chunks of :data:`CHUNK_ROWS` rows (the completed rows of a
chunk stay in cache between its two BLAS products per component), under
diagonal and spherical ones row by row with nothing allocated. With 10% of 50
coordinates missing a block costs about twice the complete-row kernel's time
(full) and three times (diagonal); see ``benchmarks/bench_missing.py``.

These kernels take rows of which none is complete and none is entirely
missing (the caller routes complete rows to the backend's kernels and gives
rows with no observed value no weight); they run on the CPU in float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .gaussian_math import LOG_2PI, layout_of, log_det

__all__ = ["precisions", "incomplete_log_prob", "incomplete_block", "conditional_means", "conditional_draws", "expected_moments"]


def precisions(prec_chol, covariance_type, n_features, n_components):
    """Each component's precision matrix ``P Pᵀ`` (k, d, d) from its Cholesky factor (full and tied types)."""
    P = np.asarray(prec_chol, dtype=np.float64)
    if covariance_type == "tied":
        P = np.broadcast_to(P, (n_components, n_features, n_features))
    return np.ascontiguousarray(P @ np.swapaxes(P, 1, 2))


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
    """``y ← (L Lᵀ)⁻¹ y`` on the leading ``m`` entries, ``L`` from :func:`_cholesky`."""
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
def _centre_with_holes(X, means, Z):
    """``Z[j] = X - μ_j`` with zeros at the holes of ``X``."""
    n, d = X.shape
    for j in range(means.shape[0]):
        for i in range(n):
            for t in range(d):
                x = X[i, t]
                Z[j, i, t] = 0.0 if np.isnan(x) else x - means[j, t]


@njit(nogil=True, cache=True)
def _complete_full(X, prec, log_det_chol, log_weights, w, Z, V, log_prob, log_norm, resp, conditional, accumulate):
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
def _full_block(X, w, means, prec, log_det_chol, log_weights, first, second, nk):
    """The expected-statistics E-step of rows with holes under full precisions, ``CHUNK_ROWS`` rows at a time.

    Per chunk: the centred rows with zeros at the holes, their products with each precision (BLAS), the
    Schur complement pass of :func:`_complete_full` (holes filled, responsibilities, conditional
    covariances), then ``Σw·r_j·ẑ_j`` and ``Σw·r_j·ẑ_jẑ_jᵀ`` added to ``first`` and ``second``. The
    conditional covariances are added to ``second`` at the end. Returns ``Σw·log p(x_o)``.
    """
    n, d = X.shape
    k = means.shape[0]
    chunk = min(CHUNK_ROWS, n)
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
        _centre_with_holes(Xc, means, Z)  # rows past m (a last, shorter chunk) are left as they were
        for j in range(k):
            V[j, :m] = np.dot(Z[j, :m], prec[j])
        _complete_full(Xc, prec, log_det_chol, log_weights, w[start:stop], Z, V, log_prob, log_norm, resp,
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


def _grouped_by_pattern(X, w):
    """``X`` and ``w`` with rows of the same holes next to each other, when at least a quarter of the rows repeat
    a pattern (then they share factorisations); else as they were. Depends only on the rows given."""
    keys = _pattern_keys(X)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    if 4 * int(np.count_nonzero(sorted_keys[1:] == sorted_keys[:-1])) < X.shape[0]:
        return X, w
    return X[order], w[order]


def _diag_precisions(prec_chol, covariance_type, n_features):
    """Per-coordinate precision Cholesky factors (k, d) of diagonal and spherical components."""
    p = np.asarray(prec_chol, dtype=np.float64)
    return p if covariance_type == "diag" else np.repeat(p[:, None], n_features, axis=1)


def _e_step(X, means, prec_chol, covariance_type, log_weights, w=None, accumulate=False):
    """The E-step of rows with holes.

    Returns the completed centred rows ``Z`` (k, n, d), the marginal log-densities (n, k), the
    log-normalisers (n,), the responsibilities times ``w`` (n, k) and, when ``accumulate``,
    ``Σ r_j·Cov_j[x_m | x_o]`` in the covariance type's layout (else ``None``).
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    n, d = X.shape
    k = means.shape[0]
    means = np.ascontiguousarray(means, dtype=np.float64)
    log_weights = np.ascontiguousarray(log_weights, dtype=np.float64)
    weights = np.ones(n) if w is None else np.ascontiguousarray(w, dtype=np.float64)
    if layout_of(covariance_type) == "full":
        prec = precisions(prec_chol, covariance_type, d, k)
        Z = np.empty((k, n, d))
        _centre_with_holes(X, means, Z)  # (k, n, d), zeros at the holes
        V = np.empty((k, n, d))
        for j in range(k):
            np.matmul(Z[j], prec[j], out=V[j])
        log_prob, log_norm, resp = np.empty((n, k)), np.empty(n), np.empty((n, k))
        conditional = np.zeros((k, d, d))
        _complete_full(X, prec, np.ascontiguousarray(log_det(covariance_type, prec_chol, d, k), dtype=np.float64),
                       log_weights, weights, Z, V, log_prob, log_norm, resp, conditional, accumulate)
        if not accumulate:
            return Z, log_prob, log_norm, resp, None
        lower = np.tril(np.swapaxes(conditional, 1, 2), -1)  # the upper triangle, mirrored
        return Z, log_prob, log_norm, resp, conditional + lower
    holes = np.isnan(X)
    p = _diag_precisions(prec_chol, covariance_type, d)
    Z = np.where(holes[None], 0.0, X[None] - means[:, None, :])  # the conditional mean of a hole is μ_m
    Y = Z * p[:, None, :]
    log_prob = (-0.5 * ((~holes).sum(axis=1)[:, None] * LOG_2PI + np.einsum("jnd,jnd->nj", Y, Y))
                + (~holes) @ np.log(p).T)
    weighted = log_prob + log_weights
    log_norm = _logsumexp(weighted)
    resp = np.exp(weighted - log_norm[:, None]) * weights[:, None]
    conditional = None
    if accumulate:
        conditional = resp.T @ holes / (p * p)  # Σ r_j·σ²_jt over the rows where t is missing, (k, d)
        if layout_of(covariance_type) == "trace":
            conditional = conditional.sum(axis=1)
    return Z, log_prob, log_norm, resp, conditional


def incomplete_log_prob(X, means, prec_chol, covariance_type):
    """Marginal ``log N(x_o | μ_jo, Σ_j,oo)`` of each row over its observed coordinates, shape (n, k).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import norm
    >>> lp = incomplete_log_prob(np.array([[np.nan, 0.5]]), np.zeros((1, 2)), np.array([[1.0, 2.0]]), "diag")
    >>> bool(np.isclose(lp[0, 0], norm.logpdf(0.5, scale=0.5)))
    True
    """
    return _e_step(X, means, prec_chol, covariance_type, np.zeros(means.shape[0]))[1]


def conditional_means(X, means, prec_chol, covariance_type, log_weights):
    """``E[x | x_o]`` under the mixture: each row with its holes filled, and the responsibilities (n, k)."""
    Z, _, _, resp, _ = _e_step(X, means, prec_chol, covariance_type, log_weights)
    completed = np.einsum("nj,jnd->nd", resp, Z + means[:, None, :])
    return np.where(np.isnan(X), completed, X), resp


def _logsumexp(a):
    top = np.max(a, axis=1)
    top = np.where(np.isfinite(top), top, 0.0)
    return np.log(np.sum(np.exp(a - top[:, None]), axis=1)) + top


def _second_moments(Z, resp, conditional, layout):
    """``Σ r_j·ẑ_jẑ_jᵀ`` (in the layout) plus the conditional covariances, per component."""
    if layout == "full":
        return np.stack([(Z[j] * resp[:, j:j + 1]).T @ Z[j] for j in range(Z.shape[0])]) + conditional
    diag = np.einsum("nj,jnd->jd", resp, Z * Z)
    return (diag if layout == "diag" else diag.sum(axis=1)) + conditional


@njit(nogil=True, cache=True)
def _diagonal_block(X, w, means, prec, log_weights, first, second, nk):
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
    total = 0.0
    for i in range(n):
        observed = 0
        for t in range(d):
            if not np.isnan(X[i, t]):
                observed += 1
        top = -np.inf
        for j in range(k):
            quad = 0.0
            log_det_j = 0.0
            for t in range(d):
                x = X[i, t]
                if not np.isnan(x):
                    z = (x - means[j, t]) * prec[j, t]
                    quad += z * z
                    log_det_j += log_prec[j, t]
            log_prob[j] = -0.5 * (observed * LOG_2PI + quad) + log_det_j + log_weights[j]
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
                x = X[i, t]
                if np.isnan(x):
                    second[j, t] += r * variance[j, t]
                else:
                    z = x - means[j, t]
                    first[j, t] += r * z
                    second[j, t] += r * z * z
    return total


def incomplete_block(X, w, means, prec_chol, log_weights, covariance_type):
    """Expected-statistics E-step of one block of incomplete rows, in the backends' block layout.

    Returns ``(Σw, Σw·log p(x_o), Σw·r_j, Σw·r_j·ẑ_j, Σw·r_j·(ẑ_jẑ_jᵀ + Cov_j[x_m | x_o]))``,
    the last in the covariance type's layout, moments around ``means``. Diagonal and spherical
    components take one compiled pass (:func:`_diagonal_block`), full and tied ones a compiled pass
    over chunks of rows with two BLAS products per component and chunk (:func:`_full_block`).
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    n, d = X.shape
    k = means.shape[0]
    layout = layout_of(covariance_type)
    weights = np.ones(n) if w is None else np.ascontiguousarray(w, dtype=np.float64)
    means, log_weights = (np.ascontiguousarray(a, dtype=np.float64) for a in (means, log_weights))
    first, nk = np.zeros((k, d)), np.zeros(k)
    if layout == "full":
        X, weights = _grouped_by_pattern(X, weights)  # the sums do not depend on the order of the rows
        second = np.zeros((k, d, d))
        log_likelihood = _full_block(X, weights, means, precisions(prec_chol, covariance_type, d, k),
                                     np.ascontiguousarray(log_det(covariance_type, prec_chol, d, k), dtype=np.float64),
                                     log_weights, first, second, nk)
    else:
        second = np.zeros((k, d))
        log_likelihood = _diagonal_block(X, weights, means,
                                         np.ascontiguousarray(_diag_precisions(prec_chol, covariance_type, d)),
                                         log_weights, first, second, nk)
        second = second if layout == "diag" else second.sum(axis=1)
    weight = float(n) if w is None else float(np.sum(w))
    return weight, float(log_likelihood), nk, first, second


def conditional_draws(X, means, prec_chol, covariance_type, log_weights, rng):
    """Each row with its holes drawn from ``p(x_m | x_o)`` under the mixture (component first, then the values).

    Rows sharing a pattern of holes and a drawn component share one factorisation.
    """
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    k = means.shape[0]
    Z, _, _, resp, _ = _e_step(X, means, prec_chol, covariance_type, log_weights)
    full = layout_of(covariance_type) == "full"
    prec = precisions(prec_chol, covariance_type, d, k) if full else _diag_precisions(prec_chol, covariance_type, d)
    cumulative = np.cumsum(resp, axis=1)
    component = np.minimum((rng.random(n)[:, None] * cumulative[:, -1:] > cumulative).sum(axis=1), k - 1)
    out = X.copy()
    holes = np.isnan(X)
    rows = np.flatnonzero(holes.any(axis=1))
    if rows.size == 0:
        return out
    patterns, inverse = np.unique(holes[rows], axis=0, return_inverse=True)
    inverse = np.ravel(inverse)
    for p, pattern in enumerate(patterns):
        m = np.flatnonzero(pattern)
        for j in range(k):
            chosen = rows[(inverse == p) & (component[rows] == j)]
            if chosen.size == 0:
                continue
            centre = Z[j, chosen][:, m] + means[j, m]
            if full:
                factor = np.linalg.cholesky(np.linalg.inv(prec[j][np.ix_(m, m)]))
                noise = rng.standard_normal((chosen.size, m.size)) @ factor.T
            else:
                noise = rng.standard_normal((chosen.size, m.size)) / prec[j, m]
            out[np.ix_(chosen, m)] = centre + noise
    return out


def expected_moments(X, w, mean, prec_chol, covariance_type):
    """One component's ``Σw·ẑ`` (d,) and ``Σw·(ẑẑᵀ + Cov[x_m | x_o])`` around ``mean``, in the type's layout.

    ``prec_chol`` is stacked for one component (``(1, d, d)``, ``(1, d)`` or ``(1,)``); ``w`` holds the
    rows' weights (responsibilities), ``None`` for ones.
    """
    means = np.asarray(mean, dtype=np.float64).reshape(1, -1)
    Z, _, _, resp, conditional = _e_step(X, means, prec_chol, covariance_type, np.zeros(1), w, True)
    return resp[:, 0] @ Z[0], _second_moments(Z, resp, conditional, layout_of(covariance_type))[0]
