"""What every Gaussian mixture shares, fitted by EM or by variational Bayes: the E-step and the scoring.

A row's log-density under component ``j`` is the Gaussian log-density at
``means_[j]`` with precision Cholesky factor ``precisions_cholesky_[j]``, plus
a per-component offset (:meth:`GaussianComponents._log_offsets`): the log of
the weight for :class:`~suffstats.GaussianMixture`, the expected log-weight and
precision terms for :class:`~suffstats.BayesianGaussianMixture`. Everything
computed from that -- the block statistics of the E-step, ``score_samples``,
``predict``, ``predict_proba``, scoring on a device -- is written here once.
A subclass adds its parameters, its M-step (``_estimate``) and its fit.
"""

from __future__ import annotations

import numpy as np

from .._estimator import DensityMixin, Estimator, check_fitted, warn_not_converged
from .._feature_names import check_feature_names
from .._transaction import transactional
from .._validation import check_batch, check_positive_int, check_weights, json_numbers
from ..backends import get_backend
from ..backends.gaussian_math import logsumexp
from ..data.source import as_source
from ..distributed import as_strategy
from ..distributions.covariance import covariance_type as _strategy
from ..fit.driver import EMSettings
from ..fit.estimator import fit_model, refuse_all_zero_weights, settings_fingerprint
from . import _on_device as on_device
from ._engine import MixtureEngine
from ._missing import marginal_block, marginal_log_prob
from ._moments import ComponentMoments
from ._on_device import device_namespace
from ._params import check_settings, check_warm_start, map_batches

__all__ = ["GaussianComponents", "precisions_from_cholesky"]


def precisions_from_cholesky(covariance_type, precisions_cholesky):
    """Precision matrices (or variances' inverses) from their Cholesky factors, in scikit-learn's shapes."""
    P = precisions_cholesky
    if covariance_type == "full":
        return P @ np.transpose(P, (0, 2, 1))
    if covariance_type == "tied":
        return P @ P.T
    return P**2


