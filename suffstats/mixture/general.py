"""A mixture of any families: the E-step hands responsibility-weighted rows to each component."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import logsumexp

from .._validation import check_batch, check_weights
from ..data.blocks import BLOCK_ROWS
from ..data.source import as_source
from ..distributions._base import Distribution
from ..em import EMHistory, EMSettings, run_em
from ..statistics import Additive, Composite
from ._initialize import draw_sample
from ._moments import EMPTY_SHARE, EmptyComponentWarning
from ._params import check_settings
from .kmeans import KMeans


class _Running:
    """An epoch's running statistics value, added to block by block."""

    def __init__(self):
        self.value = None

    def add(self, stats):
        self.value = stats if self.value is None else self.value + stats

    @property
    def weight(self):
        return 0.0 if self.value is None else float(self.value.parts[0].fields["weight"])

    @property
    def log_likelihood(self):
        return float(self.value.parts[0].fields["log_likelihood"])


class GeneralMixtureModel(Distribution):
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
    max_iter, tol, batch_size, batches_per_epoch, inertia, lr_decay, init_sample_size, random_state, verbose, callbacks, progress
        As for :class:`suffstats.GaussianMixture`; ``verbose`` prints every epoch.
    frozen : bool
        A frozen mixture ignores updates.

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

    def __init__(self, distributions, weights=None, *, max_iter=100, tol=1e-3, batch_size=None,
                 batches_per_epoch=None, inertia=0.0, lr_decay=0.0, init_sample_size=100_000, random_state=None,
                 verbose=0, callbacks=None, progress=False, frozen=False):
        super().__init__(inertia=inertia, frozen=frozen)
        self.distributions = list(distributions)
        if not self.distributions:
            raise ValueError("GeneralMixtureModel needs at least one distribution")
        for j, d in enumerate(self.distributions):
            if not isinstance(d, Distribution):
                raise TypeError(f"distributions[{j}] must be a Distribution; got {d!r}")
        if len({d.ndim for d in self.distributions}) != 1:
            raise ValueError("components must all be univariate or all multivariate")
        self.ndim = self.distributions[0].ndim
        self.weights = None if weights is None else _check_mixture_weights(weights, len(self.distributions))
        self.max_iter, self.tol, self.batch_size = max_iter, tol, batch_size
        self.batches_per_epoch, self.lr_decay = batches_per_epoch, lr_decay
        self.init_sample_size, self.random_state = init_sample_size, random_state
        self.verbose, self.callbacks, self.progress = verbose, callbacks, progress
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

    def _block_statistics(self, X, w, row_offset):
        log_prob = self._component_log_prob(X)
        log_norm = logsumexp(log_prob, axis=1)
        if np.isneginf(log_norm).any():
            row = int(np.argmax(np.isneginf(log_norm)))
            raise ValueError(f"row {row + row_offset} has zero probability under every component")
        resp = np.exp(log_prob - log_norm[:, None])
        ww = np.ones(X.shape[0]) if w is None else w
        resp *= ww[:, None]
        totals = Additive({"weight": ww.sum(), "log_likelihood": ww @ log_norm, "resp": resp.sum(axis=0)})
        return Composite([totals] + [d._component_statistics(X, resp[:, j]) for j, d in enumerate(self.distributions)])

    def _accumulate(self, acc, X, w, row_offset=0):
        for start in range(0, X.shape[0], BLOCK_ROWS):
            stop = start + BLOCK_ROWS
            acc.add(self._block_statistics(X[start:stop], None if w is None else w[start:stop], row_offset + start))

    def _new_accumulator(self):
        return _Running()

    def _validate_batch(self, X, w, row_offset):
        X = check_batch(X, ndim=self.ndim, n_features=self._n_features(), row_offset=row_offset)
        return X, check_weights(w, X.shape[0], row_offset=row_offset)

    # -- protocol ----------------------------------------------------------------------
    def statistics(self, X, sample_weight=None):
        self._require_fitted()
        X, w = self._validate_batch(X, sample_weight, 0)
        acc = _Running()
        self._accumulate(acc, X, w)
        return acc.value

    def summarize(self, X, sample_weight=None):
        """E-step on a batch: add its statistics to the pending total; returns its log-likelihood."""
        stats = self.statistics(X, sample_weight)
        self.absorb(stats)
        return float(stats.parts[0].fields["log_likelihood"])

    @staticmethod
    def _total_weight(stats):
        return float(stats.parts[0].fields["weight"])

    def from_summaries(self):
        stats, self._pending = self._pending, None
        if stats is not None and not self.frozen:
            acc = _Running()
            acc.add(stats)
            self._maximize(acc, self.inertia)

    def _maximize(self, acc, inertia):
        """M-step, committed whole. As in :class:`GaussianMixture`, a component that received no
        mass keeps its parameters and weight (with an :class:`EmptyComponentWarning`)."""
        totals, *parts = acc.value.parts
        resp = totals.fields["resp"]
        empty = resp <= EMPTY_SHARE * max(float(totals.fields["weight"]), np.finfo(float).tiny) / len(resp)
        empty &= np.array([not (self.frozen or d.frozen) for d in self.distributions])
        if empty.any():
            warnings.warn(f"mixture components {np.flatnonzero(empty).tolist()} received no mass in this update "
                          "and keep their previous parameters; consider fewer components or another initialisation",
                          EmptyComponentWarning, stacklevel=3)
        saved = self._state()
        try:
            if not self.frozen and resp.sum() > 0:
                weights = resp / resp.sum()
                weights[empty] = self.weights[empty]
                self.weights = inertia * self.weights + (1 - inertia) * weights / weights.sum()
            for d, part, skip in zip(self.distributions, parts, empty):
                if not (self.frozen or d.frozen or skip) and d._total_weight(part) > 0:
                    d._update(d._estimate(part), inertia)
        except BaseException:
            self._restore(saved)
            raise

    def _state(self):
        return super()._state(), [d._state() for d in self.distributions]

    def _restore(self, state):
        own, components = state
        super()._restore(own)
        for d, saved in zip(self.distributions, components):
            d._restore(saved)

    def fit(self, X, sample_weight=None):
        """Initialise unfitted components, then run EM; returns ``self``."""
        source = as_source(X, ndim=self.ndim)
        if self.ndim == 2 and self._n_features() not in (None, source.n_features):
            raise ValueError(f"X has {source.n_features} features, but the components expect {self._n_features()}")
        if sample_weight is not None:
            sample_weight = check_weights(sample_weight, source.n_rows)
        if not self.fitted:
            self._initialize(source, sample_weight)
        settings = EMSettings(batch_size=self.batch_size, batches_per_epoch=self.batches_per_epoch,
                              max_iter=self.max_iter, tol=self.tol, inertia=self.inertia, lr_decay=self.lr_decay,
                              verbose=self.verbose, callbacks=self.callbacks or (), progress=self.progress)
        history = EMHistory()
        try:
            run_em(self, _Columns(source) if self.ndim == 1 else source, sample_weight, settings, history)
        finally:
            self.n_iter_, self.converged_ = history.n_iter, history.converged
            self.lower_bounds_ = list(history.lower_bounds)
        return self

    def _initialize(self, source, sample_weight):
        if all(d.fitted for d in self.distributions):
            # Components given with parameters: only the weights are missing.
            self.weights = np.full(self.n_components, 1.0 / self.n_components)
            return
        rng = np.random.default_rng(self.random_state)
        sample, w = draw_sample(source, sample_weight, self.init_sample_size, rng)
        labels = KMeans(self.n_components, random_state=rng, max_iter=20).fit(sample, sample_weight=w).predict(sample)
        rows = sample[:, 0] if self.ndim == 1 else sample
        counts = np.zeros(self.n_components)
        for j, d in enumerate(self.distributions):
            mine = labels == j
            counts[j] = mine.sum() if w is None else w[mine].sum()
            if not d.fitted:
                d.fit(rows[mine] if mine.any() else rows, None if w is None else (w[mine] if mine.any() else w))
        if self.weights is None:
            self.weights = counts / counts.sum() if counts.sum() > 0 else np.full(self.n_components, 1 / self.n_components)

    # -- prediction -------------------------------------------------------------------------
    def _log_probability(self, X):
        return logsumexp(self._component_log_prob(X), axis=1)

    def _outside(self, X):
        return None

    def predict_proba(self, X):
        """Posterior probability of each component for each row."""
        self._require_fitted()
        X = check_batch(X, ndim=self.ndim, n_features=self._n_features())
        lp = self._component_log_prob(X)
        return np.exp(lp - logsumexp(lp, axis=1, keepdims=True))

    def predict(self, X):
        """Most likely component of each row."""
        return np.argmax(self.predict_proba(X), axis=1)

    def _sample(self, n, rng):
        counts = rng.multinomial(n, self.weights)
        parts = [d._sample(c, rng) for d, c in zip(self.distributions, counts)]
        out = np.concatenate(parts)
        return out[rng.permutation(n)]

    # -- persistence ---------------------------------------------------------------------------
    def to_dict(self):
        return {"schema": 1, "family": "GeneralMixtureModel", "inertia": self.inertia, "frozen": self.frozen,
                "weights": None if self.weights is None else np.asarray(self.weights).tolist(),
                "distributions": [d.to_dict() for d in self.distributions]}

    @classmethod
    def _from_dict(cls, data):
        from ..io import distribution_from_dict

        return cls([distribution_from_dict(d) for d in data["distributions"]], weights=data.get("weights"),
                   inertia=data.get("inertia", 0.0), frozen=data.get("frozen", False))


class _Columns:
    """A univariate view of a one-column source (rows as a 1-D array)."""

    def __init__(self, source):
        self.source, self.n_rows, self.random_access = source, source.n_rows, source.random_access

    def batches(self, ranges):
        for start, X in self.source.batches(ranges):
            yield start, X[:, 0]


def _check_mixture_weights(weights, k):
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (k,) or (weights < 0).any() or not np.isclose(weights.sum(), 1.0):
        raise ValueError(f"weights must be {k} non-negative numbers summing to 1; got {weights}")
    return weights
