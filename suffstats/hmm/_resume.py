"""Resumable hidden Markov model fits: the model and its convergence history written after every EM iteration.

A hidden Markov model's iteration reads its sequences in order with messages
carried between pieces, so its checkpoint is taken between iterations: the
parameters (as the model's JSON, whose floats read back to the same bits)
and the log-likelihood history, in a :class:`~suffstats.fit.checkpoint.Checkpoint`
with a fingerprint of the data, the sequence lengths, the weights and the
settings and starting parameters. A fit run again with the same checkpoint
continues from the last finished iteration and ends with the bits of a fit
that was never interrupted; a checkpoint of another fit is refused.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..fit.checkpoint import Checkpoint
from ._persistence import hmm_from_dict, hmm_to_dict

__all__ = ["open_checkpoint", "resume", "save_iteration"]

#: Settings that do not change the fitted model.
_IGNORED = ("verbose", "batch_size")


def _digest(array) -> str | None:
    return None if array is None else hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def open_checkpoint(model, source, bounds, sample_weight, path):
    """The checkpoint of this fit (its data, lengths, weights, settings and starting point), or ``None``."""
    if path is None:
        return None
    start = hmm_to_dict(model)
    settings = {k: v for k, v in start["settings"].items() if k not in _IGNORED}
    settings.update(family=start["family"], start=start["fitted"], distributions=start.get("distributions"),
                    sample_weight=_digest(sample_weight))
    data = {**source.fingerprint(), "lengths": _digest(bounds.lengths)}
    return Checkpoint(path, None, data, settings, data_files=source.files())


def resume(model, checkpoint, n_features=None) -> bool:
    """Load the parameters and history a checkpoint holds into ``model``; ``False`` when there is none yet.

    The checksum only says the file is as written; the state is also checked by
    meaning before any of it is used: exactly the fields ``model`` and
    ``history``, a model of this family with this fit's settings, parameters
    that pass the model's own checks and fit data of ``n_features`` columns,
    and a history of 1 to ``n_iter`` finite log-likelihoods. A refusal names
    the checkpoint file and the field, and leaves ``model`` as it was.
    """
    state = None if checkpoint is None else checkpoint.load()
    if state is None:
        return False
    saved, history = _checked_state(model, state, checkpoint.path, n_features)
    for name in ("startprob_", "transmat_", *type(model)._persisted.values(), "n_features"):
        if hasattr(saved, name):
            setattr(model, name, getattr(saved, name))
    if hasattr(saved, "distributions"):
        model.distributions = saved.distributions
    model.monitor_._reset()
    for value in history:
        model.monitor_.history.append(value)
        model.monitor_.iter += 1
    return True


def _checked_state(model, state, path, n_features):
    """``(saved model, history)`` from a checkpoint's state, every field checked; ``ValueError`` names the field."""
    def refuse(field, problem):
        where = "its state" if field is None else f"field '{field}'"
        raise ValueError(f"checkpoint {path}: {where} {problem}; it was not written by this fit (remove it to start "
                         "the fit over)") from None

    if not isinstance(state, dict):
        refuse(None, f"is a {type(state).__name__}, not an object of 'model' and 'history'")
    missing, extra = [f for f in ("model", "history") if f not in state], sorted(set(state) - {"model", "history"})
    if missing:
        refuse(None, f"lacks {', '.join(repr(f) for f in missing)}")
    if extra:
        refuse(extra[0], "is not a field of a hidden Markov model checkpoint")
    history = state["history"]
    if not isinstance(history, list) or not 1 <= len(history) <= model.n_iter:
        refuse("history", f"must be a list of 1 to n_iter={model.n_iter} log-likelihoods, one per finished "
                          f"iteration; got {type(history).__name__} of length "
                          f"{len(history) if hasattr(history, '__len__') else 'none'}")
    for i, value in enumerate(history):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            refuse(f"history[{i}]", f"must be a finite log-likelihood; got {value!r}")
    data = state["model"]
    if not isinstance(data, dict):
        refuse("model", f"must be the model's JSON object; got {type(data).__name__}")
    if data.get("family") != type(model).__name__:
        refuse("model.family", f"is {data.get('family')!r}, but this fit is a {type(model).__name__}")
    ours, theirs = hmm_to_dict(model)["settings"], data.get("settings")
    if not isinstance(theirs, dict):
        refuse("model.settings", f"must be an object of the constructor's arguments; got {type(theirs).__name__}")
    changed = sorted(k for k in ours if k not in _IGNORED and ours[k] != theirs.get(k))
    if changed:
        refuse(f"model.settings.{changed[0]}", f"is {theirs.get(changed[0])!r}, but this fit has {ours[changed[0]]!r}")
    try:
        saved = hmm_from_dict(type(model), data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as err:
        refuse("model", f"does not hold a valid model ({err})")
    if data.get("fitted") is None:
        refuse("model.fitted", "is missing: a checkpoint is written after an iteration, with its parameters")
    if hasattr(model, "distributions"):
        kinds = [type(d).__name__ for d in model.distributions]
        if [type(d).__name__ for d in saved.distributions] != kinds:
            refuse("model.distributions", f"are not this fit's states ({', '.join(kinds)})")
    if n_features is not None:
        try:
            saved._check_and_set_n_features_readonly(n_features)
            if hasattr(saved, "_n_features") and saved.ndim == 2 and saved._n_features() not in (None, n_features):
                raise ValueError(f"the states have {saved._n_features()} features, but X has {n_features}")
        except ValueError as err:
            refuse("model.fitted", f"does not fit this data: {err}")
    return saved, [float(v) for v in history]


def save_iteration(model, checkpoint) -> None:
    """Write the model after an iteration (atomically: a kill leaves the previous checkpoint)."""
    if checkpoint is not None:
        checkpoint.save({"model": hmm_to_dict(model), "history": [float(v) for v in model.monitor_.history]})
