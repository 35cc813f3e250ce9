"""Gaussian naive Bayes: a drop-in for ``sklearn.naive_bayes.GaussianNB``, fitted in one pass out of core."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..backends.gaussian_math import logsumexp
from .._transaction import transactional
from .._validation import check_batch, check_positive_int, check_real, check_weights
from ..data.source import as_source
from ..distributions._registry import SCHEMA_VERSION, register_family
from ..fit.driver import EMSettings
from ..fit.local import LocalAccumulation
from ..fit.protocol import FitModel
from ..fit.running_total import RunningTotal
from ..statistics import Composite, Moments, Statistics
from ._labels import _mixed_types, LabelCodes, check_label_values, check_labels, map_rows, unique_labels

__all__ = ["GaussianNB", "class_moments"]


def class_moments(X, codes, w, n_classes) -> Composite:
    """Statistics of one block: unweighted moments of all rows, then each class's weighted moments (diagonal).

    Each part is kept around a row of its own rows (data with a large offset
    stay accurate); a class without rows in the block gives the empty value.
    """
    d = X.shape[1]
    parts = [Moments.of(X, None, X[0], "diag")]
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_classes + 1))
    for c in range(n_classes):
        rows = order[bounds[c]:bounds[c + 1]]
        if rows.size == 0:
            parts.append(Moments.empty(np.zeros(d), "diag"))
        else:
            parts.append(Moments.of(X[rows], None if w is None else w[rows], X[rows[0]], "diag"))
    return Composite(parts)


class GaussianNB(ClassifierMixin, BaseEstimator, FitModel):
    """Gaussian naive Bayes fitted exactly from per-class statistics, one pass over data of any size.

    The parameters, fitted attributes and methods are those of
    :class:`sklearn.naive_bayes.GaussianNB`; ``fit`` also reads ``X`` from a
    memory map, a ``.npy`` path or any :func:`suffstats.data.as_source` input,
    and ``y`` from an array, a memory map or a ``.npy`` path, ``batch_size``
    rows at a time. The statistics of each class (weighted count, mean and
    variance, as moments around a shift) are values that add: the fit is the
    same, bit for bit, for every ``batch_size``, and values computed by other
    processes join through :meth:`absorb`.

    Parameters
    ----------
    priors : array_like of shape (n_classes,), default=None
        Prior probabilities of the classes; by default the weighted class shares.
    var_smoothing : float, default=1e-9
        Share of the largest feature variance added to every variance.
    batch_size : int, default=None
        Rows read at a time (default: all rows of an in-memory array, 65,536
        otherwise). The result does not depend on it.

    Attributes
    ----------
    class_count_ : ndarray of shape (n_classes,)
        Weighted number of training rows of each class.
    class_prior_ : ndarray of shape (n_classes,)
    classes_ : ndarray of shape (n_classes,)
    epsilon_ : float
        The variance added to every variance: ``var_smoothing`` times the
        largest variance of a feature over all rows seen.
    n_features_in_ : int
    theta_ : ndarray of shape (n_classes, n_features)
        Mean of each feature per class.
    var_ : ndarray of shape (n_classes, n_features)
        Variance of each feature per class (``epsilon_`` included).

    Notes
    -----
    ``epsilon_`` comes from the variance of *all rows seen so far* (the
    statistics add), where scikit-learn uses the rows of the latest
    ``partial_fit`` call only; after ``fit`` the two agree. Labels keep
    scikit-learn's meaning: ``-1`` is a class like any other (the
    semi-supervised classifiers are :class:`~suffstats.BayesClassifier` and
    :class:`~suffstats.NaiveBayes`), so labels that are all ``-1`` fit one
    class. Labels must be finite (a NaN label is refused, naming its row), and
    every label of a :meth:`partial_fit` batch must be one of ``classes_``.
    Float labels must be whole numbers, from a memory map as in memory.

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats import GaussianNB
    >>> X = np.array([[-2, -1], [-1, -1], [-1, -2], [1, 1], [1, 2], [2, 1]])
    >>> y = np.array([1, 1, 1, 2, 2, 2])
    >>> clf = GaussianNB().fit(X, y)
    >>> clf.predict([[-0.8, -1]]).tolist(), clf.theta_[0].round(3).tolist()
    ([1], [-1.333, -1.333])
    """

    _transactional = True

    def __init__(self, *, priors=None, var_smoothing=1e-9, batch_size=None):
        self.priors = priors
        self.var_smoothing = var_smoothing
        self.batch_size = batch_size

    # -- the fit-model hooks: one pass of labelled rows -----------------------------------------
    def _validate_batch(self, X, w, row_offset):
        X = check_batch(X, n_features=self._pass_features, row_offset=row_offset, owner=type(self).__name__)
        self._labels.codes(row_offset, row_offset + X.shape[0])  # refuses an unknown label, naming its row
        return X, check_weights(w, X.shape[0], row_offset=row_offset)

    def _new_accumulator(self):
        return RunningTotal(weight_of=lambda value: value.parts[0].weight)

    def _block_values(self, X, w, acc, row_offset=0):
        codes = self._labels.codes(row_offset, row_offset + X.shape[0])
        k, step = len(self._labels.classes), self._block_rows
        return [class_moments(X[i:i + step], codes[i:i + step], None if w is None else w[i:i + step], k)
                for i in range(0, X.shape[0], step)]

    def _maximize(self, acc, inertia):
        self._set_from_totals(acc.to_statistics())

    def _fit_parameters(self):
        return {"totals": self._totals.to_dict()}

    def _load_fit_parameters(self, params):
        self._set_from_totals(Statistics.from_dict(params["totals"]))

    # -- statistics as values ---------------------------------------------------------------
    def _pass(self, X, y, sample_weight, classes):
        """The statistics of every row of ``X`` with labels ``y`` among ``classes``, in one pass."""
        source = as_source(X)
        y = self._checked_labels(y, source.n_rows)
        if source.n_rows == 0:
            check_batch(np.empty((0, source.n_features)))  # raises: X is empty
        if source.n_features == 0:
            raise ValueError(f"0 feature(s) (shape=({source.n_rows}, 0)) while a minimum of 1 is required.")
        sample_weight = check_weights(sample_weight, source.n_rows)
        if sample_weight is not None and not sample_weight.sum() > 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        n_features = getattr(self, "n_features_in_", None) if hasattr(self, "_totals") else None
        if n_features is not None and source.n_features != n_features:
            check_batch(source.read(0, 1), n_features=n_features, owner=type(self).__name__)  # raises
        self._pass_features, self._labels = source.n_features, LabelCodes(y, classes)
        try:
            batch_size = None if self.batch_size is None else check_positive_int(self.batch_size, "batch_size")
            if batch_size is None and source.files():
                batch_size = 65_536
            ranges = EMSettings(batch_size=batch_size).pass_ranges(source.n_rows, self._block_rows)
            acc = LocalAccumulation().accumulate(self, source, ranges, sample_weight)
        finally:
            del self._pass_features, self._labels
        return acc.to_statistics(), source

    @staticmethod
    def _checked_labels(y, n_rows):
        if y is None:
            raise ValueError("GaussianNB requires y to be passed, but the target y is None")
        if not isinstance(y, (np.memmap, str)) and not hasattr(y, "__fspath__"):
            y = np.asarray(y) if not isinstance(y, np.ndarray) else y
            if y.ndim == 1:
                check_label_values(y)  # names the row, where scikit-learn's checks below would not
            y = column_or_1d(y, warn=True)
            try:
                check_classification_targets(y)
            except TypeError:  # labels that cannot be ordered together: numbers mixed with strings, say
                raise ValueError(_mixed_types(y, "y")) from None
        return check_labels(y, n_rows)

    def statistics(self, X, y, sample_weight=None) -> Statistics:
        """The statistics of labelled rows for this model's ``classes_``, as a value; the model is not changed.

        Values of disjoint parts of the data add with ``+``; :meth:`absorb` adds one to the model.

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource of shape (n_samples, n_features)
            Rows, read batch by batch (see :func:`suffstats.data.as_source`).
        y : array_like of shape (n_samples,)
            The class label of each row.
        sample_weight : array_like of shape (n_samples,), optional
            Weight of each row (an integer weight is the row repeated).
        """
        check_is_fitted(self, "classes_")
        stats, _ = self._pass(X, y, sample_weight, self.classes_)
        return stats

    @transactional
    def absorb(self, stats: Statistics):
        """Add statistics computed elsewhere (another process or worker) and update the parameters; returns ``self``.

        Parameters
        ----------
        stats : Statistics
            A value from :meth:`statistics` of an equal model (or a sum of such values).
        """
        check_is_fitted(self, "classes_")
        if not isinstance(stats, Composite) or len(stats.parts) != len(self.classes_) + 1 or any(
                not isinstance(p, Moments) or p.first.shape != (self.n_features_in_,) or p.layout != "diag"
                for p in stats.parts):
            raise ValueError(f"cannot absorb these statistics: expected the statistics of GaussianNB over "
                             f"{self.n_features_in_} features and {len(self.classes_)} classes")
        self._set_from_totals(self._totals + stats)
        return self

    # -- fitting --------------------------------------------------------------------------------
    @transactional
    def fit(self, X, y, sample_weight=None):
        """Fit to every row of ``X`` (read ``batch_size`` rows at a time) with labels ``y``; returns ``self``.

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource of shape (n_samples, n_features)
            Rows, read batch by batch (see :func:`suffstats.data.as_source`).
        y : array_like, memory map or ``.npy`` path of shape (n_samples,)
            The class label of each row.
        sample_weight : array_like of shape (n_samples,), optional
            Weight of each row (an integer weight is the row repeated).
        """
        source = as_source(X)
        labels = self._checked_labels(y, source.n_rows)
        classes = unique_labels(labels)
        self._check_priors(len(classes))
        for name in ("_totals", "classes_"):
            self.__dict__.pop(name, None)
        stats, source = self._pass(source, labels, sample_weight, classes)
        self.classes_, self.n_features_in_ = classes, source.n_features
        self._dtype = np.float32 if source.dtype == np.float32 else np.float64
        self._set_from_totals(stats)
        return self

    @transactional
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Add a batch of labelled rows; ``classes`` (every class) is required on the first call; returns ``self``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            The batch.
        y : array_like of shape (n_samples,)
            The class label of each row.
        classes : array_like, optional
            Every class label; required on the first call.
        sample_weight : array_like of shape (n_samples,), optional
            Weight of each row (an integer weight is the row repeated).
        """
        first = getattr(self, "classes_", None) is None
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is not None:
            given = np.unique(np.asarray(classes))
            if not first and not np.array_equal(self.classes_, given):
                raise ValueError(f"`classes={classes!r}` is not the same as on last call to partial_fit, "
                                 f"was: {self.classes_!r}")
        classes = given if first else self.classes_
        self._check_priors(len(classes))
        stats, source = self._pass(X, y, sample_weight, classes)
        if first:
            self.classes_, self.n_features_in_ = classes, source.n_features
            self._dtype = np.float32 if source.dtype == np.float32 else np.float64
            self._set_from_totals(stats)
        else:
            self._set_from_totals(self._totals + stats)
        return self

    def _check_priors(self, n_classes):
        check_real(self.var_smoothing, "var_smoothing", minimum=0.0)
        if self.priors is None:
            return None
        priors = np.asarray(self.priors, dtype=np.float64)
        if priors.ndim != 1 or priors.shape[0] != n_classes:
            raise ValueError("Number of priors must match number of classes.")
        if not np.isclose(priors.sum(), 1.0):
            raise ValueError("The sum of the priors should be 1.")
        if (priors < 0).any():
            raise ValueError("Priors must be non-negative.")
        return priors

    def _set_from_totals(self, totals):
        """Parameters from the total statistics (class weights, means, variances), as scikit-learn keeps them."""
        overall, *parts = totals.parts
        k, d = len(parts), overall.first.shape[0]
        spread = np.maximum(overall.scatter(), 0.0) / overall.weight if overall.weight > 0 else np.zeros(d)
        epsilon = float(self.var_smoothing * spread.max()) if d else 0.0
        count, theta, var = np.zeros(k), np.zeros((k, d)), np.zeros((k, d))
        for c, m in enumerate(parts):
            if m.weight > 0:
                count[c], theta[c], var[c] = m.weight, m.mean(), np.maximum(m.scatter(), 0.0) / m.weight
        priors = self._check_priors(k)
        if priors is None:
            priors = count / count.sum() if count.sum() > 0 else np.full(k, 1.0 / k)
        dtype = self._dtype
        self._totals, self.epsilon_ = totals, epsilon
        self.class_count_, self.class_prior_ = count.astype(dtype), priors.astype(dtype)
        self.theta_, self.var_ = theta.astype(dtype), (var + epsilon).astype(dtype)

    # -- prediction -------------------------------------------------------------------------------
    def _joint_log_likelihood(self, X):
        theta, var = self.theta_.astype(np.float64), self.var_.astype(np.float64)
        with np.errstate(divide="ignore"):
            log_prior = np.log(self.class_prior_.astype(np.float64))
        out = np.empty((X.shape[0], len(self.classes_)))
        for c in range(len(self.classes_)):
            n_ij = -0.5 * np.sum(np.log(2.0 * np.pi * var[c]))
            out[:, c] = log_prior[c] + (n_ij - 0.5 * np.sum((X - theta[c]) ** 2 / var[c], axis=1))
        return out

    def _map(self, X, function):
        check_is_fitted(self, "classes_")
        return map_rows(X, self.n_features_in_, function, type(self).__name__)

    def predict_joint_log_proba(self, X):
        """Joint log-probability ``log P(x, c)`` of each row and class, shape (n_samples, n_classes).

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource of shape (n_samples, n_features)
            Rows, read batch by batch (see :func:`suffstats.data.as_source`).
        """
        return self._map(X, self._joint_log_likelihood)

    def predict_log_proba(self, X):
        """Log-probability of each class for each row.

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource of shape (n_samples, n_features)
            Rows, read batch by batch (see :func:`suffstats.data.as_source`).
        """
        def log_proba(B):
            jll = self._joint_log_likelihood(B)
            return jll - logsumexp(jll, axis=1, keepdims=True)
        return self._map(X, log_proba)

    def predict_proba(self, X):
        """Probability of each class for each row.

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource of shape (n_samples, n_features)
            Rows, read batch by batch (see :func:`suffstats.data.as_source`).
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """The most probable class of each row.

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource of shape (n_samples, n_features)
            Rows, read batch by batch (see :func:`suffstats.data.as_source`).
        """
        best = self._map(X, lambda B: np.argmax(self._joint_log_likelihood(B), axis=1))
        return self.classes_[best]

    # -- persistence -----------------------------------------------------------------------------------
    def to_dict(self):
        """JSON-safe description: settings, classes and the total statistics (a loaded model can go on
        with ``partial_fit`` exactly where this one is)."""
        check_is_fitted(self, "classes_")
        if self.classes_.dtype.kind not in "iuU":
            raise TypeError(f"classes of dtype {self.classes_.dtype} cannot be written as JSON (integers or strings)")
        priors = None if self.priors is None else np.asarray(self.priors, dtype=np.float64).tolist()
        return {"schema": SCHEMA_VERSION, "family": "GaussianNB",
                "settings": {"priors": priors, "var_smoothing": float(self.var_smoothing),
                             "batch_size": self.batch_size},
                "classes": self.classes_.tolist(), "float32": self._dtype == np.float32,
                "statistics": self._totals.to_dict()}

    @classmethod
    def _from_dict(cls, data):
        settings = data.get("settings")
        if not isinstance(settings, dict) or set(settings) - {"priors", "var_smoothing", "batch_size"}:
            raise ValueError("settings must be an object with priors, var_smoothing and batch_size")
        model = cls(**settings)
        classes = data.get("classes")
        if not isinstance(classes, list) or not classes or len({type(c) for c in classes}) != 1 \
                or type(classes[0]) not in (int, str) or len(set(classes)) != len(classes):
            raise ValueError("classes must be a non-empty list of distinct integers or of distinct strings")
        stats = Statistics.from_dict(data.get("statistics"))
        parts = getattr(stats, "parts", None)
        d = parts[0].first.shape[0] if parts and isinstance(parts[0], Moments) and parts[0].first.ndim == 1 else 0
        if not parts or len(parts) != len(classes) + 1 or d == 0 or any(
                not isinstance(p, Moments) or p.layout != "diag" or p.first.shape != (d,) or p.shift.shape != (d,)
                or not p.weight >= 0 or not p.is_finite() for p in parts):
            raise ValueError(f"statistics must be {len(classes) + 1} finite diagonal moments of one number of "
                             "features with non-negative weights (all rows, then each class)")
        if not parts[0].weight > 0:
            raise ValueError("statistics: the moments of all rows have zero weight")
        model.classes_, model.n_features_in_ = np.array(sorted(classes)), d
        if model.classes_.tolist() != classes:
            raise ValueError("classes must be listed in sorted order")
        model._dtype = np.float32 if data.get("float32") is True else np.float64
        model._check_priors(len(classes))
        model._set_from_totals(stats)
        return model


register_family(GaussianNB)
