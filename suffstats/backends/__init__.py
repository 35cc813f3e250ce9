"""Backend kernels, chosen by name from a registry with lazy registration.

A backend is a module providing the hot loops -- the fused E-step and
accumulation for one block of rows -- as declared by
:class:`suffstats.backends.protocol.Backend`; the NumPy reference
:mod:`suffstats.backends.numpy_kernels` defines correctness. The registry
below is the only list of backend names: parameter checks and the command
line read it. Registering a device is one line here.
"""

from __future__ import annotations

import importlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .protocol import capabilities, check_backend, require_capability

__all__ = ["get_backend", "register_lazy", "available_backends", "map_blocks", "set_num_threads", "get_num_threads",
           "default_backend", "set_default_backend", "univariate_kernels"]

_LAZY = {}
_LOADED = {}


def register_lazy(name, module_path):
    """Register a backend module by import path; it is imported on first use."""
    _LAZY[name] = module_path


def get_backend(name="numpy", capability=None):
    """The kernel module registered as ``name``; with ``capability``, refused unless it provides those kernels.

    Examples
    --------
    >>> from suffstats.backends import get_backend
    >>> get_backend("numba", "gaussian").__name__
    'suffstats.backends.numba_kernels'
    >>> get_backend("numpy", "univariate")
    Traceback (most recent call last):
    ...
    ValueError: backend 'numpy' has no univariate kernels (univariate_sums, univariate_moments, univariate_range, category_counts); it provides: gaussian, nearest-centre
    """
    if name not in _LOADED:
        if name not in _LAZY:
            raise ValueError(f"unknown backend {name!r}; available: {sorted(_LAZY)}")
        _LOADED[name] = check_backend(importlib.import_module(_LAZY[name]), name)
    module = _LOADED[name]
    return module if capability is None else require_capability(module, name, capability)


def available_backends():
    """Names of the registered backends, in registration order (nothing is imported)."""
    return tuple(_LAZY)


register_lazy("numpy", "suffstats.backends.numpy_kernels")
register_lazy("numba", "suffstats.backends.numba_kernels")
register_lazy("cupy", "suffstats.backends.cupy_kernels")

_DEFAULT = {"name": "numba"}


def default_backend():
    """The backend of models that take no ``backend`` argument (the univariate families' ``summarize``)."""
    return _DEFAULT["name"]


def set_default_backend(name):
    """Choose the backend of models that take no ``backend`` argument; returns the previous name.

    Examples
    --------
    >>> from suffstats.backends import set_default_backend
    >>> previous = set_default_backend("numpy")   # the univariate families use the NumPy path
    >>> _ = set_default_backend(previous)
    """
    if name not in _LAZY:
        raise ValueError(f"unknown backend {name!r}; available: {sorted(_LAZY)}")
    previous, _DEFAULT["name"] = _DEFAULT["name"], name
    return previous


def univariate_kernels():
    """The default backend when it has the ``"univariate"`` capability, else ``None`` (the checked NumPy path)."""
    backend = get_backend(default_backend())
    return backend if "univariate" in capabilities(backend) else None


_THREADS = {"n": os.cpu_count() or 1, "pool": None}


def set_num_threads(n):
    """Number of threads that compute blocks of rows concurrently (results do not depend on it)."""
    if int(n) < 1:
        raise ValueError(f"the number of threads must be >= 1; got {n!r}")
    _THREADS["n"] = int(n)
    if _THREADS["pool"] is not None:
        _THREADS["pool"].shutdown()
        _THREADS["pool"] = None


def get_num_threads():
    """The number of threads used for blocks of rows."""
    return _THREADS["n"]


def _blas_controller():
    """threadpoolctl's view of the loaded BLAS libraries, found once (a scan per call costs about 0.3 ms).

    Found again once SciPy's linear algebra is loaded: SciPy brings its own BLAS, imported when first needed.
    """
    scipy_loaded = "scipy.linalg" in sys.modules
    if _THREADS.get("controller") is None or _THREADS.get("scipy") != scipy_loaded:
        from threadpoolctl import ThreadpoolController

        _THREADS["controller"], _THREADS["scipy"] = ThreadpoolController(), scipy_loaded
    return _THREADS["controller"]


def map_blocks(backend, function, X, w, runs=None):
    """``function(X_block, w_block)`` for each of the backend's blocks of rows, results in row order.

    With a backend whose kernels may run concurrently, blocks are computed on a
    thread pool with BLAS limited to one thread per block; callers add the
    results in order, so the sum is the same whatever the thread count.
    ``runs`` (block counts covering ``X``) hands ``function(X_run, w_run, size, start)``
    runs of blocks instead, one call per run (``start``: the run's first row in ``X``).
    """
    block_rows = backend.BLOCK_ROWS
    if runs is None:
        blocks = [(X[s:s + block_rows], None if w is None else w[s:s + block_rows])
                  for s in range(0, X.shape[0], block_rows)]
    else:
        starts = np.cumsum([0] + list(runs)) * block_rows
        blocks = [(X[a:b], None if w is None else w[a:b], size, int(a)) for a, b, size in zip(starts, starts[1:], runs)]
    if not getattr(backend, "CONCURRENT_BLOCKS", False):
        return [function(*b) for b in blocks]
    # One BLAS thread per block: idle BLAS threads spinning beside the block
    # threads would take the cores from them.
    with _blas_controller().limit(limits=1, user_api="blas"):
        if len(blocks) < 2 or _THREADS["n"] < 2:
            return [function(*b) for b in blocks]
        if _THREADS["pool"] is None:
            _THREADS["pool"] = ThreadPoolExecutor(_THREADS["n"], thread_name_prefix="suffstats")
        return list(_THREADS["pool"].map(lambda b: function(*b), blocks))
