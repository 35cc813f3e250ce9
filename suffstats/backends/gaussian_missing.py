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
def _cholesky_logdet_solve(A, b):
    """In place: ``A`` becomes its lower Cholesky factor ``L``; returns ``(log det A, A⁻¹ b)``."""
    m = A.shape[0]
    log_det_a = 0.0
    for c in range(m):
        s = A[c, c]
        for t in range(c):
            s -= A[c, t] * A[c, t]
        s = np.sqrt(s)
        A[c, c] = s
        log_det_a += 2.0 * np.log(s)
        for r in range(c + 1, m):
            v = A[r, c]
            for t in range(c):
                v -= A[r, t] * A[c, t]
            A[r, c] = v / s
    y = b.copy()
    for r in range(m):  # L u = b
        v = y[r]
        for t in range(r):
            v -= A[r, t] * y[t]
        y[r] = v / A[r, r]
    for r in range(m - 1, -1, -1):  # Lᵀ y = u
        v = y[r]
        for t in range(r + 1, m):
            v -= A[t, r] * y[t]
        y[r] = v / A[r, r]
    return log_det_a, y


@njit(nogil=True, cache=True)
def _inverse_from_cholesky(L, out):
    """``out`` = ``(L Lᵀ)⁻¹`` for a lower-triangular ``L`` (column by column)."""
    m = L.shape[0]
    e = np.zeros(m)
    for c in range(m):
        e[:] = 0.0
        e[c] = 1.0
        for r in range(m):
            v = e[r]
            for t in range(r):
                v -= L[r, t] * e[t]
            e[r] = v / L[r, r]
        for r in range(m - 1, -1, -1):
            v = e[r]
            for t in range(r + 1, m):
                v -= L[t, r] * e[t]
            e[r] = v / L[r, r]
        for r in range(m):
            out[r, c] = e[r]


@njit(nogil=True, cache=True)
def _complete_full(X, means, prec, log_det_chol, Z, log_prob):
    """Completed centred rows ``Z`` (k, n, d) and marginal log-densities (n, k) under full precisions."""
    n, d = X.shape
    k = means.shape[0]
    miss = np.empty(d, np.int64)
    obs = np.empty(d, np.int64)
    for i in range(n):
        nm = 0
        no = 0
        for t in range(d):
            if np.isnan(X[i, t]):
                miss[nm] = t
                nm += 1
            else:
                obs[no] = t
                no += 1
        A = np.empty((nm, nm))
        b = np.empty(nm)
        for j in range(k):
            L = prec[j]
            z = Z[j, i]
            for t in range(d):
                z[t] = 0.0
            for a in range(no):
                z[obs[a]] = X[i, obs[a]] - means[j, obs[a]]
            quad = 0.0  # z_oᵀ Λ_oo z_o
            for a in range(no):
                s = 0.0
                for c in range(no):
                    s += L[obs[a], obs[c]] * z[obs[c]]
                quad += z[obs[a]] * s
            for a in range(nm):
                s = 0.0
                for c in range(no):
                    s += L[miss[a], obs[c]] * z[obs[c]]
                b[a] = s
                for c in range(nm):
                    A[a, c] = L[miss[a], miss[c]]
            log_det_a, y = _cholesky_logdet_solve(A, b)
            for a in range(nm):
                z[miss[a]] = -y[a]
                quad -= b[a] * y[a]
            log_prob[i, j] = -0.5 * (no * LOG_2PI + quad) + log_det_chol[j] - 0.5 * log_det_a


@njit(nogil=True, cache=True)
def _add_conditional_full(X, prec, resp, out):
    """``out[j] += Σ_i resp[i, j]·Cov[x_m | x_o]`` (placed at the missing coordinates) under full precisions."""
    n, d = X.shape
    k = prec.shape[0]
    miss = np.empty(d, np.int64)
    for i in range(n):
        nm = 0
        for t in range(d):
            if np.isnan(X[i, t]):
                miss[nm] = t
                nm += 1
        A = np.empty((nm, nm))
        C = np.empty((nm, nm))
        zero = np.zeros(nm)
        for j in range(k):
            r = resp[i, j]
            if r == 0.0:
                continue
            for a in range(nm):
                for c in range(nm):
                    A[a, c] = prec[j, miss[a], miss[c]]
            _cholesky_logdet_solve(A, zero)
            _inverse_from_cholesky(A, C)
            for a in range(nm):
                for c in range(nm):
                    out[j, miss[a], miss[c]] += r * C[a, c]


def _diag_precisions(prec_chol, covariance_type, n_features):
    """Per-coordinate precision Cholesky factors (k, d) of diagonal and spherical components."""
    p = np.asarray(prec_chol, dtype=np.float64)
    return p if covariance_type == "diag" else np.repeat(p[:, None], n_features, axis=1)


