"""The table of model families that JSON documents may name, and the schema version they carry.

Loading a model looks its ``"family"`` up here and nowhere else: nothing is
imported or evaluated. Classes defined inside the suffstats package register
themselves when they are defined; a user's own family is added explicitly with
:func:`register_family`, which never replaces a name already taken (a
subclass that happens to be called ``Normal`` cannot take over the built-in).
"""

from __future__ import annotations

__all__ = ["FAMILIES", "SCHEMA_VERSION", "register_family"]

#: Version of the JSON model format written by ``to_dict`` and read by ``suffstats.io``.
SCHEMA_VERSION = 1

#: Family name -> class.
FAMILIES: dict = {}


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
