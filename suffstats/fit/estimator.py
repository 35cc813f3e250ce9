"""The estimator's fit, written once: ``n_init`` initialisations of the driver, checkpoints, the best run.

:func:`fit_model` is what ``fit`` of every driver-fitted model calls after its
own checks; :meth:`~suffstats.fit.driver.EMSettings.of` reads the schedule (``batch_size``,
``batches_per_epoch``, ``max_iter``, ``tol``, ``inertia``, ``lr_decay``,
``verbose``, ``callbacks``, ``progress``) from a model's parameters of the same
names, in one place.
"""

from __future__ import annotations

import hashlib

import numpy as np

from typing import NamedTuple

from ..data.blocks import BLOCK_ROWS, batch_ranges
from .checkpoint import Checkpoint
from .driver import EMHistory, EMSettings, FitState, epoch_ranges, run_em
from .state import NOT_THIS_FIT

__all__ = ["fit_model", "refuse_all_zero_weights", "settings_fingerprint", "CheckpointProgress", "checkpoint_progress"]


def settings_fingerprint(settings: dict, sample_weight, exact: bool) -> dict:
    """The settings a checkpoint must match (not verbosity, callbacks or, in exact mode, batch size)."""
    skip = {"verbose", "verbose_interval", "callbacks", "progress"} | ({"batch_size"} if exact else set())
    out = {k: (v.tolist() if isinstance(v, np.ndarray) else v if isinstance(v, (int, float, str, type(None)))
               else repr(v)) for k, v in settings.items() if k not in skip}
    out["sample_weight"] = None if sample_weight is None else hashlib.sha256(sample_weight.tobytes()).hexdigest()
    return out


def refuse_all_zero_weights(sample_weight) -> None:
    """Refuse in-memory weights that are zero for every row (weights streamed with a source are checked per batch)."""
    if isinstance(sample_weight, (np.ndarray, list, tuple)) and not np.any(sample_weight):
        raise ValueError("sample_weight is zero for every row: sample weights must contain at least one non-zero "
                         "number, or there is nothing to fit")


def fit_model(model, source, sample_weight, settings, n_init, *, warm=False, checkpoint=None,
                checkpoint_every=None, fingerprint=None, strategy=None) -> EMHistory:
    """Run ``n_init`` initialisations of EM (one when ``warm``) and keep the best; returns its history.

    With ``checkpoint``, the driver writes the fit state there and a later call
    with the same data and settings resumes it, ending bit for bit where an
    uninterrupted fit would. ``strategy`` gathers each epoch's statistics
    (default: :class:`~suffstats.fit.local.LocalAccumulation`).
    """
    refuse_all_zero_weights(sample_weight)
    random_state = getattr(model, "random_state", None)
    if checkpoint is not None and not (random_state is None or isinstance(random_state, (int, np.integer))):
        raise ValueError(f"a fit with a checkpoint needs random_state to be None or an integer; got a "
                         f"{type(random_state).__name__}, whose state cannot be matched when the fit resumes")
    rng = np.random.default_rng(random_state)
    store = None if checkpoint is None else Checkpoint(checkpoint, checkpoint_every, source.fingerprint(),
                                                       fingerprint or {}, data_files=source.files())
    saved = None if store is None else store.load()
    state = None
    if saved is not None:
        state = FitState.from_dict(saved, model, rng, f"checkpoint {store.path}", 1 if warm else n_init)
        check_position(state, source, settings, model._block_rows, f"checkpoint {store.path}")
    best = None if state is None else state.best
    for init in range(state.init if state else 0, 1 if warm else n_init):
        if state is None or state.init != init:
            if warm:
                # Convergence is judged against the previous fit's last log-likelihood, as in scikit-learn.
                history = EMHistory(initial_lower_bound=float(getattr(model, "lower_bound_", -np.inf)))
            else:
                model._initialize(source, sample_weight, rng, strategy)
                if model.verbose:
                    print(f"Initialization {init}", flush=True)
                history = EMHistory()
            state = FitState(init=init, rng=rng, history=history, best=best)
            if store is not None:
                store.save(state.to_dict(model))
        try:
            run_em(model, source, sample_weight, settings, state, store, strategy)
        except BaseException as error:
            # An interruption keeps the last completed epoch (no rollback): its history goes with it.
            if isinstance(error, KeyboardInterrupt) or getattr(error, "_suffstats_interrupts", False):
                model._record_history(state.history)
            raise
        if best is None or state.history.lower_bound > best[0].lower_bound:
            best = (state.history, model._fit_parameters())
        state = None
    history, params = best
    model._load_fit_parameters(params)
    model._record_history(history)
    return history