class GaussianComponents(MixtureEngine, DensityMixin, Estimator, abstract=True):
    """Base of the Gaussian mixtures: Gaussian components around ``means_``, scored batch by batch.

    A subclass sets ``means_``, ``precisions_cholesky_``, ``covariances_`` and
    ``weights_`` and may override :meth:`_log_offsets`; it has the
    parameters ``n_components``, ``covariance_type``, ``batch_size``,
    ``backend``, ``compute_dtype``, ``random_state`` and ``missing``.
    """

    missing = "error"
    #: Settings a warm start must find as they were at the fit that made the parameters.
    _warm_start_settings = ("covariance_type",)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing == "marginalize"
        return tags

    @property
    def _cov(self):
        return _strategy(self.covariance_type)

    def _check_fitted(self):
        check_fitted(self, "means_")

    def _validate_batch(self, X, w, row_offset):
        X = check_batch(X, n_features=getattr(self, "n_features_in_", None), row_offset=row_offset,
                        owner=type(self).__name__, missing=self.missing)
        return X, check_weights(w, X.shape[0], row_offset=row_offset)

    def _shifts(self):
        return np.asarray(self.means_, dtype=np.float64)

    def _new_accumulator(self):
        return ComponentMoments(self._shifts(), self._cov.layout)

    def _accumulator_from_statistics(self, stats):
        return ComponentMoments.checked(stats, self.n_components, self.n_features_in_, self._cov.layout)

    def _kernel_parameters(self):
        """Means, precision Cholesky factors and per-component log-offsets as float64, as the kernels take them."""
        return self._shifts(), np.asarray(self.precisions_cholesky_, dtype=np.float64), self._log_offsets()

    def _log_offsets(self):
        """What is added to each component's Gaussian log-density: the log-weights of a mixture."""
        return np.log(np.asarray(self.weights_, dtype=np.float64))

    def _block_kernel(self):
        kernels = get_backend(self.backend, "gaussian")
        means, precisions_cholesky, log_weights = self._kernel_parameters()
        covariance_type, dtype = self.covariance_type, np.dtype(self.compute_dtype)

        def block(X, w):
            return kernels.gaussian_block(X, w, means, precisions_cholesky, log_weights, covariance_type, dtype)

        if self.missing == "marginalize":
            layout = self._cov.layout

            def marginal(X, w):
                return marginal_block(block, X, w, means, precisions_cholesky, log_weights, covariance_type, layout)

            return kernels, marginal
        return kernels, block

    # -- fitting -------------------------------------------------------------------------
    def fit(self, X, y=None, sample_weight=None, checkpoint=None, checkpoint_every=None, client=None):
        """Fit over ``X`` (every epoch one exact pass); returns ``self``.

        Parameters
        ----------
        X : array, memory map, path or batch source
            See :func:`suffstats.data.as_source`.
        y : ignored
            Not used; present for scikit-learn's API.
        sample_weight : array_like of shape (n_samples,), optional
            Weight of each row (an integer weight is the row repeated).
        checkpoint : str or path-like, optional
            A file to write the state of the fit to; running the same fit again
            with the same file resumes it, ending bit for bit where an
            uninterrupted fit would. A file made for other data or settings, or
            a corrupted one, is refused.
        checkpoint_every : int, optional
            Write the checkpoint after this many batches. By default it is
            written after every minute of work (a crash loses at most about a
            minute), and always after each epoch.
        client : distributed.Client or suffstats.distributed.DaskAccumulation, optional
            Gather each epoch's statistics on this Dask cluster: the workers read
            their own rows (``X`` a file path or a ``dask.array``) and the fit is
            bit for bit the local one. Only an explicit client is used.
        """
        self._fit(X, sample_weight, checkpoint, checkpoint_every, client)
        return self

    @transactional
    def _fit(self, X, sample_weight, checkpoint=None, checkpoint_every=None, client=None):
        """Fit as one transaction: a refused or failed fit leaves the model as it was."""
        return self._run_fit(X, sample_weight, checkpoint, checkpoint_every, client)

    def _run_fit(self, X, sample_weight, checkpoint, checkpoint_every, client=None):
        check_feature_names(self, X, reset=True)
        check_settings(self)
        source = as_source(X)
        if source.n_rows < self.n_components:
            raise ValueError(f"Expected n_samples >= n_components but got n_components = {self.n_components}, "
                             f"n_samples = {source.n_rows}")
        if sample_weight is not None:
            sample_weight = check_weights(sample_weight, source.n_rows)
            refuse_all_zero_weights(sample_weight)
        warm = self.warm_start and hasattr(self, "means_")
        if warm:
            check_warm_start(self, source.n_features)
        checkpoint_every = check_positive_int(checkpoint_every, "checkpoint_every", allow_none=True)
        strategy = as_strategy(client)
        self.n_features_in_ = source.n_features
        self._prepare_fit(source, sample_weight, strategy)
        # Parameters are kept in float32 for float32 data, as scikit-learn does; statistics stay float64.
        self._dtype = np.float32 if source.dtype == np.float32 else np.float64
        if warm:
            self._load_fit_parameters(self._fit_parameters())
        self._pending = None
        fit_model(
            self, source, sample_weight, EMSettings.of(self), self.n_init, warm=warm, checkpoint=checkpoint,
            checkpoint_every=checkpoint_every, fingerprint=self._checkpoint_fingerprint(sample_weight),
            strategy=strategy)
        # What a warm start must find unchanged: the parameters' meaning depends on these settings, not only shapes.
        self._fitted_settings = {name: getattr(self, name) for name in self._warm_start_settings}
        if not self.converged_ and self.max_iter > 0:
            warn_not_converged("Best performing initialization did not converge. Try different init parameters, "
                          "or increase max_iter, tol, or check for degenerate data.")
        return self

    def _record_history(self, history):
        self.converged_, self.n_iter_ = history.converged, history.n_iter
        self.lower_bound_, self.lower_bounds_ = history.lower_bound, list(history.lower_bounds)

    def _prepare_fit(self, source, sample_weight, strategy):
        """Work before the first initialisation, once per fit (checked settings, the data's shape known)."""

    def _checkpoint_fingerprint(self, sample_weight):
        """The settings a checkpoint of this model must match."""
        return settings_fingerprint(self.get_params(), sample_weight, exact=self.batches_per_epoch is None)

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the most likely component of each row.

        Parameters
        ----------
        X : array, memory map, path or batch source
            Rows with the features of the fit, read batch by batch (see
            :func:`suffstats.data.as_source`).
        y : ignored
            Not used; present for scikit-learn's API.
        sample_weight : array_like of shape (n_samples,), optional
            Weight of each row in the fit.

        Returns
        -------
        ndarray of int, shape (n_samples,)
        """
        return self._fit(X, sample_weight).predict(X)

    # -- prediction and scoring ---------------------------------------------------------------
    def _weighted_log_prob(self, X):
        means, precisions_cholesky, log_weights = self._kernel_parameters()

        def complete(B):
            return get_backend(self.backend, "gaussian").weighted_log_prob(
                B, means, precisions_cholesky, log_weights, self.covariance_type, np.dtype(self.compute_dtype))

        if self.missing == "marginalize":
            return marginal_log_prob(complete, X, means, precisions_cholesky, log_weights, self.covariance_type)
        return complete(X)

    def score_samples(self, X):
        """Log-density of each row, batch by batch.

        Parameters
        ----------
        X : array, memory map, path or batch source
            Rows with the features of the fit, read batch by batch (see
            :func:`suffstats.data.as_source`); a CuPy array is scored on the
            device and the result is a CuPy array.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_fitted(self, "means_")
        if device_namespace(X) is not None:  # CuPy rows are scored on the device, a CuPy array comes back
            return on_device.log_density(self, X)
        return map_batches(self, X, lambda B: logsumexp(self._weighted_log_prob(B), axis=1))

    def score(self, X, y=None):
        """Mean log-density per row.

        Parameters
        ----------
        X : array, memory map, path or batch source
            Rows with the features of the fit, read batch by batch (see
            :func:`suffstats.data.as_source`).
        y : ignored
            Not used; present for scikit-learn's API.

        Returns
        -------
        float
        """
        scores = self.score_samples(X)
        xp = device_namespace(scores)
        return float(np.mean(scores) if xp is None else xp.mean(scores))

    def predict_proba(self, X):
        """Posterior probability of each component for each row.

        Parameters
        ----------
        X : array, memory map, path or batch source
            Rows with the features of the fit, read batch by batch (see
            :func:`suffstats.data.as_source`); a CuPy array is scored on the
            device and the result is a CuPy array.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
        """
        check_fitted(self, "means_")
        if device_namespace(X) is not None:
            return on_device.posterior(self, X)

        def proba(B):
            lp = self._weighted_log_prob(B)
            return np.exp(lp - logsumexp(lp, axis=1, keepdims=True))

        return map_batches(self, X, proba)

    def predict(self, X):
        """Most likely component of each row.

        Parameters
        ----------
        X : array, memory map, path or batch source
            Rows with the features of the fit, read batch by batch (see
            :func:`suffstats.data.as_source`); a CuPy array is scored on the
            device and the result is a CuPy array.

        Returns
        -------
        ndarray of int, shape (n_samples,)
        """
        check_fitted(self, "means_")
        if device_namespace(X) is not None:
            return on_device.most_likely(self, X)
        return map_batches(self, X, lambda B: np.argmax(self._weighted_log_prob(B), axis=1))

    def sample(self, n_samples=1):
        """Draw ``n_samples`` rows; returns ``(X, component labels)``.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows (at least 1); drawn with ``random_state``, as scikit-learn does.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        labels : ndarray of int, shape (n_samples,)
        """
        check_fitted(self, "means_")
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ValueError(f"Invalid value for 'n_samples': {n_samples!r}. It must be an integer, at least 1.")
        rng = np.random.default_rng(self.random_state)
        weights = np.asarray(self.weights_, dtype=np.float64)
        counts = rng.multinomial(n_samples, weights / weights.sum())
        X = np.vstack([self._cov.sample(rng, self.means_[j], self.covariances_, j, c) for j, c in enumerate(counts)])
        return X, np.repeat(np.arange(self.n_components), counts)

    # -- persistence shared by the Gaussian mixtures -------------------------------------------------
    @classmethod
    def _settings_from_dict(cls, data):
        """A model built from a JSON document's ``settings``, every parameter known and checked."""
        settings = data.get("settings")
        if not isinstance(settings, dict):
            raise ValueError(f"settings must be an object of {cls.__name__} parameters; got {settings!r:.40}")
        unknown = set(settings) - set(cls._get_param_names())
        if unknown:
            raise ValueError(f"settings has unknown parameters {sorted(unknown)}")
        model = cls(**settings)
        check_settings(model)
        return model

    def _history_from_dict(self, data):
        """``n_iter_``, ``converged_``, ``lower_bounds_`` and ``lower_bound_`` from a JSON document, checked."""
        lower_bounds = json_numbers(data.get("lower_bounds", []), "lower_bounds")
        if lower_bounds.ndim != 1:
            raise ValueError("lower_bounds must be a list of numbers")
        n_iter, converged = data.get("n_iter", 0), data.get("converged", False)
        if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 0:
            raise ValueError(f"n_iter must be a non-negative integer; got {n_iter!r:.40}")
        if not isinstance(converged, bool):
            raise ValueError(f"converged must be true or false; got {converged!r:.40}")
        self.n_iter_, self.converged_ = n_iter, converged
        self.lower_bounds_ = [float(v) for v in lower_bounds]
        self.lower_bound_ = self.lower_bounds_[-1] if self.lower_bounds_ else -np.inf
