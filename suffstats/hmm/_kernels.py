"""Forward-backward and Viterbi kernels on one piece of one sequence, with messages carried in and out.

Each kernel works on the rows of one *piece* (a run of consecutive rows of one
sequence) and takes the message of the row before the piece (forward) or
after it (backward), so a sequence of any length is processed piece by piece
with exactly the arithmetic of the whole-sequence recursion: the forward
message entering a piece is the one the previous piece left, and the backward
message entering a piece (from its end) is the one the next piece left.

Two implementations, as hmmlearn's ``implementation``:

- ``log``: messages are log-probabilities; every sum is a log-sum-exp. Stays
  finite whatever the emission densities (an outlier row whose density
  underflows in linear space is fine).
- ``scaling``: messages are probabilities normalised to sum to one per row
  (the row's scale ``c_t`` kept in log); emission densities are used in
  linear space, so a row whose densities all underflow raises.

The ``log`` implementation runs a piece through the *shifted* kernels first
(:func:`forward_shifted`, :func:`backward_shifted`, :func:`posteriors_xi_shifted`):
each row's densities are divided by their largest, ``P[t] = exp(ll[t] - max ll[t])``
(exponentials taken for the whole piece at once), and messages are normalised
per row, so a row costs no exponential or logarithm, and an outlier row whose
densities underflow in linear space is still exact. A piece where a normaliser
falls below :data:`SHIFTED_FLOOR` (transitions that all but forbid the likeliest
states) goes through the log-sum-exp kernels instead.

All kernels are compiled with numba and trust their inputs (validation
happens at the public boundary).

Examples
--------
>>> import numpy as np
>>> from suffstats.hmm._kernels import forward_log
>>> ll = np.log(np.array([[0.5, 0.1], [0.2, 0.4]]))
>>> alpha = np.empty_like(ll)
>>> logA = np.log(np.array([[0.9, 0.1], [0.2, 0.8]]))
>>> forward_log(np.log([0.5, 0.5]), logA, ll, np.zeros(2), True, alpha)
>>> round(float(np.logaddexp.reduce(alpha[-1])), 6), round(float(np.log(0.073)), 6)  # log p(x1, x2)
(-2.617296, -2.617296)
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["forward_log", "backward_log", "xi_log", "forward_scaling", "backward_scaling", "xi_scaling",
           "viterbi_forward", "viterbi_backtrack", "posteriors_log", "forward_shifted", "backward_shifted",
           "posteriors_xi_shifted", "shift_rows", "SHIFTED_FLOOR"]

_NEG_INF = -np.inf


@numba.njit(cache=True, nogil=True)
def _logsumexp(a):
    m = _NEG_INF
    for v in a:
        if v > m:
            m = v
    if m == _NEG_INF:
        return _NEG_INF
    s = 0.0
    for v in a:
        s += np.exp(v - m)
    return m + np.log(s)


#: Below this log-ratio to the largest term an exponential loses digits to the subnormal range (exp(-700) ~ 1e-304):
#: rows with such a term take each state's own log-sum-exp.
_UNDERFLOW = -700.0


@numba.njit(cache=True, nogil=True)
def _logsumexp_through(a, b):
    """``log Σ_i exp(a[i] + b[i])``, shifted by its own largest term (``-inf`` when every term is)."""
    m = _NEG_INF
    for i in range(a.shape[0]):
        if a[i] + b[i] > m:
            m = a[i] + b[i]
    if not m > _NEG_INF:
        return _NEG_INF
    s = 0.0
    for i in range(a.shape[0]):
        s += np.exp(a[i] + b[i] - m)
    return m + np.log(s)


@numba.njit(cache=True, nogil=True)
def forward_log(log_start, log_trans, ll, alpha_in, first, alpha):
    """Log forward messages of a piece into ``alpha`` (n, K); ``alpha_in``: message of the row before (unused if first).

    Each row is a log-sum-exp around the previous row's largest message:
    ``alpha[t, j] = m + log(sum_i exp(alpha[t-1, i] - m) A[i, j]) + ll[t, j]``
    (K exponentials per row, not K²).
    """
    n, K = ll.shape
    trans = np.exp(log_trans)
    e = np.empty(K)
    for t in range(n):
        if t == 0 and first:
            for j in range(K):
                alpha[t, j] = log_start[j] + ll[t, j]
            continue
        m = _NEG_INF
        for i in range(K):
            v = alpha[t - 1, i] if t > 0 else alpha_in[i]
            if v > m:
                m = v
        exact = False
        for i in range(K):
            v = alpha[t - 1, i] if t > 0 else alpha_in[i]
            e[i] = np.exp(v - m) if m > _NEG_INF else 0.0
            exact = exact or (v > _NEG_INF and v - m < _UNDERFLOW)
        if exact:  # a state far below the largest would vanish in the shared shift: each state's own log-sum-exp
            for j in range(K):
                alpha[t, j] = _logsumexp_through(alpha[t - 1] if t > 0 else alpha_in, log_trans[:, j]) + ll[t, j]
            continue
        for j in range(K):
            s = 0.0
            for i in range(K):
                s += e[i] * trans[i, j]
            alpha[t, j] = (m + np.log(s) + ll[t, j]) if s > 0.0 else _NEG_INF


@numba.njit(cache=True, nogil=True)
def backward_log(log_trans, ll, ll_next, beta_next, last, beta, e_out, m_out):
    """Log backward messages of a piece into ``beta`` (n, K); ``ll_next`` / ``beta_next``: the row after (unless last).

    Row ``t``'s exponentials ``exp(ll[t+1] + beta[t+1] - m)`` and their shift ``m`` go to ``e_out[t]`` and
    ``m_out[t]``: :func:`xi_log` takes them rather than computing them again.
    """
    n, K = ll.shape
    trans = np.exp(log_trans)
    e = np.empty(K)
    for t in range(n - 1, -1, -1):
        if t == n - 1 and last:
            for i in range(K):
                beta[t, i] = 0.0
            m_out[t] = _NEG_INF
            continue
        m = _NEG_INF
        for j in range(K):
            v = (ll[t + 1, j] + beta[t + 1, j]) if t < n - 1 else (ll_next[j] + beta_next[j])
            e[j] = v
            if v > m:
                m = v
        exact = False
        for j in range(K):
            exact = exact or (e[j] > _NEG_INF and e[j] - m < _UNDERFLOW)
        if exact:  # each state's own log-sum-exp; xi_log is told (m_out NaN) and given the log terms
            for j in range(K):
                e_out[t, j] = e[j]
            m_out[t] = np.nan
            for i in range(K):
                beta[t, i] = _logsumexp_through(log_trans[i], e)
            continue
        for j in range(K):
            e[j] = np.exp(e[j] - m) if m > _NEG_INF else 0.0
            e_out[t, j] = e[j]
        m_out[t] = m
        for i in range(K):
            s = 0.0
            for j in range(K):
                s += trans[i, j] * e[j]
            beta[t, i] = (m + np.log(s)) if s > 0.0 else _NEG_INF


@numba.njit(cache=True, nogil=True)
def xi_log(log_trans, alpha, e_next, m_next, last, log_prob, out):
    """Add the piece's expected transition counts to ``out`` (K, K) (including the one into the next piece).

    ``e_next`` / ``m_next`` are :func:`backward_log`'s exponentials of the rows after and their shifts.
    """
    n, K = alpha.shape
    trans = np.exp(log_trans)
    ea = np.empty(K)
    stop = n - 1 if last else n
    for t in range(stop):
        if np.isnan(m_next[t]):  # backward_log's exact row: e_next holds log terms
            for i in range(K):
                for j in range(K):
                    v = alpha[t, i] + log_trans[i, j] + e_next[t, j] - log_prob
                    if v > _NEG_INF:
                        out[i, j] += np.exp(v)
            continue
        ma = _NEG_INF
        for i in range(K):
            ea[i] = alpha[t, i]
            if ea[i] > ma:
                ma = ea[i]
        mb = m_next[t]
        if ma == _NEG_INF or mb == _NEG_INF:
            continue
        scale = np.exp(ma + mb - log_prob)
        for i in range(K):
            ea[i] = np.exp(ea[i] - ma)
        for i in range(K):
            if ea[i] == 0.0:
                continue
            for j in range(K):
                out[i, j] += ea[i] * trans[i, j] * e_next[t, j] * scale


#: A per-row normaliser of the shifted kernels below this sends the piece to the log-sum-exp kernels: far above
#: the subnormal range, so that no message loses digits.
SHIFTED_FLOOR = 1e-250


@numba.njit(cache=True, nogil=True)
def shift_rows(ll, shifted, top):
    """``top[t] = max ll[t]`` and ``shifted = ll - top[:, None]``; False if a row's largest is not finite."""
    n, K = ll.shape
    for t in range(n):
        m = ll[t, 0]
        for k in range(1, K):
            if ll[t, k] > m:
                m = ll[t, k]
        if not (m > _NEG_INF and m < np.inf):
            return False
        top[t] = m
        for k in range(K):
            shifted[t, k] = ll[t, k] - m
    return True