def _epoch_rows(source, settings, cursor, block=BLOCK_ROWS) -> int:
    """Rows of the epoch that starts at mini-batch ``cursor`` (every row in exact mode)."""
    ranges = epoch_ranges(source.n_rows, settings, EMHistory(cursor=cursor), source.random_access, block)
    return sum(stop - start for start, stop in ranges)


def check_position(state, source, settings, block, where) -> None:
    """Refuse a loaded state whose place in the data cannot be: a cursor past the batches, rows past the epoch.

    In exact mode a part-done epoch stops on a block boundary (or the epoch's
    end) and its running total holds one block per ``block`` rows done.
    """
    exact = settings.batches_per_epoch is None
    n_batches = len(batch_ranges(source.n_rows, settings.batch_size)) if not exact else 1
    cursor = state.history.cursor
    if (exact and cursor != 0) or cursor >= n_batches:
        raise ValueError(f"{where}: field 'history.cursor' is {cursor}, but this fit has {n_batches} batch(es) "
                         f"{'and reads whole epochs' if exact else ''}; {NOT_THIS_FIT}")
    if state.pending is None:
        return
    rows = _epoch_rows(source, settings, cursor, block)
    done = state.rows_done
    aligned = not exact or done == rows or done % block == 0
    if done > rows or not aligned or (exact and state.pending.blocks != -(-done // block)):
        raise ValueError(f"{where}: field 'rows_done' is {done}, but an epoch of this fit has {rows} rows read in "
                         f"blocks of {block}, and the pending statistics hold {state.pending.blocks} block(s); "
                         f"{NOT_THIS_FIT}")


class CheckpointProgress(NamedTuple):
    """Where a fit resumed from a checkpoint starts."""

    #: Epochs the checkpointed fit has finished.
    epochs_done: int
    #: Whether it has nothing left to run (converged, or ``max_iter`` epochs done).
    finished: bool
    #: Rows of the current epoch already summed (0 when the epoch starts afresh).
    rows_done: int
    #: Rows in that epoch.
    epoch_rows: int


def checkpoint_progress(model, X, checkpoint, checkpoint_every=None):
    """What ``model.fit(X, checkpoint=checkpoint)`` would resume from, checked as that fit checks it.

    Parameters
    ----------
    model : GaussianMixture
        Unfitted, with the settings of the fit to resume.
    X : BatchSource
        The data of the fit.
    checkpoint : str or path-like
        The checkpoint file.
    checkpoint_every : int, optional

    Returns
    -------
    CheckpointProgress or None
        ``None`` when there is no checkpoint file yet.

    Raises
    ------
    ValueError
        When the checkpoint is for other data or settings, or is damaged (the
        fit would refuse it the same way).
    """
    state = Checkpoint(checkpoint, checkpoint_every, X.fingerprint(), model._checkpoint_fingerprint(None)).load()
    if state is None:
        return None
    history = state["history"]
    epochs = history["n_iter"]
    settings = EMSettings(batch_size=model.batch_size, batches_per_epoch=model.batches_per_epoch)
    rows = _epoch_rows(X, settings, history["cursor"])
    return CheckpointProgress(epochs_done=epochs, finished=bool(history["converged"] or epochs >= model.max_iter),
                              rows_done=state["rows_done"] if state["pending"] is not None else 0, epoch_rows=rows)
