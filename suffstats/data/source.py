"""``as_source``: anything that holds rows -- an array, a path, shards, a stream, a dask array -- as a source.

The protocol itself (:class:`BatchSource`) and the array source live in
:mod:`suffstats.data.batch_source`; formats in their own modules, found
through :mod:`suffstats.data.files`.
"""

from __future__ import annotations

import os

from .batch_source import ArraySource, BatchSource
from .dask_source import DaskSource
from .files import path_source
from .stream import StreamSource

__all__ = ["ArraySource", "BatchSource", "as_source"]


def as_source(X, *, ndim=2, columns=None) -> BatchSource:
    """Wrap ``X`` as a :class:`BatchSource`.

    Sources pass through; arrays and memory maps become an :class:`ArraySource`;
    a path is dispatched by its suffix (``.npy``, ``.h5``/``.hdf5`` with
    ``"file.h5:dataset"``, ``.zarr``, ``.parquet``, ``.csv``); a directory, a
    glob pattern or a list of ``.npy`` paths becomes one row-concatenated
    dataset; a callable returning a fresh iterator of batches is a stream; a
    ``dask.array`` is read chunk by chunk. ``columns`` selects Parquet and CSV
    columns.

    Parameters
    ----------
    X : BatchSource, array_like, str, os.PathLike, list of paths, callable or dask.array
        Where the rows are (see above).
    ndim : {1, 2}, default=2
        Dimensions a row batch must have: 2 for models over feature vectors,
        1 for univariate distributions.
    columns : sequence of str, optional
        Columns to read from a Parquet or CSV file (default: all).
    """
    if isinstance(X, BatchSource):
        return X
    if isinstance(X, (str, os.PathLike)) or (isinstance(X, (list, tuple)) and X and
                                             all(isinstance(p, (str, os.PathLike)) for p in X)):
        return path_source(X, columns=columns)
    if callable(X) and not hasattr(X, "shape"):
        return StreamSource(X)
    if type(X).__module__.startswith("dask"):
        return DaskSource(X)
    if hasattr(X, "__next__"):
        raise TypeError("a one-shot iterator cannot be read for several epochs; pass a callable that returns "
                        "a fresh iterator of batches (e.g. lambda: iter(batches)) instead")
    return ArraySource(X, ndim=ndim)
