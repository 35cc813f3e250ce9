"""A sequence source seen row by row: each row with its place in its sequence and the codes before it.

A Markov chain's count of a row needs the ``k`` codes before it and whether
they belong to its sequence. :class:`SequenceWindows` reads a row range
together with the ``k`` rows before it and gives each row ``(place, code[i-k],
..., code[i])``, so any row range is counted alone: a cluster task reads its
own rows and counts them into the same block values as the local pass.
:class:`WindowCounts` is what such a task runs.
"""

from __future__ import annotations

import numpy as np

from ..data.batch_source import BatchSource
from ..data.reopen import Reopen, reopener
from ..fit.running_total import RunningTotal
from ..statistics import Additive
from ._codes import check_codes

__all__ = ["SequenceWindows", "WindowCounts", "block_counts"]


class SequenceWindows(BatchSource):
    """Rows of a one-column ``base`` as ``(place in the sequence, the k codes before, the code)``."""

    def reopen_arguments(self):
        base = self.base if isinstance(self.base, Reopen) else reopener(self.base)
        return (base, self.starts, self.k), {}

    def __init__(self, base, starts, k):
        self.base, self.starts, self.k = base, np.asarray(starts, dtype=np.int64), int(k)
        self.n_rows = int(base.shape[0] if isinstance(base, Reopen) else base.n_rows)
        self.n_features = self.k + 2
        self.dtype = np.dtype(np.float64)

    def describe(self):
        return f"the sequences of {self.base.description if isinstance(self.base, Reopen) else self.base.describe()}"

    def read(self, start, stop):
        lo = max(start - self.k, 0)
        x = np.asarray(self.base.read(lo, stop), dtype=np.float64).reshape(stop - lo, -1)
        if x.shape[1] != 1:
            raise ValueError(f"a Markov chain reads one column of codes; the data has {x.shape[1]} columns")
        padded = np.concatenate([np.zeros(self.k - (start - lo)), x[:, 0]])
        rows = np.arange(start, stop)
        out = np.empty((stop - start, self.k + 2))
        out[:, 0] = rows - self.starts[np.searchsorted(self.starts, rows, side="right") - 1]
        for m in range(self.k + 1):
            out[:, 1 + m] = padded[m:m + stop - start]
        return out

    def take(self, rows):
        return np.concatenate([self.read(int(r), int(r) + 1) for r in rows]) if len(rows) else \
            np.empty((0, self.n_features))


def block_counts(place, ext, here, w, k, c):
    """One block's statistics value: ``initial_p`` from rows at place ``p < k``, ``transitions`` from the rest.

    ``ext[here + i]`` is the code of the block's row ``i``, the ``k`` codes
    before it at ``ext[here + i - k : here + i]``.
    """
    fields = {"weight": float(place.size) if w is None else float(np.sum(w))}
    for order, rows in [(p, np.flatnonzero(place == p)) for p in range(k)] + [(k, np.flatnonzero(place >= k))]:
        code = np.zeros(rows.size, dtype=np.intp)
        for m in range(order + 1):
            code = code * c + ext[here + rows - order + m]
        counts = np.bincount(code, weights=None if w is None else w[rows], minlength=c ** (order + 1))
        fields["transitions" if order == k else f"initial_{order}"] = counts.astype(np.float64).reshape(
            (c,) * (order + 1))
    return Additive(fields)


class WindowCounts:
    """The block map of a chain's count over :class:`SequenceWindows` rows (what a cluster task runs)."""

    _blocks_follow_reference = False

    def __init__(self, k, cards, block_rows):
        self.k, self.cards, self._block_rows = k, cards, block_rows

    def _shifts(self):
        return None

    def _new_accumulator(self):
        return RunningTotal()

    def _validate_batch(self, X, w, row_offset):
        check_codes(X[:, -1], (self.cards,), row_offset=row_offset)  # each row's own code, named by its row
        return X, w

    def _accumulate(self, acc, X, w, row_offset=0):
        k, step = self.k, self._block_rows
        for a in range(0, X.shape[0], step):
            block = X[a:a + step]
            # The window of row i holds codes i-k..i: row i's code and the k before it, laid out in one line.
            ext = np.concatenate([block[0, 1:-1], block[:, -1]]).astype(np.intp)
            acc.add(block_counts(block[:, 0].astype(np.int64), ext, k, None if w is None else w[a:a + step],
                                 k, self.cards))
