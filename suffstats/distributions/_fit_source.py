"""The statistics of a whole data set, read batch by batch: what ``Distribution.fit`` sums.

Rows come from any :class:`~suffstats.data.BatchSource` (an array, a memory
map, a path, shards, a stream ...), ``batch_size`` rows at a time, so a file
larger than memory is never materialised. Statistics are computed per fixed
block of :data:`~suffstats.data.blocks.BLOCK_ROWS` rows, every block around the
shift of the first, and the block values are added over a fixed pairwise tree
of block indices: the result has the same bits whatever the batch size, and
its rounding error grows with log(n).
"""

from __future__ import annotations

import os

import numpy as np

from .._validation import as_numeric_array, check_batch, check_positive_int, check_weights
from ..block_tree import BlockTree
from ..data.blocks import BLOCK_ROWS, aligned_chunks, batch_ranges
from ..data.prefetch import prefetch
from ..data.source import ArraySource, BatchSource, as_source

__all__ = ["DEFAULT_BATCH_ROWS", "data_statistics"]

#: Rows read at a time by ``Distribution.fit`` unless told otherwise (16 blocks).
DEFAULT_BATCH_ROWS = 16 * BLOCK_ROWS

_DATA_SUFFIXES = (".npy", ".h5", ".hdf5", ".zarr", ".parquet", ".pq", ".csv", ".tsv")


def data_statistics(dist, X, sample_weight=None, batch_size=DEFAULT_BATCH_ROWS):
    """Statistics of all rows of ``X`` for ``dist``, read ``batch_size`` rows at a time.

    Nothing of ``dist`` changes. Errors name the offending row by its global
    index in ``X``.
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    source = _rows(dist, X)
    if sample_weight is not None:
        sample_weight = check_weights(sample_weight, source.n_rows)
    opened = source.fingerprint() if source.files() else None
    ranges = batch_ranges(source.n_rows, batch_size)
    batches = _read(source, ranges, sample_weight)
    if len(ranges) > 1 or not source.random_access:
        batches = prefetch(batches)
    total, reference, row = BlockTree(), None, 0
    try:
        for chunk, weights in aligned_chunks(batches):
            for start in range(0, chunk.shape[0], BLOCK_ROWS):
                stop = start + BLOCK_ROWS
                stats = dist._checked_statistics(chunk[start:stop], None if weights is None else weights[start:stop],
                                                 reference, row_offset=row)
                reference = stats if reference is None else reference
                total.push(stats)
                row += min(stop, chunk.shape[0]) - start
    finally:
        batches.close()
    if reference is None:
        check_batch(np.empty((0, source.n_features)), ndim=dist.ndim)  # raises: X is empty
    if opened is not None:
        source.check_unchanged(opened)  # a file written to while it was read
    return total.total()


def _read(source, ranges, sample_weight):
    for start, X in source.batches(ranges):
        yield X, None if sample_weight is None else sample_weight[start : start + X.shape[0]]


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
    if not isinstance(X, str) or any(ch in X for ch in "*?["):
        return
    base = X.rsplit(":", 1)[0] if (".h5:" in X or ".hdf5:" in X) else X
    if not os.path.exists(base) and not base.lower().rstrip("/").endswith(_DATA_SUFFIXES):
        raise TypeError(f"X must be numeric array data or a path to a data file; got a string that names no file: "
                        f"{X[:60]!r}")
