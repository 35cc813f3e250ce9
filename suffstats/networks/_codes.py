"""Integer category codes: checked at the boundary, counted into tables by ``bincount`` over combined codes.

A discrete model reads columns of codes ``0 .. c-1``. :func:`check_codes`
refuses what is not a code (a fraction, a negative number, a code at or above
its column's number of categories, NaN where nothing may be missing) naming the
row of the data and the column. :func:`table_counts` counts the joint codes of
some columns in one ``bincount`` (the codes combined in mixed radix, the last
column fastest), which is exact: counts of unit-weight rows are integers, and
integers add without rounding.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_numeric_array
from ..data.blocks import batch_ranges

__all__ = ["MAX_TABLE_CELLS", "check_codes", "check_table_size", "table_counts", "max_codes"]

#: Largest table (cells) a model allocates: 2**27 float64 cells are 1 GiB.
MAX_TABLE_CELLS = 1 << 27


def check_table_size(cards, what) -> int:
    """The number of cells of a table over columns with ``cards`` categories, or a ``ValueError`` naming it."""
    size = 1
    for c in cards:
        size *= int(c)
    if size > MAX_TABLE_CELLS:
        raise ValueError(f"{what} would have {size:,} cells ({size * 8 / 2**30:,.1f} GiB of float64); refusing "
                         f"tables above {MAX_TABLE_CELLS:,} cells: use fewer parents or fewer categories")
    return size


def check_codes(X, cards=None, *, row_offset=0, name="X", missing=False, n_columns=None) -> np.ndarray:
    """``X`` as a 2-D ``intp`` array of codes, every code in ``0 .. cards[j]-1`` of its column ``j``.

    Parameters
    ----------
    X : array_like of shape (n, d), or (n,) for one column
    cards : sequence of int, optional
        Categories per column (``None``: only non-negative integers are required).
    row_offset : int
        Added to row numbers in messages (the row's place in the data).
    name : str
        Names the data in messages.
    missing : bool
        Whether NaN or -1 may mark an unobserved value (returned as -1).
    n_columns : int, optional
        Required number of columns.

    Examples
    --------
    >>> check_codes([[0, 1], [2, 0]], [3, 2]).tolist()
    [[0, 1], [2, 0]]
    >>> check_codes([[0, 1], [2, 2]], [3, 2], row_offset=10)
    Traceback (most recent call last):
    ...
    ValueError: X has 2 at row 11, column 1; codes of column 1 must be integers in 0..1
    """
    arr = as_numeric_array(X, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_columns) of category codes; got shape {arr.shape}")
    if n_columns is not None and arr.shape[1] != n_columns:
        raise ValueError(f"{name} has {arr.shape[1]} columns, but the model has {n_columns}")
    if cards is not None and len(cards) != arr.shape[1]:
        raise ValueError(f"{name} has {arr.shape[1]} columns, but the model has {len(cards)}")
    if arr.dtype.kind == "f":
        hole = np.isnan(arr)
        bad = ~hole & ((arr != np.floor(arr)) | np.isinf(arr))
        if not missing:
            bad |= hole
        if bad.any():
            _refuse(arr, bad, cards, row_offset, name, missing)
        codes = np.where(hole, -1, arr).astype(np.intp)
    else:
        codes = arr.astype(np.intp, copy=False)
    low = -1 if missing else 0
    bad = codes < low
    if cards is not None:
        bad |= codes >= np.asarray(cards, dtype=np.intp)
    if bad.any():
        _refuse(arr, bad, cards, row_offset, name, missing)
    return codes


def _refuse(arr, bad, cards, row_offset, name, missing):
    row, col = (int(i) for i in np.argwhere(bad)[0])
    top = "" if cards is None else f"0..{int(cards[col]) - 1}"
    allowed = f"integers in {top}" if top else "non-negative integers"
    if missing:
        allowed += " (or NaN / -1 for an unobserved value)"
    raise ValueError(f"{name} has {arr[row, col].item()!r} at row {row + row_offset}, column {col}; codes of "
                     f"column {col} must be {allowed}")


def table_counts(codes, columns, cards, weights=None) -> np.ndarray:
    """Weighted counts of the joint codes of ``columns`` (shape ``cards[c] for c in columns``), as float64."""
    shape = tuple(int(cards[c]) for c in columns)
    combined = codes[:, columns[0]]
    for c in columns[1:]:
        combined = combined * int(cards[c]) + codes[:, c]
    size = int(np.prod(shape, dtype=np.int64))
    return np.bincount(combined, weights=weights, minlength=size).astype(np.float64).reshape(shape)


def max_codes(source, batch_size, name="X", n_columns=None) -> tuple:
    """One pass over a source: the number of categories of each column (its largest code + 1), codes checked."""
    top = None
    for start, X in source.batches(batch_ranges(source.n_rows, batch_size)):
        codes = check_codes(X, None, row_offset=start, name=name, n_columns=n_columns)
        m = codes.max(axis=0) if codes.shape[0] else None
        if m is not None:
            top = m if top is None else np.maximum(top, m)
    if top is None:
        raise ValueError(f"{name} is empty: a fit needs at least one row")
    return tuple(int(t) + 1 for t in top)

