"""``CategoricalHMM`` (one symbol per row) and ``PoissonHMM`` (counts per feature)."""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, xlogy

from ..statistics import Additive, Moments
from ._emissions import symbol_counts, symbol_log_likelihood
from .base import BaseHMM

__all__ = ["CategoricalHMM", "PoissonHMM"]


class CategoricalHMM(BaseHMM):
    """Hidden Markov model with categorical emissions, fitted exactly out of core (hmmlearn's ``CategoricalHMM``).

    Observations are one column of non-negative integer symbols. Parameters
    are those of :class:`~suffstats.GaussianHMM` where they share a name.

    Parameters
    ----------
    n_components : int
        Number of states.
    startprob_prior, transmat_prior : float or array_like
        Dirichlet priors of the start and transition probabilities.
    emissionprob_prior : float or array_like
        Dirichlet prior of each state's symbol probabilities.
    n_features : int, optional
        Number of symbols (default: the largest symbol in the data plus one).
    algorithm, random_state, n_iter, tol, verbose, implementation, batch_size
        As in :class:`~suffstats.GaussianHMM`.
    params, init_params : str
        ``s`` startprob, ``t`` transmat, ``e`` emissionprob.

    Attributes
    ----------
    emissionprob_ : ndarray of shape (n_components, n_features)
        Probability of each symbol in each state.

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats.hmm import CategoricalHMM
    >>> truth = CategoricalHMM(2)
    >>> truth.startprob_, truth.transmat_ = np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> truth.emissionprob_ = np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])
    >>> X, _ = truth.sample(3000, random_state=0)
    >>> model = CategoricalHMM(2, n_iter=50, random_state=1, batch_size=1000).fit(X)
    >>> np.round(np.sort(model.emissionprob_[:, 0]), 1)
    array([0.1, 0.8])
    """

    _emission_letters = "e"
    _persisted = {"emissionprob_": "emissionprob_"}

    def __init__(self, n_components=1, startprob_prior=1.0, transmat_prior=1.0, *, emissionprob_prior=1.0,
                 n_features=None, algorithm="viterbi", random_state=None, n_iter=10, tol=1e-2, verbose=False,
                 params="ste", init_params="ste", implementation="log", batch_size=None):
        super().__init__(n_components, startprob_prior=startprob_prior, transmat_prior=transmat_prior,
                         algorithm=algorithm, random_state=random_state, n_iter=n_iter, tol=tol, verbose=verbose,
                         params=params, init_params=init_params, implementation=implementation,
                         batch_size=batch_size)
        self.emissionprob_prior = emissionprob_prior
        self.n_features = n_features

    def _check_symbols(self, X, row_offset):
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != 1:
            raise ValueError(f"X must have one column of symbols, shape (n_samples, 1); got {X.shape}")
        if not np.issubdtype(X.dtype, np.integer):
            if not (np.isfinite(X).all() and (X == np.round(X)).all()):
                raise ValueError("Symbols should be integers")
        if X.size and X.min() < 0:
            row = row_offset + int(np.flatnonzero(X[:, 0] < 0)[0])
            raise ValueError(f"Symbols should be nonnegative (X[{row}] is {X[row - row_offset, 0]})")
        return X.astype(np.int64)

    def _check_rows(self, X, row_offset):
        X = self._check_symbols(X, row_offset)
        n_features = getattr(self, "emissionprob_", np.empty((0, self.n_features or 0))).shape[1]
        if X.size and X.max() >= n_features:
            row = row_offset + int(np.argmax(X[:, 0]))
            raise ValueError(f"Largest symbol is {X.max()} (X[{row}]) but the model only emits symbols up to "
                             f"{n_features - 1}")
        return X

    def _set_n_features(self, source):
        largest = -1
        for start, X in self._block_pass(source):
            X = self._check_symbols(X, start)
            largest = max(largest, int(X.max()))
        if self.n_features is not None:
            if self.n_features - 1 < largest:
                raise ValueError(f"Largest symbol is {largest} but the model only emits symbols up to "
                                 f"{self.n_features - 1}")
        else:
            self.n_features = largest + 1

    def _get_n_fit_scalars_per_param(self):
        nc, nf = self.n_components, self.n_features
        return {**super()._get_n_fit_scalars_per_param(), "e": nc * (nf - 1)}

    def _initialize_emissions(self, source, bounds, random_state):
        if self._needs_init("e", "emissionprob_"):
            probs = random_state.rand(self.n_components, self.n_features)
            self.emissionprob_ = probs / probs.sum(axis=1, keepdims=True)

    def _check(self):
        super()._check()
        if not hasattr(self, "emissionprob_"):
            raise ValueError("this model has no emissionprob_: fit it or set it first")
        self.emissionprob_ = np.atleast_2d(np.asarray(self.emissionprob_, dtype=np.float64))
        if self.n_features is None:
            self.n_features = self.emissionprob_.shape[1]
        if self.emissionprob_.shape != (self.n_components, self.n_features):
            raise ValueError(f"emissionprob_ must have shape ({self.n_components}, {self.n_features})")
        self._check_sum_1("emissionprob_")

    def _check_and_set_n_features_readonly(self, n_features):
        """Symbols are checked against ``emissionprob_`` row by row (:meth:`_check_rows`)."""

    def _compute_log_likelihood(self, X):
        # The log of the small table, then one compiled gather: not a log per row and state.
        with np.errstate(divide="ignore"):
            log_emission = np.log(np.asarray(self.emissionprob_, dtype=np.float64))
        symbols = np.ascontiguousarray(np.asarray(X)[:, 0], dtype=np.int64)
        out = np.empty((symbols.shape[0], self.n_components))
        symbol_log_likelihood(log_emission, symbols, out)
        return out

    def _emission_statistics(self, X, posteriors):
        # Each symbol's posteriors added in row order in one pass (the order add.at or bincount would add them in).
        obs = np.zeros((self.n_components, self.n_features))
        symbol_counts(np.ascontiguousarray(np.asarray(X)[:, 0], dtype=np.int64),
                      np.ascontiguousarray(posteriors, dtype=np.float64), obs)
        return Additive({"obs": obs})

    def _do_emission_mstep(self, stats):
        if "e" in self.params:
            probs = np.maximum(self.emissionprob_prior - 1 + stats.fields["obs"], 0)
            sums = probs.sum(axis=1, keepdims=True)
            self.emissionprob_ = np.where(sums == 0, self.emissionprob_, probs / np.where(sums == 0, 1, sums))

    def _generate_sample_from_state(self, state, random_state):
        cdf = np.cumsum(self.emissionprob_[state, :])
        return [(cdf > random_state.rand()).argmax()]