def _complete(X, means, prec_chol, covariance_type):
    """Completed centred rows (k, n, d), marginal log-densities (n, k) and the precisions used."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    k = means.shape[0]
    means = np.ascontiguousarray(means, dtype=np.float64)
    if layout_of(covariance_type) == "full":
        prec = precisions(prec_chol, covariance_type, d, k)
        Z = np.empty((k, n, d))
        log_prob = np.empty((n, k))
        _complete_full(np.ascontiguousarray(X), means, prec, log_det(covariance_type, prec_chol, d, k), Z, log_prob)
        return Z, log_prob, prec
    p = _diag_precisions(prec_chol, covariance_type, d)
    observed = ~np.isnan(X)
    Z = np.where(observed[None], X[None] - means[:, None, :], 0.0)  # conditional mean of a hole: μ_m
    Y = Z * p[:, None, :]
    log_prob = (-0.5 * (observed.sum(axis=1)[:, None] * LOG_2PI + np.einsum("jnd,jnd->nj", Y, Y))
                + observed @ np.log(p).T)
    return Z, log_prob, p


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
    return _complete(X, means, prec_chol, covariance_type)[1]


def conditional_means(X, means, prec_chol, covariance_type, log_weights):
    """``E[x | x_o]`` under the mixture: each row with its holes filled, and the responsibilities (n, k)."""
    Z, log_prob, _ = _complete(X, means, prec_chol, covariance_type)
    weighted = log_prob + log_weights
    resp = np.exp(weighted - _logsumexp(weighted)[:, None])
    completed = np.einsum("nj,jnd->nd", resp, Z + means[:, None, :])
    return np.where(np.isnan(X), completed, X), resp


def _logsumexp(a):
    top = np.max(a, axis=1)
    top = np.where(np.isfinite(top), top, 0.0)
    return np.log(np.sum(np.exp(a - top[:, None]), axis=1)) + top


def incomplete_block(X, w, means, prec_chol, log_weights, covariance_type):
    """Expected-statistics E-step of one block of incomplete rows, in the backends' block layout.

    Returns ``(Σw, Σw·log p(x_o), Σw·r_j, Σw·r_j·ẑ_j, Σw·r_j·(ẑ_jẑ_jᵀ + Cov_j[x_m | x_o]))``,
    the last in the covariance type's layout, moments around ``means``.
    """
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    k = means.shape[0]
    Z, log_prob, prec = _complete(X, means, prec_chol, covariance_type)
    weighted = log_prob + log_weights
    log_norm = _logsumexp(weighted)
    resp = np.exp(weighted - log_norm[:, None])
    if w is not None:
        resp = resp * w[:, None]
    first = np.einsum("nj,jnd->jd", resp, Z)
    layout = layout_of(covariance_type)
    if layout == "full":
        second = np.zeros((k, d, d))
        _add_conditional_full(np.ascontiguousarray(X), prec, np.ascontiguousarray(resp), second)
        for j in range(k):
            second[j] += (Z[j] * resp[:, j:j + 1]).T @ Z[j]
    else:
        variances = np.where(np.isnan(X)[None], 1.0 / (prec * prec)[:, None, :], 0.0)  # (k, n, d)
        second = np.einsum("nj,jnd->jd", resp, Z * Z + variances)
        if layout == "trace":
            second = second.sum(axis=1)
    weight = float(n) if w is None else float(np.sum(w))
    log_likelihood = float(np.sum(log_norm) if w is None else np.sum(w * log_norm))
    return weight, log_likelihood, resp.sum(axis=0), first, second


def conditional_draws(X, means, prec_chol, covariance_type, log_weights, rng):
    """Each row with its holes drawn from ``p(x_m | x_o)`` under the mixture (component first, then the values).

    Rows sharing a pattern of holes and a drawn component share one factorisation.
    """
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    k = means.shape[0]
    Z, log_prob, prec = _complete(X, means, prec_chol, covariance_type)
    weighted = log_prob + log_weights
    resp = np.exp(weighted - _logsumexp(weighted)[:, None])
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
            if layout_of(covariance_type) == "full":
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
    X = np.asarray(X, dtype=np.float64)
    means = np.asarray(mean, dtype=np.float64).reshape(1, -1)
    resp = np.ones((X.shape[0], 1)) if w is None else np.asarray(w, dtype=np.float64).reshape(-1, 1)
    Z, _, prec = _complete(X, means, prec_chol, covariance_type)
    first = resp[:, 0] @ Z[0]
    if layout_of(covariance_type) == "full":
        second = np.zeros((1, X.shape[1], X.shape[1]))
        _add_conditional_full(np.ascontiguousarray(X), prec, np.ascontiguousarray(resp), second)
        second = second[0] + (Z[0] * resp).T @ Z[0]
    else:
        variances = np.where(np.isnan(X), 1.0 / (prec[0] * prec[0]), 0.0)
        second = resp[:, 0] @ (Z[0] * Z[0] + variances)
        if layout_of(covariance_type) == "trace":
            second = second.sum()
    return first, second
