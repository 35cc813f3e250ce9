"""JSON persistence of fitted models: parameters and a schema version, never code.

Loading only reads numbers and names from a fixed table of families; nothing
is imported, evaluated or unpickled.
"""

from __future__ import annotations

import json
import os

from .distributions._base import FAMILIES, SCHEMA_VERSION

__all__ = ["to_json", "from_json", "save", "load", "distribution_from_dict"]


#: Largest count a model description may declare (categories, components, ...),
#: checked before anything is allocated.
MAX_DECLARED_SIZE = 10**7


def _check_declared_sizes(data, where="model"):
    """Refuse absurd declared sizes anywhere in a description, before allocating."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key.startswith("n_") and isinstance(value, (int, float)) and not isinstance(value, bool):
                if not 0 <= value <= MAX_DECLARED_SIZE:
                    raise ValueError(f"{where} declares {key} = {value}; refusing sizes above {MAX_DECLARED_SIZE:,}")
            _check_declared_sizes(value, f"{where}.{key}")
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, (dict, list)):
                _check_declared_sizes(item, where)


def distribution_from_dict(data) -> object:
    """Rebuild a model from the dict written by its ``to_dict``."""
    _check_declared_sizes(data)
    if not isinstance(data, dict):
        raise ValueError(f"a model description must be a JSON object; got {type(data).__name__}")
    schema = data.get("schema")
    if schema != SCHEMA_VERSION:
        raise ValueError(f"unsupported model schema version {schema!r}; this suffstats reads version {SCHEMA_VERSION}")
    family = data.get("family")
    cls = FAMILIES.get(family)
    if cls is None:
        raise ValueError(f"unknown model family {family!r}; known: {sorted(FAMILIES)}")
    try:
        return cls._from_dict(data)
    except (KeyError, TypeError, IndexError, AttributeError) as err:
        raise ValueError(f"malformed {family} description: {err!r}") from None


def to_json(model) -> str:
    """The model as a JSON string."""
    return json.dumps(model.to_dict())


def from_json(text: str):
    """Rebuild a model from :func:`to_json` output."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"not a valid model JSON: {err}") from None
    return distribution_from_dict(data)


def save(model, path) -> None:
    """Write the model's JSON to ``path`` atomically (temporary file, fsync, rename)."""
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(to_json(model))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path):
    """Read a model written by :func:`save`."""
    with open(path, encoding="utf-8") as f:
        return from_json(f.read())
