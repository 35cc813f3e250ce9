"""Reads that bypass the page cache: ``O_DIRECT`` into aligned, reused buffers, for files larger than memory.

Reading a file bigger than memory through the page cache (a memory map, or
plain reads) costs CPU on every byte: the kernel copies it, maps it, and
evicts older pages to make room, on the threads that touch the rows -- the
compute threads, for a memory map. On a machine whose cores are all busy
computing, that time adds to each epoch instead of overlapping it. With
``O_DIRECT`` the disk writes the rows straight into the process's buffers;
the reading thread waits (the GIL released) rather than works.

Buffers are aligned to :data:`ALIGN` bytes, as ``O_DIRECT`` requires, and
reused once nothing refers to them any more (the array handed out, or any
view of it, keeps its buffer out of reuse), so peak memory stays a few
batches. Where the file system refuses ``O_DIRECT`` (tmpfs, some network
file systems), :func:`open_direct` returns ``None`` and the caller reads as
before.

Examples
--------
>>> import os, tempfile, numpy as np
>>> from suffstats.data.direct import open_direct
>>> path = os.path.join(tempfile.mkdtemp(), "x.bin")
>>> np.arange(3000, dtype=np.float64).tofile(path)
>>> reader = open_direct(path)
>>> raw = reader.read(8 * 1000, 8 * 5) if reader else np.arange(1000, 1005.0).tobytes()
>>> np.frombuffer(raw, dtype=np.float64).tolist()
[1000.0, 1001.0, 1002.0, 1003.0, 1004.0]
"""

from __future__ import annotations

import errno
import os
import sys
import threading

import numpy as np

__all__ = ["ALIGN", "DirectReader", "ShortRead", "open_direct"]

#: Alignment of offsets, lengths and buffers for ``O_DIRECT`` (the largest logical block size in common use).
ALIGN = 4096
#: Buffers kept for reuse: the batch being computed, the one waiting, the one being read, and one more.
POOL = 4
#: Whether a buffer's reference count tells that nothing uses it: CPython 3.10-3.13 with the GIL. Elsewhere (newer
#: interpreters may count borrowed references differently, free-threaded builds) every read gets a new buffer.
REUSE = (sys.implementation.name == "cpython" and sys.version_info < (3, 14)
         and getattr(sys, "_is_gil_enabled", lambda: True)())


class ShortRead(OSError):
    """A read that ended before the bytes asked for: the file is shorter than when it was opened."""


def open_direct(path):
    """A :class:`DirectReader` of ``path``, or ``None`` where ``O_DIRECT`` is not available for it."""
    flag = getattr(os, "O_DIRECT", None)
    if flag is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | flag)
    except OSError:
        return None
    return DirectReader(fd)


class DirectReader:
    """Byte ranges of one file read with ``O_DIRECT`` (an open descriptor), into reused aligned buffers."""

    def __init__(self, fd):
        self.fd = fd
        self._pool = []
        self._lock = threading.Lock()

    def _buffer(self, nbytes):
        """An aligned region of at least ``nbytes``: a pooled buffer nothing else refers to, or a new one."""
        with self._lock:
            for i in range(len(self._pool) if REUSE else 0):
                # References: the pool's and getrefcount's own; any more is an array handed out, still in use.
                if self._pool[i].nbytes >= nbytes + ALIGN and sys.getrefcount(self._pool[i]) == 2:
                    raw = self._pool[i]
                    break
            else:
                raw = np.empty(nbytes + ALIGN, dtype=np.uint8)
                # The oldest leaves the pool (a batch still using it keeps it alive until it is dropped).
                self._pool = (self._pool + [raw])[-POOL:]
        start = -raw.ctypes.data % ALIGN
        return raw[start:start + nbytes]

    def read(self, offset, nbytes):
        """``nbytes`` bytes of the file from ``offset``, as a ``uint8`` array (a view of a reused buffer).

        Raises
        ------
        ShortRead
            The file ends before ``offset + nbytes`` (it shrank since it was opened).
        OSError
            A read the file system refuses.
        """
        lo = offset - offset % ALIGN
        hi = -(-(offset + nbytes) // ALIGN) * ALIGN
        region = self._buffer(hi - lo)
        view, done = memoryview(region), 0
        while done < hi - lo:
            got = os.preadv(self.fd, [view[done:]], lo + done)  # the GIL is released while the disk works
            if got <= 0:
                break
            done += got
        if done < offset + nbytes - lo:
            raise ShortRead(errno.EIO, f"short read: {max(done - (offset - lo), 0)} of {nbytes} bytes at offset "
                                       f"{offset}")
        return region[offset - lo:offset - lo + nbytes]

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
