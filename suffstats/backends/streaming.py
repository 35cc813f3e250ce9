"""Host → device streaming of batches with double buffering, written against injectable operations.

The schedule of one pass over a source on a device::

    batches ──► block-aligned chunks ──► host buffer b (pinned) ──copy stream──► device buffer b
                                              ▲                                      │ event "copied"
                                              │ event "done b" (host waits)          ▼
                                              └──────────────────────────── compute stream: one kernel call
                                                                             per block; values summed over
                                                                             the fixed block tree, on the device

``n_buffers`` (2 or 3) host/device buffer pairs are used in turn. Before a
buffer pair is refilled the host waits on the event recorded after the last
compute that read it, so a copy of chunk ``i + 1`` overlaps the compute of
chunk ``i`` and no buffer is overwritten while in use. Per-block values are
added over the same fixed block tree as every backend
(:class:`suffstats.block_tree.BlockTree`), so the total does not depend on the
batch size, the buffer size or the number of buffers, and stays on the device
until :meth:`StreamOps.to_host` is called once at the end.

Everything device-specific is an operation of a :class:`StreamOps` object:
allocate host and device buffers, fill a host buffer, copy it on a stream,
record and wait on events, synchronise, and bring the result back. CuPy
provides them on a GPU (pinned memory, non-blocking streams, events; see
``benchmarks/device_check.py``); :class:`DeferredHostOps` provides them with
NumPy and *deferred* streams -- work queued on a stream runs only when an
event on it is waited for -- so a missing wait shows up on the CPU as wrong
numbers rather than as a rare race on a device.

The CuPy implementation of these operations has not run on a GPU yet.
"""

from __future__ import annotations

import numpy as np

from ..block_tree import BlockTree
from ..data.blocks import BLOCK_ROWS, aligned_chunks

__all__ = ["StreamOps", "DeferredHostOps", "stream_pass"]


class StreamOps:
    """The operations :func:`stream_pass` needs; a device backend subclasses it (every method is required)."""

    def host_buffer(self, rows, n_features):
        """A host buffer of ``rows x n_features`` float64 (page-locked on a device) and one of ``rows`` weights."""
        raise NotImplementedError

    def device_buffer(self, rows, n_features):
        """A device buffer pair shaped like :meth:`host_buffer`'s."""
        raise NotImplementedError

    def stream(self, name):
        """A stream (``"copy"`` or ``"compute"``); work queued on it runs in order.

        ``"compute"`` must be the current stream, where the block tree's additions run.
        """
        raise NotImplementedError

    def copy(self, host, device, rows, stream, weighted):
        """Queue on ``stream`` the copy of the first ``rows`` rows of the ``host`` buffer pair into ``device``.

        The weights are copied only when ``weighted``.
        """
        raise NotImplementedError

    def record(self, stream):
        """An event that completes when the work queued on ``stream`` so far has run."""
        raise NotImplementedError

    def wait(self, stream, event):
        """Make the work queued on ``stream`` from now on wait for ``event``."""
        raise NotImplementedError

    def synchronize(self, event):
        """Block the host until ``event`` completes."""
        raise NotImplementedError

    def to_host(self, value):
        """The pass's total, brought back to the host (once per pass)."""
        raise NotImplementedError


class DeferredHostOps(StreamOps):
    """NumPy stand-in for a device: buffers are arrays, and streams run their queued work only when waited for.

    Every operation is appended to ``log`` as a tuple, so tests read the
    order in which the schedule issued them.

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats.backends.streaming import DeferredHostOps, stream_pass
    >>> ops = DeferredHostOps()
    >>> X = np.arange(10.0).reshape(5, 2)
    >>> total = stream_pass([(X, None)], lambda X, w, stream: X.sum(axis=0), ops, buffer_rows=2, block_rows=2)
    >>> total.tolist()
    [20.0, 25.0]
    """

    def __init__(self):
        self.log = []
        self._queues = {}
        self._done = {}

    def host_buffer(self, rows, n_features):
        self.log.append(("host_buffer", rows))
        return np.full((rows, n_features), np.nan), np.full(rows, np.nan)

    def device_buffer(self, rows, n_features):
        self.log.append(("device_buffer", rows))
        return np.full((rows, n_features), np.nan), np.full(rows, np.nan)

    def stream(self, name):
        self._queues[name], self._done[name] = [], 0
        return name

    def _enqueue(self, stream, label, work):
        self._queues[stream].append((label, work))

    def _run_until(self, stream, position):
        queue = self._queues[stream]
        while self._done[stream] < position:
            label, work = queue[self._done[stream]]
            self._done[stream] += 1
            self.log.append(("run", stream, label))
            work()

    def copy(self, host, device, rows, stream, weighted):
        self.log.append(("copy", stream, rows))

        def work():  # reads the host buffer when the stream runs it, as a device copy engine would
            device[0][:rows] = host[0][:rows]
            if weighted:
                device[1][:rows] = host[1][:rows]
        self._enqueue(stream, "copy", work)

    def record(self, stream):
        event = (stream, len(self._queues[stream]))
        self.log.append(("record",) + event)
        return event

    def wait(self, stream, event):
        self.log.append(("wait", stream) + event)
        self._enqueue(stream, "wait", lambda: self._run_until(*event))

    def synchronize(self, event):
        self.log.append(("synchronize",) + event)
        self._run_until(*event)

    def launch(self, stream, label, work):
        """Queue ``work`` (a callable) on ``stream``; what a kernel launch is to a device."""
        self.log.append(("launch", stream, label))
        self._enqueue(stream, label, work)

    def pending(self):
        """How many queued operations have not run, over all streams."""
        return sum(len(q) - self._done[s] for s, q in self._queues.items())

    def to_host(self, value):
        self.log.append(("to_host",))
        return value


