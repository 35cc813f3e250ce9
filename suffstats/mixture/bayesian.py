"""Variational Gaussian mixture: a drop-in for ``sklearn.mixture.BayesianGaussianMixture``, out of core.

Variational Bayes for a Gaussian mixture needs, per epoch, exactly what EM
needs: each component's responsibility-weighted count, mean and scatter
(:class:`~suffstats.mixture._moments.ComponentMoments`). The E-step is the
Gaussian one of every mixture with per-component offsets (the expected log
weights and the Wishart terms), so it runs through the same kernels; the
M-step below updates the posterior of the weights (a Dirichlet process's stick
breaking, or a Dirichlet distribution), of the means (Gaussian) and of the
precisions (Wishart) as scikit-learn does. The evidence lower bound needs the
entropy of the responsibilities, ``-Σ r log r``; it is recovered exactly from
the same statistics: ``Σ_n log Σ_k exp(lp_nk) - Σ_k Σ_n r_nk lp_nk``, the second
sum a closed form in the counts and scatter.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import json_numbers
from ..data.blocks import BLOCK_ROWS
from ..distributions._registry import SCHEMA_VERSION, register_family
from ..fit.driver import EMSettings, one_pass
from ._gaussian_base import GaussianComponents, precisions_from_cholesky
from ._initialize import HardAssignment, _check_shape, _float_array, assignment_backend, initial_plan
from ._moments import component_estimates
from ._params import check_settings

__all__ = ["BayesianGaussianMixture"]


def _special():
    from scipy import special  # on first use: SciPy takes a tenth of a second to import

    return special


def _log_wishart_norm(degrees_of_freedom, log_det_precisions_chol, n_features):
    """Log normaliser of the Wishart distribution, less the ``log π`` term (scikit-learn's simplification)."""
    gammaln = _special().gammaln
    return -(degrees_of_freedom * log_det_precisions_chol + degrees_of_freedom * n_features * 0.5 * np.log(2.0)
             + np.sum(gammaln(0.5 * (degrees_of_freedom - np.arange(n_features)[:, None])), 0))


class BayesianGaussianMixture(GaussianComponents):
    """Variational Bayesian Gaussian mixture, fitted exactly over data of any size.

    The constructor, defaults, fitted attributes and methods are those of
    :class:`sklearn.mixture.BayesianGaussianMixture`. Each epoch is one read of
    the data, and the result is the same bit for bit for every ``batch_size``,
    from memory or from a memory map, resumed from a checkpoint or gathered on
    a Dask cluster. Components the data does not need get a weight near zero
    (with the default Dirichlet process prior, a small
    ``weight_concentration_prior`` switches off more of them).

    Parameters
    ----------
    n_components : int, default=1
        The largest number of components.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        Each component's own full covariance, one shared by all, one variance
        per feature and component, or one variance per component.
    tol : float, default=1e-3
        Convergence threshold on the change of the lower bound. As in
        scikit-learn, the lower bound is a total over the rows, not a mean per
        row, so the default is strict on large data: scale ``tol`` with the
        number of rows (e.g. ``1e-6 * n_rows``) for a fit of millions of rows.
    reg_covar : float, default=1e-6
        Added to the diagonal of each component's scatter.
    max_iter : int, default=100
        Epochs of variational updates (one read of the data each).
    n_init : int, default=1
        Initialisations to run; the one with the highest lower bound is kept.
    init_params : {"kmeans", "kmeans_full", "k-means++", "random", "random_from_data", "first-k"}, default="kmeans"
        How initial responsibilities are made (see
        :class:`~suffstats.GaussianMixture`): on a uniform sample of
        ``init_sample_size`` rows, then one pass for ``kmeans``.
    weight_concentration_prior_type : {"dirichlet_process", "dirichlet_distribution"}, default="dirichlet_process"
        The prior on the weights: a (truncated) Dirichlet process, by stick
        breaking, or a Dirichlet distribution.
    weight_concentration_prior : float, optional
        ``1 / n_components`` by default.
    mean_precision_prior : float, optional
        1 by default.
    mean_prior : array_like of shape (n_features,), optional
        The mean of the data by default (one pass, before the first initialisation).
    degrees_of_freedom_prior : float, optional
        ``n_features`` by default; must exceed ``n_features - 1``.
    covariance_prior : float or array_like, optional
        The covariance of the data (``ddof=1``) by default, in the shape of
        ``covariance_type``: ``(n_features, n_features)`` for full and tied,
        ``(n_features,)`` for diag, a number for spherical.
    random_state : int, numpy Generator, RandomState or None
        Seed of the initialisation and of ``sample``; an int makes fits reproducible.
    warm_start : bool, default=False
        Start from the current parameters when refitting.
    verbose : int, default=0
        Print a line (epoch, change, lower bound, seconds) every ``verbose_interval`` epochs.
    verbose_interval : int, default=10
        Epochs between two printed lines when ``verbose`` is set.
    batch_size : int, optional
        Rows read per batch; ``None`` reads all rows at once.
    init_sample_size : int or None, default=100000
        Rows sampled for initialisation (``None``: all rows).
    callbacks : list of callables, optional
        Called after every epoch as ``callback(model, logs)``; ``logs["log_likelihood"]``
        holds the lower bound.
    progress : bool, default=False
        Show a progress bar over the rows of each pass.
    backend : {"numba", "numpy"}, default="numba"
        Kernel backend (see :mod:`suffstats.backends`).
    compute_dtype : {"float64", "float32"}, default="float64"
        Precision of the large products in the ``numba`` backend, as in
        :class:`~suffstats.GaussianMixture`; statistics are added in float64.

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_
        As in scikit-learn: ``covariances_`` is the Wishart scale divided by
        the degrees of freedom.
    weight_concentration_prior_, weight_concentration_
        ``weight_concentration_`` is a pair of arrays (the Beta parameters of
        each stick) for a Dirichlet process, an array for a Dirichlet distribution.
    mean_precision_prior_, mean_precision_, mean_prior_
    degrees_of_freedom_prior_, degrees_of_freedom_, covariance_prior_
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        The lower bound of the best run after its last epoch.
    lower_bounds_ : list of float
        The lower bound after each epoch of the best run.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats import BayesianGaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-5, 1, (500, 2)), rng.normal(5, 1, (500, 2))])
    >>> a = BayesianGaussianMixture(n_components=6, weight_concentration_prior=0.01, random_state=0).fit(X)
    >>> int((a.weights_ > 0.01).sum())
    2
    >>> b = BayesianGaussianMixture(n_components=6, weight_concentration_prior=0.01, random_state=0,
    ...                             batch_size=333).fit(X)
    >>> bool(np.array_equal(a.means_, b.means_))
    True
    """

    # Exact epochs only, no user-given starting parameters, complete rows (as scikit-learn's).
    batches_per_epoch = None
    inertia = 0.0
    lr_decay = 0.0
    weights_init = means_init = precisions_init = None
    _warm_start_settings = ("covariance_type", "weight_concentration_prior_type")

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3, reg_covar=1e-6, max_iter=100, n_init=1,
                 init_params="kmeans", weight_concentration_prior_type="dirichlet_process",
                 weight_concentration_prior=None, mean_precision_prior=None, mean_prior=None,
                 degrees_of_freedom_prior=None, covariance_prior=None, random_state=None, warm_start=False,
                 verbose=0, verbose_interval=10, batch_size=None, init_sample_size=100_000, callbacks=None,
                 progress=False, backend="numba", compute_dtype="float64"):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.batch_size = batch_size
        self.init_sample_size = init_sample_size
        self.callbacks = callbacks
        self.progress = progress
        self.backend = backend
        self.compute_dtype = compute_dtype

    # -- priors --------------------------------------------------------------------------------
    def _prepare_fit(self, source, sample_weight, strategy):
        """Check the priors and fill in the defaults; the data's mean and covariance take one pass."""
        d = source.n_features
        self.weight_concentration_prior_ = self._positive("weight_concentration_prior", 1.0 / self.n_components)
        self.mean_precision_prior_ = self._positive("mean_precision_prior", 1.0)
        mean = None if self.mean_prior is None else _float_array(self.mean_prior, "means").astype(np.float64)
        if mean is not None:
            _check_shape(mean, (d,), "means")
        dof = self._positive("degrees_of_freedom_prior", float(d))
        if not dof > d - 1.0:
            raise ValueError(f"The parameter 'degrees_of_freedom_prior' should be greater than {d - 1}, "
                             f"but got {dof:.3f}.")
        covariance = self._given_covariance_prior(d)
        if mean is None or covariance is None:
            data_mean, data_covariance = self._data_moments(source, sample_weight, strategy)
            mean = data_mean if mean is None else mean
            covariance = data_covariance if covariance is None else covariance
        self.mean_prior_, self.degrees_of_freedom_prior_, self.covariance_prior_ = mean, dof, covariance

    def _positive(self, name, default):
        value = getattr(self, name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < np.inf:
            raise ValueError(f"The '{name}' parameter of {type(self).__name__} must be None or a float in the "
                             f"range (0.0, inf). Got {value!r} instead.")
        return float(value)

    def _given_covariance_prior(self, d):
        """The user's ``covariance_prior`` checked against the covariance type (scikit-learn's messages), or None."""
        prior, kind = self.covariance_prior, self.covariance_type
        if prior is None:
            return None
        if kind == "spherical":
            return self._positive("covariance_prior", None)
        name = f"{kind} covariance_prior"
        value = _float_array(prior, name).astype(np.float64)
        _check_shape(value, (d, d) if kind in ("full", "tied") else (d,), name)
        if kind in ("full", "tied"):
            if not (np.allclose(value, value.T) and np.all(np.linalg.eigvalsh(value) > 0.0)):
                raise ValueError(f"'{name}' should be symmetric, positive-definite")
        elif np.any(value <= 0.0):
            raise ValueError(f"'{name}' should be positive")
        return value

    def _data_moments(self, source, sample_weight, strategy):
        """Mean and covariance (``ddof=1``, weights as repeated rows) of the data, in one exact pass."""
        first_row, _ = self._validate_batch(source.read(0, 1), None, 0)
        layout = "full" if self.covariance_type in ("full", "tied") else "diag"
        summary = HardAssignment(source.n_features, first_row[:1], layout, assignment_backend(self.backend))
        ranges = EMSettings(batch_size=self.batch_size).pass_ranges(source.n_rows, BLOCK_ROWS)
        acc = one_pass(summary, source, ranges, sample_weight, strategy=strategy, progress=self.progress,
                       label="priors")
        weight = float(acc.resp[0])
        if not weight > 1.0:
            raise ValueError(f"the default covariance_prior is the covariance of the data, which needs a total "
                             f"weight above 1; got {weight:.6g} over n_samples = {source.n_rows}: give "
                             "covariance_prior")
        mean = acc.shifts[0] + acc.first[0] / weight
        covariance = acc.scatter(acc.resp)[0] / (weight - 1.0)
        if self.covariance_type == "spherical":
            covariance = float(covariance.mean())
        return mean, covariance

    # -- the variational posterior ---------------------------------------------------------------
    def _fit_parameters(self):
        return (np.asarray(self.weight_concentration_, dtype=np.float64), self.mean_precision_, self.means_,
                np.asarray(self.degrees_of_freedom_, dtype=np.float64), self.covariances_)

    def _load_fit_parameters(self, params):
        concentration, mean_precision, means, dof, covariances = (np.asarray(p, dtype=np.float64) for p in params)
        try:
            precisions_cholesky = self._cov.precision_cholesky(covariances)
        except ValueError as error:
            raise ValueError(
                "Fitting the mixture model failed because some components have ill-defined empirical covariance "
                "(for instance caused by singleton or collapsed samples). Try to decrease the number of components, "
                f"increase reg_covar, or scale the input data. ({error})") from None
        self.weight_concentration_ = tuple(concentration) if concentration.ndim == 2 else concentration
        self.mean_precision_, self.means_, self.covariances_ = mean_precision, means, covariances
        self.degrees_of_freedom_ = float(dof) if dof.ndim == 0 else dof
        self.precisions_cholesky_ = precisions_cholesky
        self.precisions_ = precisions_from_cholesky(self.covariance_type, precisions_cholesky)
        self.weights_ = self._expected_weights(concentration)

    def _check_fit_parameters(self, params):
        self._checked_posterior(params, self.n_features_in_)

    def _checked_posterior(self, params, n_features=None):
        """Posterior parameters read from outside (a checkpoint, JSON), as float64 arrays, checked."""
        if not isinstance(params, (list, tuple)) or len(params) != 5:
            raise ValueError("expected [weight_concentration, mean_precision, means, degrees_of_freedom, covariances]")
        concentration, mean_precision, means, dof, covariances = (
            json_numbers(p, name) for p, name in zip(params, ("weight_concentration", "mean_precision", "means",
                                                              "degrees_of_freedom", "covariances")))
        k = self.n_components
        if means is None or means.ndim != 2 or means.shape[0] != k or (n_features is not None
                                                                       and means.shape[1] != n_features):
            raise ValueError(f"means must be a ({k}, n_features{'' if n_features is None else '=' + str(n_features)})"
                             f" array; got shape {np.shape(means)}")
        d = means.shape[1]
        dirichlet_process = self.weight_concentration_prior_type == "dirichlet_process"
        shapes = {"weight_concentration": (concentration, (2, k) if dirichlet_process else (k,)),
                  "mean_precision": (mean_precision, (k,)),
                  "degrees_of_freedom": (dof, () if self.covariance_type == "tied" else (k,))}
        for name, (value, shape) in shapes.items():
            if value is None or value.shape != shape or not (value > 0).all():
                raise ValueError(f"{name} must be positive numbers of shape {shape}; got shape {np.shape(value)}")
        if not (dof > d - 1).all():
            raise ValueError(f"degrees_of_freedom must exceed n_features - 1 = {d - 1}")
        covariances = self._cov.check(covariances, k, d)
        return concentration, mean_precision, means, dof, covariances

    def _expected_weights(self, concentration):
        """``weights_``: the posterior mean of the weights (scikit-learn's formula for each prior type)."""
        if concentration.ndim == 2:
            a, b = concentration
            total = a + b
            weights = a / total * np.hstack((1, np.cumprod(b / total)[:-1]))
            return weights / weights.sum()
        return concentration / concentration.sum()

    def _estimate(self, acc, previous):
        """The variational M-step: the posterior of weights, means and precisions from the moments."""
        nk, xk, sk = component_estimates(acc, self._cov, self.reg_covar)
        if self.weight_concentration_prior_type == "dirichlet_process":
            concentration = np.stack((1.0 + nk, self.weight_concentration_prior_
                                      + np.hstack((np.cumsum(nk[::-1])[-2::-1], 0))))
        else:
            concentration = self.weight_concentration_prior_ + nk
        beta0, m0, nu0, W0 = (self.mean_precision_prior_, self.mean_prior_, self.degrees_of_freedom_prior_,
                              self.covariance_prior_)
        mean_precision = beta0 + nk
        means = (beta0 * m0 + nk[:, None] * xk) / mean_precision[:, None]
        diff = xk - m0
        k = self.n_components
        if self.covariance_type == "full":
            dof = nu0 + nk
            covariances = (W0 + nk[:, None, None] * sk
                           + (nk * beta0 / mean_precision)[:, None, None] * diff[:, :, None] * diff[:, None, :])
            covariances /= dof[:, None, None]
        elif self.covariance_type == "tied":
            dof = nu0 + nk.sum() / k
            covariances = W0 + sk * nk.sum() / k + beta0 / k * np.dot((nk / mean_precision) * diff.T, diff)
            covariances /= dof
        elif self.covariance_type == "diag":
            dof = nu0 + nk
            covariances = W0 + nk[:, None] * (sk + (beta0 / mean_precision)[:, None] * np.square(diff))
            covariances /= dof[:, None]
        else:
            dof = nu0 + nk
            covariances = W0 + nk * (sk + beta0 / mean_precision * np.mean(np.square(diff), 1))
            covariances /= dof
        return concentration, mean_precision, means, np.asarray(dof, dtype=np.float64), covariances

    def _initialize(self, source, sample_weight, rng, strategy=None):
        """The M-step from the initial responsibilities, as scikit-learn's ``_initialize``."""
        plan = initial_plan(self, source, sample_weight, rng, strategy)
        self._load_fit_parameters(self._estimate(plan.moments, None))

    # -- the E-step's offsets and the lower bound -------------------------------------------------
    def _expected_log_weights(self, concentration):
        digamma = _special().digamma
        if concentration.ndim == 2:
            a, b = concentration
            digamma_sum = digamma(a + b)
            return digamma(a) - digamma_sum + np.hstack((0, np.cumsum(digamma(b) - digamma_sum)[:-1]))
        return digamma(concentration) - digamma(np.sum(concentration))

    def _offsets_of(self, concentration, mean_precision, dof):
        """Per-component log-offsets of the E-step: expected log weight, log-determinant and mean terms."""
        d = self.n_features_in_
        digamma = _special().digamma
        dof = np.broadcast_to(np.asarray(dof, dtype=np.float64), (self.n_components,))
        log_lambda = d * np.log(2.0) + np.sum(digamma(0.5 * (dof - np.arange(d)[:, None])), 0)
        return (self._expected_log_weights(concentration) - 0.5 * d * np.log(dof)
                + 0.5 * (log_lambda - d / mean_precision))

    def _log_offsets(self):
        return self._offsets_of(np.asarray(self.weight_concentration_, dtype=np.float64),
                                np.asarray(self.mean_precision_, dtype=np.float64), self.degrees_of_freedom_)

    def _expected_log_prob_sum(self, acc, params):
        """``Σ_k Σ_n w_n r_nk lp_nk`` for the E-step's parameters ``params``, from the moments in ``acc``."""
        concentration, mean_precision, means, dof, covariances = (np.asarray(p, dtype=np.float64) for p in params)
        k, d = means.shape
        precisions_cholesky = self._cov.precision_cholesky(covariances)
        precisions = precisions_from_cholesky(self.covariance_type, precisions_cholesky)
        # Scatter around each E-step mean, from moments kept around the total's shifts (the same, unless absorbed).
        delta = acc.shifts - means
        resp, first, second = acc.resp, acc.first, acc.second
        if acc.layout == "full":
            scatter = (second + delta[:, :, None] * first[:, None, :] + first[:, :, None] * delta[:, None, :]
                       + resp[:, None, None] * delta[:, :, None] * delta[:, None, :])
            precisions = np.broadcast_to(precisions, (k, d, d))
            mahalanobis = np.einsum("kij,kij->k", precisions, scatter)
        elif acc.layout == "diag":
            mahalanobis = np.sum(precisions * (second + 2 * delta * first + resp[:, None] * delta**2), axis=1)
        else:
            mahalanobis = precisions * (second + 2 * np.sum(delta * first, axis=1) + resp * np.sum(delta**2, axis=1))
        log_det = self._cov.log_det(precisions_cholesky, d, k)
        constant = -0.5 * d * np.log(2 * np.pi) + log_det + self._offsets_of(concentration, mean_precision, dof)
        return float(np.sum(resp * constant) - 0.5 * np.sum(mahalanobis))

    def _lower_bound(self, acc, previous):
        """scikit-learn's lower bound (its constant terms dropped) after the M-step of an epoch."""
        special = _special()
        d, k = self.n_features_in_, self.n_components
        entropy = acc.log_likelihood - self._expected_log_prob_sum(acc, previous)
        dof = np.asarray(self.degrees_of_freedom_, dtype=np.float64)
        log_det = self._cov.log_det(self.precisions_cholesky_, d, k) - 0.5 * d * np.log(dof)
        if self.covariance_type == "tied":
            log_wishart = k * float(np.sum(_log_wishart_norm(dof, log_det[0], d)))
        else:
            log_wishart = float(np.sum(_log_wishart_norm(dof, log_det, d)))
        concentration = np.asarray(self.weight_concentration_, dtype=np.float64)
        if concentration.ndim == 2:
            log_norm_weight = -float(np.sum(special.betaln(concentration[0], concentration[1])))
        else:
            log_norm_weight = float(special.gammaln(np.sum(concentration)) - np.sum(special.gammaln(concentration)))
        return entropy - log_wishart - log_norm_weight - 0.5 * d * float(np.sum(np.log(self.mean_precision_)))

    def _epoch_line(self, logs):
        return (f"[{logs['epoch']}] improvement: {logs['improvement']:.6g}  lower bound: "
                f"{logs['log_likelihood']:.6f}  time (s): {logs['seconds']:.3f}")

    # -- scikit-learn's private steps, for code written against them -----------------------------------
    def _check_parameters(self, X):
        """Check the settings and set the priors from in-memory ``X`` (scikit-learn's private step)."""
        from ..data.source import as_source

        check_settings(self)
        source = as_source(X)
        self.n_features_in_ = source.n_features
        self._prepare_fit(source, None, None)

    def _initialize_parameters(self, X, random_state):
        """Initial posterior from ``X`` drawn with ``random_state`` (scikit-learn's private step)."""
        from ..data.source import as_source

        self._initialize(as_source(X), None, np.random.default_rng(random_state), None)

    def _check_loaded_priors(self, d):
        """The priors read from JSON, held to what ``fit`` accepts (positive scalars, degrees of freedom above
        ``d - 1``, a covariance prior of the type's shape, symmetric positive-definite or positive)."""
        for name in ("weight_concentration_prior_", "mean_precision_prior_", "degrees_of_freedom_prior_"):
            value = getattr(self, name)
            if not isinstance(value, float) or not value > 0:
                raise ValueError(f"priors field {name!r} must be a positive number; got {value!r:.40}")
        if not self.degrees_of_freedom_prior_ > d - 1:
            raise ValueError(f"priors field 'degrees_of_freedom_prior_' must exceed n_features - 1 = {d - 1}")
        saved, self.covariance_prior = self.covariance_prior, self.covariance_prior_
        try:
            self._given_covariance_prior(d)
        except ValueError as error:
            raise ValueError(f"priors field 'covariance_prior_': {error}") from None
        finally:
            self.covariance_prior = saved

    # -- persistence ---------------------------------------------------------------------------------
    _PRIORS = ("weight_concentration_prior_", "mean_precision_prior_", "mean_prior_", "degrees_of_freedom_prior_",
               "covariance_prior_")

    def to_dict(self):
        """JSON-safe description: the posterior, the priors, settings and schema version."""
        self._check_fitted()
        settings = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.get_params().items()
                    if k not in ("callbacks", "random_state")}
        posterior = [np.asarray(p).tolist() for p in self._fit_parameters()]
        priors = {name: np.asarray(getattr(self, name)).tolist() for name in self._PRIORS}
        return {"schema": SCHEMA_VERSION, "family": "BayesianGaussianMixture", "settings": settings,
                "posterior": posterior, "priors": priors, "n_iter": self.n_iter_, "converged": bool(self.converged_),
                "lower_bounds": [float(v) for v in self.lower_bounds_]}

    @classmethod
    def _from_dict(cls, data):
        model = cls._settings_from_dict(data)
        params = model._checked_posterior(data.get("posterior"))
        d = params[2].shape[1]
        priors = data.get("priors")
        if not isinstance(priors, dict) or set(priors) != set(cls._PRIORS):
            raise ValueError(f"priors must be an object with the fields {list(cls._PRIORS)}")
        model.n_features_in_ = d
        for name in cls._PRIORS:
            value = json_numbers(priors[name], name)
            if value is None or not np.isfinite(value).all():
                raise ValueError(f"priors field {name!r} must be finite numbers")
            setattr(model, name, float(value) if value.ndim == 0 else value)
        if np.shape(model.mean_prior_) != (d,):
            raise ValueError(f"priors field 'mean_prior_' must have shape ({d},); got {np.shape(model.mean_prior_)}")
        model._check_loaded_priors(d)
        model._load_fit_parameters(params)
        model._history_from_dict(data)
        return model


register_family(BayesianGaussianMixture)
