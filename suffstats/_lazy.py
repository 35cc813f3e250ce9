"""Public names imported when first used, so that ``import suffstats`` and ``suffstats --help`` start at once.

A package face lists its names and the modules that define them; the
modules (and scikit-learn, which the estimators build on) are imported on
first access. Submodules are reachable as attributes the same way.
"""

from __future__ import annotations

import importlib

__all__ = ["lazy_exports"]


def lazy_exports(package: str, table: dict):
    """``(__getattr__, __dir__)`` for the package ``package`` whose name ``n`` lives in module ``table[n]``."""
    module = importlib.import_module(package)

    def __getattr__(name):
        if name in table:
            value = getattr(importlib.import_module(table[name], package), name)
            setattr(module, name, value)  # found once; later lookups do not come here
            return value
        try:
            return importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{package}.{name}":
                raise
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(vars(module)) | set(table))

    return __getattr__, __dir__
