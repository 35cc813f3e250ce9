"""The protocol every distribution follows.

A family supplies five small pieces -- its statistics of a validated batch, the
empty statistics, the M-step from statistics to parameters, its log-density and
a sampler -- and inherits the rest: pending statistics, ``summarize`` /
``from_summaries`` / ``fit``, ``inertia`` and ``frozen``, weights, validation
and JSON-safe parameters.

Every public method that changes a model (:data:`MUTATORS`) runs under the
model's lock inside one transaction (:func:`suffstats._transaction.transactional`):
the base class applies this to its own methods and to every override a family
defines, so a refused or failed call leaves no trace and threads sharing a
model never lose each other's rows.
"""

from __future__ import annotations

import numpy as np

from .._transaction import transactional
from .._statistics_checks import checked_sum
from .._validation import check_batch, check_bool, check_fraction, check_missing_policy, check_positive_int
from ..data.blocks import batch_ranges
from ..distributed import as_strategy
from ..fit.local import LocalAccumulation
from ..fit.protocol import FitModel
from ..fit.running_total import RunningTotal
from ..fit.summaries import Summaries
from ..statistics import Statistics, blend
from ._fit_source import DEFAULT_BATCH_ROWS, rows_of
from ._batch import BatchStatistics
from ._persistence import JSONModel
from ._registry import FAMILIES, SCHEMA_VERSION, register_builtin

__all__ = ["Distribution", "FAMILIES", "SCHEMA_VERSION", "MUTATORS"]

#: What a family writes: statistics of validated rows, the M-step, the log-density, a sampler, the weight.
FAMILY_HOOKS = ("_statistics", "_estimate", "_log_probability", "_sample", "_total_weight")

#: Public methods that change a model: each runs under the model's lock, inside one transaction.
MUTATORS = ("summarize", "absorb", "from_summaries", "clear_summaries", "fit", "freeze", "unfreeze")


