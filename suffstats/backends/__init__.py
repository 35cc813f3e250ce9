"""Backend kernels, chosen by name from a registry with lazy registration.

A backend is a module providing the hot loops -- the fused E-step and
accumulation for one block of rows -- with the signatures of
:mod:`suffstats.backends.numpy_kernels`, the reference that defines
correctness. Registering a device is one line here.
"""

from __future__ import annotations

import importlib

__all__ = ["get_backend", "register_lazy", "available_backends"]

_LAZY = {}
_LOADED = {}


def register_lazy(name, module_path):
    """Register a backend module by import path; it is imported on first use."""
    _LAZY[name] = module_path


def get_backend(name="numpy"):
    """The kernel module registered as ``name``."""
    if name not in _LOADED:
        if name not in _LAZY:
            raise ValueError(f"unknown backend {name!r}; available: {sorted(_LAZY)}")
        _LOADED[name] = importlib.import_module(_LAZY[name])
    return _LOADED[name]


def available_backends():
    """Names of the registered backends."""
    return sorted(_LAZY)


register_lazy("numpy", "suffstats.backends.numpy_kernels")
