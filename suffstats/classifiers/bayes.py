"""Bayes classifiers over any families: per-class statistics in one pass, EM over unlabelled rows.

:class:`BayesClassifier` keeps one distribution per class (a multivariate
normal, independent components of mixed families, a mixture...) and the class
priors. Labelled rows give their class's distribution their statistics;
rows labelled ``-1`` are unlabelled, and the fit runs EM over them through the
one driver (``suffstats.fit``): each epoch hands every
unlabelled row to each class weighted by the class's posterior, while
labelled rows keep their class. Statistics are summed per fixed block of
rows, so the fit is the same, bit for bit, for every ``batch_size``.
:class:`~suffstats.NaiveBayes` (in ``naive_bayes.py``) is the classifier whose
classes are products of independent univariate features.
"""

from __future__ import annotations

import numpy as np

from ..backends.gaussian_math import logsumexp
from .._transaction import transaction, transactional
from .._validation import check_batch, check_positive_int, check_weights, json_numbers
from ..data.blocks import batch_ranges
from ..data.source import as_source
from ..data.views import SingleColumn
from ..distributions._base import Distribution
from ..distributions._registry import SCHEMA_VERSION, distribution_from_dict, register_family
from ..fit.driver import EMSettings
from ..fit.estimator import fit_model
from ..fit.local import LocalAccumulation
from ..fit.protocol import FitModel
from ..fit.running_total import RunningTotal
from ..fit.summaries import Summaries
from ..statistics import Additive, Composite, Empty, blend
from ._labels import LABEL_CHUNK, UNLABELLED, LabelCodes, check_labels, map_rows

__all__ = ["BayesClassifier"]


