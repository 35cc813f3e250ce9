"""Exact inference in a discrete Bayesian network by variable elimination, for many rows at once.

Rows are grouped by which columns are unobserved. For one group every
conditional table becomes a *factor*: the table indexed at each row's observed
codes, a leading axis over the rows and one axis per unobserved column of its
scope. Unobserved columns are then summed out one at a time (the column whose
elimination makes the smallest factor first); every new factor is divided by
its largest entry per row and the logarithm of that scale kept, so long
products neither underflow nor overflow. What remains is the unnormalised
posterior of the column asked for -- or, with nothing kept, the probability of
the observed codes. The cost grows with the largest factor formed (the
network's treewidth), not with the number of columns.
"""

from __future__ import annotations

import string

import numpy as np

__all__ = ["posteriors", "log_evidence"]

_LETTERS = string.ascii_letters[1:]  # "a" is the row axis


def _factors(cpts, structure, codes, hidden):
    """The factors of one group of rows: ``(array (m or 1, *hidden cards), hidden scope)``."""
    out = []
    for i, parents in enumerate(structure):
        scope = parents + (i,)
        table = cpts[i]
        seen = [a for a, v in enumerate(scope) if v not in hidden]
        free = [a for a, v in enumerate(scope) if v in hidden]
        table = np.transpose(table, seen + free)
        if seen:
            values = table[tuple(codes[:, scope[a]] for a in seen)]
        else:
            values = table[None]
        out.append((values, tuple(scope[a] for a in free)))
    return out


def _multiply(factors, m, keep):
    """The product of ``factors`` summed over every column of their scopes not in ``keep``."""
    scope = []
    for _, s in factors:
        scope.extend(v for v in s if v not in scope)
    if len(scope) >= len(_LETTERS):
        raise ValueError(f"exact inference would form a factor over {len(scope)} columns; the network's "
                         "treewidth is too large for variable elimination")
    letter = {v: _LETTERS[k] for k, v in enumerate(scope)}
    kept = tuple(v for v in scope if v in keep)
    spec = ",".join("a" + "".join(letter[v] for v in s) for _, s in factors)
    spec += "->a" + "".join(letter[v] for v in kept)
    arrays = [np.broadcast_to(a, (m,) + a.shape[1:]) for a, _ in factors]
    return np.einsum(spec, *arrays, optimize=len(arrays) > 2), kept


def _eliminate(factors, m, keep):
    """Sum every column out of ``factors`` except ``keep``; returns (factor over keep, log scale per row)."""
    factors = list(factors)
    log_scale = np.zeros(m)
    hidden = set()
    for _, s in factors:
        hidden.update(s)
    hidden -= set(keep)
    while hidden:
        sizes = {}
        for v in hidden:
            union = set()
            for a, s in factors:
                if v in s:
                    union.update(s)
            sizes[v] = (len(union), v)
        v = min(hidden, key=lambda u: sizes[u])
        involved = [f for f in factors if v in f[1]]
        factors = [f for f in factors if v not in f[1]]
        union = set()
        for _, s in involved:
            union.update(s)
        product, scope = _multiply(involved, m, union - {v})
        peak = product.reshape(m, -1).max(axis=1) if product.ndim > 1 else product
        peak = np.where(peak > 0, peak, 1.0)
        product = product / peak.reshape((m,) + (1,) * (product.ndim - 1))
        log_scale += np.log(peak)
        factors.append((product, scope))
        hidden.discard(v)
    result, scope = _multiply(factors, m, set(keep)) if factors else (np.ones((m,)), ())
    if scope != tuple(keep):
        result = np.transpose(result, [0] + [1 + scope.index(v) for v in keep])
    return result, log_scale


def _groups(codes):
    """Rows grouped by their pattern of unobserved columns: ``(rows, hidden columns)``."""
    mask = codes < 0
    patterns, inverse = np.unique(mask, axis=0, return_inverse=True)
    for g, pattern in enumerate(patterns):
        yield np.flatnonzero(inverse.ravel() == g), tuple(int(v) for v in np.flatnonzero(pattern))


def posteriors(cpts, structure, cards, codes) -> list:
    """For each column, ``P(column | observed codes of the row)`` of shape ``(n, cards[column])``.

    Observed columns get their own code with probability one.
    """
    n = codes.shape[0]
    out = []
    for j, c in enumerate(cards):
        one_hot = np.zeros((n, c))
        seen = codes[:, j] >= 0
        one_hot[np.flatnonzero(seen), codes[seen, j]] = 1.0
        out.append(one_hot)
    for rows, hidden in _groups(codes):
        if not hidden:
            continue
        sub = codes[rows]
        factors = _factors(cpts, structure, sub, set(hidden))
        for target in hidden:
            marginal, _ = _eliminate(factors, rows.size, (target,))
            total = marginal.sum(axis=1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[target][rows] = np.where(total > 0, marginal / total, np.nan)
    return out


def log_evidence(cpts, structure, codes) -> np.ndarray:
    """``log P(observed codes)`` of each row, unobserved columns summed out."""
    out = np.empty(codes.shape[0])
    for rows, hidden in _groups(codes):
        factors = _factors(cpts, structure, codes[rows], set(hidden))
        value, log_scale = _eliminate(factors, rows.size, ())
        with np.errstate(divide="ignore"):
            out[rows] = np.log(value) + log_scale
    return out
