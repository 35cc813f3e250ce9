"""Emission kernels of the hidden Markov models: each row's log-density under every state, and each state's
statistics of a piece given its posteriors, compiled and summed in row order.

The recursions over rows (forward, backward, Viterbi) are in :mod:`suffstats.hmm._kernels`; these are what the
emission families (:mod:`~suffstats.hmm.gaussian`, :mod:`~suffstats.hmm.gmm`, :mod:`~suffstats.hmm.discrete`)
compute around them. They trust their inputs (validation happens at the public boundary).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["gaussian_full_log_density", "gaussian_diag_log_density", "mixture_log_sum", "state_moments",
           "symbol_log_likelihood", "symbol_counts"]

_NEG_INF = -np.inf


@numba.njit(cache=True, nogil=True)
def _cholesky(A, L):
    """Lower Cholesky factor of ``A`` into ``L``; False if ``A`` is not positive definite."""
    d = A.shape[0]
    for i in range(d):
        for j in range(i + 1):
            s = A[i, j]
            for m in range(j):
                s -= L[i, m] * L[j, m]
            if i == j:
                if not s > 0.0:
                    return False
                L[i, i] = np.sqrt(s)
            else:
                L[i, j] = s / L[j, j]
        for j in range(i + 1, d):
            L[i, j] = 0.0
    return True


@numba.njit(cache=True, nogil=True)
def gaussian_full_log_density(X, means, covars, jitter, out):
    """Log-density of rows ``X`` (n, d) under Gaussians (K, d), (K, d, d) into ``out`` (n, K).

    A covariance that is not numerically positive definite gets ``jitter`` on
    its diagonal (hmmlearn's fallback); returns False if it still fails.
    """
    n, d = X.shape
    K = means.shape[0]
    L = np.empty((d, d))
    z = np.empty(d)
    log2pi = np.log(2.0 * np.pi)
    for k in range(K):
        if not _cholesky(covars[k], L):
            A = covars[k].copy()
            for i in range(d):
                A[i, i] += jitter
            if not _cholesky(A, L):
                return False
        logdet = 0.0
        for i in range(d):
            logdet += 2.0 * np.log(L[i, i])
        for t in range(n):
            q = 0.0
            for i in range(d):
                s = X[t, i] - means[k, i]
                for j in range(i):
                    s -= L[i, j] * z[j]
                z[i] = s / L[i, i]
                q += z[i] * z[i]
            out[t, k] = -0.5 * (q + d * log2pi + logdet)
    return True


@numba.njit(cache=True, nogil=True)
def gaussian_diag_log_density(X, means, covars, out):
    """Log-density of rows ``X`` (n, d) under diagonal Gaussians: means (K, d), variances (K, d), into ``out`` (n, K).

    Each row's squared distance is summed from ``(x - mu)^2 / var`` (no expansion of the square, so data far
    from the origin loses no digits).
    """
    n, d = X.shape
    K = means.shape[0]
    log2pi = np.log(2.0 * np.pi)
    const = np.empty(K)
    inv = np.empty((K, d))
    for k in range(K):
        c = d * log2pi
        for j in range(d):
            c += np.log(covars[k, j])
            inv[k, j] = 1.0 / covars[k, j]
        const[k] = c
    for t in range(n):
        for k in range(K):
            q = 0.0
            for j in range(d):
                z = X[t, j] - means[k, j]
                q += z * z * inv[k, j]
            out[t, k] = -0.5 * (q + const[k])


@numba.njit(cache=True, nogil=True)
def mixture_log_sum(dens, out, within):
    """``out[t, k] = log Σ_m exp(dens[t, k, m])`` over a state's mixture components (a shift by their largest).

    When ``within`` has rows, it receives each component's share within its
    state, ``exp(dens - out)`` (0 for a state whose components all have
    density 0 at the row).
    """
    n, K, M = dens.shape
    shares = within.shape[0] > 0
    for t in range(n):
        for k in range(K):
            m = dens[t, k, 0]
            for j in range(1, M):
                if dens[t, k, j] > m:
                    m = dens[t, k, j]
            if not m > _NEG_INF:
                out[t, k] = m
                if shares:
                    for j in range(M):
                        within[t, k, j] = 0.0
                continue
            s = 0.0
            for j in range(M):
                s += np.exp(dens[t, k, j] - m)
            total = m + np.log(s)
            out[t, k] = total
            if shares:
                for j in range(M):
                    within[t, k, j] = np.exp(dens[t, k, j] - total)


def state_moments(X, posteriors, shifts, full):
    """Each state's posterior-weighted moments of rows ``X`` (n, d) around its shift, in one pass, in row order.

    Returns ``Σ γ`` (K,), ``Σ γ (x - shift)`` (K, d), and ``Σ γ (x - shift)(x - shift)ᵀ`` (K, d, d) when
    ``full``, else its diagonal (K, d).
    """
    K, d = shifts.shape
    weight, first = np.zeros(K), np.zeros((K, d))
    second = np.zeros((K, d, d) if full else (K, d))
    (_moments_full if full else _moments_diag)(X, posteriors, shifts, weight, first, second)
    return weight, first, second


@numba.njit(cache=True, nogil=True)
def _moments_full(X, posteriors, shifts, weight, first, second):
    n, d = X.shape
    K = posteriors.shape[1]
    z = np.empty(d)
    for t in range(n):
        for k in range(K):
            g = posteriors[t, k]
            weight[k] += g
            for i in range(d):
                z[i] = X[t, i] - shifts[k, i]
                first[k, i] += g * z[i]
            for i in range(d):
                gz = g * z[i]
                for j in range(d):
                    second[k, i, j] += gz * z[j]


@numba.njit(cache=True, nogil=True)
def _moments_diag(X, posteriors, shifts, weight, first, second):
    n, d = X.shape
    K = posteriors.shape[1]
    for t in range(n):
        for k in range(K):
            g = posteriors[t, k]
            weight[k] += g
            for i in range(d):
                z = X[t, i] - shifts[k, i]
                first[k, i] += g * z
                second[k, i] += g * z * z


@numba.njit(cache=True, nogil=True)
def symbol_log_likelihood(log_emission, symbols, out):
    """``out[t, k] = log_emission[k, symbols[t]]``: each row's log-probability under every state, in one pass."""
    K = log_emission.shape[0]
    for t in range(symbols.shape[0]):
        s = symbols[t]
        for k in range(K):
            out[t, k] = log_emission[k, s]


@numba.njit(cache=True, nogil=True)
def symbol_counts(symbols, posteriors, out):
    """Add ``posteriors[t, k]`` to ``out[k, symbols[t]]`` for every row, in row order (as ``bincount`` adds them)."""
    K = posteriors.shape[1]
    for t in range(symbols.shape[0]):
        s = symbols[t]
        for k in range(K):
            out[k, s] += posteriors[t, k]
