"""Count tables of category codes in one compiled pass that reads each row once for every table.

:func:`count_tables` takes a block of codes (any integer or float dtype, as
read from the file: nothing is converted first), checks every code against its
column's number of categories, and adds the row's weight to one cell of each
table (the joint code of the table's columns in mixed radix, the last column
fastest). It returns the index of the first bad row, or -1; the caller then
takes the checked path that names the row and the column. Rows are added in
order, so weighted counts are deterministic; unit-weight counts are integers
and exact.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["count_tables", "table_layout"]


@njit(nogil=True, cache=True)
def _count(X, w, cards, columns, starts, offsets, out):
    n, d = X.shape
    tables = offsets.shape[0]
    unit = w.shape[0] == 0
    row = np.empty(d, np.int64)
    for i in range(n):
        for j in range(d):
            v = X[i, j]
            if not (v >= 0 and v < cards[j]):
                return i
            c = np.int64(v)
            if c != v:
                return i
            row[j] = c
        weight = 1.0 if unit else w[i]
        for t in range(tables):
            code = 0
            for p in range(starts[t], starts[t + 1]):
                code = code * cards[columns[p]] + row[columns[p]]
            out[offsets[t] + code] += weight
    return -1


def table_layout(tables, cards):
    """The flat description of ``tables`` (tuples of columns) that :func:`count_tables` reads."""
    columns = np.array([c for table in tables for c in table], dtype=np.int64)
    starts = np.cumsum([0] + [len(table) for table in tables]).astype(np.int64)
    sizes = [int(np.prod([cards[c] for c in table], dtype=np.int64)) for table in tables]
    offsets = np.cumsum([0] + sizes).astype(np.int64)
    return columns, starts, offsets, np.asarray(cards, dtype=np.int64)


def count_tables(X, w, layout):
    """``(first bad row or -1, flat counts of every table)`` of a block of codes."""
    columns, starts, offsets, cards = layout
    out = np.zeros(int(offsets[-1]), dtype=np.float64)
    weights = np.zeros(0) if w is None else np.ascontiguousarray(w, dtype=np.float64)
    bad = _count(np.ascontiguousarray(X), weights, cards, columns, starts, offsets[:-1], out)
    return int(bad), out
