"""Dispatch a path (or list of paths) to the source class for its format."""

from __future__ import annotations

import glob
import os

__all__ = ["path_source", "require", "arrow_to_rows"]


def require(module, extra):
    """Import an optional storage library, or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"reading this format needs {module}: pip install 'suffstats[{extra}]'") from None


def path_source(path, columns=None):
    """The source for a path, a directory or glob of ``.npy`` shards, or a list of shard paths."""
    from .npy import NpySource, ShardedNpySource

    if isinstance(path, (list, tuple)):
        return ShardedNpySource([os.fspath(p) for p in path])
    path = os.fspath(path)
    dataset = None
    base = path
    if ".h5:" in path or ".hdf5:" in path:
        base, dataset = path.rsplit(":", 1)
    if os.path.isdir(base) and not base.rstrip("/").endswith(".zarr"):
        shards = sorted(glob.glob(os.path.join(base, "*.npy")))
        if not shards:
            raise ValueError(f"directory {base} holds no .npy shards")
        return ShardedNpySource(shards)
    if any(ch in base for ch in "*?["):
        shards = sorted(glob.glob(base))
        if not shards:
            raise ValueError(f"no files match {base!r}")
        return ShardedNpySource(shards)
    suffix = base.lower().rstrip("/").rsplit(".", 1)[-1]
    if suffix == "npy":
        return NpySource(base)
    if suffix in ("h5", "hdf5"):
        from .hdf5 import HDF5Source

        if dataset is None:
            raise ValueError(f"name the HDF5 dataset as '{base}:DATASET'")
        return HDF5Source(base, dataset)
    if suffix == "zarr":
        from .zarr_source import ZarrSource

        return ZarrSource(base)
    if suffix in ("parquet", "pq"):
        from .parquet import ParquetSource

        return ParquetSource(base, columns=columns)
    if suffix in ("csv", "tsv"):
        from .csv import CsvSource

        return CsvSource(base, columns=columns, delimiter="\t" if suffix == "tsv" else ",")
    raise ValueError(f"cannot tell the format of {path!r}; expected .npy, .h5/.hdf5, .zarr, .parquet or .csv")


def arrow_to_rows(columns, names, where, row_offset=0):
    """Arrow columns as a float64 (n, len(names)) array; a missing value is an error naming its row."""
    import numpy as np

    out = np.empty((len(columns[0]) if columns else 0, len(names)))
    for j, (col, name) in enumerate(zip(columns, names)):
        if col.null_count:
            row = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
            raise ValueError(f"{where}: column {name!r} has a missing value at data row {row_offset + row}")
        out[:, j] = col.to_numpy(zero_copy_only=False)
    return out
