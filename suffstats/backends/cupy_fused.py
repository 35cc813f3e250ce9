"""Launching the fused CUDA kernels of :mod:`suffstats.backends.cuda_sources` with CuPy; CuPy stream operations.

Not a registered backend yet: ``backend="cupy"`` still runs the array-API
formulas (``suffstats.backends.cupy_kernels``). This module is what
``benchmarks/device_check.py`` checks for parity against the NumPy reference
and measures; it becomes the CuPy backend's kernels once that check has
passed on a device. **Nothing in it has run on a GPU yet.** CuPy is imported
on first use, so the module imports (and its documentation builds) anywhere.

Every function takes and returns device arrays; statistics stay on the device
(``Σw`` and ``Σw·log p`` as 0-d arrays) until the caller brings the epoch's
total back once.
"""

from __future__ import annotations

import numpy as np

from . import cuda_sources
from .gaussian_math import layout_of, log_det

__all__ = ["FusedKernels", "CupyStreamOps", "unpack"]


def unpack(vector, n_features, n_components, layout):
    """Split a statistics vector of ``weighted_moments`` into ``(weight, value, resp, first, second)``.

    Examples
    --------
    >>> import numpy as np
    >>> v = np.arange(23.0)
    >>> weight, value, resp, first, second = unpack(v, 2, 3, "full")
    >>> float(weight), resp.tolist(), first.shape, second.shape
    (0.0, [2.0, 3.0, 4.0], (3, 2), (3, 2, 2))
    """
    d, k = n_features, n_components
    first_end = 2 + k + k * d
    second_shape = {"full": (k, d, d), "diag": (k, d), "trace": (k,)}.get(layout)
    second = None if second_shape is None else vector[first_end:].reshape(second_shape)
    return vector[0], vector[1], vector[2:2 + k], vector[2 + k:first_end].reshape(k, d), second


