"""Exact forward-backward over a source, out of core: a forward sweep with checkpoints, then a backward sweep.

A sequence is cut into *pieces* at sequence boundaries and at every
:data:`~suffstats.data.BLOCK_ROWS`-th row of the data
(:class:`~suffstats.fit.sequences.SequenceBoundaries`), so pieces -- and the
order in which their statistics are added -- do not depend on how many rows
are read at a time.

1. **Forward sweep** (rows read ``batch_size`` at a time, in order, one batch
   ahead on a background thread): a sequence that fits in one piece is done
   at once (forward, backward, posteriors). For a longer sequence only the
   forward recursion runs, carrying the message from piece to piece, and the
   message *entering* each piece is kept: ``K`` floats per piece.
2. **Backward sweep** for each longer sequence, last piece first: the piece's
   rows are read again (:meth:`~suffstats.data.BatchSource.read`), its
   emission densities and forward messages recomputed from the kept message,
   and the backward recursion continues from the message the following piece
   left. Posteriors and transition counts of the piece follow.

Peak memory is ``O(batch_size * d + BLOCK_ROWS * K + n_pieces * K)`` plus
:data:`PIECE_CACHE_BYTES`: one batch of rows, one piece's messages, ``K``
floats per piece of a long sequence (a 10⁹-row sequence with ``K = 8`` keeps
16 MB of messages), and the forward sweep's results for the latest pieces,
which the backward sweep takes instead of recomputing them. The price is
reading the rows of long sequences twice per pass (those beyond the cache;
short sequences once) and recomputing their forward messages. The arithmetic
is the whole-sequence recursion's, message for message, so results are those
of the in-memory algorithm and identical for every ``batch_size`` (and every
cache size).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from ..data.blocks import BLOCK_ROWS, batch_ranges
from ..data.prefetch import prefetch
from ..fit.sequences import SequenceBoundaries
from . import _kernels as k

__all__ = ["Piece", "posterior_pass", "forward_pass", "viterbi_pass"]


class Piece:
    """What a pass hands its consumer for one piece: rows, posteriors, transition counts."""

    __slots__ = ("sequence", "start", "stop", "first", "last", "X", "posteriors", "xi", "log_prob")

    def __init__(self, sequence, start, stop, first, last, X, posteriors, xi, log_prob):
        self.sequence, self.start, self.stop, self.first, self.last = sequence, start, stop, first, last
        self.X, self.posteriors, self.xi, self.log_prob = X, posteriors, xi, log_prob


def _boundaries(source, lengths):
    return lengths if isinstance(lengths, SequenceBoundaries) else SequenceBoundaries(lengths, source.n_rows)


def _batches(source, batch_size, rows=None):
    size = batch_size and -(-batch_size // BLOCK_ROWS) * BLOCK_ROWS
    if rows is None:
        ranges = batch_ranges(source.n_rows, size)
    elif not size:
        ranges = [tuple(rows)]
    else:  # a window of the rows, cut where the whole data's batches are cut (so pieces are the same)
        cuts = [rows[0], *range((rows[0] // size + 1) * size, rows[1], size), rows[1]]
        ranges = list(zip(cuts[:-1], cuts[1:]))
    batches = source.batches(ranges)
    return prefetch(batches) if len(ranges) > 1 else batches


def _walk(source, bounds, batch_size, rows=None):
    """``(sequence, start, stop, first, last, X)`` for every piece of ``rows`` (default: all), in row order."""
    batches = _batches(source, batch_size, rows)
    try:
        for start, X in batches:
            X = np.asarray(X)  # a plain array: slices of a memory map cost a Python object each, per piece
            for seq, a, b, first, last in bounds.pieces(start, start + X.shape[0], BLOCK_ROWS):
                yield seq, a, b, first, last, X[a - start:b - start]
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()


class _Recursion:
    """The model's parameters in the form the kernels take, for one implementation."""

    def __init__(self, model):
        self.model = model
        self.log = model.implementation == "log"
        K = model.n_components
        self.K = K
        with np.errstate(divide="ignore"):
            self.log_start = np.log(model.startprob_)
            self.log_trans = np.log(model.transmat_)
        self.start = np.ascontiguousarray(model.startprob_, dtype=np.float64)
        self.trans = np.ascontiguousarray(model.transmat_, dtype=np.float64)

    def rows(self, X, row_offset):
        """The rows as the model's kernels take them (checked, converted)."""
        return self.model._check_rows(X, row_offset)

    def emissions(self, X, row_offset):
        X = self.rows(X, row_offset)
        ll = np.ascontiguousarray(self.model._compute_log_likelihood(X), dtype=np.float64)
        return X, ll

    def forward(self, ll, message, first, row_offset):
        """Forward messages of a piece and what the rest of the pass needs of it (``extra``).

        The log implementation tries the shifted kernels first: ``alpha`` is
        then normalised per row and ``extra`` a :class:`_Shifted`; otherwise
        ``alpha`` holds log messages and ``extra`` is ``None``.
        """
        n = ll.shape[0]
        alpha = np.empty((n, self.K))
        message = np.zeros(self.K) if message is None else message
        if self.log:
            shifted = self._forward_shifted(ll, message, first, alpha)
            if shifted is not None:
                return alpha, shifted
            k.forward_log(self.log_start, self.log_trans, ll, message, first, alpha)
            return alpha, None
        log_scale = np.empty(n)
        with np.errstate(under="ignore"):
            p = np.exp(ll)
        if not k.forward_scaling(self.start, self.trans, p, message, first, alpha, log_scale):
            raise ValueError("the forward pass failed with underflow near row "
                             f"{row_offset:,}-{row_offset + n - 1:,} (every state's probability is 0 in linear "
                             "space); use implementation='log'")
        return alpha, (p, log_scale)

    def _forward_shifted(self, ll, message, first, alpha):
        """:func:`~suffstats.hmm._kernels.forward_shifted` on the piece, or ``None`` where it cannot be exact."""
        n = ll.shape[0]
        P, top = np.empty((n, self.K)), np.empty(n)
        if not k.shift_rows(ll, P, top):
            return None
        if first:
            start, offset = self.start, 0.0
        else:
            offset = float(message.max())
            # A state whose message is far below the largest would vanish in linear form: the log kernels.
            if not np.isfinite(offset) or (np.isfinite(message) & (message - offset < -700.0)).any():
                return None
            start = np.exp(message - offset)
        with np.errstate(under="ignore"):
            np.exp(P, out=P)  # the whole piece at once: vector instructions
        norm = np.empty(n)
        if not k.forward_shifted(self.trans, P, start, first, alpha, norm):
            return None
        return _Shifted(P, top, offset + np.cumsum(np.log(norm) + top))

    def backward(self, ll, alpha, extra, first, last, after, sequence_log_prob, densities=None):
        """Posteriors (n, K), transition counts (K, K), and what the piece before needs (``after``).

        After the shifted forward kernel, ``ll`` may be the piece's first row of
        densities alone: ``densities()`` gives them all if the log kernels are needed.
        """
        n = alpha.shape[0]
        beta = np.empty((n, self.K))
        xi = np.zeros((self.K, self.K))
        if self.log:
            if isinstance(extra, _Shifted):
                done = self._backward_shifted(ll if ll.ndim == 1 else ll[0], alpha, extra, last, after, beta, xi)
                if done is not None:
                    return done
                xi[:] = 0.0
                ll = ll if ll.ndim == 2 else densities()
                with np.errstate(divide="ignore"):
                    alpha = np.log(alpha) + extra.log_scale[:, None]  # the log kernels take log messages
            ll_next, beta_next = after if after is not None else (np.zeros(self.K), np.zeros(self.K))
            e_next, m_next = np.empty((n, self.K)), np.empty(n)
            k.backward_log(self.log_trans, ll, ll_next, beta_next, last, beta, e_next, m_next)
            k.xi_log(self.log_trans, alpha, e_next, m_next, last, sequence_log_prob, xi)
            post = np.empty((n, self.K))
            k.posteriors_log(alpha, beta, post)
            return post, xi, (ll[0].copy(), beta[0].copy())
        p, log_scale = extra
        p_next, beta_next, scale_next = after if after is not None else (np.zeros(self.K), np.zeros(self.K), 0.0)
        k.backward_scaling(self.trans, p, log_scale, p_next, beta_next, scale_next, last, beta)
        k.xi_scaling(self.trans, alpha, beta, p, log_scale, p_next, beta_next, scale_next, last, xi)
        post = alpha * beta
        post /= post.sum(axis=1, keepdims=True)
        return post, xi, (p[0].copy(), beta[0].copy(), float(log_scale[0]))

    def _backward_shifted(self, ll_first, alpha, shifted, last, after, beta, xi):
        """The shifted kernels' posteriors, counts and log message for the piece before, or ``None``."""
        n = alpha.shape[0]
        offset = 0.0
        ahead = np.ones(self.K)  # unused on the last piece
        if not last:
            ll_next, beta_next = after
            w = ll_next + beta_next
            offset = float(w.max())
            if not np.isfinite(offset) or (np.isfinite(w) & (w - offset < -700.0)).any():
                return None
            ahead = np.exp(w - offset)
        norm = np.empty(n)
        if not k.backward_shifted(self.trans, shifted.P, ahead, last, beta, norm):
            return None
        post = np.empty((n, self.K))
        if not k.posteriors_xi_shifted(self.trans, alpha, beta, shifted.P, ahead, last, post, xi):
            return None
        # log beta_0 = log beta[0] + offset + Σ_t log norm[t] + Σ_{t>0} max ll[t]
        with np.errstate(divide="ignore"):
            beta_0 = np.log(beta[0]) + (offset + float(np.sum(np.log(norm))) + float(np.sum(shifted.top[1:])))
        return post, xi, (ll_first.copy(), beta_0)

    def carried(self, alpha, extra, log_prob):
        """The message for the next piece (log, for the log implementation) and the sequence's log-probability
        so far (``None`` where the log messages hold it)."""
        if isinstance(extra, _Shifted):
            with np.errstate(divide="ignore"):
                return np.log(alpha[-1]) + extra.log_scale[-1], float(extra.log_scale[-1] + np.log(alpha[-1].sum()))
        if self.log:
            return alpha[-1].copy(), None
        return alpha[-1].copy(), log_prob + float(np.sum(extra[1]))

    def sequence_log_prob(self, alpha, log_prob):
        """The log-probability of a sequence whose last piece's messages are ``alpha``, ``log_prob`` from :meth:`carried`."""
        if self.log and log_prob is None:
            return float(k._logsumexp(alpha[-1]))
        return log_prob


