"""CuPy backend: the reference formulas on an NVIDIA GPU, device arrays in, host statistics out.

Every kernel moves its block to the device (a no-op for CuPy arrays), runs the
array-API formulas of :mod:`suffstats.backends.numpy_kernels` with CuPy as the
namespace -- the large products go to cuBLAS -- and returns the block's few
statistics to the host, where they are summed over the fixed block tree like
every other backend's. Blocks are larger than on the CPU (fewer launches) and
run one after another on the current stream.

What this backend does not do yet: fused element-wise kernels, pinned-memory
double buffering from the reader thread, statistics kept on the device for a
whole epoch, ``device_cache``. Its results agree with the NumPy reference to
rounding; it is selected with ``backend="cupy"`` and needs the ``cuda12`` or
``cuda13`` extra.
"""

from __future__ import annotations

import numpy as np

from ..data.blocks import BLOCK_ROWS as _CPU_BLOCK_ROWS
from . import numpy_kernels

_INSTALL = "pip install 'suffstats[cuda12]' (or [cuda13] for CUDA 13)"
try:
    import cupy
except ImportError:  # registered lazily: only ``backend="cupy"`` reaches this
    raise ValueError(f"backend 'cupy' needs CuPy, which is not installed: {_INSTALL}") from None
try:
    _DEVICES = cupy.cuda.runtime.getDeviceCount()
except Exception as error:  # noqa: BLE001 -- CuPy raises its own CUDA errors: a driver or runtime is missing
    raise ValueError(f"backend 'cupy' needs an NVIDIA driver and CUDA runtime ({error}); {_INSTALL}") from None
if not _DEVICES:
    raise ValueError("backend 'cupy' needs an NVIDIA GPU, and none is visible (CUDA_VISIBLE_DEVICES?)")

__all__ = ["BLOCK_ROWS", "CONCURRENT_BLOCKS", "weighted_log_prob", "gaussian_block", "squared_distances",
           "nearest_block"]

#: Rows per accumulation block: 16 CPU blocks, so one launch sees enough rows to fill the device.
BLOCK_ROWS = 16 * _CPU_BLOCK_ROWS
#: Blocks run one after another on the device's stream.
CONCURRENT_BLOCKS = False


def _device(array):
    return None if array is None else cupy.asarray(array, dtype=cupy.float64)


def _host(value):
    """A device array as NumPy (floats stay floats); ``None`` passes through."""
    return value.get() if hasattr(value, "get") else value


def weighted_log_prob(X, means, prec_chol, log_weights, covariance_type, dtype=np.float64):
    """``log π_j + log N(x | μ_j, Σ_j)``, shape (n, k), as a NumPy array."""
    return _host(numpy_kernels.weighted_log_prob(_device(X), _device(means), _device(prec_chol),
                                                 _device(log_weights), covariance_type))


def gaussian_block(X, w, means, prec_chol, log_weights, covariance_type, dtype=np.float64):
    """Fused E-step and moments of one block on the device; the statistics come back to the host."""
    block = numpy_kernels.gaussian_block(_device(X), _device(w), _device(means), _device(prec_chol),
                                         _device(log_weights), covariance_type)
    return tuple(_host(v) for v in block)


def squared_distances(X, centers):
    """Squared distances to the centres, shape (n, k), as a NumPy array."""
    return _host(numpy_kernels.squared_distances(_device(X), _device(centers)))


def nearest_block(X, w, centers, layout=None):
    """Hard-assignment statistics of one block on the device; the statistics come back to the host."""
    block = numpy_kernels.nearest_block(_device(X), _device(w), _device(centers), layout)
    return tuple(_host(v) for v in block)
