"""Checkpoint plumbing for :class:`~suffstats.mixture.GaussianMixture`: what is saved and how it comes back."""

from __future__ import annotations

import hashlib

import numpy as np

from ..em import EMHistory
from ..statistics import Statistics
from ._moments import ComponentMoments


def settings_fingerprint(model, sample_weight):
    """The settings a checkpoint must match (not verbosity, callbacks or, in exact mode, batch size)."""
    skip = {"verbose", "verbose_interval", "callbacks", "progress"}
    if model.batches_per_epoch is None:
        skip.add("batch_size")
    out = {k: (v.tolist() if isinstance(v, np.ndarray) else v if isinstance(v, (int, float, str, type(None)))
               else repr(v)) for k, v in model.get_params().items() if k not in skip}
    out["sample_weight"] = None if sample_weight is None else hashlib.sha256(sample_weight.tobytes()).hexdigest()
    return out


def _history(history):
    return {"lower_bounds": list(history.lower_bounds), "n_iter": history.n_iter,
            "converged": history.converged, "cursor": history.cursor,
            "initial_lower_bound": history.initial_lower_bound}


def saver(model, store, init, rng, best):
    """A function that writes the fit's state; the EM driver calls it every ``store.every`` batches."""
    def save(history, acc, rows_done):
        store.save({
            "init": init, "rng": rng.bit_generator.state,
            "parameters": [np.asarray(p).tolist() for p in model._core_parameters()],
            "history": _history(history),
            "rows_done": rows_done, "pending": None if acc is None else acc.to_statistics().to_dict(),
            "best": None if best is None else {"history": _history(best[0]),
                                               "parameters": [np.asarray(p).tolist() for p in best[1]]},
        })

    save.every = store.every
    return save


def restore(model, state, rng):
    """Put the model and generator back as saved; returns the history and the epoch to resume (or None)."""
    rng.bit_generator.state = state["rng"]
    model._assign_parameters(*(np.asarray(v, dtype=np.float64) for v in state["parameters"]))
    resume = None
    if state["pending"] is not None:
        resume = (state["rows_done"], ComponentMoments.from_statistics(Statistics.from_dict(state["pending"])))
    return EMHistory(**state["history"]), resume


def best_run(state):
    """The best finished run recorded in a checkpoint (history, parameters), or None."""
    best = None if state is None else state["best"]
    if best is None:
        return None
    return EMHistory(**best["history"]), tuple(np.asarray(p, dtype=np.float64) for p in best["parameters"])
