"""Exact EM on a Dask cluster: each epoch's statistics gathered by tasks that read their own rows.

:class:`DaskAccumulation` is an accumulation strategy of the one EM driver
(:func:`suffstats.fit.driver.run_em`): the loop, convergence, callbacks, progress and
checkpoints are the driver's; only the gathering of an epoch's statistics
moves to the cluster. Per epoch:

1. the model's parameters (a copy without callbacks or pending totals, a few
   kB) are sent to the cluster once, as a task every worker fetches from its peers;
2. the epoch's rows are cut into tasks, each an *aligned power-of-two run of
   blocks* (:mod:`suffstats.block_tree`); a task opens the source on its
   worker (a memory map of the ``.npy`` shard, an HDF5 handle, a chunk of a
   ``dask.array``), validates its rows, accumulates them block by block and
   returns the run's subtree value -- the rows never pass through the client;
3. the client pushes the subtrees onto the epoch's running total in block
   order, whatever order the tasks finish in; the M-step runs on the client.

Every aligned run is one subtree of the fixed summation tree, so the total --
and the fitted model -- is the same, bit for bit, as the fit on one machine,
whatever the number of workers, the task size, the completion order or a
worker lost and its tasks run again elsewhere (a task is a pure function of
the parameters and its rows).

Examples
--------
>>> from suffstats.distributed import plan_tasks
>>> plan_tasks([(0, 13 * 4096 - 5)], 4096, blocks_per_task=4)[-2:]
[(8, 4, [(32768, 49152)]), (12, 1, [(49152, 53243)])]
"""

from __future__ import annotations

import copy
import pickle
from concurrent.futures import ThreadPoolExecutor
import threading
import time
import uuid

import numpy as np

from .data.blocks import aligned_chunks
from .data.reopen import Reopen, reopener
from .data.views import SingleColumn
from .fit.local import accumulate_rows

__all__ = ["DaskAccumulation", "as_strategy", "plan_tasks", "worker_copy"]

#: Default size of one task's rows: big enough that a task's overhead is small, small enough to spread.
TARGET_TASK_BYTES = 64 * 2**20
#: Rows a task reads at a time (eight blocks), the next chunk read while the current one is computed.
TASK_READ_ROWS = 8 * 4096


def as_strategy(client):
    """The strategy for a model's ``fit(..., client=...)``: ``None`` (local), a strategy, or a ``Client``."""
    if client is None or hasattr(client, "accumulate"):
        return client
    return DaskAccumulation(client)


