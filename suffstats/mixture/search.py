"""Choosing the number of components out of core: many candidate mixtures, one read of the data per epoch."""

from __future__ import annotations

import itertools

import numpy as np
from .._estimator import DensityMixin, Estimator, check_fitted, warn_not_converged
from .._feature_names import check_feature_names

from .._transaction import transactional
from .._validation import check_positive_int, check_weights
from ..data.source import as_source
from ..distributed import as_strategy
from ..fit.driver import EMSettings, one_pass
from ..fit.estimator import fit_model, settings_fingerprint
from ..distributions.covariance import COVARIANCE_TYPES
from ._holdout import HeldOutSplit
from ._candidates import Candidates
from ._params import CRITERIA, check_settings
from .gaussian import GaussianMixture

__all__ = ["GaussianMixtureSearch"]

#: Constructor parameters handed unchanged to every candidate :class:`GaussianMixture`.
SHARED = ("tol", "reg_covar", "max_iter", "init_params", "verbose", "verbose_interval", "batch_size",
          "batches_per_epoch", "inertia", "lr_decay", "init_sample_size", "backend", "compute_dtype", "missing")


class GaussianMixtureSearch(DensityMixin, Estimator):
    """Fit Gaussian mixtures for several ``n_components`` (and covariance types) in one shared pass per epoch.

    Every candidate -- one per number of components, covariance type and
    initialisation -- is a :class:`GaussianMixture`. One run of the EM driver
    advances them all: each block of rows read from the source is handed to
    every candidate that has not yet converged, so the data is read once per
    epoch, not once per candidate; a converged candidate stops accumulating.
    The initialisations share their reads too (one read of the union of the
    candidates' samples, one pass to assign every row for all k-means starts).

    Each candidate's parameters are bit for bit those of
    ``GaussianMixture(n_components=k, covariance_type=c, n_init=1,
    random_state=seed, **shared)`` fitted alone, where ``seed`` is listed in
    ``results_``.

    Parameters
    ----------
    n_components : int or iterable of int, default=range(1, 11)
        The numbers of components to try.
    covariance_type : str or list of str, default="full"
        One of, or a list of, ``"full"``, ``"tied"``, ``"diag"``, ``"spherical"``.
    n_init : int, default=1
        Initialisations per (k, covariance type); each is a candidate.
    criterion : {"bic", "aic", "heldout"}, default="bic"
        ``bic`` and ``aic``: lower is better. Their log-likelihood is that of
        the last E-step (no extra pass over the data): for a converged
        candidate it differs from the final parameters' by less than ``tol``
        per row. ``heldout``: the highest mean log-likelihood of the held-out
        rows (needs ``validation_fraction``; one more shared pass at the end).
    validation_fraction : float in (0, 1), optional
        Share of rows held out of every candidate's fit, chosen by a seeded
        hash of the row index (stable for any batch size; no mask is stored).
    random_state : int, numpy Generator or None
        Seeds the candidates' seeds.
    tol, reg_covar, max_iter, init_params, verbose, verbose_interval, batch_size, batches_per_epoch, inertia, lr_decay, init_sample_size, backend, compute_dtype
        As for :class:`GaussianMixture`, shared by every candidate.
    missing : {"error", "marginalize"}, default="error"
        As for :class:`GaussianMixture`: with ``"marginalize"`` every candidate
        integrates out the NaN of its rows by exact EM. The criteria then use
        the log-likelihood of the observed values, and ``n`` (in ``bic``)
        counts the rows with at least one observed value, as
        :meth:`GaussianMixture.bic` does.
    callbacks : list of callables, optional
        Called after every epoch as ``callback(search, logs)``. One that raises
        stops the search as Ctrl-C does.
    progress : bool, default=False
        Show a progress bar over the rows of each shared epoch.

    Attributes
    ----------
    candidates_ : list of GaussianMixture
        Every fitted candidate.
    results_ : list of dict
        One row per candidate: ``n_components``, ``covariance_type``, ``init``,
        ``random_state``, ``n_iter``, ``converged``, ``log_likelihood`` (total),
        ``n_parameters``, ``bic``, ``aic``.
    best_estimator_ : GaussianMixture
        The candidate with the lowest ``criterion``.
    best_params_ : dict
        Its ``n_components``, ``covariance_type`` and ``random_state``.
    n_iter_ : int
        Epochs run (reads of the data, after the initialisation).

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats import GaussianMixtureSearch
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(m, 1.0, (400, 2)) for m in (-6.0, 0.0, 6.0)])
    >>> search = GaussianMixtureSearch(range(1, 6), random_state=0).fit(X)
    >>> search.best_params_["n_components"]
    3
    """

    def __init__(self, n_components=range(1, 11), *, covariance_type="full", n_init=1, criterion="bic",
                 validation_fraction=None, tol=1e-3,
                 reg_covar=1e-6, max_iter=100, init_params="kmeans", random_state=None, verbose=0,
                 verbose_interval=10, batch_size=None, batches_per_epoch=None, inertia=0.0, lr_decay=0.0,
                 init_sample_size=100_000, callbacks=None, progress=False, backend="numba",
                 compute_dtype="float64", missing="error"):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.n_init = n_init
        self.criterion = criterion
        self.validation_fraction = validation_fraction
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.init_params = init_params
        self.random_state = random_state
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing == "marginalize"
        return tags

    # -- candidates -------------------------------------------------------------------------
    def _grid(self, n_rows, n_features):
        """Every candidate ``(k, covariance_type, init, seed)``, checked against the data before any work."""
        ks = _components(self.n_components, n_rows)
        types = [self.covariance_type] if isinstance(self.covariance_type, str) else \
            _bounded_list(self.covariance_type, "covariance_type", len(COVARIANCE_TYPES))
        if not ks or not types:
            raise ValueError("n_components and covariance_type must each name at least one value")
        unknown = [c for c in types if c not in COVARIANCE_TYPES]
        if unknown:
            raise ValueError(f"covariance_type must be one of {list(COVARIANCE_TYPES)}; got {unknown[0]!r}")
        if self.criterion not in CRITERIA:
            raise ValueError(f"criterion must be one of {list(CRITERIA)}; got {self.criterion!r}")
        fraction = self.validation_fraction
        if fraction is not None and (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
                                     or not 0 < fraction < 1):
            raise ValueError(f"validation_fraction must be a number in (0, 1) or None; got {fraction!r}")
        if self.criterion == "heldout" and fraction is None:
            raise ValueError("criterion='heldout' needs validation_fraction (the share of rows held out)")
        n_init = check_positive_int(self.n_init, "n_init")
        n_candidates = len(ks) * len(types) * n_init
        if n_candidates > MAX_CANDIDATES:
            raise ValueError(f"the search has {n_candidates:,} candidates ({len(ks)} values of n_components x "
                             f"{len(types)} covariance types x n_init={n_init}); at most {MAX_CANDIDATES:,} are "
                             "fitted together (each read serves them all): narrow the grid")
        size = sum(n_init * _parameter_bytes(k, n_features, c) for k in ks for c in types)
        if size > MAX_PARAMETER_BYTES:
            raise ValueError(f"the search's candidates need {size / 2**30:.1f} GiB of parameters at {n_features} "
                             f"features (at most {MAX_PARAMETER_BYTES / 2**30:.0f} GiB): narrow n_components or "
                             "use 'diag' or 'spherical' covariance")
        seeds = _seeds(self.random_state, n_candidates)
        grid = [(k, c, i) for k in ks for c in types for i in range(n_init)]
        return [(k, c, i, int(seed)) for (k, c, i), seed in zip(grid, seeds)]

    def _candidate(self, k, covariance_type, seed):
        # The search speaks for its candidates (one line per epoch): they stay quiet while it runs.
        shared = {**{name: getattr(self, name) for name in SHARED}, "verbose": 0}
        model = GaussianMixture(k, covariance_type=covariance_type, n_init=1, random_state=seed, **shared)
        check_settings(model)
        return model

    # -- fitting ---------------------------------------------------------------------------------
    @transactional
    def fit(self, X, y=None, sample_weight=None, checkpoint=None, checkpoint_every=None, client=None):
        """Fit every candidate, sharing each read of ``X``; returns ``self``.

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource
            Rows, read batch by batch (see :func:`suffstats.data.as_source`).
        y : ignored
            Present for scikit-learn's API.
        sample_weight : array_like of shape (n_rows,), optional
            Weight of each row (an integer weight is the row repeated).
        checkpoint : str or path-like, optional
            A file holding every candidate's state: a killed search resumes bit for bit.
        checkpoint_every : int, optional
            Write it after this many batches (default: after every minute of work, and after each epoch).
        client : distributed.Client or suffstats.distributed.DaskAccumulation, optional
            Gather each epoch's statistics of every candidate on a Dask cluster, bit for bit as the local search.
        """
        check_feature_names(self, X, reset=True)
        source = as_source(X)
        grid = self._grid(source.n_rows, source.n_features)
        candidates = [self._candidate(k, c, seed) for k, c, _, seed in grid]
        for model in candidates:
            check_feature_names(model, X, reset=True)
        sample_weight = None if sample_weight is None else check_weights(sample_weight, source.n_rows)
        for model in candidates:
            model.n_features_in_ = source.n_features
            model._dtype = np.float32 if source.dtype == np.float32 else np.float64
        split = None
        if self.validation_fraction is not None:
            split = HeldOutSplit(source.n_rows, self.validation_fraction, grid[0][3], held_out=False,
                                 base=sample_weight)
            if not split.other_side().sum() > 0:
                raise ValueError(f"validation_fraction={self.validation_fraction} holds out rows of total weight "
                                 "zero (too few rows, or their sample_weight is 0): the held-out log-likelihood would "
                                 "be undefined; raise validation_fraction or use criterion='bic'")
            sample_weight = split
        settings = EMSettings.of(self)
        joint = Candidates(candidates, settings)
        strategy = as_strategy(client)
        history = fit_model(
            joint, source, sample_weight, settings, 1, checkpoint=checkpoint,
            checkpoint_every=check_positive_int(checkpoint_every, "checkpoint_every", allow_none=True),
            fingerprint=settings_fingerprint(self.get_params(), sample_weight,
                                             exact=self.batches_per_epoch is None), strategy=strategy)
        self.n_iter_ = history.n_iter
        for model in candidates:
            model.verbose = self.verbose
        self.candidates_ = candidates
        self.results_ = [self._finish_candidate(model, k, c, i, seed, h)
                         for model, (k, c, i, seed), h in zip(candidates, grid, joint.histories)]
        if split is not None:
            for row, value in zip(self.results_, _held_out_log_likelihood(candidates, source, split, settings,
                                                                          strategy)):
                row["heldout"] = -value  # lower is better, like the other criteria
                row["heldout_log_likelihood"] = value
        best = min(range(len(candidates)), key=lambda j: self.results_[j][self.criterion])
        self.best_estimator_ = candidates[best]
        self.best_params_ = {key: self.results_[best][key]
                             for key in ("n_components", "covariance_type", "random_state")}
        if not all(h.converged for h in joint.histories) and self.max_iter > 0:
            warn_not_converged("some candidates did not converge; see results_['converged']")
        return self

    @staticmethod
    def _finish_candidate(model, k, covariance_type, init, seed, history):
        """Set a candidate's fitted attributes from its run; returns its row of :attr:`results_`."""
        model.converged_, model.n_iter_ = history.converged, history.n_iter
        model.lower_bound_, model.lower_bounds_ = history.lower_bound, list(history.lower_bounds)
        n = history.total_weights[-1] if history.total_weights else np.nan
        total = float(model.lower_bound_ * n)
        p = model._n_parameters()
        return {"n_components": k, "covariance_type": covariance_type, "init": init, "random_state": seed,
                "n_iter": history.n_iter, "converged": history.converged, "log_likelihood": total,
                "n_parameters": p, "bic": float(-2 * total + p * np.log(n)), "aic": float(-2 * total + 2 * p)}

    # -- delegation to the best candidate -------------------------------------------------------
    def predict(self, X):
        """Most likely component of each row under the best candidate.

        Parameters
        ----------
        X : array, memory map, path or batch source
            Rows with the features of the fit, read batch by batch (see
            :func:`suffstats.data.as_source`).

        Returns
        -------
        ndarray of int, shape (n_samples,)
        """
        check_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)

    def predict_proba(self, X):
        """Posterior probabilities under the best candidate.

        Parameters
        ----------
        X : array, memory map, path or batch source
            Rows with the features of the fit, read batch by batch (see
            :func:`suffstats.data.as_source`).

        Returns
        -------
        ndarray of shape (n_samples, n_components)
        """
        check_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_proba(X)

    def score_samples(self, X):
        """Log-density of each row under the best candidate.

        Parameters
        ----------
        X : array, memory map, path or batch source
            Rows with the features of the fit, read batch by batch (see
            :func:`suffstats.data.as_source`).

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_fitted(self, "best_estimator_")
        return self.best_estimator_.score_samples(X)

    def score(self, X, y=None):
        """Mean log-density per row under the best candidate.

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
        return float(np.mean(self.score_samples(X)))


