"""The sequence seam: rows that belong together in order, read out of core with a state carried between pieces.

A sequence model (a Markov chain, a hidden Markov model's forward-backward)
needs a sequence's rows in order. Sequences are given the scikit-learn /
hmmlearn way, ``lengths`` (row counts, in order, summing to the rows of the
data), or are one long sequence (``lengths=None``). :func:`sequence_pass`
reads the source ``batch_size`` rows at a time and hands the model *pieces*: a
piece is the part of one sequence inside one block of
:data:`~suffstats.data.BLOCK_ROWS` rows of the data. Pieces arrive in row
order, with the state the model returned for the previous piece of the same
sequence (``None`` at a sequence's start). Because pieces are cut at block
and sequence boundaries only, what the model sees -- and so its statistics --
does not depend on ``batch_size``.

A model takes part by defining one method::

    def _sequence_piece(self, acc, X, w, state, first, last, row_offset):
        '''Add the statistics of rows X (in order) to acc; return the state for the next piece.'''

where ``first`` / ``last`` say whether the piece starts / ends its sequence
(a model that needs a whole sequence at once keeps pieces in ``state`` until
``last``). Errors name rows of the data through ``row_offset``.

Examples
--------
>>> import numpy as np
>>> from suffstats.fit.sequences import SequenceBoundaries
>>> b = SequenceBoundaries([3, 2], n_rows=5)
>>> b.pieces(0, 5, block=4)
[(0, 0, 3, True, True), (1, 3, 4, True, False), (1, 4, 5, False, True)]
"""

from __future__ import annotations

import numpy as np

from ..data.blocks import BLOCK_ROWS, batch_ranges
from ..data.prefetch import prefetch

__all__ = ["SequenceBoundaries", "sequence_pass"]


class SequenceBoundaries:
    """Where sequences start and end in the rows of the data.

    Parameters
    ----------
    lengths : array_like of int, or None
        Row count of each sequence, in order; ``None``: all rows are one sequence.
    n_rows : int
        Rows of the data (the lengths must sum to it).
    """

    def __init__(self, lengths, n_rows):
        if lengths is None:
            lengths = [n_rows]
        array = np.asarray(lengths)
        if array.ndim != 1 or array.size == 0 or array.dtype.kind not in "iu":
            raise ValueError(f"lengths must be a non-empty 1-D array of integers (rows per sequence); got "
                             f"{type(lengths).__name__} of shape {array.shape} and dtype {array.dtype}")
        bad = np.flatnonzero(array <= 0)
        if bad.size:
            raise ValueError(f"lengths[{bad[0]}] is {array[bad[0]]}: every sequence needs at least one row")
        total = int(array.sum())
        if total != n_rows:
            raise ValueError(f"lengths sum to {total:,} rows, but the data has {n_rows:,} rows")
        self.lengths = array.astype(np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)])

    @property
    def n_sequences(self) -> int:
        return int(self.lengths.size)

    def pieces(self, start, stop, block=BLOCK_ROWS) -> list:
        """The pieces of rows ``start:stop``: ``(sequence, piece start, piece stop, first, last)`` in order.

        Rows are cut wherever a sequence or a block of ``block`` rows of the data begins.
        """
        cuts = set(range(start - start % block + block, stop, block))
        first_seq = int(np.searchsorted(self.starts, start, side="right")) - 1
        last_seq = int(np.searchsorted(self.starts, stop, side="left"))
        cuts.update(int(s) for s in self.starts[first_seq + 1:last_seq] if start < s < stop)
        edges = [start] + sorted(cuts) + [stop]
        out = []
        for a, b in zip(edges[:-1], edges[1:]):
            seq = int(np.searchsorted(self.starts, a, side="right")) - 1
            out.append((seq, a, b, bool(a == self.starts[seq]), bool(b == self.starts[seq + 1])))
        return out


def sequence_pass(model, source, lengths=None, sample_weight=None, batch_size=None, acc=None):
    """One pass over ``source`` handing ``model`` every sequence's pieces in order; returns ``acc``.

    Parameters
    ----------
    model : object with ``_sequence_piece`` (see the module notes) and ``_new_accumulator()``
    source : BatchSource
        Read ``batch_size`` rows at a time, one batch ahead on a background thread.
    lengths : array_like of int, optional
        Rows per sequence (``None``: one sequence).
    sample_weight : array_like of shape (n_rows,), optional
    batch_size : int, optional
        Rows read at a time (``None``: all); the result does not depend on it.
    acc : running total, optional
        Where statistics are added (default: ``model._new_accumulator()``).
    """
    bounds = lengths if isinstance(lengths, SequenceBoundaries) else SequenceBoundaries(lengths, source.n_rows)
    acc = model._new_accumulator() if acc is None else acc
    block = getattr(model, "_block_rows", BLOCK_ROWS)
    size = batch_size and -(-batch_size // block) * block  # whole blocks: no piece depends on the batch size
    ranges = batch_ranges(source.n_rows, size)
    batches = source.batches(ranges)
    if len(ranges) > 1:
        batches = prefetch(batches)
    state = None
    try:
        for start, X in batches:
            for seq, a, b, first, last in bounds.pieces(start, start + X.shape[0], block):
                w = None if sample_weight is None else sample_weight[a:b]
                state = model._sequence_piece(acc, X[a - start:b - start], w, None if first else state, first, last,
                                              a)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    return acc
