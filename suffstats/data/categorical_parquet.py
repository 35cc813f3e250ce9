"""Parquet categorical columns (dictionary-encoded strings, pandas categoricals) read as integer codes.

A Parquet file keeps a dictionary per row group, so the dictionary's own
indices need not agree between row groups. :class:`CategoricalParquetSource`
fixes one list of categories per column -- given, or the sorted distinct values
found in one pass over the file -- and reads each value as its place in that
list: the same code in every row group, every batch and every worker.
"""

from __future__ import annotations

import numpy as np

from .optional import require
from .parquet import ParquetSource

__all__ = ["CategoricalParquetSource"]


class CategoricalParquetSource(ParquetSource):
    """Categorical columns of a Parquet file or directory read as integer codes (needs ``suffstats[parquet]``).

    Parameters
    ----------
    path : str or path-like
        A Parquet file, or a directory read as one data set.
    columns : list of str, optional
        Columns to read (default: all). Any type whose values can be
        compared: strings, dictionary-encoded (pandas categorical) columns,
        integers, booleans.
    categories : dict of str to list, optional
        For a column, its categories in code order. A column not named gets
        its distinct values, sorted, from one pass over the file.

    Attributes
    ----------
    categories : dict of str to list
        The categories of every column: code ``i`` of column ``c`` is
        ``categories[c][i]``.

    Notes
    -----
    A missing value (null) reads as NaN; a model that needs every code then
    refuses it, naming the row. A value not in a given list of categories is
    refused naming the file, the column, the value and the row.

    Examples
    --------
    >>> import os, tempfile
    >>> import pyarrow as pa, pyarrow.parquet as pq
    >>> from suffstats.data import CategoricalParquetSource
    >>> path = os.path.join(tempfile.mkdtemp(), "colours.parquet")
    >>> pq.write_table(pa.table({"colour": pa.array(["red", "blue", "red"]).dictionary_encode()}), path)
    >>> source = CategoricalParquetSource(path)
    >>> source.categories
    {'colour': ['blue', 'red']}
    >>> source.read(0, 3).ravel().tolist()
    [1.0, 0.0, 1.0]
    """

    def reopen_arguments(self):
        return (self.path,), {"columns": list(self.columns), "categories": self.categories}

    def __init__(self, path, columns=None, categories=None):
        pa = require("pyarrow", "parquet")
        given = dict(categories or {})
        super().__init__(path, columns)
        unknown = [c for c in given if c not in self.columns]
        if unknown:
            raise ValueError(f"categories name column(s) {unknown} not read from {path}; it reads {self.columns}")
        self.categories = {c: list(given[c]) if c in given else None for c in self.columns}
        for c, values in self.categories.items():
            if values is not None and len(set(values)) != len(values):
                raise ValueError(f"categories of column {c!r} repeat a value: {values}")
        todo = [c for c, values in self.categories.items() if values is None]
        if todo:
            self.categories.update(self._distinct(pa, todo))
        self._value_sets = {c: pa.array(values) for c, values in self.categories.items()}
        self._cached = (None, None)
        self._remember()

    @classmethod
    def from_path(cls, path, *, columns=None, categories=None, **_):
        """Open ``path`` (see the class parameters).

        Parameters
        ----------
        path : str or path-like
            A Parquet file, or a directory read as one data set.
        columns : list of str, optional
            Columns to read (default: all).
        categories : dict of str to list, optional
            For a column, its categories in code order.
        """
        return cls(path, columns=columns, categories=categories)

    def _remember(self):
        if hasattr(self, "_value_sets"):  # the fingerprint reads rows: only once the categories are known
            super()._remember()

    def _check_column(self, pa, name, kind):
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if pa.types.is_floating(kind) or pa.types.is_nested(kind):
            raise ValueError(f"column {name!r} of {self.path} is {kind}: categories must be strings, integers "
                             f"or booleans")

    def _distinct(self, pa, columns):
        """The sorted distinct non-null values of ``columns``, in one pass over the row groups."""
        import pyarrow.compute as pc

        seen = {c: set() for c in columns}
        for _, _, piece in self._pieces:
            table = piece.to_table(columns=columns)
            for c in columns:
                col = table.column(c)
                if pa.types.is_dictionary(col.type):
                    col = col.cast(col.type.value_type)
                seen[c].update(v for v in pc.unique(col).to_pylist() if v is not None)
        return {c: sorted(values) for c, values in seen.items()}

    def _rows(self, table, offset):
        import pyarrow as pa
        import pyarrow.compute as pc

        out = np.empty((table.num_rows, len(self.columns)))
        for j, c in enumerate(self.columns):
            col = table.column(c)
            if pa.types.is_dictionary(col.type):
                col = col.cast(col.type.value_type)
            codes = pc.index_in(col, value_set=self._value_sets[c])
            lost = np.flatnonzero(codes.is_null().to_numpy(zero_copy_only=False)
                                  & col.is_valid().to_numpy(zero_copy_only=False))
            if lost.size:
                value = col[int(lost[0])].as_py()
                raise ValueError(f"{self.path}: column {c!r} has {value!r} at data row {offset + int(lost[0])}, "
                                 f"which is not one of its categories {self.categories[c]}")
            out[:, j] = codes.to_numpy(zero_copy_only=False)  # nulls become NaN
        return out
