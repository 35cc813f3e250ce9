"""The state of a fit: what the EM driver checkpoints and resumes from.

:class:`EMHistory` is one run's record (log-likelihoods, epochs, the
mini-batch cursor); :class:`FitState` adds the generator, a part-done epoch,
the initialisation index and the best run, and converts to and from the
JSON-safe data a checkpoint holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["EMHistory", "FitState", "history_from_dict", "NOT_THIS_FIT"]


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
    def from_dict(cls, data, model, rng, where="checkpoint", n_init=1) -> "FitState":
        """Put ``model`` and ``rng`` back as saved and return the state to continue from.

        Every field is checked for its type, range and consistency with the
        others and with ``model``; a refusal is a ``ValueError`` naming
        ``where`` (the checkpoint file) and the field. The generator is set
        only when everything passed; the model's parameters are loaded once
        they passed their check (the pending total is rebuilt around them).
        """
        from ..statistics import Statistics

        fields = _Fields(data, where)
        fields.keys("state", {"init", "rng", "parameters", "history", "rows_done", "pending", "best"})
        init = fields.integer("init", 0, n_init - 1)
        history = _history_of(fields.sub("history"), "history")
        rows_done = fields.integer("rows_done", 0, None)
        pending, best = data["pending"], data["best"]
        if (pending is None) != (rows_done == 0):
            raise ValueError(f"{where}: field 'rows_done' is {rows_done} but 'pending' "
                             f"{'holds no' if pending is None else 'holds'} statistics; {NOT_THIS_FIT}")
        if history.converged and pending is not None:
            # A converged fit starts no other epoch: nothing can be part-done.
            raise ValueError(f"{where}: field 'history.converged' is true, but the state holds a part-done epoch "
                             f"(rows_done {rows_done}); {NOT_THIS_FIT}")
        if best is not None:
            best_fields = _Fields(best, where, "best")
            best_fields.keys("best", {"history", "parameters"})
            best = (_history_of(best_fields.sub("history"), "best.history"),
                    fields.checked(lambda: model._check_fit_parameters(best["parameters"]), "best.parameters"))
        fields.checked(lambda: model._check_fit_parameters(data["parameters"]), "parameters")
        # The running total is rebuilt around the saved parameters (a mixture's shifts are its means); a fit
        # refused after this point is rolled back by the model's transaction.
        fields.checked(lambda: model._load_fit_parameters(data["parameters"]), "parameters")
        if pending is not None:
            pending = fields.checked(lambda: model._accumulator_from_state(pending) if isinstance(pending, list)
                                     else model._accumulator_from_statistics(Statistics.from_dict(pending)),
                                     "pending")
            if not pending.blocks:
                raise ValueError(f"{where}: field 'pending' holds no blocks though rows_done is {rows_done}; "
                                 f"{NOT_THIS_FIT}")
        generator = np.random.default_rng()
        fields.checked(lambda: setattr(generator.bit_generator, "state", data["rng"]), "rng")
        if data["rng"].get("bit_generator") != type(rng.bit_generator).__name__:
            raise ValueError(f"{where}: field 'rng' is the state of a {data['rng'].get('bit_generator')!r} "
                             f"generator, not {type(rng.bit_generator).__name__}; {NOT_THIS_FIT}")
        rng.bit_generator.state = data["rng"]
        return cls(init=init, rng=rng, history=history, rows_done=rows_done, pending=pending,
                   best=None if best is None else (best[0], data["best"]["parameters"]))


#: How a refusal of a loaded fit state ends.
NOT_THIS_FIT = "it does not describe a fit of this model and data (remove it to start the fit over)"


class _Fields:
    """Typed access to the fields of a loaded object, each refusal naming the file and the field."""

    def __init__(self, data, where, prefix=""):
        self.data, self.where, self.prefix = data, where, prefix

    def name(self, key):
        return f"{self.prefix}.{key}" if self.prefix else key

    def fail(self, key, problem):
        raise ValueError(f"{self.where}: field {self.name(key)!r} {problem}; {NOT_THIS_FIT}")

    def keys(self, what, expected):
        if not isinstance(self.data, dict):
            raise ValueError(f"{self.where}: {what} must be an object; got {type(self.data).__name__}; {NOT_THIS_FIT}")
        missing, extra = sorted(expected - set(self.data)), sorted(set(self.data) - expected)
        if missing:
            names = ", ".join(repr(self.name(k)) for k in missing)
            raise ValueError(f"{self.where}: {'field' if len(missing) == 1 else 'fields'} {names} "
                             f"{'is' if len(missing) == 1 else 'are'} missing; {NOT_THIS_FIT}")
        if extra:
            self.fail(extra[0], "is not a field of a fit state")

    def sub(self, key):
        return _Fields(self.data[key], self.where, self.name(key))

    def integer(self, key, low, high):
        value = self.data[key]
        if type(value) is not int or value < low or (high is not None and value > high):
            self.fail(key, f"must be an integer {'>= ' + str(low) if high is None else f'in {low}..{high}'}; "
                           f"got {value!r:.40}")
        return value

    def boolean(self, key):
        if not isinstance(self.data[key], bool):
            self.fail(key, f"must be true or false; got {self.data[key]!r:.40}")
        return self.data[key]

    def numbers(self, key, finite=True, low=None):
        value = self.data[key]
        ok = isinstance(value, list) and all(type(v) in (int, float) for v in value)
        array = np.asarray(value if ok else [], dtype=np.float64)
        if not ok or (finite and not np.isfinite(array).all()) or (low is not None and (array < low).any()):
            self.fail(key, f"must be a list of {'finite ' if finite else ''}numbers"
                           f"{'' if low is None else f' >= {low}'}; got {value!r:.60}")
        return [float(v) for v in value]

    def number(self, key):
        value = self.data[key]
        if type(value) not in (int, float) or np.isnan(value) or value == np.inf:
            self.fail(key, f"must be a number (or -inf); got {value!r:.40}")
        return float(value)

    def checked(self, load, key):
        """``load()``, with any error it raises reported as a bad field ``key``."""
        try:
            return load()
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as error:
            self.fail(key, f"is not valid here ({error})")


def _history_of(fields, what) -> EMHistory:
    """A saved :class:`EMHistory`, every field checked (epochs, log-likelihoods and weights agree)."""
    fields.keys(what, {"lower_bounds", "n_iter", "converged", "cursor", "initial_lower_bound", "total_weights"})
    lower_bounds = fields.numbers("lower_bounds")
    n_iter = fields.integer("n_iter", 0, None)
    total_weights = fields.numbers("total_weights", low=0.0)
    if len(lower_bounds) != n_iter or len(total_weights) != n_iter:
        fields.fail("n_iter", f"is {n_iter} but {len(lower_bounds)} log-likelihoods and {len(total_weights)} "
                              "epoch weights are recorded")
    return EMHistory(lower_bounds=lower_bounds, n_iter=n_iter, converged=fields.boolean("converged"),
                     cursor=fields.integer("cursor", 0, None), total_weights=total_weights,
                     initial_lower_bound=fields.number("initial_lower_bound"))


def history_from_dict(data, where="fit state", what="history") -> EMHistory:
    """An :class:`EMHistory` from ``EMHistory.to_dict()`` output, every field checked; errors name ``where``."""
    return _history_of(_Fields(data, where, what), what)


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
