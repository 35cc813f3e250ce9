"""What a backend module provides: the declared interface between the models and the kernels.

A backend is a module registered by name in :mod:`suffstats.backends`. Its
kernels take plain arrays (NumPy, or the device's arrays) and strings -- a
covariance type or a statistics layout -- and return plain arrays and floats;
no model object ever crosses this line. The NumPy reference
(:mod:`suffstats.backends.numpy_kernels`) defines the results; every backend
agrees with it to rounding, block for block.

Adding a device is one module that satisfies :class:`Backend` and one
``register_lazy`` line.
"""

from __future__ import annotations

from typing import Optional, Protocol, Tuple, runtime_checkable

import numpy as np

__all__ = ["Backend", "BlockStatistics", "check_backend"]

#: ``(Σw, Σw·log p, Σw·r_j (k,), Σw·r_j(x-μ_j) (k, d), second moments in the layout or None)``.
BlockStatistics = Tuple[float, float, np.ndarray, np.ndarray, Optional[np.ndarray]]


@runtime_checkable
class Backend(Protocol):
    """The kernels and declarations of a backend module.

    Attributes
    ----------
    BLOCK_ROWS : int
        Rows per accumulation block. Statistics are computed per block and
        added in block order, so results do not depend on how rows were
        batched; the EM driver aligns its reads to this size.
    CONCURRENT_BLOCKS : bool
        Whether blocks may be computed concurrently on threads (the kernels
        release the GIL and are single-threaded).
    """

    BLOCK_ROWS: int
    CONCURRENT_BLOCKS: bool

    def weighted_log_prob(self, X, means, prec_chol, log_weights, covariance_type: str,
                          dtype=np.float64) -> np.ndarray:
        """``log π_j + log N(x | μ_j, Σ_j)`` of each row and component, shape (n, k)."""

    def gaussian_block(self, X, w, means, prec_chol, log_weights, covariance_type: str,
                       dtype=np.float64) -> BlockStatistics:
        """Fused E-step and accumulation of one block, moments around ``means``."""

    def squared_distances(self, X, centers) -> np.ndarray:
        """Squared Euclidean distance of each row to each centre, shape (n, k)."""

    def nearest_block(self, X, w, centers, layout: Optional[str] = None) -> BlockStatistics:
        """Hard-assignment statistics of one block, moments around ``centers``."""

    # Optional: the one-pass kernels of univariate summarize (``univariate_sums``, ``univariate_moments``,
    # ``univariate_range``, ``category_counts``; see suffstats.backends.numba_univariate). A backend without
    # them leaves the univariate families on their checked NumPy path.


def check_backend(module, name):
    """Refuse a registered module that does not provide the interface, naming what is missing."""
    missing = [attr for attr in ("BLOCK_ROWS", "CONCURRENT_BLOCKS", "weighted_log_prob", "gaussian_block",
                                 "squared_distances", "nearest_block") if not hasattr(module, attr)]
    if missing:
        raise TypeError(f"backend {name!r} ({module.__name__}) does not provide {missing}")
    return module