@numba.njit(cache=True, nogil=True)
def forward_shifted(trans, P, message, first, alpha, norm):
    """Forward messages of a piece, each row normalised to sum to one, from shifted densities ``P`` (n, K).

    ``message``: the start probabilities (``first``) or the message of the row
    before, up to a factor. ``norm[t]`` receives row ``t``'s normaliser, so
    ``log alpha_t = log alpha[t] + Σ_{s<=t} (log norm[s] + max ll[s])`` plus
    the log-factor of ``message``. Returns False when a normaliser is below
    :data:`SHIFTED_FLOOR` or not finite.
    """
    n, K = P.shape
    for t in range(n):
        s = 0.0
        for j in range(K):
            if t == 0:
                if first:
                    v = message[j]
                else:
                    v = 0.0
                    for i in range(K):
                        v += message[i] * trans[i, j]
            else:
                v = 0.0
                for i in range(K):
                    v += alpha[t - 1, i] * trans[i, j]
            v *= P[t, j]
            alpha[t, j] = v
            s += v
        if not _normalised(alpha, t, s, norm):
            return False
        for j in range(K):  # a state far below the others, still reachable, would vanish here: log kernels
            if alpha[t, j] < SHIFTED_FLOOR and _reachable(trans, message, first, alpha, t, j):
                return False
    return True


