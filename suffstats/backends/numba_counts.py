"""Count tables of category codes in one compiled pass that reads each row once for every table.

:func:`count_tables` takes a block of codes (any integer or float dtype, as
read from the file: nothing is converted first), checks every code against its
column's number of categories, then, table by table over the block (its rows
stay in cache), adds each row's weight to one cell (the joint code of the
table's columns in mixed radix, the last column fastest). It returns the index
of the first bad row, or -1; the caller then takes the checked path that names
the row and the column. Every cell adds its rows in row order, so weighted
counts are deterministic; unit-weight counts are integers and exact.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["count_tables", "table_layout"]


@njit(nogil=True, cache=True)
def _first_bad(X, cards):
    n, d = X.shape
    for i in range(n):
        for j in range(d):
            v = X[i, j]
            if not (v >= 0 and v < cards[j]):
                return i
            if np.int64(v) != v:
                return i
    return -1


@njit(nogil=True, cache=True)
def _count(X, w, cards, columns, starts, offsets, out):
    # Table by table over the block's rows (which stay in cache): a cell still adds its rows in row order.
    n = X.shape[0]
    unit = w.shape[0] == 0
    for t in range(offsets.shape[0]):
        s, e, off = starts[t], starts[t + 1], offsets[t]
        if e - s == 2:  # a column and one parent, or a pair: the common case, without the inner loop
            a, b = columns[s], columns[s + 1]
            cb = cards[b]
            for i in range(n):
                out[off + np.int64(X[i, a]) * cb + np.int64(X[i, b])] += 1.0 if unit else w[i]
        else:
            for i in range(n):
                code = 0
                for p in range(s, e):
                    code = code * cards[columns[p]] + np.int64(X[i, columns[p]])
                out[off + code] += 1.0 if unit else w[i]


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
    X = np.ascontiguousarray(X)
    bad = _first_bad(X, cards)
    if bad < 0:
        _count(X, weights, cards, columns, starts, offsets[:-1], out)
    return int(bad), out