def _held_out_log_likelihood(candidates, source, split, settings, strategy=None):
    """Mean log-likelihood of the held-out rows under each fitted candidate: one shared pass."""
    together = Candidates(candidates, settings)
    acc = together._new_accumulator()
    ranges = settings.pass_ranges(source.n_rows, together._block_rows)
    one_pass(together, source, ranges, split.other_side(), acc, strategy=strategy, progress=settings.progress,
             label="held-out rows")
    return [part.log_likelihood / part.weight for part in acc.parts.values()]


#: Most candidates fitted together, and most memory their parameters may take.
MAX_CANDIDATES = 10_000
MAX_PARAMETER_BYTES = 4 * 2**30


def _components(value, n_rows) -> list:
    """``n_components`` of a search (one number, or any iterable: a range, a list, a generator) as checked ints."""
    if isinstance(value, range):
        # A range is checked from its ends: range(1, 10**9) is refused without being listed.
        if len(value) and (value[0] < 1 or value[-1] < 1 or max(value[0], value[-1]) > n_rows):
            bad = min(value[0], value[-1]) if min(value[0], value[-1]) < 1 else max(value[0], value[-1])
            raise ValueError(_components_message(bad, n_rows))
        if len(value) > MAX_CANDIDATES:
            raise ValueError(f"n_components holds {len(value):,} values; at most {MAX_CANDIDATES:,} candidates are "
                             "fitted together: narrow the grid")
        return list(value)
    values = [value] if np.ndim(value) == 0 and not hasattr(value, "__iter__") else \
        _bounded_list(value, "n_components", MAX_CANDIDATES)
    for k in values:
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1 or k > n_rows:
            raise ValueError(_components_message(k, n_rows))
    return [int(k) for k in values]


