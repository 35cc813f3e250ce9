"""A Parquet file or dataset (``pyarrow``), numeric columns read a row range at a time."""

from __future__ import annotations

import bisect

import numpy as np

from .arrow import arrow_to_rows
from .optional import require
from .batch_source import BatchSource


class ParquetSource(BatchSource):
    """Numeric ``columns`` (default: all) of a Parquet file or directory (needs ``suffstats[parquet]``).

    Row ranges are read from the row groups that hold them, so memory grows
    with the batch, not with the file.
    """

    named_columns = True
    directory_is_one_data_set = True

    def reopen_arguments(self):
        return (self.path,), {"columns": list(self.columns)}

    def __init__(self, path, columns=None):
        pa = require("pyarrow", "parquet")
        import pyarrow.dataset as ds

        self.path = path
        self.dataset = ds.dataset(path, format="parquet")
        names = self.dataset.schema.names
        self.columns = list(columns) if columns is not None else names
        missing = [c for c in self.columns if c not in names]
        if missing:
            raise ValueError(f"{path} has no column(s) {missing}; it has {names}")
        for c in self.columns:
            self._check_column(pa, c, self.dataset.schema.field(c).type)
        self.n_rows = self.dataset.count_rows()
        self.n_features = len(self.columns)
        self.dtype = np.dtype(np.float64)
        self._pieces, offset = [], 0
        for fragment in self.dataset.get_fragments():
            for piece in fragment.split_by_row_group():
                rows = piece.row_groups[0].num_rows
                self._pieces.append((offset, rows, piece))
                offset += rows
        self._starts = [p[0] for p in self._pieces]
        self._cached = (None, None)
        self._remember()

    def _check_column(self, pa, name, kind):
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
            raise ValueError(f"column {name!r} of {self.path} is {kind}, not numeric; select numeric columns")

    def _rows(self, table, offset):
        """The columns of one row group (whose first row is row ``offset``) as a 2-D array."""
        return arrow_to_rows([table.column(c) for c in self.columns], self.columns, self.path, offset)

    @classmethod
    def from_path(cls, path, *, columns=None, **_):
        return cls(path, columns=columns)

    def files(self):
        return [self.path]

    def _piece(self, i):
        """Row group ``i`` as an array (the last one read is kept: batches are consecutive)."""
        if self._cached[0] != i:
            offset, _, piece = self._pieces[i]
            rows = self._rows(piece.to_table(columns=self.columns), offset)
            self._cached = (i, rows)
        return self._cached[1]

    def read(self, start, stop):
        stop = min(stop, self.n_rows)
        parts = []
        i = max(bisect.bisect_right(self._starts, start) - 1, 0)
        while start < stop:
            offset, rows, _ = self._pieces[i]
            parts.append(self._piece(i)[start - offset : min(stop, offset + rows) - offset])
            start = offset + rows
            i += 1
        return np.concatenate(parts) if len(parts) != 1 else parts[0]

    def take(self, rows):
        rows = np.asarray(rows)
        piece = np.searchsorted(self._starts, rows, side="right") - 1
        out = np.empty((rows.shape[0], self.n_features))
        for i in np.unique(piece):
            mine = piece == i
            out[mine] = self._piece(i)[rows[mine] - self._pieces[i][0]]
        return out