@numba.njit(cache=True, nogil=True)
def _normalised(messages, t, s, norm):
    """Row ``t`` of ``messages`` divided by its sum ``s`` (kept in ``norm[t]``); False, untouched, when ``s`` is
    below :data:`SHIFTED_FLOOR` or not finite."""
    if not (s > SHIFTED_FLOOR and s < np.inf):
        return False
    r = 1.0 / s
    for k in range(messages.shape[1]):
        messages[t, k] *= r
    norm[t] = s
    return True


@numba.njit(cache=True, nogil=True)
def _reachable(trans, message, first, alpha, t, j):
    """Whether state ``j`` at row ``t`` has a positive forward weight before its density (start or transitions)."""
    if t == 0 and first:
        return message[j] > 0.0
    for i in range(trans.shape[0]):
        if (message[i] if t == 0 else alpha[t - 1, i]) > 0.0 and trans[i, j] > 0.0:
            return True
    return False


@numba.njit(cache=True, nogil=True)
def backward_shifted(trans, P, after, last, beta, norm):
    """Backward messages of a piece, each row normalised to sum to one, from shifted densities ``P`` (n, K).

    ``after``: ``P ∘ beta`` of the row after the piece, up to a factor (unused
    when ``last``: the last row's message is uniform). ``norm[t]`` receives
    row ``t``'s normaliser. Returns False as :func:`forward_shifted` does.
    """
    n, K = P.shape
    for t in range(n - 1, -1, -1):
        s = 0.0
        for i in range(K):
            if t == n - 1 and last:
                v = 1.0
            else:
                v = 0.0
                for j in range(K):
                    v += trans[i, j] * (after[j] if t == n - 1 else P[t + 1, j] * beta[t + 1, j])
            beta[t, i] = v
            s += v
        if not _normalised(beta, t, s, norm):
            return False
        if t == n - 1 and last:
            continue
        for i in range(K):  # as in forward_shifted: a state far below the others that still leads somewhere
            if beta[t, i] < SHIFTED_FLOOR:
                for j in range(K):
                    if trans[i, j] > 0.0 and (after[j] if t == n - 1 else beta[t + 1, j]) > 0.0:
                        return False
    return True


@numba.njit(cache=True, nogil=True)
def posteriors_xi_shifted(trans, alpha, beta, P, after, last, post, xi):
    """State posteriors into ``post`` and expected transition counts added to ``xi``, from normalised messages.

    Each row's posteriors are ``alpha ∘ beta`` normalised, and each transition's
    counts ``alpha_t[i] A[i, j] P[t+1, j] beta_{t+1}[j]`` normalised over
    ``(i, j)`` (``after`` standing for ``P ∘ beta`` of the row after the piece),
    the identities of the forward-backward algorithm with every factor common to
    a row cancelled. Returns False if a row's total is not positive and finite.
    """
    n, K = alpha.shape
    u = np.empty(K)
    q = np.empty((K, K))
    for t in range(n):
        s = 0.0
        for k in range(K):
            g = alpha[t, k] * beta[t, k]
            post[t, k] = g
            s += g
        if not (s > 0.0 and s < np.inf):
            return False
        r = 1.0 / s
        for k in range(K):
            post[t, k] *= r
        if t == n - 1 and last:
            continue
        for j in range(K):
            u[j] = after[j] if t == n - 1 else P[t + 1, j] * beta[t + 1, j]
        total = 0.0
        for i in range(K):
            a = alpha[t, i]
            for j in range(K):
                v = a * trans[i, j] * u[j]
                q[i, j] = v
                total += v
        if not (total > 0.0 and total < np.inf):
            return False
        r = 1.0 / total
        for i in range(K):
            for j in range(K):
                xi[i, j] += q[i, j] * r
    return True


