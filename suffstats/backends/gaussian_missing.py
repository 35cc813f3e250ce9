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

A block's statistics come from one compiled pass
(:mod:`suffstats.backends.gaussian_missing_kernels`): under full and tied
precisions over chunks of rows, rows with the same holes grouped when
patterns repeat so that they share factorisations; under diagonal and
spherical ones row by row. With 10% of 50 coordinates missing at random a
block costs about twice the complete-row kernel's time (full and diagonal;
measured per block, one thread); see ``benchmarks/bench_missing.py``.

These kernels take rows of which none is entirely missing (the caller gives
rows with no observed value no weight, and routes complete rows to the
backend's kernels unless they are few; a complete row is the same formulas
with nothing to integrate out); they run on the CPU in float64.
"""

from __future__ import annotations

import numpy as np

from .gaussian_math import LOG_2PI, layout_of, log_det
from .gaussian_missing_kernels import centre_with_holes, complete_full, diagonal_block, full_block, grouped_by_pattern

__all__ = ["precisions", "incomplete_log_prob", "incomplete_block", "conditional_means", "conditional_draws", "expected_moments"]


def precisions(prec_chol, covariance_type, n_features, n_components):
    """Each component's precision matrix ``P Pᵀ`` (k, d, d) from its Cholesky factor (full and tied types)."""
    P = np.asarray(prec_chol, dtype=np.float64)
    if covariance_type == "tied":
        P = np.broadcast_to(P, (n_components, n_features, n_features))
    return np.ascontiguousarray(P @ np.swapaxes(P, 1, 2))

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
        centre_with_holes(X, means, Z)  # (k, n, d), zeros at the holes
        V = np.empty((k, n, d))
        for j in range(k):
            np.matmul(Z[j], prec[j], out=V[j])
        log_prob, log_norm, resp = np.empty((n, k)), np.empty(n), np.empty((n, k))
        conditional = np.zeros((k, d, d))
        complete_full(X, prec, np.ascontiguousarray(log_det(covariance_type, prec_chol, d, k), dtype=np.float64),
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

def incomplete_block(X, w, means, prec_chol, log_weights, covariance_type):
    """Expected-statistics E-step of one block of incomplete rows, in the backends' block layout.

    Returns ``(Σw, Σw·log p(x_o), Σw·r_j, Σw·r_j·ẑ_j, Σw·r_j·(ẑ_jẑ_jᵀ + Cov_j[x_m | x_o]))``,
    the last in the covariance type's layout, moments around ``means``. Diagonal and spherical
    components take one compiled pass (``gaussian_missing_kernels.diagonal_block``), full and tied ones a compiled pass
    over chunks of rows with two BLAS products per component and chunk (``gaussian_missing_kernels.full_block``).
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    n, d = X.shape
    k = means.shape[0]
    layout = layout_of(covariance_type)
    weights = np.ones(n) if w is None else np.ascontiguousarray(w, dtype=np.float64)
    means, log_weights = (np.ascontiguousarray(a, dtype=np.float64) for a in (means, log_weights))
    first, nk = np.zeros((k, d)), np.zeros(k)
    if layout == "full":
        X, weights = grouped_by_pattern(X, weights)  # the sums do not depend on the order of the rows
        second = np.zeros((k, d, d))
        log_likelihood = full_block(X, weights, means, precisions(prec_chol, covariance_type, d, k),
                                     np.ascontiguousarray(log_det(covariance_type, prec_chol, d, k), dtype=np.float64),
                                     log_weights, first, second, nk)
    else:
        second = np.zeros((k, d))
        log_likelihood = diagonal_block(X, weights, means,
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
