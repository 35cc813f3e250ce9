"""What ``Distribution.fit`` reads: ``X`` as a source of rows, with the errors an in-memory batch gets.

Rows come from any :class:`~suffstats.data.BatchSource` (an array, a memory
map, a path, shards, a stream ...); the pass itself is the driver's
(:class:`~suffstats.fit.local.LocalAccumulation`), ``batch_size`` rows at a
time, so a file larger than memory is never materialised.
"""

from __future__ import annotations

import os


from .._validation import as_numeric_array, check_batch, check_weights
from ..data.blocks import BLOCK_ROWS
from ..data.files import names_data
from ..data.source import ArraySource, BatchSource, as_source

__all__ = ["DEFAULT_BATCH_ROWS", "rows_of"]

#: Rows read at a time by ``Distribution.fit`` unless told otherwise (16 blocks).
DEFAULT_BATCH_ROWS = 16 * BLOCK_ROWS


def rows_of(dist, X, sample_weight=None):
    """``X`` as a source of rows for ``dist``, and ``sample_weight`` checked against its length."""
    source = _rows(dist, X)
    if sample_weight is not None:
        sample_weight = check_weights(sample_weight, source.n_rows)
    return source, sample_weight


def _rows(dist, X) -> BatchSource:
    """``X`` as a source of rows, with the shape errors that an in-memory batch gets."""
    if _is_path(X):
        _refuse_plain_string(X)
        source = as_source(X, ndim=dist.ndim)
    elif isinstance(X, BatchSource) or type(X).__module__.startswith("dask") or hasattr(X, "__next__") or (
            callable(X) and not hasattr(X, "shape")):
        source = as_source(X, ndim=dist.ndim)
    else:
        arr = as_numeric_array(X)
        rows_ok = arr.ndim == 2 or (dist.ndim == 1 and arr.ndim == 1)
        if not rows_ok or arr.shape[0] == 0:
            check_batch(arr, ndim=dist.ndim)  # raises the precise error
        return ArraySource(arr, ndim=dist.ndim)
    if dist.ndim == 1 and source.n_features != 1:
        raise ValueError(f"X must be 1-D (or one column) for a univariate model; got {source.n_features} columns "
                         f"in {source.describe()}")
    return source


def _is_path(X):
    if isinstance(X, (str, os.PathLike)):
        return True
    return isinstance(X, (list, tuple)) and bool(X) and all(isinstance(p, (str, os.PathLike)) for p in X)


def _refuse_plain_string(X):
    """A string naming no file and no data format is data passed by mistake: a TypeError, as for arrays."""
    if isinstance(X, str) and not names_data(X):
        raise TypeError(f"X must be numeric array data or a path to a data file; got a string that names no file: "
                        f"{X[:60]!r}")
