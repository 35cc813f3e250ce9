"""Transactions at the public boundary: a refused or failed call leaves the model as it was.

A public method that changes a model runs inside :func:`transaction`. The
model's state -- its attributes, with arrays and nested models (components,
pending totals) copied -- is taken before the call and put back if the call
raises an :class:`Exception`. A ``KeyboardInterrupt`` is not rolled back: an
interrupted fit keeps its last completed epoch, as documented; nor is an
exception raised by a user's callback between epochs (:func:`interrupting`).

A class takes part by setting ``_transactional = True``; its instances found
in attributes (alone, or in lists and tuples) are snapshotted recursively.
Other objects -- a user's ``random_state`` generator, callbacks -- are kept by
reference and never replaced.

:func:`transactional` applies both rules of a public method that changes a
model at once: it holds the model's own re-entrant lock (:func:`lock_of`), so
that threads sharing a model commit one at a time, and runs the method inside
one transaction (a nested call on the same model joins the outer one). The
lock lives outside the model's attributes: snapshots, ``to_dict`` and copies
never see it.
"""

from __future__ import annotations

import functools
import threading
import weakref
from contextlib import contextmanager

import numpy as np

__all__ = ["transaction", "snapshot", "restore", "transactional", "lock_of", "interrupting"]

_LOCKS: dict = {}  # id(model) -> its lock, removed when the model is collected
_LOCKS_GUARD = threading.Lock()
_ACTIVE = threading.local()  # ids of the models whose transaction this thread is running


def _is_model(value):
    return getattr(type(value), "_transactional", False)


def _copy(value):
    if isinstance(value, np.ndarray):
        return ("array", value, value.copy())
    if _is_model(value):
        return ("model", value, snapshot(value))
    if isinstance(value, (list, tuple)) and any(_is_model(v) or isinstance(v, np.ndarray) for v in value):
        return ("sequence", value, [_copy(v) for v in value])
    if isinstance(value, dict) and any(_is_model(v) or isinstance(v, np.ndarray) for v in value.values()):
        return ("mapping", value, {k: _copy(v) for k, v in value.items()})
    return ("value", value, None)


def _put_back(saved):
    kind, original, copied = saved
    if kind == "array":
        if original.flags.writeable:
            original[...] = copied  # arrays shared with the caller keep their identity
        return original
    if kind == "model":
        restore(original, copied)
    elif kind == "sequence":
        items = [_put_back(c) for c in copied]
        if isinstance(original, list):
            original[:] = items
    elif kind == "mapping":
        original.clear()
        original.update({k: _put_back(c) for k, c in copied.items()})
    return original


def snapshot(model) -> dict:
    """The state of ``model``: every attribute, arrays and nested models copied."""
    return {name: _copy(value) for name, value in vars(model).items()}


def restore(model, state: dict) -> None:
    """Put ``model`` back exactly as :func:`snapshot` found it (attributes added since are removed)."""
    values = {name: _put_back(saved) for name, saved in state.items()}
    vars(model).clear()
    vars(model).update(values)


@contextmanager
def transaction(*models):
    """Run the body; if it raises an ``Exception``, put every model back as it was.

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats import Normal
    >>> from suffstats._transaction import transaction
    >>> d = Normal().fit(np.array([1.0, 2.0, 3.0]))
    >>> try:
    ...     with transaction(d):
    ...         d.mean = 99.0
    ...         raise ValueError("refused")
    ... except ValueError:
    ...     pass
    >>> d.mean
    2.0
    """
    saved = [snapshot(m) for m in models]
    try:
        yield
    except Exception as error:
        if not getattr(error, "_suffstats_interrupts", False):
            for model, state in zip(models, saved):
                restore(model, state)
        raise


def interrupting(error):
    """Mark ``error`` as an interruption, like Ctrl-C: the model keeps its last completed epoch, not rolled back.

    A user's callback that raises between epochs is one: what it saw is a
    model after a completed epoch, and that is what stays.
    """
    try:
        error._suffstats_interrupts = True
    except AttributeError:  # an exception type without a __dict__ cannot be marked: it rolls back
        pass
    return error


def lock_of(model) -> threading.RLock:
    """The re-entrant lock that serialises changes to ``model``.

    Made on first use and dropped when the model is collected; it is not one
    of the model's attributes, so snapshots, ``to_dict`` and copies never see it.
    """
    with _LOCKS_GUARD:
        lock = _LOCKS.get(id(model))
        if lock is None:
            lock = _LOCKS[id(model)] = threading.RLock()
            weakref.finalize(model, _LOCKS.pop, id(model), None)
        return lock


def transactional(method):
    """Decorate a public method that changes a model: under the model's lock, inside one transaction.

    A call made while the same thread already runs a transaction on the model
    (``fit`` calling ``from_summaries``) joins it instead of taking a second
    snapshot.
    """
    if getattr(method, "__transactional__", False):
        return method

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with lock_of(self):
            active = getattr(_ACTIVE, "ids", None)
            if active is None:
                active = _ACTIVE.ids = set()
            if id(self) in active:
                return method(self, *args, **kwargs)
            active.add(id(self))
            try:
                with transaction(self):
                    return method(self, *args, **kwargs)
            finally:
                active.discard(id(self))

    wrapper.__transactional__ = True
    return wrapper
