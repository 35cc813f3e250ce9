"""The one EM driver: epochs, batches, step size, convergence, callbacks.

It knows nothing of any family's formulas. A model hands it four methods:

``_validate_batch(X, w, row_offset)``
    Boundary checks of a batch read from the source; returns ``X, w``.
``_new_accumulator()``
    An empty running total for one epoch (with ``weight`` and
    ``log_likelihood`` attributes).
``_accumulate(acc, X, w)``
    Adds the statistics of rows ``X`` to ``acc`` block by block, in row order.
``_maximize(acc, inertia)``
    The M-step: ``new = inertia * old + (1 - inertia) * estimate``.

With ``batches_per_epoch=None`` an epoch is one full pass and the update is
exact EM: every batch handed to ``_accumulate`` starts on a block boundary, so
the result is the same, bit for bit, whatever ``batch_size`` is. With
``batches_per_epoch=m`` each epoch takes the *next* ``m`` batches, continuing
where the previous epoch stopped and wrapping around at the end of the data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .data.blocks import BLOCK_ROWS, aligned_chunks, batch_ranges
from .data.prefetch import prefetch

__all__ = ["EMSettings", "EMHistory", "run_em", "effective_inertia", "read_batches", "progress_bar"]


@dataclass
class EMSettings:
    """How the driver runs: see the models' parameters of the same names."""

    batch_size: int | None = None
    batches_per_epoch: int | None = None
    max_iter: int = 100
    tol: float = 1e-3
    inertia: float = 0.0
    lr_decay: float = 0.0
    verbose: int = 0
    verbose_interval: int = 1
    callbacks: Sequence[Callable] = ()
    progress: bool = False


@dataclass
class EMHistory:
    """What a run did, filled in as epochs complete (so it is valid after Ctrl-C)."""

    lower_bounds: list = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False
    cursor: int = 0  # next batch index in minibatch mode
    initial_lower_bound: float = -np.inf  # what the first epoch is compared with (a warm start's last value)

    @property
    def lower_bound(self):
        return self.lower_bounds[-1] if self.lower_bounds else self.initial_lower_bound


class _NoBar:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def progress_bar(enabled, ranges, label, done=0):
    """A tqdm bar over the rows of ``ranges``, ``done`` of them already counted (or a no-op context)."""
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    total = sum(stop - start for start, stop in ranges)
    return tqdm(total=total, unit="rows", unit_scale=True, desc=label, leave=False,
                initial=done)


def effective_inertia(inertia, lr_decay, epoch):
    """Weight of the old parameters at epoch ``epoch`` (0-based): ``1 - (1-inertia)·(2+t)^-lr_decay``."""
    return 1.0 - (1.0 - inertia) * (2.0 + epoch) ** (-lr_decay)


def read_batches(model, source, ranges, sample_weight, on_batch=None):
    """Yield validated ``(X, w)`` for each ``(start, stop)`` range of the source."""
    for start, X in source.batches(ranges):
        w = None if sample_weight is None else sample_weight[start : start + X.shape[0]]
        X, w = model._validate_batch(X, w, start)
        yield X, w
        if on_batch is not None:
            on_batch(X.shape[0])