class FusedKernels:
    """The compiled module (built on first use) and one method per accumulation step."""

    def __init__(self):
        self._module = None

    def module(self):
        """The ``cupy.RawModule`` of every instance, compiled for the current device on first use."""
        if self._module is None:
            import cupy

            self._module = cupy.RawModule(code=cuda_sources.SOURCE, options=("--std=c++17",),
                                          name_expressions=cuda_sources.instance_names())
            self._module.compile()
        return self._module

    def _moments(self, X, w, resp, value, shifts, layout):
        import cupy

        n, d = X.shape
        k = shifts.shape[0]
        tiles = -(-n // cuda_sources.TILE_ROWS)
        entries = cuda_sources.moment_entries(d, k, layout)
        partial = cupy.empty((tiles, entries), dtype=cupy.float64)
        threads = cuda_sources.THREADS
        self.module().get_function(f"weighted_moments<{cuda_sources.LAYOUT_CODES[layout]}>")(
            (tiles,), (threads,),
            (X, w, resp, value, np.int64(n), np.int32(d), np.int32(k), shifts,
             np.int32(cuda_sources.TILE_ROWS), partial))
        out = cupy.empty(entries, dtype=cupy.float64)
        self.module().get_function("sum_tiles")(
            (-(-entries // threads),), (threads,), (partial, np.int32(tiles), np.int32(entries), out))
        return out

    @staticmethod
    def _inputs(X, w):
        import cupy

        X = cupy.ascontiguousarray(X, dtype=cupy.float64)
        w = cupy.ones(X.shape[0], dtype=cupy.float64) if w is None else cupy.ascontiguousarray(w, dtype=cupy.float64)
        return X, w

    def gaussian_vector(self, X, w, means, prec_chol, log_weights, covariance_type):
        """The block's Gaussian statistics as one device vector (``weighted_moments`` layout)."""
        import cupy

        X, w = self._inputs(X, w)
        n, d = X.shape
        k = means.shape[0]
        if not cuda_sources.covers(d, k):
            raise ValueError(f"no fused instance for {d} features and {k} components; use the array-API path")
        means = cupy.ascontiguousarray(means, dtype=cupy.float64)
        prec = cupy.ascontiguousarray(prec_chol, dtype=cupy.float64)
        det = cupy.ascontiguousarray(log_det(covariance_type, prec, d, k, cupy), dtype=cupy.float64)
        log_weights = cupy.ascontiguousarray(log_weights, dtype=cupy.float64)
        resp = cupy.empty((n, k), dtype=cupy.float64)
        value = cupy.empty(n, dtype=cupy.float64)
        code = cuda_sources.COVARIANCE_CODES[covariance_type]
        self.module().get_function(f"gaussian_responsibilities<{k}, {code}>")(
            (-(-n // cuda_sources.THREADS),), (cuda_sources.THREADS,),
            (X, w, np.int64(n), np.int32(d), means, prec, det, log_weights, resp, value))
        return self._moments(X, w, resp, value, means, layout_of(covariance_type))

    def gaussian_block(self, X, w, means, prec_chol, log_weights, covariance_type):
        """As :func:`suffstats.backends.numpy_kernels.gaussian_block`, on the device, results on the device."""
        d, k = X.shape[1], means.shape[0]
        return unpack(self.gaussian_vector(X, w, means, prec_chol, log_weights, covariance_type), d, k,
                      layout_of(covariance_type))

    def nearest_vector(self, X, w, centers, layout=None):
        """The block's hard-assignment statistics as one device vector."""
        import cupy

        X, w = self._inputs(X, w)
        n, d = X.shape
        k = centers.shape[0]
        if not cuda_sources.covers(d, k):
            raise ValueError(f"no fused instance for {d} features and {k} centres; use the array-API path")
        centers = cupy.ascontiguousarray(centers, dtype=cupy.float64)
        resp = cupy.empty((n, k), dtype=cupy.float64)
        value = cupy.empty(n, dtype=cupy.float64)
        self.module().get_function(f"nearest_assignment<{k}>")(
            (-(-n // cuda_sources.THREADS),), (cuda_sources.THREADS,),
            (X, w, np.int64(n), np.int32(d), centers, resp, value))
        return self._moments(X, w, resp, value, centers, layout)

    def nearest_block(self, X, w, centers, layout=None):
        """As :func:`suffstats.backends.numpy_kernels.nearest_block`, on the device, results on the device."""
        return unpack(self.nearest_vector(X, w, centers, layout), X.shape[1], centers.shape[0], layout)


class CupyStreamOps:
    """The operations of :func:`suffstats.backends.streaming.stream_pass` with CuPy.

    Page-locked host buffers, a non-blocking copy stream, the current stream
    as the compute stream, events guarding buffer reuse.
    """

    def __init__(self):
        import cupy

        self._cupy = cupy

    def host_buffer(self, rows, n_features):
        cupy = self._cupy

        def pinned(shape):
            count = int(np.prod(shape))
            memory = cupy.cuda.alloc_pinned_memory(max(count, 1) * 8)
            return np.frombuffer(memory, dtype=np.float64, count=count).reshape(shape)
        return pinned((rows, n_features)), pinned((rows,))

    def device_buffer(self, rows, n_features):
        cupy = self._cupy
        return cupy.empty((rows, n_features), dtype=cupy.float64), cupy.empty(rows, dtype=cupy.float64)

    def stream(self, name):
        cupy = self._cupy
        if name == "compute":
            return cupy.cuda.get_current_stream()
        return cupy.cuda.Stream(non_blocking=True)

    def copy(self, host, device, rows, stream, weighted):
        device[0][:rows].set(host[0][:rows], stream=stream)
        if weighted:
            device[1][:rows].set(host[1][:rows], stream=stream)

    def record(self, stream):
        return stream.record()

    def wait(self, stream, event):
        stream.wait_event(event)

    def synchronize(self, event):
        event.synchronize()

    def to_host(self, value):
        return self._cupy.asnumpy(value)
