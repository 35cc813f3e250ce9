"""Sources as recipes: what a cluster worker needs to open the same rows itself.

A :class:`Reopen` holds a source's class and the arguments that open it (a
path, a list of shard paths, a file and dataset name, columns) together with
the shape and dtype the client saw. It pickles as those few values; where it
is unpickled (a Dask worker) :meth:`Reopen.open` opens the source once per
worker thread -- a memory map of each ``.npy`` shard, one HDF5 handle, one
Parquet reader -- and keeps it for the next task. The rows are read there and
never pass through the client.

A source says how it is opened again through
:meth:`~suffstats.data.BatchSource.reopen_arguments` (``.npy`` files and
shards, Zarr, Parquet and HDF5 do). In-memory arrays and streams have nothing
a worker could re-open and are refused with the reason.
"""

from __future__ import annotations

import threading

__all__ = ["Reopen", "reopener"]

_OPENED = threading.local()  # per worker thread: recipe key -> opened source


class Reopen:
    """A picklable recipe that opens a file source where it is used (see the module docstring)."""

    def __init__(self, cls, args, kwargs, shape, dtype, description):
        self.cls, self.args, self.kwargs = cls, tuple(args), dict(kwargs)
        self.shape, self.dtype, self.description = tuple(shape), str(dtype), description

    @property
    def key(self):
        return (self.cls.__module__, self.cls.__qualname__, repr(self.args), repr(sorted(self.kwargs.items())))

    def open(self):
        """The source, opened on first use in this thread and kept; checked against what the client saw."""
        cache = getattr(_OPENED, "sources", None)
        if cache is None:
            cache = _OPENED.sources = {}
        source = cache.get(self.key)
        if source is None:
            try:
                source = self.cls(*self.args, **self.kwargs)
            except (OSError, ValueError) as error:
                raise ValueError(f"{self.description} cannot be opened on this worker ({error}); the data must "
                                 "be on storage every worker reads at the same path") from None
            seen = ((int(source.n_rows), int(source.n_features)), str(source.dtype))
            if seen != (self.shape, self.dtype):
                raise ValueError(f"{self.description}: this worker sees {seen[0]} rows x features of {seen[1]}, "
                                 f"the client saw {self.shape} of {self.dtype}; the workers must read the same files")
            cache[self.key] = source
        return source

    def read(self, start, stop):
        return self.open().read(start, stop)

    def __repr__(self):
        return f"Reopen({self.description})"


def reopener(source) -> Reopen:
    """The recipe that re-opens ``source`` on a worker (from its ``reopen_arguments``); ``TypeError`` if none."""
    recipe = source.reopen_arguments()
    if recipe is not None:
        args, kwargs = recipe
        return Reopen(type(source), args, kwargs, (source.n_rows, source.n_features), source.dtype,
                      source.describe())
    raise TypeError(
        f"{source.describe()} cannot be read by cluster workers: only files they can open themselves "
        "(.npy files and shards, Zarr, Parquet, HDF5) or a dask.array are read there. Save in-memory data "
        "with numpy.save to shared storage, or wrap it with dask.array.from_array (its rows then travel "
        "from the client with every epoch)")
