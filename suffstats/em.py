"""The one EM driver: epochs, batches, step size, convergence, callbacks, checkpoints.

It knows nothing of any family's formulas. A model hands it these methods:

``_validate_batch(X, w, row_offset)``
    Boundary checks of a batch read from the source; returns ``X, w``.
``_new_accumulator()``
    An empty running total for one epoch (with ``weight`` and
    ``log_likelihood`` attributes, and ``to_statistics()``).
``_accumulate(acc, X, w)``
    Adds the statistics of rows ``X`` to ``acc`` block by block, in row order.
``_maximize(acc, inertia)``
    The M-step: ``new = inertia * old + (1 - inertia) * estimate``.
``_fit_parameters()``, ``_load_fit_parameters(params)``, ``_accumulator_from_state(state)``
    What a checkpoint holds of the model, and how it comes back (the
    accumulator's ``to_state()`` keeps its summation tree).

The driver owns the fit's state (:class:`FitState`: parameters, history,
cursor, generator, part-done epoch, initialisation index, best run) and writes
it to the checkpoint itself. How an epoch's statistics are gathered is a
strategy (:class:`LocalAccumulation` here); the loop, convergence, callbacks
and checkpoints are written once.

With ``batches_per_epoch=None`` an epoch is one full pass and the update is
exact EM: every batch handed to ``_accumulate`` starts on a block boundary, so
the result is the same, bit for bit, whatever ``batch_size`` is. With
``batches_per_epoch=m`` each epoch takes the *next* ``m`` batches, continuing
where the previous epoch stopped and wrapping around at the end of the data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

from ._validation import RowError
from .data.blocks import BLOCK_ROWS, aligned_chunks, batch_ranges
from .data.prefetch import prefetch
from .fit_state import EMHistory, FitState

__all__ = ["EMSettings", "EMHistory", "FitState", "LocalAccumulation", "run_em", "effective_inertia",
           "read_batches", "progress_bar"]


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


def epoch_ranges(n_rows, settings, history, source_random_access=True, block=BLOCK_ROWS):
    """The row ranges of the next epoch; advances the minibatch cursor.

    In exact mode reads are rounded up to whole blocks: the result is the same
    either way, but no block then straddles two batches (no seam to copy, no
    lone block to compute while other threads wait).
    """
    if settings.batches_per_epoch is None:
        size = settings.batch_size and -(-settings.batch_size // block) * block
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


class LocalAccumulation:
    """How an epoch's statistics are gathered on this machine.

    Batches are read and validated on a background thread, one batch ahead of
    the computation, re-cut into chunks that start on block boundaries, and
    handed to the model's ``_accumulate`` in row order. A distributed strategy
    offers the same ``accumulate`` method and plugs into :func:`run_em`
    unchanged.
    """

    def accumulate(self, model, source, ranges, sample_weight, acc=None, on_batch=None, on_chunk=None):
        """One pass over ``ranges``: ``acc`` (or a new accumulator) filled block-aligned, in row order.

        ``on_batch(rows)`` is called after each batch is read; ``on_chunk(acc,
        rows)`` after each block-aligned chunk is added.
        """
        acc = model._new_accumulator() if acc is None else acc
        batches = read_batches(model, source, ranges, sample_weight, on_batch)
        if len(ranges) > 1 or not source.random_access:
            batches = prefetch(batches)
        done = 0
        for X, w in aligned_chunks(batches, block_rows(model)):
            try:
                model._accumulate(acc, X, w)
            except RowError as error:
                raise error.shifted(global_row(ranges, done + error.row)) from None
            done += X.shape[0]
            if on_chunk is not None:
                on_chunk(acc, X.shape[0])
        return acc


def global_row(ranges, position):
    """The index in the data of the ``position``-th row read through ``ranges``."""
    for start, stop in ranges:
        if position < stop - start:
            return start + position
        position -= stop - start
    return position


def block_rows(model):
    """Rows per accumulation block of ``model`` (its backend's, or the default)."""
    return getattr(model, "_block_rows", BLOCK_ROWS)


def run_em(model, source, sample_weight, settings: EMSettings, state: FitState, store=None,
           strategy=None) -> EMHistory:
    """Run EM epochs until convergence or ``max_iter``; returns ``state.history``.

    The model's parameters change only in ``_maximize`` at the end of an epoch,
    so an interruption (an error in the data, Ctrl-C) leaves the model as it
    was after the last completed epoch, and the history describes that state.

    ``store`` (a :class:`~suffstats.checkpoint.Checkpoint`, optional) receives
    the whole fit state every ``store.every`` chunks and after each epoch; a
    state that carries a part-done epoch (``rows_done``, ``pending``) resumes
    it. ``strategy`` gathers each epoch's statistics (default:
    :class:`LocalAccumulation`).
    """
    strategy = LocalAccumulation() if strategy is None else strategy
    history = state.history
    previous = history.lower_bound
    for epoch in range(history.n_iter, settings.max_iter):
        if history.converged:
            break
        tic = time.perf_counter()
        # A file rewritten between epochs is refused, never silently mixed in (a stream has nothing to
        # re-read cheaply: its fingerprint would cost a pass).
        if source.random_access:
            source.check_unchanged()
        state.epoch_cursor = history.cursor
        ranges = epoch_ranges(source.n_rows, settings, history, source.random_access, block_rows(model))
        rows_done, acc = state.rows_done, state.pending
        state.rows_done, state.pending = 0, None
        on_chunk = None if store is None else _chunk_saver(model, state, store, rows_done)
        with progress_bar(settings.progress, ranges, f"epoch {epoch + 1}", rows_done) as bar:
            acc = strategy.accumulate(model, source, skip_rows(ranges, rows_done), sample_weight, acc,
                                      bar.update if bar else None, on_chunk)
        if not acc.weight > 0:
            raise ValueError("the rows of this epoch have a total sample_weight of zero; nothing to fit")
        mean_ll = acc.log_likelihood / acc.weight
        model._maximize(acc, effective_inertia(settings.inertia, settings.lr_decay, epoch))
        history.lower_bounds.append(mean_ll)
        history.total_weights.append(float(acc.weight))
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
        # A model of several candidates (a search over k) judges convergence per candidate.
        judge = getattr(model, "_all_converged", None)
        if judge is not None:
            history.converged = judge()
        elif abs(change) < settings.tol:
            history.converged = True
        if store is not None:
            store.save(state.to_dict(model))
    return history


def _chunk_saver(model, state, store, rows_done):
    """A callback writing the fit state, with the part-done epoch, every ``store.every`` chunks."""
    progress = {"rows": rows_done, "chunks": 0}

    def on_chunk(acc, rows):
        progress["rows"] += rows
        progress["chunks"] += 1
        if progress["chunks"] % store.every == 0:
            state.rows_done, state.pending = progress["rows"], acc
            try:
                store.save(state.to_dict(model))
            finally:
                state.rows_done, state.pending = 0, None

    return on_chunk
