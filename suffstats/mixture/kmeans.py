"""K-means clustering, out of core, on the same EM driver as the mixtures."""

from __future__ import annotations

import warnings

import numpy as np

from .._estimator import Estimator, TransformerMixin, check_fitted
from .._feature_names import check_feature_names

from .._transaction import transactional
from .._validation import check_batch, check_positive_int, check_weights, json_numbers
from ..backends import get_backend
from ..data.source import as_source
from ..distributions._registry import SCHEMA_VERSION, register_family
from ..distributed import as_strategy
from ..fit.driver import EMSettings
from ..fit.estimator import fit_model, settings_fingerprint
from ._engine import MixtureEngine
from ._moments import ComponentMoments, EmptyComponentWarning
from ._on_device import center_distances, device_namespace
from ._params import check_settings, map_batches
from ._row_bounds import RowBounds
from ._seeding import SEED_METHODS, draw_sample, seed_centers


class KMeans(MixtureEngine, TransformerMixin, Estimator):
    """K-means (Lloyd's algorithm) over data of any size, batch by batch.

    Statistics per cluster are the weight and ``Σw(x - c)`` around the current
    centre ``c``; an epoch is one exact Lloyd step (or, with
    ``batches_per_epoch``, a mini-batch step with ``inertia``/``lr_decay``).

    Parameters
    ----------
    n_clusters : int, default=8
        Number of centres.
    init : {"k-means++", "random_from_data", "first-k"} or array of shape (n_clusters, n_features)
        Seeding, computed on a sample of ``init_sample_size`` rows.
    n_init : int, default=1
        Seedings to run; the run with the lowest final inertia is kept.
    max_iter, tol : int, float
        Stop after ``max_iter`` epochs or when the mean squared distance
        changes by less than ``tol`` times the mean feature variance.
    batch_size, batches_per_epoch, inertia, lr_decay, init_sample_size
        As for :class:`suffstats.GaussianMixture`.
    random_state : int, Generator or None
        Seed of the row sample and of the seeding; an int makes fits reproducible.
    verbose : int, default=0
        Print one line per epoch when positive.
    callbacks : list of callables, optional
        Called after each epoch as ``callback(model, logs)``. One that raises
        stops the fit as Ctrl-C does: the centres of the epoch just completed stay.
    progress : bool
        Show a progress bar over the rows of each epoch.
    backend : {"numba", "numpy"}, default="numba"
        Kernel backend (see :mod:`suffstats.backends`).

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

    def __init__(self, n_clusters=8, *, init="k-means++", n_init=1, max_iter=300, tol=1e-4, random_state=None,
                 verbose=0, batch_size=None, batches_per_epoch=None, inertia=0.0, lr_decay=0.0,
                 init_sample_size=100_000, callbacks=None, progress=False, backend="numba"):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
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

    # -- engine hooks (see suffstats.mixture._engine) -----------------------------------
    def _fit_parameters(self):
        return (self.cluster_centers_,)

    def _load_fit_parameters(self, params):
        (centers,) = params
        self.cluster_centers_ = np.array(centers, dtype=np.float64)

    def _check_fit_parameters(self, params):
        check_centers(params, self.n_clusters, self.n_features_in_)

    def _check_fitted(self):
        check_fitted(self, "cluster_centers_")

    # The values of a batch are read once, by the kernel: its statistics are not finite whenever a
    # value is not, and the engine then names the row and column as check_batch would (a separate
    # pass over every batch, every epoch, would cost as much as the distances).
    _values_checked_in_blocks = True

    def _validate_batch(self, X, w, row_offset, check_finite=False):
        X = check_batch(X, n_features=self.n_features_in_, row_offset=row_offset, owner=type(self).__name__,
                        check_finite=check_finite)
        return X, check_weights(w, X.shape[0], row_offset=row_offset)

    def _validate_rows(self, X, w, row_offset):
        """``_validate_batch`` with the values checked too: for rows not passed through the kernel."""
        return self._validate_batch(X, w, row_offset, check_finite=True)

    def _shifts(self):
        return self.cluster_centers_

    def _new_accumulator(self):
        return ComponentMoments(self.cluster_centers_, "trace")

    def _accumulator_from_statistics(self, stats):
        return ComponentMoments.checked(stats, self.n_clusters, self.n_features_in_, "trace")

    def _accumulator_from_state(self, state):
        acc = super()._accumulator_from_state(state)
        for _, (_, log_likelihood, counts, first, _) in acc._tree.stack:
            # Σw·d² (here -log_likelihood) is at least what the first moments imply: Σ_j ‖Σw(x - c_j)‖² / Σw_j.
            implied = sum(float(f @ f) / c for f, c in zip(first, counts) if c > 0)
            if log_likelihood > 0 or implied > -log_likelihood * (1 + 1e-8) + 1e-300 \
                    or any(c == 0 and (f != 0).any() for f, c in zip(first, counts)):
                raise ValueError("its sums of squared distances are smaller than its first moments allow: "
                                 "no rows give these statistics")
        return acc

    def _block_kernel(self):
        kernels, centers = get_backend(self.backend, "nearest-centre"), self.cluster_centers_

        def block(X, w):
            weight, inertia, counts, first, _ = kernels.nearest_block(X, w, centers)
            return weight, -inertia, counts, first, None

        return kernels, block

    def _run_kernel(self):
        kernels, centers = get_backend(self.backend, "nearest-centre"), self.cluster_centers_
        if not hasattr(kernels, "nearest_run"):
            return None
        bounds = getattr(self, "_row_bounds", None)
        carried = None if bounds is None else bounds.begin(centers)

        def run(X, w, size, first_row):
            rows = None if bounds is None else bounds.slices(first_row, first_row + X.shape[0], carried)
            weight, inertia, counts, first, _ = kernels.nearest_run(X, w, centers, size, rows)
            return weight, -inertia, counts, first, None

        return kernels, run

    def _estimate(self, acc, previous):
        empty = acc.resp <= 0
        if empty.any():
            warnings.warn(f"clusters {np.flatnonzero(empty).tolist()} received no rows and keep their centres",
                          EmptyComponentWarning, stacklevel=4)
        return (acc.shifts + acc.first / np.where(empty, 1.0, acc.resp)[:, None],)

    def _initialize(self, source, sample_weight, rng, strategy=None):
        if isinstance(self.init, str):
            sample, w = draw_sample(source, sample_weight, self.init_sample_size, rng, self._validate_rows)
            self.cluster_centers_ = seed_centers(self.init, sample, w, self.n_clusters, rng, source)
        else:
            self.cluster_centers_ = np.array(self._given_centers(), dtype=np.float64)

    def _given_centers(self):
        centers = check_batch(self.init, n_features=self.n_features_in_, name="init")
        if centers.shape[0] != self.n_clusters:
            raise ValueError(f"init has {centers.shape[0]} centres; expected n_clusters = {self.n_clusters}")
        return centers

    # -- public API ------------------------------------------------------------
    @transactional
    def fit(self, X, y=None, sample_weight=None, checkpoint=None, checkpoint_every=None, client=None):
        """Cluster ``X`` (array, memory map, path or batch source); returns ``self``.

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource
            Rows, read batch by batch (see :func:`suffstats.data.as_source`).
        y : ignored
            Present for scikit-learn's API.
        sample_weight : array_like of shape (n_rows,), optional
            Weight of each row (an integer weight is the row repeated).
        checkpoint : str or path-like, optional
            A file the fit state is written to; the same fit run again resumes from it bit for bit.
        checkpoint_every : int, optional
            Write it after this many batches (default: after every minute of work, and after each epoch).
        client : distributed.Client or suffstats.distributed.DaskAccumulation, optional
            Gather each epoch's statistics on this Dask cluster, bit for bit as the local fit.
        """
        return self._run_fit(X, sample_weight, checkpoint, checkpoint_every, client)

    def _run_fit(self, X, sample_weight, checkpoint, checkpoint_every, client=None):
        check_feature_names(self, X, reset=True)
        check_settings(self)
        if isinstance(self.init, str) and self.init not in SEED_METHODS:
            raise ValueError(f"init must be one of {list(SEED_METHODS)} or an array; got {self.init!r}")
        source = as_source(X)
        if source.n_rows < self.n_clusters:
            raise ValueError(f"Expected n_samples >= n_clusters but got n_clusters = {self.n_clusters}, "
                             f"n_samples = {source.n_rows}")
        sample_weight = None if sample_weight is None else check_weights(sample_weight, source.n_rows)
        self.n_features_in_ = source.n_features
        if not isinstance(self.init, str):
            self._given_centers()  # refused before anything runs
        # tol is relative to the mean feature variance, measured on a seeded sample.
        sample, _ = draw_sample(source, None, self.init_sample_size, np.random.default_rng(0), self._validate_rows)
        scale = float(np.mean(np.var(sample, axis=0)))
        if scale < np.finfo(np.float64).tiny and np.ptp(sample, axis=0).any():
            # Rows that differ, but whose squared differences underflow: every distance would tie at 0.
            raise ValueError(f"the rows of X differ by at most {np.ptp(sample, axis=0).max():.3g}: squared distances "
                             "underflow float64 (below 2.2e-308) and every row would tie; multiply X by a constant")
        scale = scale or 1.0
        self._pending = None
        # Rows read here, by position, keep distance bounds between passes (the same labels, fewer distances);
        # not in mini-batch epochs, where a row seldom comes back while its bounds are current.
        local = client is None and source.random_access and self.batches_per_epoch is None
        self._row_bounds = RowBounds(source.n_rows) if local else None
        try:
            fit_model(self, source, sample_weight, EMSettings.of(self, tol=self.tol * scale), self.n_init,
                      checkpoint=checkpoint,
                      checkpoint_every=check_positive_int(checkpoint_every, "checkpoint_every", allow_none=True),
                      fingerprint=settings_fingerprint(self.get_params(), sample_weight,
                                                       exact=self.batches_per_epoch is None),
                      strategy=as_strategy(client))
        finally:
            self._row_bounds = None
        return self

    def __getstate__(self):
        # A fit's distance bounds (24 bytes a row) are its scratch: a copy or pickle taken during the fit,
        # by a callback, leaves them behind.
        state = self.__dict__.copy()
        state.pop("_row_bounds", None)
        return state

    def _record_history(self, history):
        self.n_iter_ = history.n_iter
        self.inertia_ = -history.lower_bound * history.total_weights[-1] if history.n_iter else np.nan

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the nearest centre of each row.

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
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def transform(self, X):
        """Euclidean distance of each row to each centre, shape (n, n_clusters).

        Parameters
        ----------
        X : array, memory map, path or batch source
            Rows with the features of the fit, read batch by batch (see
            :func:`suffstats.data.as_source`); a CuPy array is measured on
            the device and the result is a CuPy array.

        Returns
        -------
        ndarray of shape (n_samples, n_clusters)
        """
        check_fitted(self, "cluster_centers_")
        if device_namespace(X) is not None:  # CuPy rows are measured on the device, a CuPy array comes back
            return center_distances(self, X)
        kernels = get_backend(self.backend, "nearest-centre")
        return map_batches(self, X, lambda B: np.sqrt(kernels.squared_distances(B, self.cluster_centers_)),
                           validate=self._validate_rows)

    def predict(self, X):
        """Index of the nearest centre of each row.

        Parameters
        ----------
        X : array, memory map, path or batch source
            Rows with the features of the fit, read batch by batch (see
            :func:`suffstats.data.as_source`); a CuPy array is measured on
            the device and the result is a CuPy array.

        Returns
        -------
        ndarray of int, shape (n_samples,)
        """
        distances = self.transform(X)
        xp = device_namespace(distances)
        return np.argmin(distances, axis=1) if xp is None else xp.argmin(distances, axis=1)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the weighted sum of squared distances to the nearest centre.

        Parameters
        ----------
        X : array, memory map, path or batch source
            Rows with the features of the fit, read batch by batch (see
            :func:`suffstats.data.as_source`).
        y : ignored
            Not used; present for scikit-learn's API.
        sample_weight : array_like of shape (n_samples,), optional
            Weight of each row's squared distance.

        Returns
        -------
        float
        """
        d2 = self.transform(X).min(axis=1) ** 2
        w = check_weights(sample_weight, d2.shape[0])
        return -float(d2.sum() if w is None else w @ d2)

    # -- persistence ---------------------------------------------------------------------------------
    def to_dict(self):
        """JSON-safe description: centres, settings and schema version (see :func:`suffstats.save`)."""
        check_fitted(self, "cluster_centers_")
        settings = {k: v for k, v in self.get_params().items()
                    if k not in ("init", "callbacks", "random_state")}
        return {"schema": SCHEMA_VERSION, "family": "KMeans", "settings": settings,
                "cluster_centers": self.cluster_centers_.tolist(), "n_iter": int(self.n_iter_),
                "inertia": None if not np.isfinite(self.inertia_) else float(self.inertia_)}

    @classmethod
    def _from_dict(cls, data):
        settings = data.get("settings")
        if not isinstance(settings, dict) or set(settings) - set(cls._get_param_names()):
            raise ValueError(f"settings must be an object of KMeans parameters; got {settings!r:.60}")
        model = cls(**settings)
        check_settings(model)
        centers = json_numbers(data.get("cluster_centers"), "cluster_centers")
        if centers is None or centers.ndim != 2 or centers.shape[0] != model.n_clusters or centers.shape[1] < 1:
            raise ValueError(f"cluster_centers must be an (n_clusters={model.n_clusters}, n_features >= 1) array; "
                             f"got shape {np.shape(centers)}")
        n_iter, inertia = data.get("n_iter", 0), data.get("inertia")
        if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 0:
            raise ValueError(f"n_iter must be a non-negative integer; got {n_iter!r:.40}")
        model.cluster_centers_, model.n_features_in_, model.n_iter_ = centers, centers.shape[1], n_iter
        inertia = np.nan if inertia is None else json_numbers(inertia, "inertia")
        if np.ndim(inertia) != 0 or inertia < 0:
            raise ValueError(f"inertia must be a non-negative number; got {data.get('inertia')!r:.40}")
        model.inertia_ = float(inertia)
        return model


def check_centers(params, k, d):
    """``[centers]`` as a checkpoint holds them: a finite (k, d) array."""
    if not isinstance(params, list) or len(params) != 1:
        raise ValueError("expected [centers]")
    centers = json_numbers(params[0], "centers")
    if centers is None or centers.shape != (k, d):
        raise ValueError(f"centers must be a ({k}, {d}) array; got shape {np.shape(centers)}")


register_family(KMeans)
