"""An HDF5 dataset (``h5py``), read a slab of rows at a time."""

from __future__ import annotations

import numpy as np

from .optional import require
from .batch_source import BatchSource


class HDF5Source(BatchSource):
    """Rows of a 2-D dataset ``dataset`` in the HDF5 file ``path`` (needs ``suffstats[hdf5]``)."""

    inner_names = True

    def reopen_arguments(self):
        return (self.path, self.dataset), {}

    def __init__(self, path, dataset):
        h5py = require("h5py", "hdf5")
        self.path, self.dataset = path, dataset
        try:
            self.file = h5py.File(path, "r")
        except OSError as err:
            raise ValueError(f"{path}: cannot be opened as HDF5 ({err})") from None
        try:
            self._open(h5py)
        except BaseException:
            self.file.close()
            raise
        self._remember()

    def _open(self, h5py):
        path, dataset = self.path, self.dataset
        if dataset not in self.file:
            raise ValueError(f"{path} has no dataset {dataset!r}; it has {list(self.file.keys())}")
        node = self.file[dataset]
        if not isinstance(node, h5py.Dataset):
            raise ValueError(f"{path}:{dataset} is an HDF5 {type(node).__name__.lower()}, not a dataset; name a "
                             f"dataset inside it: {[f'{dataset}/{k}' for k in node.keys()][:10]}")
        self.data = node
        if self.data.ndim != 2 or self.data.dtype.kind not in "biuf":
            raise ValueError(f"{path}:{dataset} must be a 2-D numeric dataset; got shape {self.data.shape}, "
                             f"dtype {self.data.dtype}")
        self.n_rows, self.n_features = self.data.shape
        self.dtype = self.data.dtype

    @classmethod
    def from_path(cls, path, *, dataset=None, **_):
        if dataset is None:
            raise ValueError(f"name the HDF5 dataset as '{path}:DATASET'")
        return cls(path, dataset)

    def files(self):
        return [self.path]

    def read(self, start, stop):
        return self.data[start:stop]

    def take(self, rows):
        return np.asarray(self.data[np.asarray(rows)])

    def describe(self):
        return f"{self.path}:{self.dataset} ({self.n_rows} x {self.n_features}, {self.dtype})"
