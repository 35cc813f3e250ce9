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

import contextvars
import json
import os
from collections.abc import Mapping

from ._json import MAX_JSON_BYTES, atomic_write_text, parse_json
from .distributions._registry import FAMILIES, SCHEMA_VERSION, register_family

__all__ = ["to_json", "from_json", "save", "load", "distribution_from_dict", "components_from_dict",
           "register_family", "ModelFormatError", "SCHEMA_VERSION"]


#: Largest count a model description may declare (categories, components, ...),
#: checked before anything is allocated.
MAX_DECLARED_SIZE = 10**7

#: Where in the document the description being read sits (for messages).
_WHERE = contextvars.ContextVar("suffstats_model_path", default="model")


class ModelFormatError(ValueError):
    """A model description that cannot be loaded; the message names the field at fault."""


def _check_declared_sizes(data, where="model"):
    """Refuse absurd declared sizes anywhere in a description, before allocating (depth is already bounded)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and key.startswith("n_") and isinstance(value, (int, float)) \
                    and not isinstance(value, bool) and not 0 <= value <= MAX_DECLARED_SIZE:
                raise ModelFormatError(f"{where} declares {key} = {value}; a size must be between 0 and "
                                       f"{MAX_DECLARED_SIZE:,}")
            _check_declared_sizes(value, f"{where}.{key}")
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, (dict, list)):
                _check_declared_sizes(item, where)


def distribution_from_dict(data, where=None) -> object:
    """Rebuild a model from the dict written by its ``to_dict``.

    Parameters
    ----------
    data : dict
        The description.
    where : str, optional
        Its place in the enclosing document, for messages (default ``"model"``,
        or the place of the description being read when called while loading).

    Raises
    ------
    ModelFormatError
        Naming the field: an unknown family or schema, a missing or mistyped
        field, a parameter out of range (negative weights, a non-positive
        standard deviation, a covariance that is not positive definite ...).
    """
    where = _WHERE.get() if where is None else where
    if not isinstance(data, Mapping):
        raise ModelFormatError(f"{where}: a model description must be a JSON object; got {type(data).__name__}")
    if where == "model":
        _check_declared_sizes(data)
    schema = data.get("schema")
    if type(schema) is not int or schema != SCHEMA_VERSION:
        raise ModelFormatError(f"{where}: unsupported model schema version {schema!r}; this suffstats reads "
                               f"version {SCHEMA_VERSION}")
    family = data.get("family")
    cls = FAMILIES.get(family) if isinstance(family, str) else None
    if cls is None:
        raise ModelFormatError(f"{where}: unknown model family {family!r}; known: {sorted(FAMILIES)} "
                               "(add your own with suffstats.io.register_family)")
    token = _WHERE.set(where)
    try:
        return cls._from_dict(data)
    except ModelFormatError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as err:
        detail = f"missing field {err}" if isinstance(err, KeyError) else str(err)
        raise ModelFormatError(f"{where}: malformed {family}: {detail}") from None
    finally:
        _WHERE.reset(token)


def components_from_dict(data, key="distributions") -> list:
    """The component models listed under ``data[key]``, each read with its place named in errors."""
    where = _WHERE.get()
    items = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(items, list) or not items:
        raise ModelFormatError(f"{where}.{key} must be a non-empty list of model descriptions; got {items!r:.60}")
    return [distribution_from_dict(item, f"{where}.{key}[{j}]") for j, item in enumerate(items)]


def to_json(model) -> str:
    """The model as a JSON string."""
    return json.dumps(model.to_dict())


def from_json(text):
    """Rebuild a model from :func:`to_json` output (size and depth checked before parsing)."""
    try:
        data = parse_json(text, "model JSON")
    except ValueError as err:
        raise ModelFormatError(f"not a valid model JSON: {err}") from None
    return distribution_from_dict(data, "model")


def save(model, path) -> None:
    """Write the model's JSON to ``path`` atomically (a failed write leaves the old file and no temporary file)."""
    atomic_write_text(path, to_json(model))


def load(path):
    """Read a model written by :func:`save`."""
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