def _components_message(k, n_rows):
    if isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)) and k > n_rows:
        return (f"Expected n_samples >= n_components but got n_components = {k}, n_samples = {n_rows}")
    return f"n_components must be an integer >= 1 (or an iterable of them); got {k!r:.40}"


def _bounded_list(values, name, limit) -> list:
    """``list(values)`` for any iterable, refused past ``limit`` items without reading the rest."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{name} must be a value or an iterable of values; got {values!r:.40}")
    out = list(itertools.islice(iter(values), limit + 1))
    if len(out) > limit:
        raise ValueError(f"{name} holds more than {limit:,} values; at most {limit:,} candidates are fitted "
                         "together: narrow the grid")
    return out


def _parameter_bytes(k, d, covariance_type) -> int:
    """float64 bytes of one candidate's means, covariances and precisions."""
    per_component = {"full": 2 * d * d, "tied": 0, "diag": 2 * d, "spherical": 2}[covariance_type]
    shared = 2 * d * d if covariance_type == "tied" else 0
    return 8 * (k * (d + 1 + per_component) + shared)


def _seeds(random_state, n):
    """``n`` candidate seeds, reproducible from an int (or a Generator's next draws)."""
    if isinstance(random_state, np.random.Generator):
        return random_state.integers(0, 2**31 - 1, size=n)
    return np.random.default_rng(random_state).integers(0, 2**31 - 1, size=n)