class _Shifted(NamedTuple):
    """A piece through the shifted kernels: densities over each row's largest (``P``), that largest (``top``),
    and the log of the factor that turns each row of the normalised forward messages into probabilities."""

    P: np.ndarray
    top: np.ndarray
    log_scale: np.ndarray


#: Memory for the forward sweep's results of the latest pieces of long sequences (emission densities, forward
#: messages), used by the backward sweep instead of recomputing them. The rows themselves are read again: the
#: latest pieces are the likeliest to be in the page cache, and the memory holds more pieces without them.
PIECE_CACHE_BYTES = 64 * 2**20


class _PieceCache:
    """The forward sweep's results of the latest pieces, up to ``limit`` bytes: the oldest are dropped first.

    The backward sweep runs from the last piece of a sequence to its first, so
    the pieces kept are those it needs first; a dropped piece is recomputed
    from the message entering it, with the same numbers. Memory stays within
    ``limit`` whatever the length of the sequences.
    """

    def __init__(self, limit):
        self.limit, self.size, self.pieces = limit, 0, OrderedDict()

    @staticmethod
    def _bytes(value):
        return sum(a.nbytes for part in value for a in (part if isinstance(part, tuple) else (part,))
                   if isinstance(a, np.ndarray))

    def put(self, start, value):
        size = self._bytes(value)
        if size > self.limit:
            return
        self.pieces[start] = (value, size)
        self.size += size
        while self.size > self.limit:
            _, (_, dropped) = self.pieces.popitem(last=False)
            self.size -= dropped

    def pop(self, start):
        kept = self.pieces.pop(start, None)
        if kept is None:
            return None
        self.size -= kept[1]
        return kept[0]


