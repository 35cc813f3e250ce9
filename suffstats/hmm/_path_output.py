"""Where a decoded state path goes: an array in memory, or a memory map for a sequence longer than memory.

With ``out`` given, :meth:`~suffstats.hmm.BaseHMM.decode` writes the path
there and keeps the Viterbi back-pointers in a temporary memory map beside it
(``n_rows × K`` bytes for ``K < 128``), read back one batch at a time while the
path is traced: peak memory grows with ``batch_size``, not with the sequence.
"""

from __future__ import annotations

import os

import numpy as np

from ..data.files import same_file

__all__ = ["path_output", "pointer_dtype"]


def pointer_dtype(n_components):
    """The smallest integer type that holds a state index."""
    return np.int8 if n_components < 128 else np.int32


def path_output(out, n_rows, n_components, input_files):
    """``(writable int array of n_rows, folder for temporary files)`` from the user's ``out``.

    ``out`` is a ``.npy`` path (created, or replaced if it is not an input
    file) or a writable 1-D integer array or memory map of ``n_rows``.
    """
    if isinstance(out, (str, os.PathLike)):
        path = os.fspath(out)
        if not path.endswith(".npy"):
            raise ValueError(f"out must be a .npy path or an array; got {path!r}")
        for name in input_files:
            if same_file(path, name):
                raise ValueError(f"out {path!r} is the input file {name}: the path would be written over the data; "
                                 "give the path its own file")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise ValueError(f"out {path!r}: the folder {folder} does not exist")
        return np.lib.format.open_memmap(path, mode="w+", dtype=np.int64, shape=(n_rows,)), folder
    if not isinstance(out, np.ndarray):
        raise ValueError(f"out must be a .npy path or a NumPy array (or memory map); got {type(out).__name__}")
    if out.shape != (n_rows,):
        raise ValueError(f"out must have shape ({n_rows},), one state per row; got {out.shape}")
    if out.dtype.kind not in "iu" or np.iinfo(out.dtype).max < n_components - 1:
        raise ValueError(f"out must hold integers up to {n_components - 1} (a state per row); got dtype {out.dtype}")
    if not out.flags.writeable:
        raise ValueError("out is read-only; open the memory map with mode 'r+' or 'w+'")
    filename = getattr(out, "filename", None)
    for name in input_files if filename else ():
        if same_file(filename, name):
            raise ValueError(f"out is a memory map of the input file {name}: the path would be written over the data")
    return out, os.path.dirname(os.path.abspath(filename)) if filename else None
