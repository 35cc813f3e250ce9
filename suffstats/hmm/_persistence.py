"""What a hidden Markov model writes to JSON and how it is read back, every field checked.

A description holds the constructor's settings and, once fitted, the
parameters as nested lists of numbers (a :class:`~suffstats.hmm.HiddenMarkovModel`
writes its states' descriptions). Reading one rebuilds the model from its
settings, sets the parameters and runs the model's own checks (shapes,
rows that sum to one, positive-definite covariances), so a document that
loads is a model that scores.
"""

from __future__ import annotations

import inspect

import numpy as np

from .._validation import json_numbers
from ..distributions._registry import SCHEMA_VERSION, components_from_dict

__all__ = ["hmm_to_dict", "hmm_from_dict"]

#: Parameters every model writes once fitted; a family adds its own (``_persisted``).
_SHARED = ("startprob_", "transmat_")


def _settings(model):
    names = [p for p in inspect.signature(type(model).__init__).parameters if p not in ("self", "distributions")]
    out = {}
    for name in names:
        value = getattr(model, name, None)
        if name == "random_state" and not isinstance(value, (int, np.integer, type(None))):
            value = None  # a generator's state is not a setting worth keeping
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, np.generic):
            value = value.item()
        out[name] = value
    return out


def hmm_to_dict(model) -> dict:
    """JSON-safe description: family, settings, and the fitted parameters (``None`` until fitted)."""
    names = _SHARED + tuple(type(model)._persisted)
    fitted = all(hasattr(model, attribute) for attribute in
                 (type(model)._persisted.get(n, n) for n in names))
    fitted = fitted and all(d.fitted for d in getattr(model, "distributions", ()))
    data = {"schema": SCHEMA_VERSION, "family": type(model).__name__, "settings": _settings(model)}
    if type(model).__name__ == "HiddenMarkovModel":
        data["distributions"] = [d.to_dict() for d in model.distributions]
    data["fitted"] = None if not fitted else {
        **{name: np.asarray(getattr(model, type(model)._persisted.get(name, name))).tolist() for name in names},
        "n_features": None if getattr(model, "n_features", None) is None else int(model.n_features)}
    return data


def hmm_from_dict(cls, data):
    """A model rebuilt from :func:`hmm_to_dict` output; a ``ValueError`` names the field at fault."""
    settings = data.get("settings")
    if not isinstance(settings, dict):
        raise ValueError("'settings' must be an object of the constructor's arguments")
    known = set(inspect.signature(cls.__init__).parameters) - {"self", "distributions"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"settings has unknown fields {unknown}")
    # Priors given as arrays come back as arrays (the M-step does arithmetic on them).
    kwargs = {k: (json_numbers(v, f"settings.{k}") if isinstance(v, list) else v) for k, v in settings.items()}
    if cls.__name__ == "HiddenMarkovModel":
        model = cls(components_from_dict(data), **kwargs)
    else:
        model = cls(**kwargs)
    fitted = data.get("fitted")
    if fitted is None:
        return model
    if not isinstance(fitted, dict):
        raise ValueError("'fitted' must be an object of parameters")
    for name in _SHARED + tuple(cls._persisted):
        if name not in fitted:
            raise ValueError(f"fitted.{name} is missing")
        setattr(model, name, json_numbers(fitted[name], f"fitted.{name}"))
    if fitted.get("n_features") is not None:
        model.n_features = int(fitted["n_features"])
    try:
        model._check()
    except ValueError as err:
        raise ValueError(f"fitted parameters: {err}") from None
    return model
