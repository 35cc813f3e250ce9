"""Batch sources: read ranges of rows and seeded row samples from storage.

The EM driver only ever asks a source for ``read(start, stop)`` and
``sample(n, rng)``; it never materialises the whole data set.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_numeric_array, check_batch


class BatchSource:
    """What every data source offers.

    Attributes
    ----------
    n_rows : int
    n_features : int
    dtype : numpy.dtype
    """

    n_rows: int
    n_features: int
    dtype: np.dtype

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` as an array (a view where the storage allows)."""
        raise NotImplementedError

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The rows at sorted indices ``rows``."""
        raise NotImplementedError

    def sample_indices(self, size, rng) -> np.ndarray:
        """Sorted indices of a uniform sample of ``size`` rows (all rows if fewer)."""
        if size is None or size >= self.n_rows:
            return np.arange(self.n_rows)
        return np.sort(rng.choice(self.n_rows, size=size, replace=False))


class ArraySource(BatchSource):
    """A numpy array or memory map (anything sliceable with ``shape`` and ``dtype``).

    Slicing a memory map reads only those rows; nothing here copies the whole array.
    """

    def __init__(self, X, *, ndim=2):
        arr = as_numeric_array(X)
        if ndim == 1 and arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        if arr.ndim != 2:
            check_batch(arr, ndim=2)  # raises with the full explanation
        self.array = arr
        self.n_rows, self.n_features = arr.shape
        self.dtype = arr.dtype

    def read(self, start, stop):
        return self.array[start:stop]

    def take(self, rows):
        return self.array[rows]


def as_source(X, *, ndim=2) -> BatchSource:
    """Wrap ``X`` as a :class:`BatchSource` (sources pass through unchanged)."""
    if isinstance(X, BatchSource):
        return X
    return ArraySource(X, ndim=ndim)
