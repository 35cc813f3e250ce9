"""Dispatch a path (or list of paths) to the source class for its format.

Formats are a table from file suffix to ``"module:Class"``, imported only when
a path needs it (as backends are): this module imports no format module, and
no format module imports this one. A new format is one source class with a
``from_path(path, *, dataset=None, columns=None, suffix="")`` class method and
one :func:`register_format` line. The class owns everything else about its
format, and the command line, ``Distribution.fit`` and the Dask strategy ask
it: how a worker opens it again
(:meth:`~suffstats.data.BatchSource.reopen_arguments`), whether
``columns=`` names columns (``named_columns``), whether a directory with its
suffix is one data set (``directory_is_one_data_set``) and whether its files
hold named data sets, ``FILE.SUFFIX:NAME`` (``inner_names``).
``tests/test_new_format.py`` adds a format this way from outside the package.

A path that exists is always read as that file, even when its name holds
``*``, ``?`` or ``[`` (``data[1].npy`` is that file, never ``data1.npy``);
only a path that does not exist is expanded as a glob pattern.
"""

from __future__ import annotations

import glob
import importlib
import os

__all__ = ["path_source", "register_format", "format_class", "suffix_of", "split_location", "names_data",
           "input_files", "same_file", "FORMATS"]

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


def format_class(suffix):
    """The source class registered for ``suffix`` (lower case, no dot), imported now; ``None`` if none is."""
    target = FORMATS.get(suffix.lower())
    if target is None:
        return None
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def suffix_of(path) -> str:
    """The lower-case suffix of a path's last component (``""`` when it has none)."""
    name = os.path.basename(os.fspath(path).rstrip("/"))
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def split_location(path):
    """``(file, inner)``: a path ``FILE.SUFFIX:NAME`` that does not exist as given, for a format whose files
    hold named data sets (``inner_names``, as HDF5), is data set ``NAME`` of that file; else ``(path, None)``."""
    path = os.fspath(path)
    if ":" in path and not os.path.exists(path):
        base, inner = path.rsplit(":", 1)
        if base and suffix_of(base) in FORMATS and format_class(suffix_of(base)).inner_names:
            return base, inner
    return path, None


def _is_one_data_set(base) -> bool:
    """Whether the directory ``base`` is one data set of its format (a Zarr store), not a folder of shards."""
    cls = format_class(suffix_of(base)) if suffix_of(base) in FORMATS else None
    return bool(cls is not None and cls.directory_is_one_data_set)


def names_data(path) -> bool:
    """Whether a string can name data: it exists, is a glob pattern, or ends in a registered suffix."""
    base, _ = split_location(path)
    return os.path.exists(base) or glob.has_magic(base) or suffix_of(base) in FORMATS


def same_file(a, b) -> bool:
    """Whether paths ``a`` and ``b`` name one file (links and hard links included; either may not exist)."""
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def input_files(path) -> list:
    """Every file and folder a path argument reads: what an output must never be written over."""
    if isinstance(path, (list, tuple)):
        return [os.fspath(p) for p in path]
    base, _ = split_location(path)
    if os.path.isdir(base):
        if _is_one_data_set(base):
            found = [base]
            for root, dirs, files in os.walk(base):
                found += [os.path.join(root, d) for d in dirs] + [os.path.join(root, f) for f in files]
            return found
        return [base] + sorted(glob.glob(os.path.join(glob.escape(base), "*.npy")))
    if not os.path.exists(base) and glob.has_magic(base):
        return sorted(glob.glob(base))
    return [base]


def _shards(paths):
    return format_class("npy").sharded([os.fspath(p) for p in paths])


def path_source(path, columns=None):
    """The source for a path, a directory or glob of ``.npy`` shards, or a list of shard paths."""
    if isinstance(path, (list, tuple)):
        return _shards(path)
    path = os.fspath(path)
    base, dataset = split_location(path)
    if os.path.isdir(base) and not _is_one_data_set(base):
        shards = sorted(glob.glob(os.path.join(glob.escape(base), "*.npy")))
        if not shards:
            raise ValueError(f"directory {base} holds no .npy shards")
        return _shards(shards)
    if not os.path.exists(base) and glob.has_magic(base):
        shards = sorted(glob.glob(base))
        if not shards:
            raise ValueError(f"no files match {base!r}")
        return _shards(shards)
    suffix = suffix_of(base)
    if suffix not in FORMATS:
        raise ValueError(f"cannot tell the format of {path!r}; expected one of "
                         f"{', '.join('.' + s for s in FORMATS)}")
    return format_class(suffix).from_path(base, dataset=dataset, columns=columns, suffix=suffix)
