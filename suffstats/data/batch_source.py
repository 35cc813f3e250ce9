"""The batch source protocol, and the source of an array in memory or a memory map.

Read ranges of rows and seeded row samples from storage.

The EM driver only ever asks a source for ``read(start, stop)`` and
``sample(n, rng)``; it never materialises the whole data set.
"""

from __future__ import annotations

import os

import numpy as np

from .._validation import as_numeric_array, check_batch


class BatchSource:
    """What every data source offers.

    Attributes
    ----------
    n_rows : int
    n_features : int
    dtype : numpy.dtype
    """

    n_rows: int
    n_features: int
    dtype: np.dtype
    #: Whether rows can be read by index (streams cannot).
    random_access = True
    #: Whether ``columns=`` picks columns of this format by name (Parquet, CSV).
    named_columns = False
    #: Whether a directory with this format's suffix is one data set (a Zarr store, a Parquet data set),
    #: rather than a folder of ``.npy`` shards.
    directory_is_one_data_set = False
    #: Whether a file of this format holds named data sets, addressed as ``FILE.SUFFIX:NAME`` (HDF5).
    inner_names = False

    def reopen_arguments(self):
        """``(args, kwargs)`` that open these rows again, ``type(self)(*args, **kwargs)``, on a cluster worker.

        ``None`` (the default) for rows nothing else can open: arrays in memory, streams.
        """
        return None

    def batches(self, ranges):
        """Yield ``(start, rows)`` for each ``(start, stop)`` range, in order.

        Parameters
        ----------
        ranges : iterable of (int, int)
            Half-open row ranges ``(start, stop)``; a stream ignores them and
            yields one whole pass.
        """
        for start, stop in ranges:
            yield start, self.read(start, stop)

    def describe(self) -> str:
        """A short description for messages and fingerprints."""
        return f"{type(self).__name__}({self.n_rows} x {self.n_features}, {self.dtype})"

    def files(self) -> list:
        """The files (or folders) the rows are read from; empty for data in memory."""
        return []

    def fingerprint(self) -> dict:
        """Shape, dtype, the files' fingerprints and rows sampled over the data.

        Catches the common ways data changes: another size, a file written
        again (its modification time), another header, other bytes at spots
        spread over each file, other values in 32 rows (16 evenly spaced, 16
        at seeded random places). Stored in checkpoints and compared by
        :meth:`check_unchanged`.
        """
        from .fingerprint import file_fingerprint

        paths = self.files()
        out = {"n_rows": int(self.n_rows), "n_features": int(self.n_features), "dtype": str(self.dtype)}
        if paths:
            out["files"] = [file_fingerprint(p, sample=len(paths) <= 64) for p in paths]
        if self.random_access or not paths:
            n = self.n_rows
            spread = np.linspace(0, n - 1, num=min(n, 16)).astype(np.int64)
            scattered = np.random.default_rng(n).integers(0, n, size=min(n, 16))
            rows = np.unique(np.concatenate([spread, scattered]))
            out["rows"] = rows.tolist()
            out["values"] = np.asarray(self.take(rows), dtype=np.float64).ravel().tolist()
        return out

    def check_unchanged(self, fingerprint=None) -> None:
        """Raise ``ValueError`` naming the file when the data no longer matches ``fingerprint``.

        Parameters
        ----------
        fingerprint : dict, optional
            A :meth:`fingerprint` taken earlier (one stored in a checkpoint).
            By default, the one taken when the source was opened (a source
            made without one takes it at this first call).

        Raises
        ------
        ValueError
            ``"data.npy changed since it was opened: its size changed from ...;
            refusing to go on"``, naming the file and what changed (size,
            header, content, modification time, shape or sampled rows).
        """
        current = self.fingerprint()
        if fingerprint is None:
            fingerprint = getattr(self, "_opened", None)
            if fingerprint is None:
                self._opened = current
                return
        problem = _difference(fingerprint, current, self.files())
        if problem:
            raise ValueError(f"{problem}; refusing to go on with rows that are not the ones the fit started on")

    def _remember(self):
        """Take the fingerprint that :meth:`check_unchanged` compares with (file sources call it when opened)."""
        self._opened = self.fingerprint()
    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` as an array (a view where the storage allows).

        Parameters
        ----------
        start, stop : int
            First row and one past the last row (``0 <= start <= stop <= n_rows``).
        """
        raise NotImplementedError

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The rows at sorted indices ``rows``.

        Parameters
        ----------
        rows : ndarray of int
            Row indices in increasing order.
        """
        raise NotImplementedError

    def sample_indices(self, size, rng) -> np.ndarray:
        """Sorted indices of a uniform sample of ``size`` rows (all rows if fewer).

        Parameters
        ----------
        size : int or None
            Rows to draw without replacement; ``None`` for all rows.
        rng : numpy.random.Generator
            The generator drawing them.
        """
        if size is None or size >= self.n_rows:
            return np.arange(self.n_rows)
        return np.sort(rng.choice(self.n_rows, size=size, replace=False))


class ArraySource(BatchSource):
    """A numpy array or memory map (anything sliceable with ``shape`` and ``dtype``).

    Slicing a memory map reads only those rows; nothing here copies the whole array.

    Parameters
    ----------
    X : array_like
        The rows: a numpy array, a ``numpy.memmap`` or any object with
        ``shape``, ``dtype`` and row slicing.
    ndim : {1, 2}, default=2
        Dimensions a row batch must have: 2 for models over feature vectors,
        1 for univariate distributions.
    """

    def __init__(self, X, *, ndim=2):
        arr = as_numeric_array(X)
        if ndim == 1 and arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        if arr.ndim != 2:
            check_batch(arr, ndim=2)  # raises with the full explanation
        self.array = arr
        self.n_rows, self.n_features = arr.shape
        self.dtype = arr.dtype

    def read(self, start, stop):
        return self.array[start:stop]

    def take(self, rows):
        return self.array[rows]


def _difference(old: dict, new: dict, paths) -> str:
    """The first difference between two fingerprints, naming the file ('' when there is none)."""
    from .fingerprint import describe_change

    old_files, new_files = old.get("files", []), new.get("files", [])
    for path, a, b in zip(paths, old_files, new_files):
        if a != b:
            return f"{path} changed since it was opened: {describe_change(a, b)}"
    where = ", ".join(os.fspath(p) for p in paths) or "the data"
    if len(old_files) != len(new_files):
        return f"{where}: {len(new_files)} files now, {len(old_files)} before"
    for key in ("n_rows", "n_features", "dtype"):
        if old.get(key) != new.get(key):
            return f"{where} changed since it was opened: {key} was {old.get(key)}, now {new.get(key)}"
    if old.get("rows") != new.get("rows") or not np.array_equal(
            np.asarray(old.get("values", []), dtype=np.float64), np.asarray(new.get("values", []), dtype=np.float64),
            equal_nan=True):
        return f"{where} changed since it was opened: sampled rows hold other values"
    return ""