class Distribution(Summaries, FitModel, BatchStatistics, JSONModel):
    """Base class: a family of distributions fitted from additive statistics.

    Parameters
    ----------
    inertia : float in [0, 1]
        Weight of the old parameters in an update:
        ``new = inertia * old + (1 - inertia) * estimate``.
    frozen : bool
        A frozen distribution ignores updates.
    missing : {"error", "marginalize"}, default="error"
        What a NaN in the data means: refused, naming its row, or (univariate
        families) a value missing at random: a row whose value is missing has
        nothing observed and is given zero weight, so the fit is that of the
        observed rows, and ``log_probability`` of it is 0. Multivariate families
        take holes as components of a
        :class:`~suffstats.GeneralMixtureModel` with ``missing="marginalize"``.

    Notes
    -----
    ``summarize`` adds a batch's statistics to the pending total, leaving the
    parameters alone; ``from_summaries`` turns the total into parameters and
    clears it. Statistics of the same rows are the same however the rows were
    cut into batches.

    Every method that changes the model is a transaction: when it raises, the
    parameters, settings and pending statistics are exactly as before.

    Thread safety: ``summarize`` and ``absorb`` may be called on one model
    from several threads at once. A batch's statistics are computed outside
    any lock (threads run in parallel) and added to the pending total under
    the model's lock, so the total is that of all rows summarized; only the
    rounding depends on the order the threads commit in. ``fit`` and
    ``from_summaries`` hold the lock for their whole run.
    """

    #: Snapshotted and restored by :func:`suffstats._transaction.transaction`.
    _transactional = True
    # Blocks are computed around the first block's shift (see _block_values).
    _blocks_follow_reference = True
    #: 1 for univariate families (1-D data), 2 for rows of features.
    ndim = 1
    #: Names of the parameter attributes, in constructor order.
    parameter_names: tuple = ()
    #: Whether the family, as a component of a mixture with ``missing="marginalize"``, takes rows with
    #: holes (NaN): its ``_log_probability`` gives the marginal density of the observed values and its
    #: ``_component_statistics`` the expected statistics given them. Univariate families need not: a
    #: univariate row with a hole has nothing observed and the mixture gives it no weight.
    handles_missing: bool = False
    #: The missing-value policy, ``"error"`` or ``"marginalize"`` (see the ``missing`` parameter).
    missing: str = "error"

    def __init_subclass__(cls, abstract=False, **kwargs):
        super().__init_subclass__(abstract=abstract, **kwargs)
        for name in MUTATORS:
            if name in vars(cls):
                setattr(cls, name, transactional(vars(cls)[name]))
        # A family computing its statistics block by block must write the pieces of FAMILY_HOOKS; a model
        # with its own E-step (a mixture) overrides _block_values instead. Private bases are left to subclasses.
        if not abstract and not cls.__name__.startswith("_") and cls._block_values is Distribution._block_values:
            missing = [name for name in FAMILY_HOOKS
                       if getattr(cls, name) in (getattr(Distribution, name), getattr(BatchStatistics, name, None))]
            if missing:
                raise TypeError(f"{cls.__name__} does not implement the distribution hooks {', '.join(missing)} "
                                "(see suffstats.Distribution)")
        register_builtin(cls)

    def __init__(self, *, inertia=0.0, frozen=False, missing="error"):
        self.inertia = check_fraction(inertia, "inertia")
        self.frozen = check_bool(frozen, "frozen")
        self.missing = check_missing_policy(missing)
        if self.missing != "error" and type(self).ndim == 2:
            raise ValueError(f"missing={missing!r}: a {type(self).__name__} fitted alone needs complete rows (its fit "
                             "with holes is iterative); fit GaussianMixture(1, missing='marginalize'), or use it as a "
                             "component of GeneralMixtureModel(..., missing='marginalize')")
        self._pending = None

    # -- pieces a family provides (and those of BatchStatistics) ----------
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

    # -- the fit-model hooks (suffstats.fit.protocol): a distribution is fitted by the one pass ------------
    def _validate_batch(self, X, w, row_offset):
        return X, w  # each block is validated as its statistics are computed (a one-pass kernel checks as it sums)

    def _new_accumulator(self) -> RunningTotal:
        return RunningTotal(weight_of=self._total_weight)

    def _block_values(self, X, w, acc, row_offset=0) -> list:
        # Every block around the running total's shift (the first block's), as fit computes a file's blocks.
        return self._block_statistics(X, w, acc.reference, row_offset)

    def _check_addition(self, total, values) -> None:
        running = None if total is None or not total.blocks else total.to_statistics()
        for value in values:
            running = checked_sum(running, value, type(self).__name__, self._statistics_signature())

    def _maximize(self, acc, inertia) -> None:
        """Parameters from a running total (frozen distributions and totals of zero weight keep theirs)."""
        stats = acc.to_statistics()
        if self.frozen or stats is None or not self._total_weight(stats) > 0:
            return
        self._update(self._estimate(stats), inertia)

    def _fit_parameters(self) -> dict:
        return self.parameters()

    def _load_fit_parameters(self, params) -> None:
        self._set_parameters({k: np.asarray(v, dtype=np.float64) for k, v in params.items()})

    def _update(self, estimate: dict, inertia: float) -> None:
        """Store ``estimate`` blended with the current parameters: ``inertia·old + (1-inertia)·estimate``."""
        if inertia > 0 and self.fitted:
            old = self.parameters()
            estimate = {k: blend(old[k], np.asarray(v), inertia) for k, v in estimate.items()}
        self._set_parameters(estimate)

    @transactional
    def fit(self, X, sample_weight=None, *, batch_size=DEFAULT_BATCH_ROWS, client=None):
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
        client : distributed.Client or suffstats.distributed.DaskAccumulation, optional
            Compute the statistics on this Dask cluster: the workers read their
            own rows (``X`` a file path or a ``dask.array``), bit for bit as the
            local fit.

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
        batch_size = check_positive_int(batch_size, "batch_size")
        source, sample_weight = rows_of(self, X, sample_weight)
        opened = source.fingerprint() if source.files() else None
        strategy = as_strategy(client) or LocalAccumulation()
        acc = strategy.accumulate(self, source, batch_ranges(source.n_rows, batch_size), sample_weight)
        if not acc.blocks:
            if source.n_rows and self.missing != "error":
                raise ValueError(f"X has no observed value: all {source.n_rows} values are missing")
            check_batch(np.empty((0, source.n_features)), ndim=self.ndim)  # raises: X is empty
        if opened is not None:
            source.check_unchanged(opened)  # a file written to while it was read
        if not acc.to_statistics().is_finite():
            raise ValueError("the statistics of X overflow float64 (sums beyond 1.8e308); rescale the data")
        if not acc.weight > 0:
            raise ValueError("sample_weight sums to zero: there is nothing to fit (a distribution's summarize / "
                             "from_summaries keeps its parameters in that case; fit refuses)")
        self._pending = acc
        self.from_summaries()
        return self

    def log_probability(self, X) -> np.ndarray:
        """Log-density (or log-mass) of each row.

        Parameters
        ----------
        X : array_like of shape (n,) or (n, d)
            Rows: values for a univariate family, feature vectors otherwise.
            A row outside the support has log-probability ``-inf``.

        Returns
        -------
        ndarray of shape (n,)
        """
        self._require_fitted()
        X = check_batch(X, ndim=self.ndim, n_features=self._n_features(), missing=self.missing)
        if self.missing != "error" and X.ndim == 1 and np.isnan(X).any():
            holes = np.isnan(X)
            out = np.zeros(X.shape[0])  # nothing observed: a density of 1
            if not holes.all():
                out[~holes] = self.log_probability(X[~holes])
            return out
        bad = self._outside(X)
        if bad is None or not bad.any():
            return self._log_probability(X)
        inside = ~(bad if bad.ndim == 1 else bad.any(axis=1))
        out = np.full(X.shape[0], -np.inf)
        out[inside] = self._log_probability(X[inside])
        return out

    def _log_likelihood_and_rows(self, X, batch_size):
        """Total log-likelihood of the rows of ``X`` read in batches, and the rows it counts.

        A row with every value missing (``missing="marginalize"``) has a
        density of 1 and carries no information: it counts neither in the
        total nor in the number of rows.
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        source, _ = rows_of(self, X)
        total, rows = 0.0, 0
        for start, stop in batch_ranges(source.n_rows, batch_size):
            batch = check_batch(source.read(start, stop), ndim=self.ndim, n_features=self._n_features(),
                                row_offset=start, missing=self.missing)
            observed = ~np.isnan(batch) if batch.ndim == 1 else ~np.isnan(batch).all(axis=1)
            total += float(np.sum(self.log_probability(batch)[observed], dtype=np.float64))
            rows += int(observed.sum())
        if rows == 0:
            raise ValueError(f"none of the {source.n_rows} rows of X has an observed value: the criterion is "
                             "undefined")
        return total, rows

    def bic(self, X, *, batch_size=DEFAULT_BATCH_ROWS) -> float:
        """Bayesian information criterion of the fitted model on ``X`` (lower is better).

        ``-2·log L + n_parameters·log n``, with ``n`` the rows that have an
        observed value; ``X`` is read ``batch_size`` rows at a time.

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource
            Rows, as for :meth:`fit`.
        batch_size : int
            Rows read at a time.

        Returns
        -------
        float

        Examples
        --------
        >>> import numpy as np
        >>> from suffstats import Normal
        >>> x = np.random.default_rng(0).normal(size=1000)
        >>> model = Normal().fit(x)
        >>> bool(np.isclose(model.bic(x), -2 * model.log_probability(x).sum() + 2 * np.log(1000)))
        True
        """
        self._require_fitted()
        total, n = self._log_likelihood_and_rows(X, batch_size)
        return -2.0 * total + self.n_parameters * np.log(n)

    def aic(self, X, *, batch_size=DEFAULT_BATCH_ROWS) -> float:
        """Akaike information criterion of the fitted model on ``X`` (lower is better): ``-2·log L + 2·n_parameters``.

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource
            Rows, as for :meth:`fit`.
        batch_size : int
            Rows read at a time.

        Returns
        -------
        float
        """
        self._require_fitted()
        return -2.0 * self._log_likelihood_and_rows(X, batch_size)[0] + 2.0 * self.n_parameters

    def probability(self, X) -> np.ndarray:
        """Density (or mass) of each row.

        Parameters
        ----------
        X : array_like of shape (n,) or (n, d)
            Rows, as for :meth:`log_probability`.

        Returns
        -------
        ndarray of shape (n,)
        """
        return np.exp(self.log_probability(X))

    def sample(self, n, random_state=None) -> np.ndarray:
        """Draw ``n`` rows.

        Parameters
        ----------
        n : int
            Number of rows (0 allowed).
        random_state : int, numpy Generator or None
            Seed or generator; the same seed draws the same rows.

        Returns
        -------
        ndarray of shape (n,) or (n, d)
        """
        self._require_fitted()
        return self._sample(check_positive_int(n, "n", minimum=0), np.random.default_rng(random_state))

    @transactional
    def freeze(self):
        """Stop updates; returns ``self``."""
        self.frozen = True
        return self

    @transactional
    def unfreeze(self):
        """Allow updates again; returns ``self``."""
        self.frozen = False
        return self

    def _require_fitted(self):
        if not self.fitted:
            raise ValueError(f"{type(self).__name__} has no parameters yet: fit it or pass them to the constructor")

    def __repr__(self):
        parts = ", ".join(f"{k}={np.array2string(np.asarray(getattr(self, k)), precision=4)}"
                          if getattr(self, k) is not None else f"{k}=None" for k in self.parameter_names)
        return f"{type(self).__name__}({parts})"