def plan_tasks(ranges, block, first_block=0, blocks_per_task=1):
    """Cut an epoch's ``ranges`` into tasks ``(first block, n_blocks, [(start, stop), ...])``.

    The epoch's rows, range after range, are numbered in blocks of ``block``
    rows from ``first_block`` (the blocks a resumed running total already
    holds). Each task is an aligned run: ``n_blocks`` is a power of two, at
    most ``blocks_per_task``, and divides its first block; the pieces are the
    rows it reads (more than one only where a mini-batch epoch's run crosses
    from one batch into the next).
    """
    total = sum(stop - start for start, stop in ranges)
    end = first_block + -(-total // block)
    tasks, position, done = [], first_block, 0
    ranges = iter([(start, stop) for start, stop in ranges if stop > start])
    current = next(ranges, None)
    while position < end:
        size = blocks_per_task
        while position % size or position + size > end:
            size //= 2
        rows = min(size * block, total - done)
        pieces, want = [], rows
        while want:
            start, stop = current
            take = min(want, stop - start)
            pieces.append((start, start + take))
            want -= take
            current = (start + take, stop) if start + take < stop else next(ranges, None)
        tasks.append((position, size, pieces))
        position, done = position + size, done + rows
    return tasks


def worker_copy(model):
    """What the workers receive of ``model``: its parameters and settings, no callbacks or pending totals."""
    clone = copy.copy(model)
    for name, value in (("callbacks", None), ("_pending", None), ("progress", False), ("verbose", 0)):
        if name in vars(clone):
            setattr(clone, name, value)
    return clone


class DaskAccumulation:
    """Gather each epoch's statistics with tasks on a ``dask.distributed`` cluster.

    Pass it (or the ``Client`` itself) as ``client=`` to ``fit`` of
    :class:`~suffstats.GaussianMixture`, :class:`~suffstats.KMeans`,
    :class:`~suffstats.GeneralMixtureModel`, :class:`~suffstats.GaussianMixtureSearch`,
    :class:`~suffstats.BayesianNetwork`, :class:`~suffstats.MarkovChain` or any distribution. The data must be a source the
    workers open themselves: a ``.npy`` file, a directory/glob/list of ``.npy``
    shards, Zarr, Parquet, HDF5 (at the same path on every worker), or a
    ``dask.array``.

    Parameters
    ----------
    client : distributed.Client
        The cluster's client; used only where given (the default client is never picked up).
    blocks_per_task : int, optional
        Blocks of rows per task, a power of two (a block is
        :data:`~suffstats.data.BLOCK_ROWS` rows). Default: at most ``target_bytes`` of rows per task, and at
        least four tasks per worker. Any value gives the same bits.
    target_bytes : int
        Size of one task's rows when ``blocks_per_task`` is not given.

    Attributes
    ----------
    last_epoch : dict
        ``tasks``, ``blocks_per_task``, ``parameter_bytes`` (sent once to each
        worker), ``statistics_bytes`` (pickled values returned) and ``seconds``
        of the last epoch gathered.
    """

    def __init__(self, client, blocks_per_task=None, target_bytes=TARGET_TASK_BYTES):
        if not all(hasattr(client, name) for name in ("submit", "scatter", "compute")):
            raise TypeError(f"client must be a dask.distributed.Client; got {client!r}")
        if blocks_per_task is not None and (int(blocks_per_task) != blocks_per_task or blocks_per_task < 1
                                            or blocks_per_task & (blocks_per_task - 1)):
            raise ValueError(f"blocks_per_task must be a power of two (1, 2, 4, ...); got {blocks_per_task!r}")
        self.client, self.blocks_per_task, self.target_bytes = client, blocks_per_task, int(target_bytes)
        self.last_epoch = {}

    def accumulate(self, model, source, ranges, sample_weight, acc=None, on_batch=None, on_chunk=None):
        """One pass over ``ranges`` on the cluster; ``acc`` (or a new accumulator) filled in block order.

        ``on_batch(rows)`` is called as each task completes (in any order),
        ``on_chunk(acc, rows)`` after each task's run is added in block order.
        """
        tic = time.perf_counter()
        acc = model._new_accumulator() if acc is None else acc
        if not acc.centred_on(model._shifts()):
            # A total kept around other shifts (absorbed from elsewhere): this epoch's runs are summed
            # around the current ones, then merged by the Chan formulas, as the local strategy does.
            acc.merge(self.accumulate(model, source, ranges, sample_weight, None, on_batch))
            return acc
        block = model._block_rows
        first = _blocks_of(acc)
        rows, columns = _rows_of(source)
        total_blocks = -(-sum(stop - start for start, stop in ranges) // block)
        per_task = self.blocks_per_task or self._default_blocks_per_task(source, block, total_blocks)
        tasks = plan_tasks(ranges, block, first, per_task)
        if not tasks:
            return acc
        token = uuid.uuid4().hex
        payload = pickle.dumps(worker_copy(model), protocol=pickle.HIGHEST_PROTOCOL)
        # A task holding the parameters, not scattered data: a worker lost with its copy is recomputed from
        # the task (scattered data lost with its last holder would cancel every task of the epoch).
        shipped = self.client.submit(_parameters, payload, key=f"suffstats-parameters-{token}", pure=False)
        returned = 0
        try:
            follows = model._blocks_follow_reference
            if follows and acc.reference is None:
                # The first task alone: its first block is the reference every other block is computed around.
                first_task = self._submit(shipped, token, rows, columns, tasks[:1], sample_weight, None)
                returned += self._collect(first_task, tasks[:1], acc, on_batch, on_chunk)
                tasks = tasks[1:]
            futures = self._submit(shipped, token, rows, columns, tasks, sample_weight,
                                   acc.reference if follows else None)
            try:
                returned += self._collect(futures, tasks, acc, on_batch, on_chunk)
            finally:
                self.client.cancel([f for f in futures if f is not None])
        finally:
            self.client.cancel([shipped])
        self.last_epoch = {"tasks": len(tasks), "blocks_per_task": per_task, "parameter_bytes": len(payload),
                           "statistics_bytes": returned, "seconds": time.perf_counter() - tic}
        return acc

    # -- internals --------------------------------------------------------------------
    def _default_blocks_per_task(self, source, block, total_blocks):
        workers = max(len(self.client.scheduler_info().get("workers", {})), 1)
        row_bytes = source.n_features * max(np.dtype(source.dtype).itemsize, 8)
        limit = max(1, min(self.target_bytes // (block * row_bytes), total_blocks // (4 * workers)))
        return 1 << (int(limit).bit_length() - 1)

    def _submit(self, shipped, token, rows, columns, tasks, sample_weight, reference):
        weights = [[None if sample_weight is None else sample_weight[a:b] for a, b in pieces]
                   for _, _, pieces in tasks]
        keys = [f"suffstats-accumulate-{token}-{first}" for first, _, _ in tasks]
        if isinstance(rows, Reopen):
            return [self.client.submit(accumulate_task, shipped, token, rows, pieces, w, columns, reference, key=key,
                                       pure=False, retries=0)
                    for (_, _, pieces), w, key in zip(tasks, weights, keys)]
        import dask

        work = [dask.delayed(accumulate_task, pure=False)(shipped, token, [rows[a:b] for a, b in pieces], pieces,
                                                          w, columns, reference, dask_key_name=key)
                for (_, _, pieces), w, key in zip(tasks, weights, keys)]
        return self.client.compute(work)

    def _collect(self, futures, tasks, acc, on_batch, on_chunk):
        """Push each task's subtree in block order as the tasks complete; the first failure in row order raises."""
        from distributed import as_completed

        index = {f.key: i for i, f in enumerate(futures)}
        arrived, position, returned = {}, 0, 0
        for future in as_completed(list(futures)):
            i = index[future.key]
            arrived[i] = future
            if on_batch is not None and future.status == "finished":
                on_batch(_task_rows(tasks[i]))
            while position in arrived:
                value = arrived.pop(position).result()  # re-raises the task's own error (a bad row, named)
                futures[position] = None
                returned += len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
                acc.add(value, size=tasks[position][1])
                if on_chunk is not None:
                    on_chunk(acc, _task_rows(tasks[position]))
                position += 1
        return returned


def _task_rows(task):
    return sum(stop - start for start, stop in task[2])


def _blocks_of(acc):
    """Blocks a running total already holds (a resumed epoch continues the block numbering)."""
    return int(acc.blocks)


def _rows_of(source):
    """``(rows, columns)``: a recipe the workers open, or the ``dask.array``; ``columns`` for univariate views."""
    from .data.dask_source import DaskSource

    columns = False
    if isinstance(source, SingleColumn):  # a univariate model's 1-D view of one column
        source, columns = source.source, True
    if not getattr(source, "random_access", True):
        raise TypeError(f"{source.describe()} is a stream; a cluster fit reads rows by position (a file or a "
                        "dask.array)")
    if isinstance(source, DaskSource):
        return source.array, columns
    return reopener(source), columns


# -- on the workers ----------------------------------------------------------------------------------
_MODELS: dict = {}  # epoch token -> the model unpickled once per worker process
_MODELS_LOCK = threading.Lock()


def _parameters(payload):
    return payload


def _model_of(payload, token):
    with _MODELS_LOCK:
        model = _MODELS.get(token)
        if model is None:
            model = pickle.loads(payload)
            while len(_MODELS) >= 4:
                _MODELS.pop(next(iter(_MODELS)))
            _MODELS[token] = model
        return model


#: glibc allocator settings a worker takes before its first task (see :func:`_allocator_for_blocks`).
WORKER_MMAP_THRESHOLD = 32 * 2**20
WORKER_TRIM_THRESHOLD = 64 * 2**20
_ALLOCATOR_SET = []


def _allocator_for_blocks():
    """Let a worker's allocator keep the blocks' temporary arrays, once per worker process (glibc only).

    Dask starts worker processes with ``MALLOC_TRIM_THRESHOLD_=65536``, which
    also fixes glibc's mmap threshold at 128 KiB: every temporary array of a
    block (a few MB) is then mapped and unmapped, and its pages faulted in
    again, block after block -- measured at 20-40% of the E-step's time. The
    thresholds are raised to 32 MiB (allocations served from the heap) and
    64 MiB (memory kept before it is returned to the system), which bounds
    what the worker keeps and restores the local speed.
    """
    if _ALLOCATOR_SET:
        return
    _ALLOCATOR_SET.append(True)
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, WORKER_MMAP_THRESHOLD)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, WORKER_TRIM_THRESHOLD)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass  # not glibc: nothing to change


def accumulate_task(payload, token, rows, pieces, weights, columns, reference=None):
    """One task, run on a worker: read and validate its rows, accumulate its aligned run of blocks.

    ``rows`` is a :class:`~suffstats.data.reopen.Reopen` (read here, a
    :data:`TASK_READ_ROWS` chunk at a time, the next chunk read while the
    previous one is computed, as the local pass reads one batch ahead) or the
    pieces' arrays already computed by Dask on this worker. The chunks are
    re-cut on block boundaries, so the blocks are added in the order one call
    over all the rows would add them. Returns the run's subtree value, which
    the client pushes with ``acc.add(value, size=n_blocks)``.
    """
    _allocator_for_blocks()
    model = _model_of(payload, token)

    def validated():
        for i, ((start, stop), w) in enumerate(zip(pieces, weights)):
            if not isinstance(rows, Reopen):
                X = np.asarray(rows[i])
                yield model._validate_batch(X[:, 0] if columns else X, w, start)
                continue
            for a in range(start, stop, TASK_READ_ROWS):
                b = min(a + TASK_READ_ROWS, stop)
                X = rows.read(a, b)
                yield model._validate_batch(X[:, 0] if columns else X, None if w is None else w[a - start:b - start],
                                            a)

    acc = model._new_accumulator()
    if reference is not None:
        acc.pin_reference(reference)  # blocks around the epoch's first block, as added in place locally
    # The task's thread reads the next chunk while a helper thread adds the previous one; one chunk is added
    # at a time, in order, so the blocks go in as one call over all the rows would add them.
    done, adding = 0, None
    with ThreadPoolExecutor(1, thread_name_prefix="suffstats-task") as helper:
        for X, w in aligned_chunks(validated(), model._block_rows):
            if adding is not None:
                adding.result()  # errors name rows of the data, as locally
            adding = helper.submit(accumulate_rows, model, acc, X, w, pieces, done)
            done += X.shape[0]
        if adding is not None:
            adding.result()
    return acc.run_value()  # an aligned run of 2^j blocks is exactly one subtree  # an aligned run of 2^j blocks is exactly one subtree