def posterior_pass(model, source, lengths, batch_size, consume, rows=None, log_probs=None):
    """Call ``consume(piece)`` for every piece with its posteriors; returns the total log-probability.

    The order of the calls is fixed by the pieces (not by ``batch_size``):
    sequences that fit in one piece in row order during the forward sweep,
    then the pieces of each longer sequence, last piece first. ``rows``
    (a range of whole sequences) restricts the pass to those rows;
    ``log_probs`` (a list) receives each sequence's log-probability, in order.
    """
    bounds = _boundaries(source, lengths)
    rec = _Recursion(model)
    cache = _PieceCache(PIECE_CACHE_BYTES)
    total = 0.0
    log_probs = [] if log_probs is None else log_probs
    long_sequences = []  # (sequence, log_prob, [(start, stop, first, last, message in)])
    message, running, kept = None, 0.0, None
    for seq, a, b, first, last, X in _walk(source, bounds, batch_size, rows):
        X, ll = rec.emissions(X, a)
        if first and last:
            alpha, extra = rec.forward(ll, None, True, a)
            _, seq_lp = rec.carried(alpha, extra, 0.0)
            seq_lp = rec.sequence_log_prob(alpha, seq_lp)
            post, xi, _ = rec.backward(ll, alpha, extra, True, True, None, seq_lp)
            total += seq_lp
            log_probs.append(seq_lp)
            consume(Piece(seq, a, b, True, True, X, post, xi, seq_lp))
            continue
        if first:
            message, running, kept = None, 0.0, []
        kept.append((a, b, first, last, message))
        alpha, extra = rec.forward(ll, message, first, a)
        # A shifted piece's backward sweep needs only the first row of its densities; the rows are read again
        # where the source reads by position (a stream cannot: its rows are kept, copied off their batch).
        rows = None if source.random_access else np.array(X)
        cache.put(a, (rows, ll[0].copy() if isinstance(extra, _Shifted) else ll, alpha, extra))
        message, running = rec.carried(alpha, extra, running)
        if last:
            seq_lp = rec.sequence_log_prob(alpha, running)
            total += seq_lp
            log_probs.append(seq_lp)
            long_sequences.append((seq, seq_lp, kept))
    for seq, seq_lp, kept in long_sequences:
        after = None
        for a, b, first, last, message in reversed(kept):
            kept_piece = cache.pop(a)
            if kept_piece is None:  # recomputed from the message entering the piece: the same numbers
                X, ll = rec.emissions(np.asarray(source.read(a, b)), a)
                alpha, extra = rec.forward(ll, message, first, a)
            else:
                rows, ll, alpha, extra = kept_piece
                X = rows if rows is not None else rec.rows(np.asarray(source.read(a, b)), a)
            post, xi, after = rec.backward(ll, alpha, extra, first, last, after, seq_lp,
                                           lambda X=X, a=a: rec.emissions(X, a)[1])
            consume(Piece(seq, a, b, first, last, X, post, xi, seq_lp))
    return total


