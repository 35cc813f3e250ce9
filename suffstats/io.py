"""JSON persistence of fitted models: parameters and a schema version, never code.

Loading only reads numbers and names from a fixed table of families
(:data:`~suffstats.distributions.FAMILIES`; add your own with
:func:`register_family`); nothing is imported, evaluated or unpickled. A
document is checked before and while it is read: its size and nesting depth
before parsing, declared sizes before anything is allocated, then every field
-- types, ranges, finiteness -- by the family it names. Every refusal is a
:class:`ModelFormatError` (a ``ValueError``) naming the field, e.g.
``model.distributions[1].parameters.std``.
"""

from __future__ import annotations

import json
import os

from ._json import MAX_JSON_BYTES, atomic_write_text, parse_json
from .distributions._registry import (SCHEMA_VERSION, ModelFormatError, components_from_dict,
                                      distribution_from_dict, register_family)

__all__ = ["to_json", "from_json", "save", "load", "distribution_from_dict", "components_from_dict",
           "register_family", "ModelFormatError", "SCHEMA_VERSION"]


def to_json(model) -> str:
    """The model as a JSON string.

    Parameters
    ----------
    model : Distribution, GaussianMixture, GeneralMixtureModel or KMeans
        A model (fitted or not) of a family suffstats can save.

    Returns
    -------
    str
    """
    if not callable(getattr(model, "to_dict", None)):
        raise TypeError(f"to_json takes a suffstats model (a distribution, mixture or KMeans); got "
                        f"{type(model).__name__}")
    return json.dumps(model.to_dict())


def from_json(text):
    """Rebuild a model from :func:`to_json` output (size and depth checked before parsing).

    Parameters
    ----------
    text : str
        JSON written by :func:`to_json`; every field is checked and no code is run.
    """
    try:
        data = parse_json(text, "model JSON")
    except ValueError as err:
        raise ModelFormatError(f"not a valid model JSON: {err}") from None
    return distribution_from_dict(data, "model")


def save(model, path) -> None:
    """Write the model's JSON to ``path`` atomically (a failed write leaves the old file and no temporary file).

    Parameters
    ----------
    model : Distribution, GaussianMixture, GeneralMixtureModel or KMeans
        The model to write.
    path : str or os.PathLike
        The file to write (replaced whole; its folder must exist).
    """
    atomic_write_text(path, to_json(model))


def load(path):
    """Read a model written by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save` (its size is checked before it is read).
    """
    path = os.fspath(path)
    if os.path.getsize(path) > MAX_JSON_BYTES:
        raise ModelFormatError(f"{path}: {os.path.getsize(path):,} bytes; refusing model files above "
                               f"{MAX_JSON_BYTES:,}")
    with open(path, "rb") as f:
        text = f.read()
    try:
        return from_json(text)
    except ModelFormatError as err:
        raise ModelFormatError(f"{path}: {err}") from None
