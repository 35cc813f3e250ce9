"""A local ``dask.array``, computed one range of rows at a time."""

from __future__ import annotations

import numpy as np

from .batch_source import BatchSource


class DaskSource(BatchSource):
    """Rows of a 2-D ``dask.array`` with known chunk sizes; each batch is computed on demand."""

    def __init__(self, array):
        if array.ndim != 2 or any(np.isnan(c).any() for c in array.chunks):
            raise ValueError(f"a dask array source must be 2-D with known chunk sizes; got shape {array.shape}")
        if array.dtype.kind not in "biuf":
            raise TypeError(f"dask array has dtype {array.dtype}; expected numeric data")
        self.array = array
        self.n_rows, self.n_features = (int(s) for s in array.shape)
        self.dtype = array.dtype

    def read(self, start, stop):
        return np.asarray(self.array[start:stop].compute())

    def take(self, rows):
        return np.asarray(self.array[np.asarray(rows)].compute())
