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


def resume(model, checkpoint) -> bool:
    """Load the parameters and history a checkpoint holds into ``model``; ``False`` when there is none yet."""
    state = None if checkpoint is None else checkpoint.load()
    if state is None:
        return False
    try:
        saved = hmm_from_dict(type(model), state["model"])
        history = [float(v) for v in state["history"]]
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"checkpoint {checkpoint.path} does not hold this model's fit ({err}); remove it to start "
                         "the fit over") from None
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


def save_iteration(model, checkpoint) -> None:
    """Write the model after an iteration (atomically: a kill leaves the previous checkpoint)."""
    if checkpoint is not None:
        checkpoint.save({"model": hmm_to_dict(model), "history": [float(v) for v in model.monitor_.history]})
