"""Gaussian mixture: a drop-in for ``sklearn.mixture.GaussianMixture``, out of core."""

from __future__ import annotations


import numpy as np

from .._estimator import check_fitted
from .._validation import json_numbers
from ..backends.gaussian_math import logsumexp
from ..data.source import as_source
from ..distributions._registry import SCHEMA_VERSION, register_family
from ._gaussian_base import GaussianComponents, precisions_from_cholesky
from ._initialize import initial_gaussian
from ._moments import estimate_gaussian
from ._params import map_batches


class GaussianMixture(GaussianComponents):
    """Gaussian mixture fitted by exact EM over data of any size.

    The constructor, defaults, fitted attributes and methods are those of
    :class:`sklearn.mixture.GaussianMixture`; the extra parameters control
    batching. With ``batches_per_epoch=None`` every epoch is one exact EM step
    over all rows, and the result is bit-for-bit the same for every
    ``batch_size``.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        Each component's own full covariance matrix, one matrix shared by all
        components, one variance per feature and component, or one variance per
        component.
    tol : float, default=1e-3
        Convergence threshold on the change of the mean log-likelihood per row.
    reg_covar : float, default=1e-6
        Added to the diagonal of covariances.
    max_iter : int, default=100
        EM epochs; 0 keeps the initial parameters.
    n_init : int, default=1
        Initialisations to run; the one with the best final log-likelihood is kept.
    init_params : {"kmeans", "kmeans_full", "k-means++", "random", "random_from_data", "first-k"}, default="kmeans"
        How initial responsibilities are made, on a uniform sample of
        ``init_sample_size`` rows of the whole data. ``kmeans`` runs Lloyd's
        iterations on the sample in memory, then assigns every row to its
        nearest centre in one pass; ``kmeans_full`` runs the iterations out of
        core over all rows (up to 100 passes); ``random`` and
        ``random_from_data`` draw responsibilities or centres at random,
        ``k-means++`` seeds centres by k-means++, and ``first-k`` takes the first
        ``n_components`` rows as centres (deterministic).
    weights_init, means_init, precisions_init : array_like, optional
        User-provided initial parameters (they override ``init_params``).
    random_state : int, numpy Generator or None
        Seed of the initialisation (the row sample, the seeding of centres) and
        of ``sample``; an int makes fits reproducible.
    warm_start : bool, default=False
        Start from the current parameters when refitting.
    verbose : int, default=0
        Print a line (epoch, improvement, mean log-likelihood, seconds) every
        ``verbose_interval`` epochs.
    verbose_interval : int, default=10
        Epochs between two printed lines when ``verbose`` is set.
    batch_size : int, optional
        Rows read per batch; ``None`` reads all rows at once. In exact mode
        reads are rounded up to a multiple of
        :data:`suffstats.data.BLOCK_ROWS` (4096), the accumulation block.
    batches_per_epoch : int, optional
        ``None`` for exact EM; otherwise the number of batches per mini-batch
        update, cycling through the data.
    inertia : float in [0, 1], default=0
        Weight of the old parameters in each update.
    lr_decay : float, default=0
        The weight of the old parameters at epoch ``t`` is
        ``1 - (1 - inertia) * (2 + t) ** -lr_decay``.
    init_sample_size : int or None, default=100000
        Rows sampled for initialisation (``None``: all rows).
    callbacks : list of callables, optional
        Called after every epoch as ``callback(model, logs)``; ``logs`` has
        ``epoch``, ``improvement``, ``log_likelihood``, ``seconds`` and ``rows``.
        A callback that raises stops the fit as Ctrl-C does: the model keeps
        the parameters of the epoch just completed, and the exception goes on.
    progress : bool, default=False
        Show a progress bar over the rows of each epoch.
    backend : {"numba", "numpy"}, default="numba"
        Kernel backend (see :mod:`suffstats.backends`): ``"numba"`` is the
        fast CPU path, ``"numpy"`` the plain reference.
    compute_dtype : {"float64", "float32"}, default="float64"
        Precision of the large products in the ``numba`` backend. ``"float32"``
        is about twice as fast; statistics are still added in float64, rows are
        centred before the products, and parameters typically agree with the
        float64 fit to about 1e-6 relative (see the performance page).
    missing : {"error", "marginalize"}, default="error"
        What a NaN in the data means. ``"error"`` refuses it, naming its row
        and column. ``"marginalize"`` treats it as a value missing at random
        and fits by exact EM on expected statistics: each row's E-step uses
        its observed coordinates only (marginal density), and its statistics
        are the conditional expectations of the missing coordinates and of
        their squares given the observed ones. ``score_samples``,
        ``predict``, ``predict_proba``, ``score`` and ``bic`` then give
        marginal likelihoods. A row with every value missing is given zero
        weight: it adds nothing to the fit, and its ``score_samples`` is 0
        (log of 1) and its ``predict_proba`` the weights. Infinities are
        refused either way. Rows with holes are computed on the CPU in
        float64 whatever ``backend`` and ``compute_dtype`` say; complete rows
        go through the backend's kernels unchanged, so data without NaN
        gives the same bits as with ``"error"``. See
        ``suffstats.mixture._missing`` for the initialisation with holes
        (``init_params="kmeans_full"`` needs complete rows).

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_
        As in scikit-learn.
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean log-likelihood per row of the best run, measured in its last E-step.
    lower_bounds_ : list of float
        Mean log-likelihood per row at each epoch of the best run.
    n_features_in_ : int

    Notes
    -----
    scikit-learn's estimator checks pass (``tests/test_sklearn_compat.py``);
    none is skipped by this class (scikit-learn itself skips the pandas and
    array-API checks when those are not installed or enabled).

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats import GaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-5, 1, (500, 2)), rng.normal(5, 1, (500, 2))])
    >>> a = GaussianMixture(2, random_state=0).fit(X)
    >>> b = GaussianMixture(2, random_state=0, batch_size=333).fit(X)
    >>> bool(np.array_equal(a.means_, b.means_))
    True
    """

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3, reg_covar=1e-6, max_iter=100,
                 n_init=1, init_params="kmeans", weights_init=None, means_init=None, precisions_init=None,
                 random_state=None, warm_start=False, verbose=0, verbose_interval=10, batch_size=None,
                 batches_per_epoch=None, inertia=0.0, lr_decay=0.0, init_sample_size=100_000, callbacks=None,
                 progress=False, backend="numba", compute_dtype="float64", missing="error"):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch
        self.inertia = inertia
        self.lr_decay = lr_decay
        self.init_sample_size = init_sample_size
        self.callbacks = callbacks
        self.progress = progress
        self.backend = backend
        self.compute_dtype = compute_dtype
        self.missing = missing

    # -- parameters ---------------------------------------------------------------
    def _assign_parameters(self, weights, means, covariances):
        """Store weights, means and covariances (in the fitted dtype) with their precisions."""
        try:
            precisions_cholesky = self._cov.precision_cholesky(np.asarray(covariances, dtype=np.float64))
        except ValueError as error:
            raise ValueError(
                "Fitting the mixture model failed because some components have ill-defined empirical covariance "
                "(for instance caused by singleton or collapsed samples). Try to decrease the number of components, "
                f"increase reg_covar, or scale the input data. ({error})") from None
        self._set_parameters((weights, means, covariances, precisions_cholesky))

    def _set_parameters(self, params):
        """scikit-learn's private setter: ``(weights, means, covariances, precisions_cholesky)``."""
        dtype = getattr(self, "_dtype", np.float64)
        weights, means, covariances, P = (np.asarray(p, dtype=dtype) for p in params)
        self.weights_, self.means_, self.covariances_, self.precisions_cholesky_ = weights, means, covariances, P
        self.precisions_ = precisions_from_cholesky(self.covariance_type, P)

    def _get_parameters(self):
        """scikit-learn's private getter: ``(weights, means, covariances, precisions_cholesky)``."""
        return self.weights_, self.means_, self.covariances_, self.precisions_cholesky_

    def _n_parameters(self):
        k, d = self.means_.shape
        return self._cov.n_parameters(k, d) + k * d + k - 1

    # -- engine hooks (see suffstats.mixture._engine) ---------------------------------------
    def _fit_parameters(self):
        return self.weights_, self.means_, self.covariances_

    def _load_fit_parameters(self, params):
        self._assign_parameters(*(np.asarray(p, dtype=np.float64) for p in params))

    def _check_fit_parameters(self, params):
        if not isinstance(params, list) or len(params) != 3:
            raise ValueError("expected [weights, means, covariances]")
        self._checked_parameters(*params, n_features=self.n_features_in_)

    def _checked_parameters(self, weights, means, covariances, n_features=None):
        """Weights, means and covariances read from JSON, as arrays, checked against the settings."""
        means = json_numbers(means, "means")
        if means is None or means.ndim != 2 or (n_features is not None and means.shape[1] != n_features):
            raise ValueError(f"means must be a (n_components, n_features{'' if n_features is None else '=' + str(n_features)}) "
                             f"array; got shape {np.shape(means)}")
        k, d = means.shape
        if k != self.n_components:
            raise ValueError(f"{k} means but n_components = {self.n_components}")
        raw = weights
        weights = json_numbers(weights, "weights")
        if weights is None or weights.shape != (k,) or (weights < 0).any() or not np.isclose(weights.sum(), 1.0):
            raise ValueError(f"weights must be {k} non-negative numbers summing to 1; got {raw!r:.80}")
        covariances = self._cov.check(json_numbers(covariances, "covariances"), k, d)
        return weights, means, covariances

    def _estimate(self, acc, previous):
        return estimate_gaussian(acc, self._cov, self.reg_covar, previous)

    def _initialize(self, source, sample_weight, rng, strategy=None):
        self._assign_parameters(*initial_gaussian(self, source, sample_weight, rng, strategy))

    def _log_likelihood_and_rows(self, X):
        """Total log-likelihood of ``X`` and the rows it counts: those with an observed value.

        A row with every value missing (``missing="marginalize"``) has a
        marginal density of 1 and carries no information: it counts neither in
        the log-likelihood nor in the number of rows of the penalty, as in the fit.
        """
        check_fitted(self, "means_")
        if self.missing == "error":
            n = as_source(X).n_rows
            return self.score(X) * n, n

        def scored(B):
            return np.column_stack([logsumexp(self._weighted_log_prob(B), axis=1), ~np.isnan(B).all(axis=1)])

        out = map_batches(self, X, scored)
        n = int(np.sum(out[:, 1]))
        if n == 0:
            raise ValueError(f"none of the {out.shape[0]} rows has an observed value: the criterion is undefined")
        return float(np.sum(out[:, 0], dtype=np.float64)), n

    def bic(self, X):
        """Bayesian information criterion (lower is better).

        With ``missing="marginalize"`` the log-likelihood is that of the observed
        values (each row's marginal density) and ``n`` counts the rows with at
        least one observed value.

        Parameters
        ----------
        X : array, memory map, path or batch source
            Rows with the features of the fit, read batch by batch (see
            :func:`suffstats.data.as_source`).

        Returns
        -------
        float
        """
        total, n = self._log_likelihood_and_rows(X)
        return -2 * total + self._n_parameters() * np.log(n)

    def aic(self, X):
        """Akaike information criterion (lower is better).

        With ``missing="marginalize"`` the log-likelihood is that of the observed
        values (each row's marginal density).

        Parameters
        ----------
        X : array, memory map, path or batch source
            Rows with the features of the fit, read batch by batch (see
            :func:`suffstats.data.as_source`).

        Returns
        -------
        float
        """
        return -2 * self._log_likelihood_and_rows(X)[0] + 2 * self._n_parameters()

    # -- persistence ---------------------------------------------------------------------------------
    def to_dict(self):
        """JSON-safe description: fitted parameters, settings and schema version."""
        check_fitted(self, "means_")
        settings = {k: v for k, v in self.get_params().items()
                    if k not in ("weights_init", "means_init", "precisions_init", "callbacks", "random_state")}
        return {"schema": SCHEMA_VERSION, "family": "GaussianMixture", "settings": settings,
                "weights": self.weights_.tolist(), "means": self.means_.tolist(),
                "covariances": self.covariances_.tolist(), "n_iter": self.n_iter_,
                "converged": bool(self.converged_), "lower_bounds": [float(v) for v in self.lower_bounds_]}

    @classmethod
    def _from_dict(cls, data):
        model = cls._settings_from_dict(data)
        weights, means, covariances = model._checked_parameters(data.get("weights"), data.get("means"),
                                                                data.get("covariances"))
        model.n_features_in_ = means.shape[1]
        model._assign_parameters(weights, means, covariances)
        model._history_from_dict(data)
        return model


register_family(GaussianMixture)
