"""The protocol every distribution follows.

A family supplies five small pieces -- its statistics of a validated batch, the
empty statistics, the M-step from statistics to parameters, its log-density and
a sampler -- and inherits the rest: pending statistics, ``summarize`` /
``from_summaries`` / ``fit``, ``inertia`` and ``frozen``, weights, validation
and JSON-safe parameters.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_batch, check_fraction, check_support, check_weights
from ..statistics import Statistics
from ._fit_source import DEFAULT_BATCH_ROWS, data_statistics

__all__ = ["Distribution", "FAMILIES"]

#: Family name -> class, filled as families are defined; used to load JSON
#: without executing code.
FAMILIES: dict = {}

SCHEMA_VERSION = 1


class Distribution:
    """Base class: a family of distributions fitted from additive statistics.

    Parameters
    ----------
    inertia : float in [0, 1]
        Weight of the old parameters in an update:
        ``new = inertia * old + (1 - inertia) * estimate``.
    frozen : bool
        A frozen distribution ignores updates.

    Notes
    -----
    ``summarize`` adds a batch's statistics to the pending total, leaving the
    parameters alone; ``from_summaries`` turns the total into parameters and
    clears it. Statistics of the same rows are the same however the rows were
    cut into batches.
    """

    #: Snapshotted and restored by :func:`suffstats._transaction.transaction`.
    _transactional = True
    #: 1 for univariate families (1-D data), 2 for rows of features.
    ndim = 1
    #: Names of the parameter attributes, in constructor order.
    parameter_names: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            FAMILIES[cls.__name__] = cls

    def __init__(self, *, inertia=0.0, frozen=False):
        self.inertia = check_fraction(inertia, "inertia")
        self.frozen = bool(frozen)
        self._pending = None

    # -- pieces a family provides ---------------------------------------
    def _statistics(self, X, w) -> Statistics:
        """Statistics of validated rows ``X`` with weights ``w`` (None = ones)."""
        raise NotImplementedError

    def _component_statistics(self, X, w) -> Statistics:
        """Statistics as a mixture component (families with moments shift them to the current mean)."""
        return self._statistics(X, w)

    def _estimate(self, stats: Statistics) -> dict:
        """Parameters estimated from statistics with positive total weight."""
        raise NotImplementedError

    def _log_probability(self, X) -> np.ndarray:
        raise NotImplementedError

    def _sample(self, n, rng) -> np.ndarray:
        raise NotImplementedError

    def _set_parameters(self, params: dict) -> None:
        """Check and store parameters (a family may also refresh caches)."""
        for name in self.parameter_names:
            setattr(self, name, params[name])

    #: Words completing "values must be ..." for the support (None: any finite value).
    support = None

    def _outside(self, X):
        """Boolean mask of entries outside the support (None when every value is allowed)."""
        return None

    def _check_support(self, X, row_offset=0) -> None:
        """Raise ``ValueError`` naming the first row outside the support."""
        bad = self._outside(X)
        if bad is not None:
            check_support(X, bad, self.support, row_offset=row_offset)

    @staticmethod
    def _total_weight(stats: Statistics) -> float:
        raise NotImplementedError

    # -- protocol ---------------------------------------------------------
    @property
    def fitted(self) -> bool:
        """Whether every parameter has a value."""
        return all(getattr(self, name) is not None for name in self.parameter_names)

    @property
    def n_parameters(self) -> int:
        """Number of free parameters (for information criteria)."""
        raise NotImplementedError

    def parameters(self) -> dict:
        """The parameters as a dict of float64 arrays."""
        return {name: np.asarray(getattr(self, name), dtype=np.float64) for name in self.parameter_names}

    def _validate(self, X, sample_weight=None, row_offset=0):
        X = check_batch(X, ndim=self.ndim, n_features=self._n_features(), row_offset=row_offset)
        self._check_support(X, row_offset)
        return X, check_weights(sample_weight, X.shape[0], row_offset=row_offset)

    def _n_features(self):
        return None

    def statistics(self, X, sample_weight=None) -> Statistics:
        """Statistics of a batch, as a value; the model is not changed.

        Parameters
        ----------
        X : array_like
            The batch.
        sample_weight : array_like of shape (n,), optional
            Non-negative weights; integer weights equal repeated rows.
        """
        return self._checked_statistics(X, sample_weight, self._pending)

    def _checked_statistics(self, X, sample_weight, running, row_offset=0) -> Statistics:
        """Validated statistics of a batch to be added to ``running`` (``None``: the first batch).

        Families with a shift reuse ``running``'s, so that values add exactly;
        errors name rows counted from ``row_offset``.
        """
        fast = self._fast_statistics(X, sample_weight, running)
        if fast is not None:
            return fast
        X, w = self._validate(X, sample_weight, row_offset)
        return self._continued_statistics(X, w, running)

    def _continued_statistics(self, X, w, running) -> Statistics:
        """Statistics of validated rows to be added to ``running`` (families with a shift override this)."""
        return self._statistics(X, w)

    def _fast_statistics(self, X, sample_weight, running=None):
        """Statistics from a one-pass kernel that also validates, or ``None`` to take the checked path.

        Families with plain sums override this; any doubt (a bad value, an
        unusual dtype or shape) returns ``None`` and the full validation then
        raises its precise error.
        """
        return None

    def summarize(self, X, sample_weight=None):
        """Add the statistics of a batch to the pending total.

        A batch that fails validation leaves the pending total unchanged.
        """
        stats = self.statistics(X, sample_weight)
        self.absorb(stats)

    def absorb(self, stats: Statistics) -> None:
        """Add a statistics value computed elsewhere to the pending total."""
        self._pending = stats if self._pending is None else self._pending + stats

    @property
    def pending(self):
        """The statistics summarized since the last update (or ``None``)."""
        return self._pending

    def clear_summaries(self) -> None:
        """Drop the pending statistics."""
        self._pending = None

    def from_summaries(self) -> None:
        """Update the parameters from the pending statistics, then clear them.

        Frozen distributions and totals of zero weight leave the parameters as
        they are.
        """
        stats, self._pending = self._pending, None
        if self.frozen or stats is None or not self._total_weight(stats) > 0:
            return
        self._update(self._estimate(stats), self.inertia)

    def _update(self, estimate: dict, inertia: float) -> None:
        """Store ``estimate`` blended with the current parameters: ``inertia·old + (1-inertia)·estimate``."""
        if inertia > 0 and self.fitted:
            old = self.parameters()
            estimate = {k: inertia * old[k] + (1 - inertia) * np.asarray(v) for k, v in estimate.items()}
        self._set_parameters(estimate)

    def fit(self, X, sample_weight=None, *, batch_size=DEFAULT_BATCH_ROWS):
        """Fit to all rows of ``X``, read ``batch_size`` rows at a time; returns ``self``.

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource
            Anything :func:`suffstats.data.as_source` accepts: an array or
            memory map (sliced, never copied whole), a ``.npy`` path, a
            directory, glob or list of ``.npy`` shards, HDF5/Zarr/Parquet/CSV
            paths, a callable returning a fresh iterator of batches, a
            ``dask.array``. Univariate families take 1-D data (or one column).
        sample_weight : array_like of shape (n_rows,), optional
            Non-negative weights aligned with the rows; integer weights equal
            repeated rows.
        batch_size : int
            Rows read at a time (default 65,536). Statistics are summed per
            fixed block of rows, so the result has the same bits for every
            ``batch_size``, and equals the fit of the same rows in memory.

        Returns
        -------
        self

        Notes
        -----
        Pending statistics are replaced by those of ``X``, then turned into
        parameters. The statistics are computed aside and committed at the
        end: a refused fit (a bad value in any row, named by its global index)
        leaves the parameters and the pending statistics exactly as they were.

        Examples
        --------
        >>> import numpy as np, os, tempfile
        >>> from suffstats import MultivariateNormal
        >>> X = np.random.default_rng(0).normal(size=(10_000, 2))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     np.save(os.path.join(tmp, "rows.npy"), X)
        ...     a = MultivariateNormal().fit(os.path.join(tmp, "rows.npy"), batch_size=3000)
        >>> b = MultivariateNormal().fit(X)
        >>> bool(np.array_equal(a.covariance, b.covariance))
        True
        """
        stats = data_statistics(self, X, sample_weight, batch_size)
        saved = self._state()
        try:
            self._pending = stats
            self.from_summaries()
        except BaseException:
            self._restore(saved)
            raise
        return self

    def _state(self):
        """What a failed update must put back (families holding other distributions extend it)."""
        return dict(self.__dict__)

    def _restore(self, state) -> None:
        self.__dict__.clear()
        self.__dict__.update(state)

    def log_probability(self, X) -> np.ndarray:
        """Log-density (or log-mass) of each row."""
        self._require_fitted()
        X = check_batch(X, ndim=self.ndim, n_features=self._n_features())
        bad = self._outside(X)
        if bad is None or not bad.any():
            return self._log_probability(X)
        inside = ~(bad if bad.ndim == 1 else bad.any(axis=1))
        out = np.full(X.shape[0], -np.inf)
        out[inside] = self._log_probability(X[inside])
        return out

    def probability(self, X) -> np.ndarray:
        """Density (or mass) of each row."""
        return np.exp(self.log_probability(X))

    def sample(self, n, random_state=None) -> np.ndarray:
        """Draw ``n`` rows."""
        self._require_fitted()
        return self._sample(int(n), np.random.default_rng(random_state))

    def freeze(self):
        """Stop updates; returns ``self``."""
        self.frozen = True
        return self

    def unfreeze(self):
        """Allow updates again; returns ``self``."""
        self.frozen = False
        return self

    def _require_fitted(self):
        if not self.fitted:
            raise ValueError(f"{type(self).__name__} has no parameters yet: fit it or pass them to the constructor")

    # -- persistence --------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-safe description: family, parameters, settings, schema version."""
        params = {k: (None if getattr(self, k) is None else v.tolist()) for k, v in self._raw_parameters().items()}
        return {
            "schema": SCHEMA_VERSION,
            "family": type(self).__name__,
            "parameters": params,
            "inertia": self.inertia,
            "frozen": self.frozen,
            **self._settings(),
        }

    def _raw_parameters(self):
        return {k: np.asarray(getattr(self, k) if getattr(self, k) is not None else np.nan, dtype=np.float64)
                for k in self.parameter_names}

    def _settings(self) -> dict:
        """Constructor settings other than parameters, inertia and frozen."""
        return {}

    @classmethod
    def _from_dict(cls, data: dict) -> "Distribution":
        params = {k: (None if v is None else np.asarray(v, dtype=np.float64)) for k, v in data["parameters"].items()}
        return cls(**params, **cls._settings_from_dict(data), inertia=data.get("inertia", 0.0),
                   frozen=data.get("frozen", False))

    @classmethod
    def _settings_from_dict(cls, data: dict) -> dict:
        return {}

    def __repr__(self):
        parts = ", ".join(f"{k}={np.array2string(np.asarray(getattr(self, k)), precision=4)}"
                          if getattr(self, k) is not None else f"{k}=None" for k in self.parameter_names)
        return f"{type(self).__name__}({parts})"
