"""Covariance types as strategy objects, for one or many Gaussian components.

Each strategy knows, for ``k`` components at once: which second moments its
statistics keep (the *layout*: the whole matrix, its diagonal or its trace),
how to turn centred scatter into covariances, the Cholesky factor of the precision, the
log-density and the parameter count. Shapes follow scikit-learn:

=========  ===============  ==================================
type       covariances      precisions_cholesky
=========  ===============  ==================================
full       (k, d, d)        (k, d, d), upper-triangular
tied       (d, d)           (d, d)
diag       (k, d)           (k, d)
spherical  (k,)             (k,)
=========  ===============  ==================================
"""

from __future__ import annotations

import numpy as np

from .. import backends
from ..backends import gaussian_math

__all__ = ["COVARIANCE_TYPES", "covariance_type"]



class _Covariance:
    name = ""

    @property
    def layout(self):
        """How much of the second moments the statistics keep: "full", "diag" or "trace"."""
        return gaussian_math.layout_of(self.name)

    def estimate(self, scatter, weight, reg_covar, n_features):
        """Covariances from per-component scatter (k, d, d), (k, d) or (k,) and weights (k,)."""
        raise NotImplementedError

    def precision_cholesky(self, covariances):
        raise NotImplementedError

    def log_det(self, prec_chol, n_features, n_components):
        """``log det`` of each component's precision Cholesky factor, shape (k,)."""
        return gaussian_math.log_det(self.name, prec_chol, n_features, n_components)

    def whiten(self, Z, prec_chol, j):
        """Rows ``Z`` (centred at component j's mean) mapped so that their squared norm is the Mahalanobis distance."""
        return gaussian_math.whiten(self.name, Z, prec_chol, j)

    def log_prob(self, X, means, prec_chol):
        """Per-component Gaussian log-density of each row, shape (n, k)."""
        return gaussian_math.log_prob(X, means, prec_chol, self.name)

    def check(self, covariances, n_components, n_features):
        """Validate user-given covariances; returns them as float64."""
        cov = np.asarray(covariances, dtype=np.float64)
        shape = self.shape(n_components, n_features)
        if cov.shape != shape:
            raise ValueError(f"{self.name} covariances must have shape {shape}; got {cov.shape}")
        if not np.isfinite(cov).all():
            raise ValueError(f"{self.name} covariances must be finite; got {cov[~np.isfinite(cov)][0]}")
        return cov

    def shape(self, k, d):
        raise NotImplementedError

    def n_parameters(self, k, d):
        raise NotImplementedError

    def sample(self, rng, mean, covariances, j, n):
        raise NotImplementedError


def _cholesky(cov, which):
    from scipy import linalg  # here, not at import: SciPy takes a tenth of a second

    try:
        return linalg.cholesky(cov, lower=True)
    except linalg.LinAlgError:
        raise ValueError(
            f"covariance of {which} is not positive definite (collapsed or singular); "
            "increase reg_covar or check for duplicated or constant features"
        ) from None


def _precision_chol_from_cov(cov, which):
    from scipy import linalg

    chol = _cholesky(cov, which)
    return linalg.solve_triangular(chol, np.eye(cov.shape[0]), lower=True).T


def _one_blas_thread():
    """A context with BLAS on one thread: OpenBLAS wakes its threads for LAPACK calls on the smallest matrices,
    which then take milliseconds instead of microseconds (8 ms for a 4 x 4 triangular solve on two busy cores)."""
    import scipy.linalg  # noqa: F401  (loaded first, so that its BLAS is among those limited)

    return backends._blas_controller().limit(limits=1, user_api="blas")


class FullCovariance(_Covariance):
    name = "full"

    def estimate(self, scatter, weight, reg_covar, n_features):
        cov = scatter / weight[:, None, None]
        idx = np.arange(cov.shape[1])
        cov[:, idx, idx] += reg_covar
        return cov

    def precision_cholesky(self, covariances):
        with _one_blas_thread():
            return np.stack([_precision_chol_from_cov(c, f"component {j}") for j, c in enumerate(covariances)])

    def shape(self, k, d):
        return (k, d, d)

    def n_parameters(self, k, d):
        return k * d * (d + 1) // 2

    def check(self, covariances, n_components, n_features):
        cov = super().check(covariances, n_components, n_features)
        for j, c in enumerate(cov):
            if not np.allclose(c, c.T):
                raise ValueError(f"covariance of component {j} is not symmetric")
            self.precision_cholesky(c[None])
        return cov

    def sample(self, rng, mean, covariances, j, n):
        return rng.multivariate_normal(mean, covariances[j], size=n)


class TiedCovariance(FullCovariance):
    name = "tied"

    def estimate(self, scatter, weight, reg_covar, n_features):
        cov = scatter.sum(axis=0) / weight.sum()
        cov.flat[:: cov.shape[0] + 1] += reg_covar
        return cov

    def precision_cholesky(self, covariances):
        with _one_blas_thread():
            return _precision_chol_from_cov(covariances, "the tied covariance")

    def shape(self, k, d):
        return (d, d)

    def n_parameters(self, k, d):
        return d * (d + 1) // 2

    def check(self, covariances, n_components, n_features):
        cov = _Covariance.check(self, covariances, n_components, n_features)
        if not np.allclose(cov, cov.T):
            raise ValueError("the tied covariance is not symmetric")
        self.precision_cholesky(cov)
        return cov

    def sample(self, rng, mean, covariances, j, n):
        return rng.multivariate_normal(mean, covariances, size=n)


class DiagCovariance(_Covariance):
    name = "diag"

    def estimate(self, scatter, weight, reg_covar, n_features):
        return scatter / weight[:, None] + reg_covar

    def precision_cholesky(self, covariances):
        _check_positive(covariances)
        return 1.0 / np.sqrt(covariances)

    def shape(self, k, d):
        return (k, d)

    def n_parameters(self, k, d):
        return k * d

    def check(self, covariances, n_components, n_features):
        cov = super().check(covariances, n_components, n_features)
        _check_positive(cov)
        return cov

    def sample(self, rng, mean, covariances, j, n):
        return mean + rng.standard_normal((n, mean.shape[0])) * np.sqrt(covariances[j])


class SphericalCovariance(DiagCovariance):
    name = "spherical"

    def estimate(self, scatter, weight, reg_covar, n_features):
        return scatter / (weight * n_features) + reg_covar

    def shape(self, k, d):
        return (k,)

    def n_parameters(self, k, d):
        return k

    def sample(self, rng, mean, covariances, j, n):
        return mean + rng.standard_normal((n, mean.shape[0])) * np.sqrt(covariances[j])


def _check_positive(cov):
    bad = ~(cov > 0) | ~np.isfinite(cov)
    if bad.any():
        j = np.argwhere(bad)[0]
        raise ValueError(f"variances must be positive and finite; entry {tuple(int(i) for i in j)} is {cov[tuple(j)]}")


COVARIANCE_TYPES = {c.name: c() for c in (FullCovariance, TiedCovariance, DiagCovariance, SphericalCovariance)}


def covariance_type(name, allowed=tuple(COVARIANCE_TYPES)):
    """Look up a covariance strategy by name, with a clear error."""
    if name not in allowed:
        raise ValueError(f"covariance_type must be one of {list(allowed)}; got {name!r}")
    return COVARIANCE_TYPES[name]