def epoch_ranges(n_rows, settings, history, source_random_access=True):
    """The row ranges of the next epoch; advances the minibatch cursor.

    In exact mode reads are rounded up to whole blocks: the result is the same
    either way, but no block then straddles two batches (no seam to copy, no
    lone block to compute while other threads wait).
    """
    if settings.batches_per_epoch is None:
        size = settings.batch_size and -(-settings.batch_size // BLOCK_ROWS) * BLOCK_ROWS
        return batch_ranges(n_rows, size)
    ranges = batch_ranges(n_rows, settings.batch_size)
    if not source_random_access:
        raise ValueError("batches_per_epoch needs a source that reads rows by position; a stream is read in full passes")
    picked = [ranges[(history.cursor + i) % len(ranges)] for i in range(settings.batches_per_epoch)]
    history.cursor = (history.cursor + settings.batches_per_epoch) % len(ranges)
    return picked


def skip_rows(ranges, rows):
    """``ranges`` without their first ``rows`` rows (to resume part-way through an epoch)."""
    out = []
    for start, stop in ranges:
        take = min(rows, stop - start)
        rows -= take
        if start + take < stop:
            out.append((start + take, stop))
    return out


def accumulate_pass(model, source, ranges, sample_weight, on_batch=None, acc=None, on_chunk=None):
    """One pass over ``ranges``: an accumulator filled block-aligned, in row order.

    Batches are read and validated on a background thread, one batch ahead of
    the computation, when there is more than one. ``acc`` continues an
    accumulator (a resumed epoch); ``on_chunk(acc, rows)`` is called after each
    block-aligned chunk.
    """
    acc = model._new_accumulator() if acc is None else acc
    batches = read_batches(model, source, ranges, sample_weight, on_batch)
    if len(ranges) > 1 or not source.random_access:
        batches = prefetch(batches)
    for X, w in aligned_chunks(batches):
        model._accumulate(acc, X, w)
        if on_chunk is not None:
            on_chunk(acc, X.shape[0])
    return acc


def _chunk_saver(saver, history, epoch_cursor, rows_done):
    """A callback writing a checkpoint every ``saver.every`` chunks of the current epoch."""
    progress = {"rows": rows_done, "chunks": 0}

    def on_chunk(acc, rows):
        progress["rows"] += rows
        progress["chunks"] += 1
        if progress["chunks"] % saver.every == 0:
            # This epoch's ranges were drawn from the cursor at its start: save that one.
            advanced, history.cursor = history.cursor, epoch_cursor
            try:
                saver(history, acc, progress["rows"])
            finally:
                history.cursor = advanced

    return on_chunk


def run_em(model, source, sample_weight, settings: EMSettings, history: EMHistory | None = None,
           saver=None, resume=None) -> EMHistory:
    """Run EM epochs until convergence or ``max_iter``; returns the history.

    The model's parameters change only in ``_maximize`` at the end of an epoch,
    so an interruption (an error in the data, Ctrl-C) leaves the model as it
    was after the last completed epoch, and ``history`` describes that state.

    ``saver(history, acc, rows_done)`` (optional) is called every
    ``saver.every`` batches and after each epoch, to write a checkpoint;
    ``resume=(rows_done, acc)`` continues an epoch from one.
    """
    history = EMHistory() if history is None else history
    previous = history.lower_bound
    for epoch in range(history.n_iter, settings.max_iter):
        if history.converged:
            break
        tic = time.perf_counter()
        cursor = history.cursor
        ranges = epoch_ranges(source.n_rows, settings, history, source.random_access)
        rows_done, acc = resume if resume is not None else (0, None)
        resume = None
        on_chunk = None if saver is None else _chunk_saver(saver, history, cursor, rows_done)
        with progress_bar(settings.progress, ranges, f"epoch {epoch + 1}", rows_done) as bar:
            acc = accumulate_pass(model, source, skip_rows(ranges, rows_done), sample_weight,
                                  bar.update if bar else None, acc, on_chunk)
        if not acc.weight > 0:
            raise ValueError("the rows of this epoch have a total sample_weight of zero; nothing to fit")
        mean_ll = acc.log_likelihood / acc.weight
        model._maximize(acc, effective_inertia(settings.inertia, settings.lr_decay, epoch))
        history.lower_bounds.append(mean_ll)
        history.n_iter = epoch + 1
        change = mean_ll - previous
        previous = mean_ll
        seconds = time.perf_counter() - tic
        logs = {"epoch": epoch + 1, "improvement": change, "log_likelihood": mean_ll,
                "seconds": seconds, "rows": int(sum(b - a for a, b in ranges))}
        if settings.verbose and (epoch + 1) % settings.verbose_interval == 0:
            print(f"[{epoch + 1}] improvement: {change:.6g}  log-likelihood: {mean_ll:.6f}  time (s): {seconds:.3f}",
                  flush=True)
        for callback in settings.callbacks:
            callback(model, logs)
        if abs(change) < settings.tol:
            history.converged = True
        if saver is not None:
            saver(history, None, 0)
    return history
