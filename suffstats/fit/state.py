"""The state of a fit: what the EM driver checkpoints and resumes from.

:class:`EMHistory` is one run's record (log-likelihoods, epochs, the
mini-batch cursor); :class:`FitState` adds the generator, a part-done epoch,
the initialisation index and the best run, and converts to and from the
JSON-safe data a checkpoint holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["EMHistory", "FitState"]


@dataclass
class EMHistory:
    """What a run did, filled in as epochs complete (so it is valid after Ctrl-C)."""

    lower_bounds: list = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False
    cursor: int = 0  # next batch index in minibatch mode
    initial_lower_bound: float = -np.inf  # what the first epoch is compared with (a warm start's last value)
    total_weights: list = field(default_factory=list)  # Σw of each epoch's rows

    @property
    def lower_bound(self):
        return self.lower_bounds[-1] if self.lower_bounds else self.initial_lower_bound

    def to_dict(self) -> dict:
        """JSON-safe record (``EMHistory(**d)`` rebuilds it)."""
        return _history_dict(self)


@dataclass
class FitState:
    """Everything a fit needs to continue: what the driver checkpoints, and resumes from.

    Attributes
    ----------
    init : int
        Index of the initialisation being run (``n_init`` runs one after another).
    rng : numpy.random.Generator
        The fit's generator (its state is saved, so later initialisations draw the same).
    history : EMHistory
        The current run so far, with the mini-batch cursor.
    rows_done, pending
        A part-done epoch: rows already accumulated and the accumulator holding them.
    best : tuple or None
        ``(history, parameters)`` of the best finished run.
    epoch_cursor : int
        The mini-batch cursor at the start of the current epoch (a part-done epoch resumes from it).
    """

    init: int
    rng: np.random.Generator
    history: EMHistory = field(default_factory=EMHistory)
    rows_done: int = 0
    pending: object = None
    best: tuple | None = None
    epoch_cursor: int = 0

    def to_dict(self, model) -> dict:
        """JSON-safe state; the model supplies its parameters (``_fit_parameters``)."""
        history = _history_dict(self.history)
        if self.pending is not None:
            history["cursor"] = self.epoch_cursor  # the part-done epoch's ranges were drawn from this cursor
        return {
            "init": self.init, "rng": self.rng.bit_generator.state,
            "parameters": _jsonable(model._fit_parameters()), "history": history,
            "rows_done": self.rows_done,
            "pending": None if self.pending is None else self.pending.to_state(),
            "best": None if self.best is None else {"history": _history_dict(self.best[0]),
                                                    "parameters": _jsonable(self.best[1])},
        }

    @classmethod
    def from_dict(cls, data, model, rng) -> "FitState":
        """Put ``model`` and ``rng`` back as saved and return the state to continue from."""
        from ..statistics import Statistics

        rng.bit_generator.state = data["rng"]
        model._load_fit_parameters(data["parameters"])
        pending = data["pending"]
        best = data["best"]
        return cls(init=int(data["init"]), rng=rng, history=EMHistory(**data["history"]),
                   rows_done=int(data["rows_done"]),
                   pending=None if pending is None else (
                       model._accumulator_from_state(pending) if isinstance(pending, list)
                       else model._accumulator_from_statistics(Statistics.from_dict(pending))),
                   best=None if best is None else (EMHistory(**best["history"]), best["parameters"]))


def _history_dict(history):
    return {"lower_bounds": [float(v) for v in history.lower_bounds], "n_iter": history.n_iter,
            "converged": bool(history.converged), "cursor": history.cursor,
            "initial_lower_bound": float(history.initial_lower_bound),
            "total_weights": [float(v) for v in history.total_weights]}


def _jsonable(value):
    """Arrays as nested lists, recursively through lists, tuples and dicts."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value
