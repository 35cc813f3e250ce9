"""K-means clustering, out of core, on the same EM driver as the mixtures."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import check_batch, check_weights
from ..backends import get_backend
from ..data.blocks import BLOCK_ROWS
from ..data.source import as_source
from ..em import EMHistory, EMSettings, run_em
from ._seeding import SEED_METHODS, draw_sample, seed_centers
from ._moments import ComponentMoments, EmptyComponentWarning
from ._params import check_settings, map_batches


class KMeans(TransformerMixin, BaseEstimator):
    """K-means (Lloyd's algorithm) over data of any size, batch by batch.

    Statistics per cluster are the weight and ``Σw(x - c)`` around the current
    centre ``c``; an epoch is one exact Lloyd step (or, with
    ``batches_per_epoch``, a mini-batch step with ``inertia``/``lr_decay``).

    Parameters
    ----------
    n_clusters : int
    init : {"k-means++", "random_from_data", "first-k"} or array of shape (n_clusters, n_features)
        Seeding, computed on a sample of ``init_sample_size`` rows.
    max_iter, tol : int, float
        Stop after ``max_iter`` epochs or when the mean squared distance
        changes by less than ``tol`` times the mean feature variance.
    batch_size, batches_per_epoch, inertia, lr_decay, init_sample_size
        As for :class:`suffstats.GaussianMixture`.
    random_state : int, Generator or None
    verbose : int
    callbacks : list of callables, optional
        Called after each epoch as ``callback(model, logs)``.
    progress : bool
        Show a progress bar over the rows of each epoch.

    Notes
    -----
    Unlike scikit-learn, no ``labels_`` array is kept (it would be as long as
    the data); :meth:`predict` and :meth:`fit_predict` compute labels batch by
    batch.

    Attributes
    ----------
    cluster_centers_ : ndarray (n_clusters, n_features)
    inertia_ : float
        Weighted sum of squared distances to the nearest centre in the last epoch.
    n_iter_ : int
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats import KMeans
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
    >>> km = KMeans(2, random_state=0, batch_size=3).fit(X)
    >>> np.sort(km.cluster_centers_[:, 0]).tolist()
    [0.0, 10.0]
    """

    def __init__(self, n_clusters=8, *, init="k-means++", max_iter=300, tol=1e-4, random_state=None, verbose=0,
                 batch_size=None, batches_per_epoch=None, inertia=0.0, lr_decay=0.0, init_sample_size=100_000,
                 callbacks=None, progress=False, backend="numba"):
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch
        self.inertia = inertia
        self.lr_decay = lr_decay
        self.init_sample_size = init_sample_size
        self.callbacks = callbacks
        self.progress = progress
        self.backend = backend

    # -- driver protocol -----------------------------------------------------
    def _validate_batch(self, X, w, row_offset):
        X = check_batch(X, n_features=self.n_features_in_, row_offset=row_offset, owner=type(self).__name__)
        return X, check_weights(w, X.shape[0], row_offset=row_offset)

    def _new_accumulator(self):
        return ComponentMoments(self.cluster_centers_, "trace")

    def _accumulate(self, acc, X, w):
        kernels = get_backend(self.backend)
        for start in range(0, X.shape[0], BLOCK_ROWS):
            stop = start + BLOCK_ROWS
            weight, inertia, counts, first, _ = kernels.nearest_block(
                X[start:stop], None if w is None else w[start:stop], acc.shifts)
            acc.add(weight, -inertia, counts, first, None)

    def _maximize(self, acc, inertia):
        empty = acc.resp <= 0
        centers = acc.shifts + acc.first / np.where(empty, 1.0, acc.resp)[:, None]
        if empty.any():
            warnings.warn(f"clusters {np.flatnonzero(empty).tolist()} received no rows and keep their centres",
                          EmptyComponentWarning, stacklevel=3)
        self.inertia_ = -acc.log_likelihood
        self.cluster_centers_ = inertia * self.cluster_centers_ + (1 - inertia) * centers

    # -- public API ------------------------------------------------------------
    def fit(self, X, y=None, sample_weight=None):
        """Cluster ``X`` (array, memory map or batch source); returns ``self``."""
        check_settings(self)
        source = as_source(X)
        if source.n_rows < self.n_clusters:
            raise ValueError(f"Expected n_samples >= n_clusters but got n_clusters = {self.n_clusters}, "
                             f"n_samples = {source.n_rows}")
        sample_weight = None if sample_weight is None else check_weights(sample_weight, source.n_rows)
        self.n_features_in_ = source.n_features
        rng = np.random.default_rng(self.random_state)
        sample, w = draw_sample(source, sample_weight, self.init_sample_size, rng)
        sample, w = self._validate_batch(sample, w, 0)
        if isinstance(self.init, str):
            if self.init not in SEED_METHODS:
                raise ValueError(f"init must be one of {list(SEED_METHODS)} or an array; got {self.init!r}")
            self.cluster_centers_ = seed_centers(self.init, sample, w, self.n_clusters, rng, source)
        else:
            centers = check_batch(self.init, n_features=self.n_features_in_, name="init")
            if centers.shape[0] != self.n_clusters:
                raise ValueError(f"init has {centers.shape[0]} centres; expected n_clusters = {self.n_clusters}")
            self.cluster_centers_ = np.array(centers, dtype=np.float64)
        scale = float(np.mean(np.var(sample, axis=0))) or 1.0
        settings = EMSettings(batch_size=self.batch_size, batches_per_epoch=self.batches_per_epoch,
                              max_iter=self.max_iter, tol=self.tol * scale, inertia=self.inertia,
                              lr_decay=self.lr_decay, verbose=self.verbose, callbacks=self.callbacks or (), progress=self.progress)
        history = EMHistory()
        self.inertia_ = np.nan
        run_em(self, source, sample_weight, settings, history)
        self.n_iter_ = history.n_iter
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the nearest centre of each row."""
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def transform(self, X):
        """Euclidean distance of each row to each centre, shape (n, n_clusters)."""
        check_is_fitted(self, "cluster_centers_")
        kernels = get_backend(self.backend)
        return map_batches(self, X, lambda B: np.sqrt(kernels.squared_distances(B, self.cluster_centers_)))

    def predict(self, X):
        """Index of the nearest centre of each row."""
        return np.argmin(self.transform(X), axis=1)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the weighted sum of squared distances to the nearest centre."""
        d2 = self.transform(X).min(axis=1) ** 2
        w = check_weights(sample_weight, d2.shape[0])
        return -float(d2.sum() if w is None else w @ d2)
