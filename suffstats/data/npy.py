"""``.npy`` files: one file, or many shards read as one row-concatenated dataset."""

from __future__ import annotations

import bisect
import errno
import os

import numpy as np

from .batch_source import ArraySource, BatchSource
from .direct import ShortRead, open_direct


def read_header(path):
    """``(shape, dtype, fortran_order, data_offset)`` from a ``.npy`` header, checked against the file's size.

    Raises ``ValueError`` naming the file for a file that is not ``.npy`` (no
    magic bytes), a damaged header, a payload of Python objects, or a header
    whose shape disagrees with the bytes stored (a truncated file, or a
    header declaring fewer rows than the file holds).
    """
    try:
        with open(path, "rb") as f:
            try:
                version = np.lib.format.read_magic(f)
            except ValueError:
                raise ValueError(f"{path}: not a .npy file (it does not start with the .npy magic bytes)") from None
            try:
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=100_000)
                else:
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=100_000)
            except Exception as err:  # numpy parses the header as a Python literal: any failure is a damaged header
                raise ValueError(f"{path}: the .npy header is damaged ({type(err).__name__}: {err})") from None
            offset = f.tell()
    except OSError as err:
        raise ValueError(f"{path}: cannot be opened as .npy ({err})") from None
    if dtype.hasobject:
        raise ValueError(f"{path}: holds Python objects (a pickled payload); refused, nothing was executed")
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    stored = os.path.getsize(path) - offset
    if stored != expected:
        what = "it is truncated" if stored < expected else "more data than its header declares (a damaged header?)"
        raise ValueError(f"{path}: not a readable .npy file (its header declares shape {shape}, {expected:,} bytes "
                         f"of data, but the file holds {stored:,}: {what})")
    return shape, dtype, fortran, offset


def open_npy(path):
    """Open a ``.npy`` as a read-only memory map after checking its header (see :func:`read_header`)."""
    shape, dtype, _, _ = read_header(path)
    if dtype.kind not in "biuf":
        raise ValueError(f"{path}: has dtype {dtype}; expected numeric rows")
    if len(shape) not in (1, 2):
        raise ValueError(f"{path}: expected a 2-D array of rows; got shape {shape}")
    try:
        X = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as err:
        raise ValueError(f"{path}: not a readable .npy file ({err})") from None
    return X.reshape(-1, 1) if X.ndim == 1 else X


def _physical_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


#: Files of at least this many bytes are read with ``O_DIRECT`` (:mod:`suffstats.data.direct`): the machine's
#: memory, beyond which the page cache cannot keep the file from one epoch to the next (below it, the cache
#: serves later epochs from memory). ``None``: never.
DIRECT_READ_BYTES = _physical_memory()


class NpySource(ArraySource):
    """A ``.npy`` file opened as a memory map (``mmap_mode="r"``, ``allow_pickle=False``).

    A file of at least :data:`DIRECT_READ_BYTES` (the machine's memory)
    has its batches read with ``O_DIRECT`` instead, into reused aligned
    buffers: no page cache, so reading costs the compute threads nothing
    (see :mod:`suffstats.data.direct`). The rows are the same either way.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        super().__init__(open_npy(self.path))
        if self.n_rows == 0:
            raise ValueError(f"{self.path}: holds no rows")
        self._direct = None
        self._remember()

    def _direct_reader(self):
        """The file's direct reader (opened in this process on first use), or ``None`` where it does not apply."""
        if self._direct is None:
            _, _, fortran, offset = read_header(self.path)
            size = self.n_rows * self.n_features * self.dtype.itemsize
            if DIRECT_READ_BYTES is None or size < DIRECT_READ_BYTES or fortran or self.n_features == 0:
                self._direct = False
            else:
                self._direct = open_direct(self.path) or False
                self._offset = offset
        return self._direct or None

    def read(self, start, stop):
        stop = min(stop, self.n_rows)
        reader = self._direct_reader() if stop > start else None
        if reader is None:
            return super().read(start, stop)
        row = self.n_features * self.dtype.itemsize
        try:
            raw = reader.read(self._offset + start * row, (stop - start) * row)
        except ShortRead:
            raise ValueError(f"{self.path}: the file is shorter than when it was opened (rows {start:,}-{stop - 1:,} "
                             "are missing): it was changed while being read") from None
        except OSError as error:
            if error.errno != errno.EINVAL:  # a failing disk: the memory map would fault on the same bytes
                raise ValueError(f"{self.path}: reading rows {start:,}-{stop - 1:,} failed ({error})") from None
            self._direct = False  # the file system took the open, not the aligned read: the memory map from now on
            return super().read(start, stop)
        rows = raw.view(self.dtype).reshape(stop - start, self.n_features)
        rows.flags.writeable = False  # as the memory map's rows: a batch is read, never written through
        return rows

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_direct"] = None  # a descriptor and buffers stay in their process: opened again where needed
        return state

    @classmethod
    def from_path(cls, path, **_):
        return cls(path)

    def reopen_arguments(self):
        return (self.path,), {}

    @staticmethod
    def sharded(paths):
        """Several ``.npy`` files read as one dataset."""
        return ShardedNpySource(paths)

    def files(self):
        return [self.path]

    def describe(self):
        return f"{self.path} ({self.n_rows} x {self.n_features}, {self.dtype})"


class ShardedNpySource(BatchSource):
    """Several ``.npy`` files with the same feature count and dtype, read as one dataset.

    A range of rows that crosses shard boundaries is assembled from the pieces.
    """

    def reopen_arguments(self):
        return (list(self.paths),), {}

    def __init__(self, paths):
        if not paths:
            raise ValueError("no .npy shards given")
        self.paths = list(paths)
        self.shards = [open_npy(p) for p in self.paths]
        first = self.shards[0]
        for path, shard in zip(self.paths, self.shards):
            if shard.shape[1] != first.shape[1]:
                raise ValueError(f"shard {path} has {shard.shape[1]} features; {self.paths[0]} has {first.shape[1]}")
            if shard.dtype != first.dtype:
                raise ValueError(f"shard {path} has dtype {shard.dtype}; {self.paths[0]} has {first.dtype}")
        self.starts = np.cumsum([0] + [s.shape[0] for s in self.shards]).tolist()
        self.n_rows, self.n_features, self.dtype = self.starts[-1], first.shape[1], first.dtype
        if self.n_rows == 0:
            raise ValueError(f"the {len(self.paths)} shards hold no rows")
        self._remember()

    def files(self):
        return list(self.paths)

    def read(self, start, stop):
        stop = min(stop, self.n_rows)
        pieces = []
        i = bisect.bisect_right(self.starts, start) - 1
        while start < stop and i < len(self.shards):
            lo, hi = start - self.starts[i], min(stop, self.starts[i + 1]) - self.starts[i]
            if hi > lo:
                pieces.append(self.shards[i][lo:hi])
            start = self.starts[i + 1]
            i += 1
        if len(pieces) == 1:
            return pieces[0]
        return np.concatenate(pieces) if pieces else np.empty((0, self.n_features), self.dtype)

    def take(self, rows):
        rows = np.asarray(rows)
        shard = np.searchsorted(self.starts, rows, side="right") - 1
        out = np.empty((rows.shape[0], self.n_features), self.dtype)
        for i in np.unique(shard):
            mine = shard == i
            out[mine] = self.shards[i][rows[mine] - self.starts[i]]
        return out

    def describe(self):
        return f"{len(self.paths)} .npy shards ({self.n_rows} x {self.n_features}, {self.dtype})"
