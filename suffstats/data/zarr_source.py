"""A Zarr array, read a range of rows at a time."""

from __future__ import annotations

import numpy as np

from .optional import require
from .batch_source import BatchSource


class ZarrSource(BatchSource):
    """Rows of a 2-D Zarr array at ``path`` (needs ``suffstats[zarr]``)."""

    directory_is_one_data_set = True

    def reopen_arguments(self):
        return (self.path,), {}

    def __init__(self, path):
        zarr = require("zarr", "zarr")
        self.path = path
        self.data = zarr.open_array(path, mode="r")
        if self.data.ndim != 2 or np.dtype(self.data.dtype).kind not in "biuf":
            raise ValueError(f"{path} must be a 2-D numeric array; got shape {self.data.shape}, dtype {self.data.dtype}")
        self.n_rows, self.n_features = self.data.shape
        self.dtype = np.dtype(self.data.dtype)
        self._remember()

    @classmethod
    def from_path(cls, path, **_):
        return cls(path)

    def files(self):
        return [self.path]

    def read(self, start, stop):
        return self.data[start:stop]

    def take(self, rows):
        return self.data.get_orthogonal_selection((np.asarray(rows), slice(None)))