class PoissonHMM(BaseHMM):
    """Hidden Markov model with independent Poisson emissions per feature (hmmlearn's ``PoissonHMM``).

    Parameters
    ----------
    n_components : int
        Number of states.
    startprob_prior, transmat_prior : float or array_like
        Dirichlet priors of the start and transition probabilities.
    lambdas_prior, lambdas_weight : float or array_like
        Gamma prior of the rates (shape ``lambdas_prior``, rate ``lambdas_weight``), as hmmlearn's.
    algorithm, random_state, n_iter, tol, verbose, implementation, batch_size
        As in :class:`~suffstats.GaussianHMM`.
    params, init_params : str
        ``s`` startprob, ``t`` transmat, ``l`` lambdas.

    Attributes
    ----------
    lambdas_ : ndarray of shape (n_components, n_features)
        Poisson rate of each feature in each state.

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats.hmm import PoissonHMM
    >>> truth = PoissonHMM(2)
    >>> truth.startprob_, truth.transmat_ = np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> truth.lambdas_ = np.array([[1.0, 10.0], [8.0, 2.0]])
    >>> X, _ = truth.sample(3000, random_state=0)
    >>> model = PoissonHMM(2, n_iter=50, random_state=1, batch_size=1000).fit(X)
    >>> np.round(np.sort(model.lambdas_[:, 0]))
    array([1., 8.])
    """

    _emission_letters = "l"
    _persisted = {"lambdas_": "lambdas_"}

    def __init__(self, n_components=1, startprob_prior=1.0, transmat_prior=1.0, lambdas_prior=0.0,
                 lambdas_weight=0.0, algorithm="viterbi", random_state=None, n_iter=10, tol=1e-2, verbose=False,
                 params="stl", init_params="stl", implementation="log", batch_size=None):
        super().__init__(n_components, startprob_prior=startprob_prior, transmat_prior=transmat_prior,
                         algorithm=algorithm, random_state=random_state, n_iter=n_iter, tol=tol, verbose=verbose,
                         params=params, init_params=init_params, implementation=implementation,
                         batch_size=batch_size)
        self.lambdas_prior = lambdas_prior
        self.lambdas_weight = lambdas_weight

    def _check_rows(self, X, row_offset):
        X = super()._check_rows(X, row_offset)
        bad = (X < 0).any(axis=1)
        if bad.any():
            raise ValueError(f"X[{row_offset + int(np.flatnonzero(bad)[0])}] has a negative count")
        return X

    def _get_n_fit_scalars_per_param(self):
        nc, nf = self.n_components, self.n_features
        return {**super()._get_n_fit_scalars_per_param(), "l": nc * nf}

    def _initialize_emissions(self, source, bounds, random_state):
        if self._needs_init("l", "lambdas_"):
            total = None
            for start, X in self._block_pass(source):
                rows = self._check_rows(X, start)
                m = Moments.of(rows, shift=rows[0] if total is None else total.shift, layout="diag")
                total = m if total is None else total + m
            means = total.mean()
            mean = means.mean()
            var = (total.scatter().sum() + total.weight * np.sum((means - mean) ** 2)) / (total.weight * means.size)
            self.lambdas_ = random_state.gamma(shape=mean ** 2 / var, scale=var / mean,
                                               size=(self.n_components, self.n_features))

    def _check(self):
        super()._check()
        if not hasattr(self, "lambdas_"):
            raise ValueError("this model has no lambdas_: fit it or set it first")
        self.lambdas_ = np.atleast_2d(np.asarray(self.lambdas_, dtype=np.float64))
        n_features = getattr(self, "n_features", self.lambdas_.shape[1])
        if self.lambdas_.shape != (self.n_components, n_features):
            raise ValueError("lambdas_ must have shape (n_components, n_features)")
        self.n_features = n_features

    def _compute_log_likelihood(self, X):
        X = np.asarray(X, dtype=np.float64)
        out = np.empty((len(X), self.n_components))
        base = gammaln(X + 1)
        for c in range(self.n_components):
            out[:, c] = (xlogy(X, self.lambdas_[c]) - self.lambdas_[c] - base).sum(axis=1)
        return out

    def _emission_statistics(self, X, posteriors):
        return Additive({"post": posteriors.sum(axis=0), "obs": posteriors.T @ X})

    def _do_emission_mstep(self, stats):
        if "l" in self.params:
            post, obs = stats.fields["post"], stats.fields["obs"]
            n = post.sum()
            with np.errstate(invalid="ignore", divide="ignore"):
                y_bar = obs / post[:, None]
            lambdas = (self.lambdas_prior + n * y_bar) / (self.lambdas_weight + n)
            self.lambdas_ = np.where(np.isfinite(lambdas), lambdas, self.lambdas_)

    def _generate_sample_from_state(self, state, random_state):
        return random_state.poisson(self.lambdas_[state])