_PENDING = object()


class _Deferred:
    """A block value produced by work queued on a stream; pushed to the tree, in block order, once it exists."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = _PENDING


def stream_pass(batches, block_statistics, ops, *, buffer_rows=16 * BLOCK_ROWS, n_buffers=2,
                block_rows=BLOCK_ROWS, fill=None):
    """One pass over ``batches`` through ``n_buffers`` host/device buffer pairs; the block tree's total.

    Parameters
    ----------
    batches : iterable of (X, w)
        Host batches of any size (``w`` may be ``None``); re-cut into chunks
        that start on block boundaries.
    block_statistics : callable
        ``block_statistics(X_block, w_block, stream)`` for one block of device
        rows (``w_block`` is ``None`` when the batches carry no weights): its
        statistics as a value with ``+`` (queued on ``stream`` on a device).
    ops : StreamOps
    buffer_rows : int
        Rows per buffer, a multiple of ``block_rows``.
    n_buffers : int
        Buffer pairs used in turn (2: double buffering, 3: triple).
    block_rows : int
        Rows per accumulation block.
    fill : callable, optional
        ``fill(host_pair, X, w, rows)`` copies a chunk into a host buffer pair
        (default: NumPy assignment, which reads a memory map's pages once).

    Returns
    -------
    value or None
        ``ops.to_host`` of the sum of every block's statistics over the fixed
        block tree; ``None`` when there were no rows. On a device the tree's
        additions run on the current stream, which :class:`StreamOps` makes
        the compute stream.
    """
    if buffer_rows < block_rows or buffer_rows % block_rows:
        raise ValueError(f"buffer_rows must be a positive multiple of block_rows={block_rows}; got {buffer_rows}")
    if n_buffers < 1:
        raise ValueError(f"n_buffers must be >= 1; got {n_buffers}")
    fill = _fill if fill is None else fill
    copy_stream, compute_stream = ops.stream("copy"), ops.stream("compute")
    hosts, devices, done = [], [], [None] * n_buffers
    tree = BlockTree()
    deferred = []  # blocks queued whose values are not pushed yet
    weighted = None
    index = 0
    try:
        for X, w in _pieces(aligned_chunks(batches, block_rows), buffer_rows):
            rows = X.shape[0]
            weighted = (w is not None) if weighted is None else weighted
            if (w is not None) != weighted:
                raise ValueError("sample weights must be given for every batch or for none")
            slot = index % n_buffers
            if len(hosts) <= slot:
                hosts.append(ops.host_buffer(buffer_rows, X.shape[1]))
                devices.append(ops.device_buffer(buffer_rows, X.shape[1]))
            if done[slot] is not None:
                ops.synchronize(done[slot])  # the last compute that read this pair has run
                _drain(deferred, tree)
            fill(hosts[slot], X, w, rows)
            ops.copy(hosts[slot], devices[slot], rows, copy_stream, weighted)
            ops.wait(compute_stream, ops.record(copy_stream))
            device_X, device_w = devices[slot]
            for start in range(0, rows, block_rows):
                stop = min(start + block_rows, rows)
                holder = _Deferred()
                _queue_block(ops, compute_stream, block_statistics, holder, device_X[start:stop],
                             device_w[start:stop] if weighted else None)
                deferred.append(holder)
            _drain(deferred, tree)
            done[slot] = ops.record(compute_stream)
            index += 1
    except BaseException:
        _settle(ops, (copy_stream, compute_stream))  # no queued work may outlive the buffers it reads
        raise
    for stream in (copy_stream, compute_stream):
        ops.synchronize(ops.record(stream))
    _drain(deferred, tree)
    return None if tree.blocks == 0 else ops.to_host(tree.total())


def _settle(ops, streams):
    """Run out the queued work after a failure; a second failure there does not hide the first."""
    for stream in streams:
        try:
            ops.synchronize(ops.record(stream))
        except Exception:  # noqa: BLE001 -- the error being raised is the one to report
            pass


def _drain(deferred, tree):
    """Push the block values that exist, in block order (a device's values exist at once, queued)."""
    while deferred and deferred[0].value is not _PENDING:
        tree.push(deferred.pop(0).value)


def _queue_block(ops, stream, block_statistics, holder, X, w):
    launch = getattr(ops, "launch", None)
    if launch is None:  # a device: the kernels are queued on the stream by block_statistics itself
        holder.value = block_statistics(X, w, stream)
        return

    def work():
        holder.value = block_statistics(X, w, stream)
    launch(stream, "block", work)


def _fill(host, X, w, rows):
    host[0][:rows] = X
    if w is not None:
        host[1][:rows] = w


def _pieces(chunks, buffer_rows):
    for X, w in chunks:
        for start in range(0, X.shape[0], buffer_rows):
            stop = min(start + buffer_rows, X.shape[0])
            yield X[start:stop], None if w is None else w[start:stop]
