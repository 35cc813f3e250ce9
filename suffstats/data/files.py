"""Dispatch a path (or list of paths) to the source class for its format.

Formats are a table from file suffix to ``"module:Class"``, imported only when
a path needs it (as backends are): this module imports no format module, and
no format module imports this one. A new format is one source class with a
``from_path(path, *, dataset=None, columns=None, suffix="")`` class method and
one :func:`register_format` line.

A path that exists is always read as that file, even when its name holds
``*``, ``?`` or ``[`` (``data[1].npy`` is that file, never ``data1.npy``);
only a path that does not exist is expanded as a glob pattern.
"""

from __future__ import annotations

import glob
import importlib
import os

__all__ = ["path_source", "register_format", "FORMATS"]

#: Lower-case file suffix -> ``"module:Class"`` of its source.
FORMATS: dict = {}


def register_format(suffixes, target) -> None:
    """Read files ending in ``suffixes`` with the source class ``target`` (``"module:Class"``, imported lazily)."""
    for suffix in suffixes:
        FORMATS[suffix.lower()] = target


register_format(["npy"], "suffstats.data.npy:NpySource")
register_format(["h5", "hdf5"], "suffstats.data.hdf5:HDF5Source")
register_format(["zarr"], "suffstats.data.zarr_source:ZarrSource")
register_format(["parquet", "pq"], "suffstats.data.parquet:ParquetSource")
register_format(["csv", "tsv"], "suffstats.data.csv:CsvSource")


def _source_class(suffix):
    module, name = FORMATS[suffix].split(":")
    return getattr(importlib.import_module(module), name)


def _shards(paths):
    return _source_class("npy").sharded([os.fspath(p) for p in paths])


def path_source(path, columns=None):
    """The source for a path, a directory or glob of ``.npy`` shards, or a list of shard paths."""
    if isinstance(path, (list, tuple)):
        return _shards(path)
    path = os.fspath(path)
    dataset = None
    base = path
    if (".h5:" in path or ".hdf5:" in path) and not os.path.exists(path):
        base, dataset = path.rsplit(":", 1)
    if os.path.isdir(base) and not base.rstrip("/").endswith(".zarr") and not _is_parquet_dataset(base):
        shards = sorted(glob.glob(os.path.join(glob.escape(base), "*.npy")))
        if not shards:
            raise ValueError(f"directory {base} holds no .npy shards")
        return _shards(shards)
    if not os.path.exists(base) and glob.has_magic(base):
        shards = sorted(glob.glob(base))
        if not shards:
            raise ValueError(f"no files match {base!r}")
        return _shards(shards)
    suffix = base.lower().rstrip("/").rsplit(".", 1)[-1]
    if suffix not in FORMATS:
        raise ValueError(f"cannot tell the format of {path!r}; expected one of "
                         f"{', '.join('.' + s for s in FORMATS)}")
    return _source_class(suffix).from_path(base, dataset=dataset, columns=columns, suffix=suffix)


def _is_parquet_dataset(base):
    return base.lower().rstrip("/").endswith((".parquet", ".pq"))
