"""Optional storage libraries, imported when a format needs them."""

from __future__ import annotations

import importlib

__all__ = ["require"]


def require(module, extra):
    """Import an optional storage library, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"reading this format needs {module}: pip install 'suffstats[{extra}]'") from None
