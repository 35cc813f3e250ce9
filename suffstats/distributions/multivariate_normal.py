"""Multivariate normal distribution with full, diagonal or spherical covariance."""

from __future__ import annotations

import numpy as np

from .._validation import check_real
from ..statistics import Moments
from ._base import Distribution
from .covariance import covariance_type

#: Default ``reg_covar`` of every Gaussian component (scikit-learn's).
REG_COVAR = 1e-6


class MultivariateNormal(Distribution):
    """Multivariate normal over rows of ``d`` features.

    Parameters
    ----------
    mean : array_like of shape (d,), optional
        ``None`` until fitted.
    covariance : array_like, optional
        Shape (d, d) for ``"full"``, (d,) for ``"diag"``, a scalar for ``"spherical"``.
    covariance_type : {"full", "diag", "spherical"}, default="full"
        A full matrix, one variance per feature, or one variance for all features.
    reg_covar : float, default=1e-6
        Added to the diagonal of every estimated covariance, so that a
        covariance estimated from one row, or from constant or duplicated
        features, stays positive definite. The default is scikit-learn's and
        :class:`suffstats.GaussianMixture`'s; pass ``reg_covar=0`` for the
        plain maximum-likelihood estimate.
    inertia : float in [0, 1], default=0
        Weight of the old parameters in an update:
        ``new = inertia * old + (1 - inertia) * estimate``.
    frozen : bool, default=False
        A frozen distribution ignores updates (``from_summaries`` keeps its parameters).
    missing : {"error", "marginalize"}, default="error"
        What a NaN in the data means: refused, naming its row, or a value
        missing at random (see :class:`Distribution`).

    Notes
    -----
    Statistics are ``Σw``, ``Σw(x-c)`` and ``Σw(x-c)(x-c)ᵀ`` (its diagonal or trace)
    around a fixed shift ``c`` -- the first row summarized -- so the estimate is
    accurate for data far from the origin.

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats import MultivariateNormal
    >>> X = np.random.default_rng(0).normal(size=(1000, 3)) + 1e8
    >>> d = MultivariateNormal(reg_covar=0.0)
    >>> for batch in np.array_split(X, 3):
    ...     d.summarize(batch)
    >>> d.from_summaries()
    >>> bool(np.allclose(d.covariance, np.cov(X.T, bias=True), rtol=1e-9))
    True
    """

    ndim = 2
    parameter_names = ("mean", "covariance")
    handles_missing = True

    def __init__(self, mean=None, covariance=None, *, covariance_type="full", reg_covar=REG_COVAR,
                 inertia=0.0, frozen=False, missing="error"):
        super().__init__(inertia=inertia, frozen=frozen, missing=missing)
        self.covariance_type = covariance_type
        self._cov = _covariance_strategy(covariance_type)
        self.reg_covar = check_real(reg_covar, "reg_covar", minimum=0.0)
        self._set_parameters({"mean": mean, "covariance": covariance})

    def _set_parameters(self, params):
        mean, cov = params["mean"], params["covariance"]
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        if self.mean is not None and (self.mean.ndim != 1 or not np.isfinite(self.mean).all()):
            raise ValueError(f"mean must be a finite 1-D array; got {mean!r}")
        self.covariance, self._prec_chol = None, None
        if cov is not None:
            if self.mean is None:
                raise ValueError("covariance given without a mean")
            stacked = self._cov.check(np.asarray(cov, dtype=np.float64)[None], 1, self.mean.shape[0])
            self.covariance = stacked[0]
            self._prec_chol = self._cov.precision_cholesky(stacked)

    def _n_features(self):
        return None if self.mean is None else self.mean.shape[0]

    def _statistics(self, X, w, shift=None):
        return Moments.of(X, w, shift=X[0] if shift is None else shift, layout=self._cov.layout)

    def _statistics_signature(self):
        return ("moments", self._n_features(), self._cov.layout)

    def _continued_statistics(self, X, w, running):
        # Around the shift of the total they join, so that the values add exactly.
        return self._statistics(X, w, shift=None if running is None else running.shift)

    def _component_statistics(self, X, w):
        # Around the current mean: fixed for an epoch, so block sums are exact and stable.
        holes = np.isnan(X).any(axis=1)
        if not holes.any():
            return self._statistics(X, w, shift=self.mean)
        # Rows with holes (a mixture with missing="marginalize"): expected moments given the observed values.
        complete = self._statistics(X[~holes], None if w is None else w[~holes], shift=self.mean)
        wh = None if w is None else w[holes]
        from ..backends.gaussian_missing import expected_moments  # Numba: imported for rows with holes

        first, second = expected_moments(X[holes], wh, self.mean, self._prec_chol, self.covariance_type)
        weight = float(holes.sum()) if wh is None else float(np.sum(wh))
        return complete + Moments(weight, self.mean, first, second)

    @staticmethod
    def _total_weight(stats):
        return stats.weight

    def _estimate(self, stats):
        cov = self._cov.estimate(np.asarray(stats.scatter())[None], np.array([stats.weight]), self.reg_covar,
                                 stats.first.shape[0])
        return {"mean": stats.mean(), "covariance": cov[0]}

    @property
    def n_parameters(self):
        d = self._n_features()
        return d + self._cov.n_parameters(1, d)

    def _log_probability(self, X):
        holes = np.isnan(X).any(axis=1)
        if not holes.any():
            return self._cov.log_prob(X, self.mean[None], self._prec_chol)[:, 0]
        # Rows with holes: the marginal density of the observed values (1 for a row with none).
        out = np.empty(X.shape[0])
        out[~holes] = self._cov.log_prob(X[~holes], self.mean[None], self._prec_chol)[:, 0]
        from ..backends.gaussian_missing import incomplete_log_prob

        out[holes] = incomplete_log_prob(X[holes], self.mean[None], self._prec_chol, self.covariance_type)[:, 0]
        return out

    def _sample(self, n, rng):
        return self._cov.sample(rng, self.mean, self.covariance[None], 0, n)

    def _settings(self):
        return {"covariance_type": self.covariance_type, "reg_covar": self.reg_covar}

    @classmethod
    def _settings_from_dict(cls, data):
        return {"covariance_type": data.get("covariance_type", "full"), "reg_covar": data.get("reg_covar", REG_COVAR)}


def _covariance_strategy(name):
    return covariance_type(name, allowed=("full", "diag", "spherical"))
