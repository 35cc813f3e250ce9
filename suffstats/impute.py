"""Missing values filled from a Gaussian mixture fitted by exact EM on the rows with holes, out of core."""

from __future__ import annotations

import numbers
import os

import numpy as np
from ._estimator import Estimator, TransformerMixin, check_fitted

from .backends.gaussian_missing import conditional_draws, conditional_means
from .data.blocks import batch_ranges
from .data.source import as_source
from .mixture import GaussianMixture
from .mixture._params import SCORING_BATCH

__all__ = ["GaussianMixtureImputer"]


def _is_nan(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isnan(value)


class GaussianMixtureImputer(TransformerMixin, Estimator):
    """Fill missing values with their conditional expectation under a Gaussian mixture fitted with holes.

    ``fit`` fits a :class:`~suffstats.GaussianMixture` with
    ``missing="marginalize"`` -- exact EM for data missing at random, over
    data of any size (arrays, memory maps, ``.npy`` paths and every source of
    :func:`suffstats.data.as_source`). ``transform`` replaces each hole of a
    row by ``E[x_m | x_o] = Σ_j p(j | x_o)·E_j[x_m | x_o]`` under the fitted
    mixture, or, with ``sample_posterior=True``, by a draw from
    ``p(x_m | x_o)`` (for multiple imputation). Observed values are kept as
    they are. ``transform(X, out=path)`` streams the rows batch by batch into
    a ``.npy`` file opened as a memory map, so neither input nor output is
    ever loaded whole.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components of the model the holes are filled from.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        ``"diag"`` and ``"spherical"`` components have independent
        coordinates: within a component a hole is filled by its mean.
    missing_values : float, default=np.nan
        The value that marks a hole. Values other than NaN need the data in
        memory (an array); files and memory maps must use NaN.
    sample_posterior : bool, default=False
        Fill with a draw from the conditional distribution instead of its mean.
    tol, reg_covar, max_iter, n_init, init_params, random_state, batch_size, backend
        As in :class:`~suffstats.GaussianMixture`. ``random_state`` also seeds
        the draws of ``sample_posterior``.

    Attributes
    ----------
    mixture_ : GaussianMixture
        The fitted mixture.
    n_features_in_ : int
    n_iter_ : int
        EM iterations of the fit.

    Notes
    -----
    A row with every value missing is filled with the mixture's mean
    ``Σ_j π_j μ_j`` (and adds nothing to the fit). A column with no observed
    value in the rows sampled for initialisation is refused. Infinities are
    refused, naming their row and column.

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats import GaussianMixtureImputer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.multivariate_normal([0, 0], [[1, 0.9], [0.9, 1]], size=2000)
    >>> X_missing = X.copy()
    >>> X_missing[::4, 1] = np.nan
    >>> filled = GaussianMixtureImputer(random_state=0).fit_transform(X_missing)
    >>> bool(np.isnan(filled).any())
    False
    >>> rmse = np.sqrt(np.mean((filled[::4, 1] - X[::4, 1]) ** 2))   # about sqrt(1 - 0.9²) = 0.44
    >>> bool(rmse < 0.5)
    True
    """

    def __init__(self, n_components=1, *, covariance_type="full", missing_values=np.nan, sample_posterior=False,
                 tol=1e-3, reg_covar=1e-6, max_iter=100, n_init=1, init_params="kmeans", random_state=None,
                 batch_size=None, backend="numba"):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.missing_values = missing_values
        self.sample_posterior = sample_posterior
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.batch_size = batch_size
        self.backend = backend

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _holes_as_nan(self, X):
        """``X`` with its ``missing_values`` as NaN (NaN data passes through untouched, memory maps included)."""
        if _is_nan(self.missing_values):
            return X
        if not isinstance(self.missing_values, numbers.Real) or isinstance(self.missing_values, bool):
            raise ValueError(f"missing_values must be a number or np.nan; got {self.missing_values!r}")
        if isinstance(X, (str, os.PathLike)) or not hasattr(X, "__array__"):
            raise ValueError("missing_values other than NaN need the data in memory as an array; mark the holes "
                             "of a file with NaN")
        arr = np.array(X, dtype=np.float64)
        arr[arr == self.missing_values] = np.nan
        return arr

    def fit(self, X, y=None, sample_weight=None):
        """Fit the mixture to ``X`` by exact EM with its holes marginalised; returns ``self``.

        Parameters
        ----------
        X : array, memory map, path or batch source
            Rows with holes (``missing_values``), read batch by batch.
        y : ignored
            Not used; present for scikit-learn's API.
        sample_weight : array_like of shape (n_samples,), optional
            Weight of each row in the fit.
        """
        if not isinstance(self.sample_posterior, (bool, np.bool_)):
            raise ValueError(f"sample_posterior must be True or False; got {self.sample_posterior!r}")
        mixture = GaussianMixture(
            self.n_components, covariance_type=self.covariance_type, tol=self.tol, reg_covar=self.reg_covar,
            max_iter=self.max_iter, n_init=self.n_init, init_params=self.init_params,
            random_state=self.random_state, batch_size=self.batch_size, backend=self.backend,
            missing="marginalize").fit(self._holes_as_nan(X), sample_weight=sample_weight)
        self.mixture_ = mixture
        self.n_features_in_, self.n_iter_ = mixture.n_features_in_, mixture.n_iter_
        return self

    def transform(self, X, out=None):
        """``X`` with every hole filled, computed batch by batch.

        Parameters
        ----------
        X : array, memory map, path or batch source
            Rows with holes, read batch by batch.
        out : str, path-like or ndarray, optional
            Where to write the result: a ``.npy`` path (created as a float64
            memory map of the shape of ``X``) or a writable float array of that
            shape. By default a new array in memory.

        Returns
        -------
        ndarray or numpy.memmap
            The filled rows (``out`` when given).
        """
        check_fitted(self, "mixture_")
        mixture = self.mixture_
        source = as_source(self._holes_as_nan(X))
        if source.n_rows == 0:
            mixture._validate_batch(source.read(0, 0), None, 0)  # raises: empty input
        shape = (source.n_rows, source.n_features)
        if out is None:
            result = np.empty(shape)
        elif isinstance(out, (str, os.PathLike)):
            result = np.lib.format.open_memmap(os.fspath(out), mode="w+", dtype=np.float64, shape=shape)
        else:
            result = out
            if not isinstance(result, np.ndarray) or result.shape != shape or result.dtype.kind != "f" \
                    or not result.flags.writeable:
                raise ValueError(f"out must be a writable float array of shape {shape} or a .npy path")
        means, prec_chol, log_weights = mixture._kernel_parameters()
        rng = np.random.default_rng(self.random_state) if self.sample_posterior else None
        for start, stop in batch_ranges(source.n_rows, self.batch_size or SCORING_BATCH):
            batch, _ = mixture._validate_batch(source.read(start, stop), None, start)
            if not np.isnan(batch).any():
                result[start:stop] = batch
            elif rng is None:
                result[start:stop] = conditional_means(batch, means, prec_chol, self.covariance_type, log_weights)[0]
            else:
                result[start:stop] = conditional_draws(batch, means, prec_chol, self.covariance_type, log_weights, rng)
        if isinstance(result, np.memmap):
            result.flush()
        return result
