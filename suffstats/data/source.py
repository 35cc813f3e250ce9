"""Batch sources: read ranges of rows and seeded row samples from storage.

The EM driver only ever asks a source for ``read(start, stop)`` and
``sample(n, rng)``; it never materialises the whole data set.
"""

from __future__ import annotations

import os

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
    #: Whether rows can be read by index (streams cannot).
    random_access = True

    def batches(self, ranges):
        """Yield ``(start, rows)`` for each ``(start, stop)`` range, in order."""
        for start, stop in ranges:
            yield start, self.read(start, stop)

    def describe(self) -> str:
        """A short description for messages and fingerprints."""
        return f"{type(self).__name__}({self.n_rows} x {self.n_features}, {self.dtype})"

    def fingerprint(self) -> dict:
        """Shape, dtype and a few rows: enough to refuse a checkpoint made on other data."""
        rows = np.unique(np.linspace(0, self.n_rows - 1, num=min(self.n_rows, 16)).astype(np.int64))
        probe = np.asarray(self.take(rows), dtype=np.float64)
        return {"n_rows": int(self.n_rows), "n_features": int(self.n_features), "dtype": str(self.dtype),
                "rows": rows.tolist(), "values": probe.ravel().tolist()}

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


def as_source(X, *, ndim=2, columns=None) -> BatchSource:
    """Wrap ``X`` as a :class:`BatchSource`.

    Sources pass through; arrays and memory maps become an :class:`ArraySource`;
    a path is dispatched by its suffix (``.npy``, ``.h5``/``.hdf5`` with
    ``"file.h5:dataset"``, ``.zarr``, ``.parquet``, ``.csv``); a directory, a
    glob pattern or a list of ``.npy`` paths becomes one row-concatenated
    dataset; a callable returning a fresh iterator of batches is a stream; a
    ``dask.array`` is read chunk by chunk. ``columns`` selects Parquet and CSV
    columns.
    """
    from .files import path_source

    if isinstance(X, BatchSource):
        return X
    if isinstance(X, (str, os.PathLike)) or (isinstance(X, (list, tuple)) and X and
                                             all(isinstance(p, (str, os.PathLike)) for p in X)):
        return path_source(X, columns=columns)
    if callable(X) and not hasattr(X, "shape"):
        from .stream import StreamSource

        return StreamSource(X)
    if type(X).__module__.startswith("dask"):
        from .dask_source import DaskSource

        return DaskSource(X)
    if hasattr(X, "__next__"):
        raise TypeError("a one-shot iterator cannot be read for several epochs; pass a callable that returns "
                        "a fresh iterator of batches (e.g. lambda: iter(batches)) instead")
    return ArraySource(X, ndim=ndim)
