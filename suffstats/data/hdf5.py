"""An HDF5 dataset (``h5py``), read a slab of rows at a time."""

from __future__ import annotations

import numpy as np

from .files import require
from .source import BatchSource


class HDF5Source(BatchSource):
    """Rows of a 2-D dataset ``dataset`` in the HDF5 file ``path`` (needs ``suffstats[hdf5]``)."""

    def __init__(self, path, dataset):
        h5py = require("h5py", "hdf5")
        self.path, self.dataset = path, dataset
        self.file = h5py.File(path, "r")
        if dataset not in self.file:
            raise ValueError(f"{path} has no dataset {dataset!r}; it has {list(self.file.keys())}")
        self.data = self.file[dataset]
        if self.data.ndim != 2 or self.data.dtype.kind not in "biuf":
            raise ValueError(f"{path}:{dataset} must be a 2-D numeric dataset; got shape {self.data.shape}, "
                             f"dtype {self.data.dtype}")
        self.n_rows, self.n_features = self.data.shape
        self.dtype = self.data.dtype

    def read(self, start, stop):
        return self.data[start:stop]

    def take(self, rows):
        return np.asarray(self.data[np.asarray(rows)])

    def describe(self):
        return f"{self.path}:{self.dataset} ({self.n_rows} x {self.n_features}, {self.dtype})"
