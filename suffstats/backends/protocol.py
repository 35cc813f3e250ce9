"""What a backend module provides: the declared interface between the models and the kernels.

A backend is a module registered by name in :mod:`suffstats.backends`. Its
kernels take plain arrays (NumPy, or the device's arrays) and strings -- a
covariance type or a statistics layout -- and return plain arrays and floats;
no model object ever crosses this line. The NumPy reference
(:mod:`suffstats.backends.numpy_kernels`) defines the results; every backend
agrees with it to rounding, block for block.

Kernels come in capabilities (:data:`CAPABILITIES`: Gaussian, nearest-centre,
univariate); a backend provides any of them, each whole. Adding a device is
one module with the capabilities it has and one ``register_lazy`` line; a
model asks for the capability it needs (``get_backend(name, "gaussian")``) and
a backend without it is refused by name.
"""

from __future__ import annotations

from typing import Optional, Protocol, Tuple

import numpy as np

__all__ = ["Backend", "GaussianKernels", "NearestCentreKernels", "UnivariateKernels", "BlockStatistics", "CAPABILITIES",
           "UNIVARIATE_SUPPORTS", "capabilities", "check_backend", "require_capability"]

#: ``(Σw, Σw·log p, Σw·r_j (k,), Σw·r_j(x-μ_j) (k, d), second moments in the layout or None)``.
BlockStatistics = Tuple[float, float, np.ndarray, np.ndarray, Optional[np.ndarray]]


#: What a backend can compute, and the kernels each capability needs. A backend provides any of them, each whole:
#: a device with only Gaussian kernels is a Gaussian backend; asking it for k-means is refused by name.
CAPABILITIES = {
    "gaussian": ("weighted_log_prob", "gaussian_block"),
    "nearest-centre": ("squared_distances", "nearest_block"),
    "univariate": ("univariate_sums", "univariate_moments", "univariate_range", "category_counts"),
}

#: Supports the one-pass univariate sums check a value against (``univariate_sums(x, w, code)``; the code is the
#: position in this tuple). A family names its support (``fast_support = "counts"``).
UNIVARIATE_SUPPORTS = ("any", "non-negative", "counts", "binary", "trials")


class Backend(Protocol):
    """What every backend module declares.

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


class GaussianKernels(Backend, Protocol):
    """The ``"gaussian"`` capability: a Gaussian mixture's E-step and accumulation."""

    def weighted_log_prob(self, X, means, prec_chol, log_weights, covariance_type: str,
                          dtype=np.float64) -> np.ndarray:
        """``log π_j + log N(x | μ_j, Σ_j)`` of each row and component, shape (n, k)."""

    def gaussian_block(self, X, w, means, prec_chol, log_weights, covariance_type: str,
                       dtype=np.float64) -> BlockStatistics:
        """Fused E-step and accumulation of one block, moments around ``means``."""


class NearestCentreKernels(Backend, Protocol):
    """The ``"nearest-centre"`` capability: k-means and hard-assignment initialisation."""

    def squared_distances(self, X, centers) -> np.ndarray:
        """Squared Euclidean distance of each row to each centre, shape (n, k)."""

    def nearest_block(self, X, w, centers, layout: Optional[str] = None) -> BlockStatistics:
        """Hard-assignment statistics of one block, moments around ``centers``."""


class UnivariateKernels(Backend, Protocol):
    """The ``"univariate"`` capability: one-pass, validating statistics of the univariate families.

    Each returns an ``ok`` flag first, False on any value the checked NumPy
    path would refuse (that path then runs and names the row); see
    ``suffstats.backends.numba_univariate``.
    """

    def univariate_sums(self, x, w, support: int):
        """``(ok, Σw, Σw·x)``, values checked against ``UNIVARIATE_SUPPORTS[support]``."""

    def univariate_moments(self, x, w, c: float):
        """``(ok, Σw, Σw(x-c), Σw(x-c)²)``."""

    def univariate_range(self, x, w):
        """``(ok, Σw, min x, max x)`` over rows of positive weight."""

    def category_counts(self, x, w, n_categories: int):
        """``(ok, weighted counts of each category)``."""


def capabilities(module) -> tuple:
    """The capabilities whose every kernel ``module`` provides."""
    return tuple(c for c, kernels in CAPABILITIES.items() if all(hasattr(module, k) for k in kernels))


def check_backend(module, name):
    """Refuse a registered module that declares too little or provides part of a capability, naming what is missing."""
    missing = [attr for attr in ("BLOCK_ROWS", "CONCURRENT_BLOCKS") if not hasattr(module, attr)]
    for capability, kernels in CAPABILITIES.items():
        present = [k for k in kernels if hasattr(module, k)]
        if present and len(present) < len(kernels):
            missing += [f"{k} (for {capability!r})" for k in kernels if k not in present]
    if missing or not capabilities(module):
        what = missing or [f"the kernels of at least one capability ({', '.join(CAPABILITIES)})"]
        raise TypeError(f"backend {name!r} ({module.__name__}) does not provide {', '.join(what)}")
    return module


def require_capability(module, name, capability):
    """``module``, or a ``ValueError`` saying that backend ``name`` cannot compute ``capability``."""
    if capability not in capabilities(module):
        raise ValueError(f"backend {name!r} has no {capability} kernels ({', '.join(CAPABILITIES[capability])}); "
                         f"it provides: {', '.join(capabilities(module))}")
    return module