@numba.njit(cache=True, nogil=True)
def forward_scaling(start, trans, p, alpha_in, first, alpha, log_scale):
    """Scaled forward messages (rows sum to one) into ``alpha``; ``log_scale[t]`` = log c_t; returns False on underflow."""
    n, K = p.shape
    for t in range(n):
        s = 0.0
        for j in range(K):
            if t == 0 and first:
                v = start[j]
            else:
                v = 0.0
                for i in range(K):
                    v += (alpha[t - 1, i] if t > 0 else alpha_in[i]) * trans[i, j]
            v *= p[t, j]
            alpha[t, j] = v
            s += v
        if s == 0.0 or not np.isfinite(s):
            return False
        for j in range(K):
            alpha[t, j] /= s
        log_scale[t] = np.log(s)
    return True


@numba.njit(cache=True, nogil=True)
def backward_scaling(trans, p, log_scale, p_next, beta_next, log_scale_next, last, beta):
    """Scaled backward messages into ``beta`` (the row after the piece: ``p_next``, ``beta_next``, its scale)."""
    n, K = p.shape
    for t in range(n - 1, -1, -1):
        for i in range(K):
            if t == n - 1 and last:
                beta[t, i] = 1.0
                continue
            v = 0.0
            for j in range(K):
                if t == n - 1:
                    v += trans[i, j] * p_next[j] * beta_next[j]
                else:
                    v += trans[i, j] * p[t + 1, j] * beta[t + 1, j]
            beta[t, i] = v / np.exp(log_scale_next if t == n - 1 else log_scale[t + 1])


@numba.njit(cache=True, nogil=True)
def xi_scaling(trans, alpha, beta, p, log_scale, p_next, beta_next, log_scale_next, last, out):
    """Add the piece's expected transition counts to ``out`` (scaled messages)."""
    n, K = p.shape
    stop = n - 1 if last else n
    for t in range(stop):
        c = np.exp(log_scale_next if t == n - 1 else log_scale[t + 1])
        for i in range(K):
            a = alpha[t, i]
            if a == 0.0:
                continue
            for j in range(K):
                if t + 1 < n:
                    out[i, j] += a * trans[i, j] * p[t + 1, j] * beta[t + 1, j] / c
                else:
                    out[i, j] += a * trans[i, j] * p_next[j] * beta_next[j] / c


@numba.njit(cache=True, nogil=True)
def viterbi_forward(log_start, log_trans, ll, delta_in, first, pointers):
    """Viterbi scores over a piece; writes back-pointers (n, K) and returns the last row's scores."""
    n, K = ll.shape
    prev = delta_in.copy()
    cur = np.empty(K)
    for t in range(n):
        for j in range(K):
            if t == 0 and first:
                cur[j] = log_start[j] + ll[t, j]
                pointers[t, j] = -1
            else:
                best = _NEG_INF
                arg = 0
                for i in range(K):
                    v = prev[i] + log_trans[i, j]
                    if v > best:
                        best = v
                        arg = i
                cur[j] = best + ll[t, j]
                pointers[t, j] = arg
        prev[:] = cur
    return prev


@numba.njit(cache=True, nogil=True)
def viterbi_backtrack(pointers, last_state, path):
    """Follow back-pointers from ``last_state`` at the piece's last row; returns the state before the piece."""
    n = pointers.shape[0]
    s = last_state
    for t in range(n - 1, -1, -1):
        path[t] = s
        s = pointers[t, s]
    return s


@numba.njit(cache=True, nogil=True)
def posteriors_log(alpha, beta, out):
    """State posteriors of a piece from log messages: each row of ``alpha + beta`` normalised, into ``out``."""
    n, K = alpha.shape
    for t in range(n):
        m = _NEG_INF
        for k in range(K):
            g = alpha[t, k] + beta[t, k]
            out[t, k] = g
            if g > m:
                m = g
        s = 0.0
        for k in range(K):
            e = np.exp(out[t, k] - m)
            out[t, k] = e
            s += e
        for k in range(K):
            out[t, k] /= s
