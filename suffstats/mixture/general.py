"""A mixture of any families: the E-step hands responsibility-weighted rows to each component."""

from __future__ import annotations

import warnings

import numpy as np

from .._transaction import transaction, transactional
from .._validation import check_batch, check_missing_policy, check_positive_int, check_weights, json_numbers
from ..backends import get_backend
from ..backends.gaussian_math import logsumexp
from ..data.source import as_source
from ..data.views import SingleColumn
from ..distributed import as_strategy
from ..fit.running_total import RunningTotal
from ..distributions._base import SCHEMA_VERSION, Distribution
from ..distributions._registry import distribution_from_dict
from ..statistics import Additive, Composite, blend
from ..fit.driver import EMSettings
from ..fit.estimator import fit_model, settings_fingerprint
from ._engine import MixtureEngine
from ._missing import fill_sample
from ._moments import EMPTY_SHARE, EmptyComponentWarning
from ._params import check_settings
from ._seeding import draw_sample
from .kmeans import KMeans


class GeneralMixtureModel(MixtureEngine, Distribution):
    """Mixture of arbitrary distributions (mixed families allowed), fitted by EM out of core.

    The mixture is itself a distribution: ``summarize`` does the E-step and
    gives each component its rows weighted by the responsibilities (and
    returns the batch log-likelihood); ``from_summaries`` is the M-step.

    Parameters
    ----------
    distributions : sequence of Distribution
        The components; all univariate (data of shape (n,) or (n, 1)) or all
        over rows of the same number of features. Unfitted components are
        initialised from k-means clusters of a sample of rows.
    weights : array_like of shape (k,), optional
        Initial mixture weights (default: the shares of the initial clusters,
        or uniform when every component already has parameters).
    n_init : int, default=1
        Initialisations of the components given without parameters; the run
        with the best final log-likelihood is kept.
    max_iter, tol, batch_size, batches_per_epoch, inertia, lr_decay, init_sample_size, random_state, verbose, callbacks, progress
        As for :class:`suffstats.GaussianMixture`; ``verbose`` prints every epoch.
    frozen : bool
        A frozen mixture ignores updates.
    missing : {"error", "marginalize"}, default="error"
        What a NaN in the data means: refused (naming its row and column) or
        a value missing at random, integrated out by exact EM. With
        ``"marginalize"`` a row's responsibilities come from the marginal
        density of its observed values and each component receives the
        expected statistics given them: :class:`~suffstats.MultivariateNormal`
        the conditional moments, :class:`~suffstats.IndependentComponents`
        each feature's observed values (a hole integrates out of a product).
        A row with nothing observed (every univariate row with a NaN) is given
        zero weight, and ``log_probability`` of it is 0. A multivariate family
        that cannot take holes (``handles_missing`` false) is refused.

    Attributes
    ----------
    n_iter_ : int
    converged_ : bool
    lower_bounds_ : list of float
        Mean log-likelihood per row at each epoch.

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats import Exponential, GeneralMixtureModel, Normal
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(10.0, 1.0, 3000), rng.exponential(1.0, 3000)])
    >>> m = GeneralMixtureModel([Normal(), Exponential()], random_state=0, batch_size=1000).fit(x)
    >>> round(m.distributions[0].mean, 1), np.round(m.weights, 2).tolist()
    (10.0, [0.5, 0.5])
    """

    def __init__(self, distributions, weights=None, *, n_init=1, max_iter=100, tol=1e-3, batch_size=None,
                 batches_per_epoch=None, inertia=0.0, lr_decay=0.0, init_sample_size=100_000, random_state=None,
                 verbose=0, callbacks=None, progress=False, frozen=False, missing="error"):
        super().__init__(inertia=inertia, frozen=frozen)
        self.distributions = list(distributions)
        if not self.distributions:
            raise ValueError("GeneralMixtureModel needs at least one distribution")
        for j, d in enumerate(self.distributions):
            if not isinstance(d, Distribution):
                raise TypeError(f"distributions[{j}] must be a Distribution; got {d!r}")
        if len({d.ndim for d in self.distributions}) != 1:
            raise ValueError("components must all be univariate or all multivariate")
        for j, d in enumerate(self.distributions):
            first = next(i for i, other in enumerate(self.distributions) if other is d)
            if first != j:
                raise ValueError(f"distributions[{j}] is the same object as distributions[{first}]: each component "
                                 "needs its own instance (copy.deepcopy it, or build another)")
        self.ndim = self.distributions[0].ndim
        self.weights = None if weights is None else _check_mixture_weights(weights, len(self.distributions))
        self.n_init, self.max_iter, self.tol, self.batch_size = n_init, max_iter, tol, batch_size
        self.batches_per_epoch, self.lr_decay = batches_per_epoch, lr_decay
        self.init_sample_size, self.random_state = init_sample_size, random_state
        self.verbose, self.callbacks, self.progress = verbose, callbacks, progress
        self.missing = check_missing_policy(missing)
        if self.missing == "marginalize" and self.ndim == 2:
            unable = [j for j, d in enumerate(self.distributions) if not d.handles_missing]
            if unable:
                raise ValueError(f"missing='marginalize' needs components that take rows with holes; "
                                 f"distributions[{unable[0]}] ({type(self.distributions[unable[0]]).__name__}) "
                                 "does not (MultivariateNormal and IndependentComponents do)")
        check_settings(self)

    @property
    def n_components(self):
        return len(self.distributions)

    @property
    def fitted(self):
        return self.weights is not None and all(d.fitted for d in self.distributions)

    @property
    def n_parameters(self):
        return sum(d.n_parameters for d in self.distributions) + self.n_components - 1

    def parameters(self):
        out = {"weights": np.asarray(self.weights, dtype=np.float64)}
        for j, d in enumerate(self.distributions):
            out.update({f"{j}.{k}": v for k, v in d.parameters().items()})
        return out

    def _n_features(self):
        if self.ndim == 1:
            return None
        return next((d._n_features() for d in self.distributions if d._n_features() is not None), None)

    # -- E-step ----------------------------------------------------------------------
    def _component_log_prob(self, X):
        """``log w_j + log p_j(x)`` of validated rows, shape (n, k); -inf outside a support."""
        out = np.empty((X.shape[0], self.n_components))
        for j, d in enumerate(self.distributions):
            bad = d._outside(X)
            if bad is None or not bad.any():
                out[:, j] = d._log_probability(X)
            else:
                inside = ~(bad if bad.ndim == 1 else bad.any(axis=1))
                out[:, j] = -np.inf
                out[inside, j] = d._log_probability(X[inside])
        with np.errstate(divide="ignore"):
            return out + np.log(self.weights)

    def _e_step_block(self, X, w):
        if self.missing == "marginalize":
            X, w = _without_empty_rows(X, w)
        log_prob = self._component_log_prob(X)
        log_norm = logsumexp(log_prob, axis=1)
        resp = np.exp(log_prob - log_norm[:, None])
        ww = np.ones(X.shape[0]) if w is None else w
        resp *= ww[:, None]
        totals = Additive({"weight": ww.sum(), "log_likelihood": ww @ log_norm, "resp": resp.sum(axis=0)})
        return Composite([totals] + [d._component_statistics(X, resp[:, j]) for j, d in enumerate(self.distributions)])

    # -- engine hooks (see suffstats.mixture._engine) -------------------------------------
    def _block_kernel(self):
        # The components' formulas are NumPy code of each family: blocks run one after another.
        return get_backend("numpy"), self._e_step_block

    def _shifts(self):
        return None

    def _new_accumulator(self):
        # Each component's value carries its own shift: values of any shift add exactly, in a plain total.
        return RunningTotal()

    def _accumulator_from_statistics(self, stats):
        expected = [type(d).__name__ for d in self.distributions]
        if not isinstance(stats, Composite) or len(stats.parts) != self.n_components + 1 \
                or not isinstance(stats.parts[0], Additive):
            raise ValueError(f"cannot absorb {type(stats).__name__} statistics: expected the statistics of a "
                             f"mixture of {expected}")
        reference = self.statistics(self._probe_rows())
        for j, (got, want) in enumerate(zip(stats.parts, reference.parts)):
            if type(got) is not type(want) or {k: np.shape(v) for k, v in got.arrays().items()} != \
                    {k: np.shape(v) for k, v in want.arrays().items()}:
                raise ValueError(f"cannot absorb these statistics: part {j} does not match the mixture of {expected}")
        return RunningTotal().from_value(stats)

    def _probe_rows(self):
        """One row inside every component's support, to learn the layout of this mixture's statistics."""
        return self.sample(1, random_state=0)

    def _check_fitted(self):
        self._require_fitted()

    def _validate_batch(self, X, w, row_offset):
        X = check_batch(X, ndim=self.ndim, n_features=self._n_features(), row_offset=row_offset,
                        missing=self.missing)
        outside = [d._outside(X) for d in self.distributions]
        if all(o is not None for o in outside):
            nowhere = np.logical_and.reduce([o if o.ndim == 1 else o.any(axis=1) for o in outside])
            if nowhere.any():
                row = int(np.argmax(nowhere))
                raise ValueError(f"row {row + row_offset} has zero probability under every component "
                                 "(outside the support of each)")
        return X, check_weights(w, X.shape[0], row_offset=row_offset)

    def _fit_parameters(self):
        return (np.asarray(self.weights, dtype=np.float64),) + tuple(d.parameters() for d in self.distributions)

    def _load_fit_parameters(self, params):
        weights, *components = params
        self.weights = np.asarray(weights, dtype=np.float64)
        for d, values in zip(self.distributions, components):
            d._set_parameters({k: np.asarray(v, dtype=np.float64) if isinstance(v, list) else v
                               for k, v in values.items()})

    def _check_fit_parameters(self, params):
        if not isinstance(params, list) or len(params) != 1 + len(self.distributions):
            raise ValueError(f"expected [weights, then the parameters of {len(self.distributions)} components]")
        _check_mixture_weights(json_numbers(params[0], "weights"), len(self.distributions))
        for j, (d, values) in enumerate(zip(self.distributions, params[1:])):
            description = d.to_dict()
            description["parameters"] = values
            try:
                distribution_from_dict(description)
            except ValueError as error:
                raise ValueError(f"component {j}: {error}") from None

    def _maximize(self, acc, inertia):
        """M-step, committed whole. As in :class:`GaussianMixture`, a component that received no
        mass keeps its parameters and weight (with an :class:`EmptyComponentWarning`)."""
        totals, *parts = acc.to_statistics().parts
        resp = totals.fields["resp"]
        empty = resp <= EMPTY_SHARE * max(float(totals.fields["weight"]), np.finfo(float).tiny) / len(resp)
        empty &= np.array([not (self.frozen or d.frozen) for d in self.distributions])
        if empty.any():
            warnings.warn(f"mixture components {np.flatnonzero(empty).tolist()} received no mass in this update "
                          "and keep their previous parameters; consider fewer components or another initialisation",
                          EmptyComponentWarning, stacklevel=3)
        with transaction(self):
            if not self.frozen and resp.sum() > 0:
                weights = resp / resp.sum()
                weights[empty] = self.weights[empty]
                self.weights = blend(self.weights, weights / weights.sum(), inertia)
            for d, part, skip in zip(self.distributions, parts, empty):
                if not (self.frozen or d.frozen or skip) and d._total_weight(part) > 0:
                    d._update(d._estimate(part), inertia)

    # -- fitting ------------------------------------------------------------------------
    @transactional
    def fit(self, X, sample_weight=None, checkpoint=None, checkpoint_every=None, client=None):
        """Initialise unfitted components, then run EM; returns ``self``.

        With ``n_init > 1``, components given without parameters are initialised
        ``n_init`` times and the run with the best log-likelihood is kept.

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource
            Rows, read batch by batch (see :func:`suffstats.data.as_source`).
        sample_weight : array_like of shape (n_rows,), optional
            Weight of each row (an integer weight is the row repeated).
        checkpoint : str or path-like, optional
            A file the fit state is written to; the same fit run again resumes from it bit for bit.
        checkpoint_every : int, optional
            Write it after this many batches (default: after every minute of work, and after each epoch).
        client : distributed.Client or suffstats.distributed.DaskAccumulation, optional
            Gather each epoch's statistics on this Dask cluster, bit for bit as the local fit.
        """
        source = as_source(X, ndim=self.ndim)
        if self.ndim == 2 and self._n_features() not in (None, source.n_features):
            raise ValueError(f"X has {source.n_features} features, but the components expect {self._n_features()}")
        if self.ndim == 1 and source.n_features != 1:
            raise ValueError(f"X has {source.n_features} columns, but the components are univariate: give one column "
                             "(or use IndependentComponents for several)")
        if sample_weight is not None:
            sample_weight = check_weights(sample_weight, source.n_rows)
        self._given = [d.fitted for d in self.distributions]
        warm = all(self._given) and self.weights is not None
        self._pending = None
        fingerprint = settings_fingerprint(self._settings(), sample_weight, exact=self.batches_per_epoch is None)
        fit_model(self, SingleColumn(source) if self.ndim == 1 else source, sample_weight,
                              EMSettings.of(self), self.n_init, warm=warm, checkpoint=checkpoint,
                              checkpoint_every=check_positive_int(checkpoint_every, "checkpoint_every", allow_none=True),
                              fingerprint=fingerprint, strategy=as_strategy(client))
        del self._given
        return self

    def _record_history(self, history):
        self.n_iter_, self.converged_ = history.n_iter, history.converged
        self.lower_bounds_ = list(history.lower_bounds)
        self.lower_bound_ = history.lower_bound

    def _settings(self):
        """What determines a fit's result, for checkpoints (families, not their changing parameters)."""
        return {"families": [type(d).__name__ for d in self.distributions],
                "frozen": [d.frozen for d in self.distributions] + [self.frozen], "inertia": self.inertia,
                "missing": self.missing,
                **{name: getattr(self, name) for name in ("n_init", "max_iter", "tol", "batch_size",
                                                          "batches_per_epoch", "lr_decay", "init_sample_size")},
                "random_state": self.random_state if isinstance(self.random_state, (int, type(None))) else "rng"}

    def _initialize(self, source, sample_weight, rng, strategy=None):
        """Unfitted components from k-means clusters of a sample; weights from the cluster shares."""
        given = getattr(self, "_given", [d.fitted for d in self.distributions])
        if all(given):
            # Components given with parameters: only the weights are missing.
            self.weights = np.full(self.n_components, 1.0 / self.n_components)
            return
        sample, w = draw_sample(source, sample_weight, self.init_sample_size, rng, self._validate_batch)
        rows = sample if sample.ndim == 1 else (sample[:, 0] if self.ndim == 1 else sample)
        if self.missing == "marginalize":  # the start is made on the sample with its holes filled or left out
            rows, w = _without_empty_rows(rows, w) if self.ndim == 1 else fill_sample(rows, w, rng)
        points = rows.reshape(-1, 1) if rows.ndim == 1 else rows
        labels = KMeans(self.n_components, random_state=rng, max_iter=20).fit(points, sample_weight=w).predict(points)
        counts = np.zeros(self.n_components)
        for j, d in enumerate(self.distributions):
            mine = labels == j
            counts[j] = mine.sum() if w is None else w[mine].sum()
            if not given[j]:
                # A component starts from the rows of its cluster inside its support (the rest have no density
                # under it), or from every such row when its cluster has none.
                outside = d._outside(rows)
                inside = np.ones(len(rows), bool) if outside is None else \
                    ~(outside if outside.ndim == 1 else outside.any(axis=1))
                pick = mine & inside if (mine & inside).any() else inside
                d.fit(rows[pick], None if w is None else w[pick])
        self.weights = counts / counts.sum() if counts.sum() > 0 else np.full(self.n_components, 1 / self.n_components)

    # -- prediction -------------------------------------------------------------------------
    def _log_probability(self, X):
        out = logsumexp(self._component_log_prob(X), axis=1)
        if self.missing == "marginalize":
            out[np.isnan(X).all(axis=1) if X.ndim == 2 else np.isnan(X)] = 0.0  # nothing observed: density 1
        return out

    def _outside(self, X):
        return None

    def predict_proba(self, X):
        """Posterior probability of each component for each row.

        Parameters
        ----------
        X : array_like of shape (n,) or (n, d)
            Rows, as for the components.

        Returns
        -------
        ndarray of shape (n, n_components)
        """
        self._require_fitted()
        X = check_batch(X, ndim=self.ndim, n_features=self._n_features(), missing=self.missing)
        lp = self._component_log_prob(X)
        return np.exp(lp - logsumexp(lp, axis=1, keepdims=True))

    def predict(self, X):
        """Most likely component of each row.

        Parameters
        ----------
        X : array_like of shape (n,) or (n, d)
            Rows, as for the components.

        Returns
        -------
        ndarray of int, shape (n,)
        """
        return np.argmax(self.predict_proba(X), axis=1)

    def _sample(self, n, rng):
        counts = rng.multinomial(n, self.weights)
        parts = [d._sample(c, rng) for d, c in zip(self.distributions, counts)]
        out = np.concatenate(parts)
        return out[rng.permutation(n)]

    # -- persistence ---------------------------------------------------------------------------
    def to_dict(self):
        return {"schema": SCHEMA_VERSION, "family": "GeneralMixtureModel", "inertia": self.inertia, "frozen": self.frozen,
                "missing": self.missing,
                "weights": None if self.weights is None else np.asarray(self.weights).tolist(),
                "distributions": [d.to_dict() for d in self.distributions]}

    @classmethod
    def _from_dict(cls, data):
        return cls([distribution_from_dict(d) for d in data["distributions"]], weights=data.get("weights"),
                   inertia=data.get("inertia", 0.0), frozen=data.get("frozen", False),
                   missing=data.get("missing", "error"))


def _check_mixture_weights(weights, k):
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (k,) or (weights < 0).any() or not np.isclose(weights.sum(), 1.0):
        raise ValueError(f"weights must be {k} non-negative numbers summing to 1; got {weights}")
    return weights


def _without_empty_rows(X, w):
    """Rows with at least one observed value (all of them when there is no NaN), and their weights."""
    holes = np.isnan(X)
    if not holes.any():
        return X, w
    keep = ~(holes.all(axis=1) if X.ndim == 2 else holes)
    return X[keep], None if w is None else w[keep]
