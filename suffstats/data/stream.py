"""Streams: batches that can only be read in order, from a callable that starts a fresh pass."""

from __future__ import annotations

import numpy as np

from .._validation import as_numeric_array
from .batch_source import BatchSource


class StreamSource(BatchSource):
    """Rows from ``factory()``, an iterator of 2-D batches, called once per pass over the data.

    The row count is learned by a first pass; sampling rows for
    initialisation takes one more. Streams support full passes (exact EM)
    but not ``batches_per_epoch``.

    Parameters
    ----------
    factory : callable
        Called with no argument, returns a fresh iterator of 2-D arrays with the
        same number of columns (the batches of one pass, always in the same order).

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats.data import StreamSource
    >>> chunks = [np.ones((3, 2)), np.zeros((2, 2))]
    >>> StreamSource(lambda: iter(chunks)).n_rows
    5
    """

    random_access = False

    def __init__(self, factory):
        if not callable(factory):
            raise TypeError("a stream needs a callable that returns a fresh iterator of batches")
        self.factory = factory
        self._n_rows = None
        first = next(iter(self._passes()), None)
        if first is None:
            raise ValueError("the stream is empty: its first pass yielded no rows")
        self.n_features, self.dtype = first[1].shape[1], first[1].dtype

    def _passes(self):
        """One pass: ``(offset, batch)`` pairs, checked for shape."""
        offset = 0
        for batch in self.factory():
            X = as_numeric_array(batch)
            if X.ndim == 1:
                X = X.reshape(-1, 1)
            if X.ndim != 2:
                raise ValueError(f"stream batch at row {offset} has shape {X.shape}; expected 2-D rows")
            if getattr(self, "n_features", X.shape[1]) != X.shape[1]:
                raise ValueError(f"stream batch at row {offset} has {X.shape[1]} features; "
                                 f"earlier batches have {self.n_features}")
            yield offset, X
            offset += X.shape[0]
        if self._n_rows is not None and offset != self._n_rows:
            raise ValueError(
                f"a pass over the stream gave {offset} rows, an earlier one {self._n_rows}: the callable must "
                "return a fresh iterator over the same data each time (a one-shot iterator is exhausted after "
                "one epoch)")

    @property
    def n_rows(self):
        if self._n_rows is None:
            self._n_rows = sum(X.shape[0] for _, X in self._passes())
        return self._n_rows

    def batches(self, ranges):
        return self._passes()

    def read(self, start, stop):
        raise TypeError(f"{type(self).__name__} cannot read rows by position; it is read in order, pass by pass")

    def take(self, rows):
        rows = np.asarray(rows)
        out = np.empty((rows.shape[0], self.n_features), self.dtype)
        for offset, X in self._passes():
            lo, hi = np.searchsorted(rows, [offset, offset + X.shape[0]])
            out[lo:hi] = X[rows[lo:hi] - offset]
        return out
