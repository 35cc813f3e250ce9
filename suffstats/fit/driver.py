"""The one EM driver: epochs, batches, step size, convergence, callbacks, checkpoints.

It knows nothing of any family's formulas: it calls the hooks a model declares
by deriving from :class:`~suffstats.fit.protocol.FitModel`.

The driver owns the fit's state (:class:`FitState`: parameters, history,
cursor, generator, part-done epoch, initialisation index, best run) and writes
it to the checkpoint itself. How an epoch's statistics are gathered is a
strategy (:class:`~suffstats.fit.local.LocalAccumulation` by default); the loop, convergence, callbacks
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

from ..data.blocks import BLOCK_ROWS, batch_ranges
from .._transaction import interrupting
from .local import LocalAccumulation
from .state import EMHistory, FitState

__all__ = ["EMSettings", "EMHistory", "FitState", "run_em", "one_pass", "maximize_and_record", "effective_inertia", "epoch_ranges",
           "progress_bar"]


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

    @classmethod
    def of(cls, model, tol=None) -> "EMSettings":
        """The schedule from ``model``'s parameters of the same names (``tol`` overrides the model's)."""
        return cls(batch_size=model.batch_size, batches_per_epoch=model.batches_per_epoch,
                   max_iter=model.max_iter, tol=model.tol if tol is None else tol, inertia=model.inertia,
                   lr_decay=model.lr_decay, verbose=model.verbose,
                   verbose_interval=getattr(model, "verbose_interval", 1), callbacks=model.callbacks or (),
                   progress=model.progress)

    def pass_ranges(self, n_rows, block=BLOCK_ROWS) -> list:
        """The row ranges of one full pass: ``batch_size`` rounded up to whole blocks.

        The result is the same either way, but no block then straddles two
        batches (no seam to copy, no lone block computed while other threads wait).
        """
        size = self.batch_size and -(-self.batch_size // block) * block
        return batch_ranges(n_rows, size)


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


def epoch_ranges(n_rows, settings, history, source_random_access=True, block=BLOCK_ROWS):
    """The row ranges of the next epoch (a full pass in exact mode); advances the minibatch cursor."""
    if settings.batches_per_epoch is None:
        return settings.pass_ranges(n_rows, block)
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


def one_pass(model, source, ranges, sample_weight, acc=None, *, strategy=None, progress=False, label="pass"):
    """One pass of ``model`` over ``ranges``, gathered by ``strategy`` (on this machine by default), with a
    progress bar named ``label`` when ``progress``; returns the filled running total (``acc`` or a new one)."""
    with progress_bar(progress, ranges, label) as bar:
        return (strategy or LocalAccumulation()).accumulate(model, source, ranges, sample_weight, acc,
                                                            bar.update if bar else None)


def maximize_and_record(model, acc, inertia, history: EMHistory) -> float:
    """An epoch's M-step from its total ``acc`` and its record in ``history``; returns the change of the objective.

    The objective is the model's ``_lower_bound``
    (computed with the parameters of the E-step at hand); the change is taken
    from the history's last value (or its initial one, for a warm start).
    """
    previous_parameters = model._fit_parameters()
    model._maximize(acc, inertia)
    objective = model._lower_bound(acc, previous_parameters)
    change = objective - history.lower_bound
    history.lower_bounds.append(objective)
    history.total_weights.append(float(acc.weight))
    history.n_iter += 1
    return change


def run_em(model, source, sample_weight, settings: EMSettings, state: FitState, store=None,
           strategy=None) -> EMHistory:
    """Run EM epochs until convergence or ``max_iter``; returns ``state.history``.

    The model's parameters change only in ``_maximize`` at the end of an epoch,
    so an interruption (an error in the data, Ctrl-C) leaves the model as it
    was after the last completed epoch, and the history describes that state.

    ``store`` (a :class:`~suffstats.fit.checkpoint.Checkpoint`, optional) receives
    the whole fit state when it is due (every ``store.every`` chunks, or
    every ``store.seconds`` of work) and after each epoch; a
    state that carries a part-done epoch (``rows_done``, ``pending``) resumes
    it. ``strategy`` gathers each epoch's statistics (default:
    :class:`~suffstats.fit.local.LocalAccumulation`).
    """
    strategy = LocalAccumulation() if strategy is None else strategy
    history = state.history
    for epoch in range(history.n_iter, settings.max_iter):
        if history.converged:
            break
        tic = time.perf_counter()
        # A file rewritten between epochs is refused, never silently mixed in (a stream has nothing to
        # re-read cheaply: its fingerprint would cost a pass).
        if source.random_access:
            source.check_unchanged()
        state.epoch_cursor = history.cursor
        ranges = epoch_ranges(source.n_rows, settings, history, source.random_access, model._block_rows)
        rows_done, acc = state.rows_done, state.pending
        state.rows_done, state.pending = 0, None
        on_chunk = None if store is None else _chunk_saver(model, state, store, rows_done)
        with progress_bar(settings.progress, ranges, f"epoch {epoch + 1}", rows_done) as bar:
            acc = strategy.accumulate(model, source, skip_rows(ranges, rows_done), sample_weight, acc,
                                      bar.update if bar else None, on_chunk)
        if not acc.weight > 0:
            raise ValueError("the rows of this epoch have a total sample_weight of zero; nothing to fit")
        change = maximize_and_record(model, acc, effective_inertia(settings.inertia, settings.lr_decay, epoch),
                                     history)
        mean_ll = history.lower_bound
        seconds = time.perf_counter() - tic
        logs = {"epoch": epoch + 1, "improvement": change, "log_likelihood": mean_ll,
                "seconds": seconds, "rows": int(sum(b - a for a, b in ranges))}
        if settings.verbose and (epoch + 1) % settings.verbose_interval == 0:
            print(model._epoch_line(logs), flush=True)
        for callback in settings.callbacks:
            try:
                callback(model, logs)
            except Exception as error:
                # Like Ctrl-C: the model keeps this completed epoch (no rollback), and the error goes on as raised.
                interrupting(error)
                raise
        # The model judges (a search over k judges each candidate on its own).
        history.converged = bool(model._converged(change, settings.tol))
        if store is not None:
            store.save(state.to_dict(model))
    return history


def _chunk_saver(model, state, store, rows_done):
    """A callback writing the fit state, with the part-done epoch, whenever the store says it is due."""
    progress = {"rows": rows_done, "chunks": 0}

    def on_chunk(acc, rows):
        progress["rows"] += rows
        progress["chunks"] += 1
        if store.due(progress["chunks"]):
            state.rows_done, state.pending = progress["rows"], acc
            try:
                store.save(state.to_dict(model))
            finally:
                state.rows_done, state.pending = 0, None

    return on_chunk