def forward_pass(model, source, lengths, batch_size):
    """The total log-probability of the sequences (the forward sweep alone: rows read once)."""
    bounds = _boundaries(source, lengths)
    rec = _Recursion(model)
    total, message, running = 0.0, None, 0.0
    for seq, a, b, first, last, X in _walk(source, bounds, batch_size):
        _, ll = rec.emissions(X, a)
        if first:
            message, running = None, 0.0
        alpha, extra = rec.forward(ll, message, first, a)
        message, running = rec.carried(alpha, extra, running)
        if last:
            total += rec.sequence_log_prob(alpha, running)
    return total


def viterbi_pass(model, source, lengths, batch_size, out, spill=None):
    """Most likely state path into ``out`` (n,) and its total log-probability.

    Back-pointers are kept for one sequence at a time, in memory (``n_rows * K``
    bytes for ``K`` < 128), or -- with ``spill``, a writable ``(n_rows, K)``
    integer memory map -- on disk, read back a piece at a time while the path
    is traced. Either way the path is traced when its sequence ends.
    """
    bounds = _boundaries(source, lengths)
    K = model.n_components
    with np.errstate(divide="ignore"):
        log_start, log_trans = np.log(model.startprob_), np.log(model.transmat_)
    dtype = np.int8 if K < 128 else np.int32
    total, delta, pointers = 0.0, None, []
    for seq, a, b, first, last, X in _walk(source, bounds, batch_size):
        X = model._check_rows(X, a)
        ll = np.ascontiguousarray(model._compute_log_likelihood(X), dtype=np.float64)
        if first:
            delta, pointers = np.zeros(K), []
        ptr = np.empty((b - a, K), dtype=np.int64)
        delta = k.viterbi_forward(log_start, log_trans, ll, delta, first, ptr)
        if spill is None:
            pointers.append((a, b, ptr.astype(dtype)))
        else:
            spill[a:b] = ptr
            pointers.append((a, b, None))
        if last:
            state = int(np.argmax(delta))
            total += float(delta[state])
            for start, stop, ptr in reversed(pointers):
                ptr = np.asarray(spill[start:stop] if ptr is None else ptr, dtype=np.int64)
                path = np.empty(stop - start, dtype=np.int64)
                state = int(k.viterbi_backtrack(ptr, state, path))
                out[start:stop] = path
            pointers = []
    return total
