"""The table of model families that JSON documents may name, and reading a description by that name.

Loading a model looks its ``"family"`` up here and nowhere else: nothing is
imported or evaluated (:func:`distribution_from_dict`). Classes defined inside the suffstats package register
themselves when they are defined; a user's own family is added explicitly with
:func:`register_family`, which never replaces a name already taken (a
subclass that happens to be called ``Normal`` cannot take over the built-in).
"""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Mapping

__all__ = ["FAMILIES", "FAMILY_MODULES", "SCHEMA_VERSION", "register_family", "ModelFormatError",
           "distribution_from_dict", "components_from_dict"]

#: Version of the JSON model format written by ``to_dict`` and read by ``suffstats.io``.
SCHEMA_VERSION = 1

#: Family name -> class.
FAMILIES: dict = {}

#: Modules whose classes register families when imported, imported when a JSON names a family not yet known
#: (the package imports its estimators lazily; see ``suffstats/__init__.py``).
FAMILY_MODULES: list = []


def _load_family_modules() -> None:
    import importlib

    for name in FAMILY_MODULES:
        importlib.import_module(name)


def register_family(cls, name=None):
    """Make ``cls`` loadable from JSON under ``name`` (default: its class name); returns ``cls``.

    Parameters
    ----------
    cls : type
        A class with ``to_dict`` and a ``_from_dict(data)`` class method
        (every :class:`~suffstats.Distribution` subclass has both).
    name : str, optional
        The ``"family"`` written in its JSON; defaults to ``cls.__name__``.

    Raises
    ------
    ValueError
        When ``name`` is already registered for another class.

    Examples
    --------
    >>> from suffstats import Normal, Poisson
    >>> from suffstats.io import register_family
    >>> register_family(Normal) is Normal  # already there: the same class is fine
    True
    >>> register_family(Poisson, "Normal")
    Traceback (most recent call last):
    ...
    ValueError: a model family named 'Normal' is already registered (suffstats.distributions.normal.Normal); register this class under another name
    """
    name = cls.__name__ if name is None else name
    if not isinstance(name, str) or not name:
        raise TypeError(f"a family name must be a non-empty string; got {name!r}")
    if not callable(getattr(cls, "_from_dict", None)):
        raise TypeError(f"{cls!r} cannot be loaded: it has no _from_dict class method")
    taken = FAMILIES.get(name)
    if taken is not None and taken is not cls:
        raise ValueError(f"a model family named {name!r} is already registered ({taken.__module__}."
                         f"{taken.__qualname__}); register this class under another name")
    FAMILIES[name] = cls
    return cls


def register_builtin(cls) -> None:
    """Register a public class defined inside the suffstats package (called as classes are defined)."""
    if cls.__module__.split(".")[0] == "suffstats" and not cls.__name__.startswith("_"):
        register_family(cls)


#: Largest count a model description may declare (categories, components, ...),
#: checked before anything is allocated.
MAX_DECLARED_SIZE = 10**7

#: Where in the document the description being read sits (for messages).
_WHERE = contextvars.ContextVar("suffstats_model_path", default="model")


class ModelFormatError(ValueError):
    """A model description that cannot be loaded; the message names the field at fault."""


ModelFormatError.__module__ = "suffstats.io"  # its public home: tracebacks and docs name it there


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
        # Only objects can declare sizes: lists of numbers (parameters) are skipped without a call per row.
        kinds = set(map(type, data))
        nested = data if kinds == {list} else [item for item in data if type(item) in (dict, list)]
        while nested and set(map(type, nested)) == {list}:
            level = list(itertools.chain.from_iterable(nested))
            kinds = set(map(type, level))
            nested = [] if kinds <= {int, float, bool, str, type(None)} else \
                [item for item in level if type(item) in (dict, list)]
        for item in nested:
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
    if isinstance(family, str) and family not in FAMILIES:
        _load_family_modules()
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