class BayesClassifier(Summaries, FitModel):
    """A Bayes classifier over any suffstats distributions, one per class, fitted out of core.

    Classes are numbered ``0 .. k-1`` by the order of ``distributions``, and
    ``predict`` returns these numbers (as pomegranate does). A row labelled
    ``-1`` is unlabelled: the fit is then semi-supervised EM.

    Parameters
    ----------
    distributions : sequence of Distribution
        One per class: all univariate or all over rows of the same number of
        features. A distribution given with parameters is a starting point
        (its class needs no labelled rows); one without is estimated from its
        class's labelled rows. A mixture (:class:`~suffstats.GeneralMixtureModel`)
        given without parameters is initialised from a sample of its class's rows.
    priors : array_like of shape (k,), optional
        Fixed class priors (non-negative, summing to one); by default they are
        estimated: the weighted class shares, unlabelled rows counted by their
        posteriors.
    max_iter : int, default=100
        EM epochs over all rows when some rows are unlabelled, or when a class
        is a mixture (each epoch one EM step of every mixture).
    tol : float, default=1e-3
        Convergence threshold on the change of the mean log-likelihood per row.
    batch_size : int, optional
        Rows read at a time (the result does not depend on it).
    inertia : float in [0, 1], default=0
        Weight of the old parameters in each update.
    verbose : int, default=0
        Print one line per EM epoch when above 0.
    init_sample_size : int, default=100,000
        Rows sampled to initialise a mixture given without parameters.
    random_state : int, optional
        Seeds the sample and the mixtures' k-means.

    Attributes
    ----------
    priors_ : ndarray of shape (k,)
        The class priors.
    n_iter_ : int
        EM epochs run after the pass over the labelled rows (0: fully supervised).
    converged_ : bool
    lower_bounds_ : list of float
        Mean log-likelihood per row (``log p(x, y)`` of labelled rows,
        ``log p(x)`` of unlabelled ones) at each epoch.

    Notes
    -----
    The fit reads the labelled rows once to estimate the classes, then, when
    some rows are unlabelled, runs EM over every row. A fit where every row is
    unlabelled is refused: that is a mixture (:class:`~suffstats.GeneralMixtureModel`).
    So is a label that is NaN, a fraction, a string or a number outside
    ``-1 .. k-1`` (the first such row named), labels of another length than
    ``X``, and a class with neither labelled rows nor given parameters; a
    refused fit leaves the model as it was.
    Labels are read with the rows, a slice at a time: ``y`` may be a memory map.

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats import BayesClassifier, MultivariateNormal
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(0, 1, (500, 2)), rng.normal(4, 1, (500, 2))])
    >>> y = np.repeat([0, 1], 500)
    >>> y[::2] = -1  # half of the rows unlabelled
    >>> clf = BayesClassifier([MultivariateNormal(), MultivariateNormal()], batch_size=300).fit(X, y)
    >>> clf.predict([[0.0, 0.0], [4.0, 4.0]]).tolist(), np.round(clf.priors_, 2).tolist()
    ([0, 1], [0.5, 0.5])
    """

    _transactional = True
    _summarize_returns_log_likelihood = True

    def __init__(self, distributions, priors=None, *, max_iter=100, tol=1e-3, batch_size=None, inertia=0.0,
                 verbose=0, init_sample_size=100_000, random_state=None):
        self.distributions = list(distributions)
        if not self.distributions:
            raise ValueError(f"{type(self).__name__} needs at least one distribution")
        for j, d in enumerate(self.distributions):
            if not isinstance(d, Distribution):
                raise TypeError(f"distributions[{j}] must be a suffstats Distribution; got {d!r}")
        if len({d.ndim for d in self.distributions}) != 1:
            raise ValueError("the class distributions must all be univariate or all multivariate")
        self.priors = None if priors is None else _check_priors(priors, len(self.distributions))
        self.priors_ = None if self.priors is None else self.priors.copy()
        self.max_iter = check_positive_int(max_iter, "max_iter", minimum=0)
        self.tol, self.inertia, self.verbose = float(tol), float(inertia), verbose
        self.batch_size = None if batch_size is None else check_positive_int(batch_size, "batch_size")
        self.init_sample_size = check_positive_int(init_sample_size, "init_sample_size")
        self.random_state = random_state
        self.batches_per_epoch, self.lr_decay, self.callbacks, self.progress = None, 0.0, (), False
        self.frozen = False
        self._phase = "all"

    @property
    def n_classes(self):
        return len(self.distributions)

    @property
    def ndim(self):
        return self.distributions[0].ndim

    @property
    def fitted(self):
        """Whether the priors and every class's distribution have parameters."""
        return self.priors_ is not None and all(d.fitted for d in self.distributions)

    def _n_features(self):
        if self.ndim == 1:
            return None
        return next((d._n_features() for d in self.distributions if d._n_features() is not None), None)

    # -- E-step: the statistics of a block --------------------------------------------------------
    def _class_log_prob(self, X):
        """``log π_c + log p_c(x)`` of validated rows, shape (n, k); -inf outside a class's support."""
        with np.errstate(divide="ignore"):
            log_priors = np.log(self.priors_)
        return np.stack([d.log_probability(X) for d in self.distributions], axis=1) + log_priors

    def _block_value(self, X, codes, w):
        ww = np.ones(X.shape[0]) if w is None else w
        labelled = codes >= 0
        resp = np.zeros((X.shape[0], self.n_classes))
        resp[np.flatnonzero(labelled), codes[labelled]] = 1.0
        if self._phase == "labelled":
            weight, log_likelihood = ww[labelled].sum(), 0.0
        else:
            log_prob = self._class_log_prob(X)
            log_norm = logsumexp(log_prob, axis=1)
            if not np.isfinite(log_norm).all():
                raise ValueError(f"row {int(np.argmax(~np.isfinite(log_norm)))} has zero probability under every "
                                 "class (outside the support of each)")
            resp[~labelled] = np.exp(log_prob[~labelled] - log_norm[~labelled, None])
            row_ll = np.where(labelled, log_prob[np.arange(X.shape[0]), np.maximum(codes, 0)], log_norm)
            weight, log_likelihood = ww.sum(), ww @ row_ll
        resp *= ww[:, None]
        parts = [Additive({"weight": weight, "log_likelihood": log_likelihood, "counts": resp.sum(axis=0)})]
        for c, d in enumerate(self.distributions):
            rows = resp[:, c] > 0
            parts.append(d.statistics(X[rows], resp[rows, c]) if rows.any() else Empty())
        return Composite(parts)

    # -- the fit-model hooks ------------------------------------------------------------------------
    def _validate_batch(self, X, w, row_offset):
        X = check_batch(X, ndim=self.ndim, n_features=self._n_features(), row_offset=row_offset,
                        owner=type(self).__name__)
        if getattr(self, "_labels", None) is not None:
            self._labels.codes(row_offset, row_offset + X.shape[0])
        return X, check_weights(w, X.shape[0], row_offset=row_offset)

    def _new_accumulator(self):
        return RunningTotal()

    def _block_values(self, X, w, acc, row_offset=0):
        labels = getattr(self, "_labels", None)
        codes = np.full(X.shape[0], UNLABELLED) if labels is None else labels.codes(row_offset, row_offset + len(X))
        step = self._block_rows
        return [self._block_value(X[i:i + step], codes[i:i + step], None if w is None else w[i:i + step])
                for i in range(0, X.shape[0], step)]

    def _check_fitted(self):
        if not self.fitted:
            raise ValueError(f"{type(self).__name__} has no parameters yet: fit it first")

    def _maximize(self, acc, inertia):
        """The classes' M-steps and the priors, committed whole; a class that received no rows keeps its parameters."""
        totals, *parts = acc.to_statistics().parts
        counts = np.asarray(totals.fields["counts"], dtype=np.float64)
        with transaction(*self.distributions):
            for d, part in zip(self.distributions, parts):
                if not isinstance(part, Empty) and not d.frozen:
                    d._maximize(d._new_accumulator().from_value(part), inertia)
            if self.priors is None and counts.sum() > 0:
                estimate = counts / counts.sum()
                self.priors_ = estimate if self.priors_ is None else blend(self.priors_, estimate, inertia)

    def _fit_parameters(self):
        return (self.priors_.copy(),) + tuple(d._fit_parameters() for d in self.distributions)

    def _load_fit_parameters(self, params):
        priors, *classes = params
        self.priors_ = np.asarray(priors, dtype=np.float64)
        for d, values in zip(self.distributions, classes):
            d._load_fit_parameters(values)

    def _initialize(self, source, sample_weight, rng, strategy=None):
        """Mixtures given without parameters from a sample of their rows; then one pass over the labelled rows."""
        self._initialize_mixtures(source, sample_weight, rng)
        strategy = LocalAccumulation() if strategy is None else strategy
        self._phase = "labelled"
        try:
            acc = strategy.accumulate(self, source, EMSettings.of(self).pass_ranges(source.n_rows, self._block_rows),
                                      sample_weight)
        finally:
            self._phase = "all"
        totals, *parts = acc.to_statistics().parts
        for c, (d, part) in enumerate(zip(self.distributions, parts)):
            if isinstance(part, Empty) and not d.fitted:
                raise ValueError(f"class {c} has no labelled rows (and its distribution no parameters): label some "
                                 "of its rows or give its distribution parameters")
        self._maximize(acc, 0.0)
        if self.priors is None and not (np.asarray(totals.fields["counts"]) > 0).all():
            # A class known only from its given parameters starts with an equal share; EM finds its rows.
            self.priors_ = np.full(self.n_classes, 1.0 / self.n_classes)

    def _initialize_mixtures(self, source, sample_weight, rng):
        unfitted = [c for c, d in enumerate(self.distributions) if not d.fitted and hasattr(d, "_component_log_prob")]
        if not unfitted:
            return
        rows = source.sample_indices(self.init_sample_size, rng)
        X = np.asarray(source.take(rows), dtype=np.float64)
        codes = self._labels.codes(0, len(self._labels.y))[rows] if len(rows) else rows
        for c in unfitted:
            mine = codes == c
            if not mine.any():
                raise ValueError(f"class {c} has no labelled rows in the sample that initialises its mixture")
            Xc = X[mine] if X.ndim == 1 or self.ndim == 2 else X[mine, 0]
            self.distributions[c].fit(Xc, None if sample_weight is None else sample_weight[rows][mine])

    # -- fitting --------------------------------------------------------------------------------------
    @transactional
    def fit(self, X, y, sample_weight=None):
        """Fit to the rows of ``X`` with labels ``y`` (``-1``: unlabelled); returns ``self``.

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource
            See :func:`suffstats.data.as_source`.
        y : array_like, memory map or ``.npy`` path of shape (n_rows,)
            Class numbers ``0 .. k-1``, or ``-1`` for an unlabelled row.
        sample_weight : array_like of shape (n_rows,), optional
            Weight of each row (an integer weight is the row repeated).
        """
        source = as_source(X, ndim=self.ndim)
        if self.ndim == 2 and self._n_features() not in (None, source.n_features):
            raise ValueError(f"X has {source.n_features} features, but the classes expect {self._n_features()}")
        labels = check_labels(y, source.n_rows)
        if labels.dtype.kind not in "iuf":
            raise ValueError(f"y must hold class numbers 0 .. {self.n_classes - 1} (or -1); got dtype {labels.dtype}")
        if sample_weight is not None:
            sample_weight = check_weights(sample_weight, source.n_rows)
        self._labels = LabelCodes(labels, np.arange(self.n_classes), unlabelled=True)
        try:
            unlabelled = _count_unlabelled(self._labels)
            if unlabelled == source.n_rows:
                raise ValueError("every row is unlabelled (-1): there is nothing to learn the classes from; "
                                 "fit a GeneralMixtureModel for clustering")
            iterate = unlabelled > 0 or any(hasattr(d, "_component_log_prob") for d in self.distributions)
            settings = EMSettings.of(self)
            settings.max_iter = self.max_iter if iterate else 0
            self._pending = None
            history = fit_model(self, SingleColumn(source) if self.ndim == 1 else source, sample_weight, settings, 1)
        finally:
            self._labels = None
        self.n_iter_, self.converged_ = history.n_iter, history.converged or not iterate
        self.lower_bounds_ = list(history.lower_bounds)
        return self

    # -- prediction -------------------------------------------------------------------------------------
    def _map(self, X, function):
        self._check_fitted()
        if self.ndim == 1:
            X = np.asarray(X, dtype=np.float64)
            return function(check_batch(X, ndim=1, owner=type(self).__name__))
        return map_rows(X, self._n_features(), function, type(self).__name__)

    def predict_log_proba(self, X):
        """Log-posterior of each class for each row, shape (n_rows, k).

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource
            Rows, read batch by batch (see :func:`suffstats.data.as_source`).
        """
        def log_proba(B):
            lp = self._class_log_prob(B)
            return lp - logsumexp(lp, axis=1, keepdims=True)
        return self._map(X, log_proba)

    def predict_proba(self, X):
        """Posterior of each class for each row, shape (n_rows, k).

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource
            Rows, read batch by batch (see :func:`suffstats.data.as_source`).
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """The most probable class of each row (its number, from 0 to k-1).

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource
            Rows, read batch by batch (see :func:`suffstats.data.as_source`).
        """
        return self._map(X, lambda B: np.argmax(self._class_log_prob(B), axis=1))

    def log_probability(self, X):
        """``log p(x) = log Σ_c π_c p_c(x)`` of each row.

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource
            Rows, read batch by batch (see :func:`suffstats.data.as_source`).
        """
        return self._map(X, lambda B: logsumexp(self._class_log_prob(B), axis=1))

    def score(self, X, y):
        """Accuracy of :meth:`predict` on labelled rows.

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource
            Rows, read batch by batch (see :func:`suffstats.data.as_source`).
        y : array_like of shape (n_rows,)
            Their class numbers.
        """
        return float(np.mean(self.predict(X) == np.asarray(y)))

    # -- persistence -----------------------------------------------------------------------------------
    _SETTINGS = ("max_iter", "tol", "batch_size", "inertia", "init_sample_size")

    def to_dict(self):
        """JSON-safe description: settings, priors and every class's distribution."""
        self._check_fitted()
        return {"schema": SCHEMA_VERSION, "family": type(self).__name__,
                "settings": {name: getattr(self, name) for name in self._SETTINGS},
                "priors": None if self.priors is None else self.priors.tolist(), "priors_": self.priors_.tolist(),
                "distributions": [d.to_dict() for d in self.distributions]}

    @classmethod
    def _from_dict(cls, data):
        settings = data.get("settings", {})
        if not isinstance(settings, dict) or set(settings) - set(cls._SETTINGS):
            raise ValueError(f"settings must be an object with some of {list(cls._SETTINGS)}")
        entries = data.get("distributions")
        if not isinstance(entries, list) or not entries:
            raise ValueError("distributions must be a non-empty list of class distributions")
        distributions = [distribution_from_dict(d, f"model.distributions[{c}]") for c, d in enumerate(entries)]
        model = cls(distributions, data.get("priors"), **settings)
        model.priors_ = _check_priors(json_numbers(data.get("priors_"), "priors_"), len(distributions))
        if not model.fitted:
            raise ValueError("every class distribution must have parameters")
        return model


def _check_priors(priors, k):
    priors = np.asarray(priors, dtype=np.float64)
    if priors.shape != (k,):
        raise ValueError(f"priors must hold one number per class ({k}); got shape {priors.shape}")
    if (priors < 0).any() or not np.isfinite(priors).all():
        raise ValueError(f"priors must be finite and non-negative; got {priors.tolist()}")
    if not np.isclose(priors.sum(), 1.0):
        raise ValueError(f"priors must sum to 1; they sum to {priors.sum()}")
    return priors


def _count_unlabelled(labels):
    """Rows labelled -1, counted a chunk at a time (labels are checked on the way)."""
    return sum(int((labels.codes(a, b) < 0).sum()) for a, b in batch_ranges(len(labels.y), LABEL_CHUNK))


register_family(BayesClassifier)
