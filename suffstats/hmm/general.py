"""``HiddenMarkovModel``: a hidden Markov model whose states emit from any suffstats distributions.

Each state is a :class:`~suffstats.Distribution` -- a univariate family, a
:class:`~suffstats.MultivariateNormal`, an
:class:`~suffstats.IndependentComponents` of mixed families, a
:class:`~suffstats.GeneralMixtureModel` -- and the E-step hands each state
its rows weighted by the state posteriors, exactly as a mixture hands rows to
its components; the M-step is each distribution's own. With
``missing="marginalize"`` a NaN is a hole: a row's emission density is that
of its observed values (a row with nothing observed has density 1 and still
takes part in the chain), and each state receives the expected statistics
given them.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_batch, check_missing_policy
from ..data import as_source
from ..fit.running_total import RunningTotal
from ..fit.sequences import SequenceBoundaries
from ..mixture._engine import MixtureEngine
from ..statistics import Composite
from .base import BaseHMM

__all__ = ["HiddenMarkovModel"]


class HiddenMarkovModel(BaseHMM):
    """Hidden Markov model with any distributions as states, fitted exactly out of core.

    Parameters
    ----------
    distributions : sequence of Distribution
        One distribution per state; all univariate (one column of data) or all
        over rows of the same number of features. States given without
        parameters are initialised from k-means clusters of a sample of rows
        (as :class:`~suffstats.GeneralMixtureModel` does); frozen ones are not updated.
    startprob, transmat : array_like, optional
        Start and transition probabilities a fit starts from (default: drawn
        from ``random_state`` as hmmlearn does, when ``s`` / ``t`` are in ``init_params``).
    missing : {"error", "marginalize"}, default="error"
        What a NaN in the data means: refused (naming its row) or a value
        missing at random, integrated out exactly. Multivariate states must
        take rows with holes (``MultivariateNormal``, ``IndependentComponents``).
    startprob_prior, transmat_prior, algorithm, random_state, n_iter, tol, verbose, implementation, batch_size
        As in :class:`~suffstats.GaussianHMM`.
    params, init_params : str, default="ste"
        ``s`` startprob, ``t`` transmat, ``e`` the states' distributions
        (``init_params``: those given without parameters).
    init_sample_size : int, default=100_000
        Rows sampled to initialise states given without parameters.

    Attributes
    ----------
    distributions : list of Distribution
        The states' emission distributions (fitted in place of the given ones).
    startprob_, transmat_, monitor_
        As in :class:`~suffstats.GaussianHMM`.

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats import Exponential, Normal
    >>> from suffstats.hmm import HiddenMarkovModel
    >>> truth = HiddenMarkovModel([Normal(10.0, 1.0), Exponential(1.0)], startprob=[0.5, 0.5],
    ...                           transmat=[[0.95, 0.05], [0.05, 0.95]])
    >>> X, states = truth.sample(4000, random_state=0)
    >>> model = HiddenMarkovModel([Normal(8.0, 3.0), Exponential()], n_iter=30, random_state=0, batch_size=1000)
    >>> model = model.fit(X)  # the Normal state starts from a guess, the Exponential one from k-means
    >>> round(float(model.distributions[0].mean), 1), round(float(model.distributions[1].rate), 1)
    (10.0, 1.0)
    """

    _emission_letters = "e"

    def __init__(self, distributions, startprob=None, transmat=None, *, missing="error", startprob_prior=1.0,
                 transmat_prior=1.0, algorithm="viterbi", random_state=None, n_iter=10, tol=1e-2, verbose=False,
                 params="ste", init_params="ste", implementation="log", batch_size=None,
                 init_sample_size=100_000):
        from ..distributions import Distribution

        # The list given is kept as given (scikit-learn's clone checks that parameters are stored unchanged).
        distributions = distributions if isinstance(distributions, list) else list(distributions)
        if not distributions:
            raise ValueError("HiddenMarkovModel needs at least one distribution (one per state)")
        for j, d in enumerate(distributions):
            if not isinstance(d, Distribution):
                raise TypeError(f"distributions[{j}] must be a suffstats Distribution; got {d!r}")
            first = next(i for i, other in enumerate(distributions) if other is d)
            if first != j:
                raise ValueError(f"distributions[{j}] is the same object as distributions[{first}]: each state "
                                 "needs its own instance (copy.deepcopy it, or build another)")
        if len({d.ndim for d in distributions}) != 1:
            raise ValueError("the states' distributions must all be univariate or all multivariate")
        super().__init__(len(distributions), startprob_prior=startprob_prior, transmat_prior=transmat_prior,
                         algorithm=algorithm, random_state=random_state, n_iter=n_iter, tol=tol, verbose=verbose,
                         params=params, init_params=init_params, implementation=implementation,
                         batch_size=batch_size)
        self.distributions = distributions
        self.ndim = distributions[0].ndim
        self.missing = check_missing_policy(missing)
        if self.missing == "marginalize" and self.ndim == 2:
            unable = [j for j, d in enumerate(distributions) if not d.handles_missing]
            if unable:
                raise ValueError(f"missing='marginalize' needs states that take rows with holes; distributions"
                                 f"[{unable[0]}] ({type(distributions[unable[0]]).__name__}) does not "
                                 "(MultivariateNormal and IndependentComponents do)")
        self.init_sample_size = init_sample_size
        self.startprob = None if startprob is None else np.asarray(startprob, dtype=np.float64)
        self.transmat = None if transmat is None else np.asarray(transmat, dtype=np.float64)
        if self.startprob is not None:
            self.startprob_ = self.startprob.copy()
        if self.transmat is not None:
            self.transmat_ = self.transmat.copy()

    # -- input -------------------------------------------------------------------------------
    def _source(self, X, lengths):
        if self.ndim == 2:
            return super()._source(X, lengths)
        source = as_source(np.asarray(X).reshape(-1, 1) if isinstance(X, (list, tuple)) or np.ndim(X) == 1 else X)
        if source.n_features != 1:
            raise ValueError(f"X has {source.n_features} columns, but the states are univariate: give one column "
                             "(or use IndependentComponents for several)")
        if source.n_rows == 0:
            raise ValueError("X has no rows")
        if lengths is not None and np.ndim(lengths) == 0:
            lengths = [lengths]
        return source, SequenceBoundaries(lengths, source.n_rows)

    def _n_features(self):
        if self.ndim == 1:
            return 1
        return next((d._n_features() for d in self.distributions if d._n_features() is not None), None)

    def _check_rows(self, X, row_offset):
        X = check_batch(X, ndim=self.ndim, n_features=None if self.ndim == 1 else self._n_features(),
                        row_offset=row_offset, missing=self.missing)
        outside = [d._outside(X) for d in self.distributions]
        if all(o is not None for o in outside):
            nowhere = np.logical_and.reduce([o if o.ndim == 1 else o.any(axis=1) for o in outside])
            if nowhere.any():
                row = int(np.argmax(nowhere))
                raise ValueError(f"X[{row + row_offset}] has zero probability under every state "
                                 "(outside the support of each)")
        return X

    def _observed(self, X):
        """Rows with at least one observed value (``None``: all rows)."""
        if self.missing == "error":
            return None
        holes = np.isnan(X)
        if not holes.any():
            return None
        return ~(holes.all(axis=1) if X.ndim == 2 else holes)

    # -- initialisation and checks -----------------------------------------------------------
    def _get_n_fit_scalars_per_param(self):
        return {**super()._get_n_fit_scalars_per_param(),
                "e": sum(d.n_parameters for d in self.distributions if d.fitted)}

    def _needs_init(self, code, name):
        given = {"s": self.startprob, "t": self.transmat}.get(code)
        if given is not None:  # a fit starts from the probabilities given to the constructor
            setattr(self, name, given.copy())
            return False
        return super()._needs_init(code, name)

    def _initialize_emissions(self, source, bounds, random_state):
        if "e" not in self.init_params or all(d.fitted for d in self.distributions):
            return
        from ..data.views import SingleColumn
        from ..mixture import GeneralMixtureModel

        seed = int(random_state.randint(np.iinfo(np.int32).max))
        mixture = GeneralMixtureModel(self.distributions, missing=self.missing, init_sample_size=self.init_sample_size,
                                      random_state=seed)
        mixture._initialize(SingleColumn(source) if self.ndim == 1 else source, None, np.random.default_rng(seed))

    def _check(self):
        super()._check()
        unfitted = [j for j, d in enumerate(self.distributions) if not d.fitted]
        if unfitted:
            raise ValueError(f"distributions[{unfitted[0]}] has no parameters: fit the model or give them")
        self.n_features = self._n_features() if self.ndim == 2 else 1

    def _check_settings(self):
        super()._check_settings()
        if self.n_components != len(self.distributions):
            raise ValueError(f"n_components is {self.n_components} but there are {len(self.distributions)} "
                             "distributions (one per state)")

    # -- emissions -----------------------------------------------------------------------------
    def _compute_log_likelihood(self, X):
        out = np.zeros((X.shape[0], self.n_components))  # a row with nothing observed has density 1
        observed = self._observed(X)
        rows = X if observed is None else X[observed]
        part = np.empty((rows.shape[0], self.n_components))
        for k, d in enumerate(self.distributions):
            bad = d._outside(rows)
            if bad is None or not bad.any():
                part[:, k] = d._log_probability(rows)
            else:
                inside = ~(bad if bad.ndim == 1 else bad.any(axis=1))
                part[:, k] = -np.inf
                part[inside, k] = d._log_probability(rows[inside])
        if observed is None:
            return part
        out[observed] = part
        return out

    def _emission_statistics(self, X, posteriors):
        observed = self._observed(X)
        if observed is not None:
            X, posteriors = X[observed], posteriors[observed]
        return Composite(_state_statistics(d, X, np.ascontiguousarray(posteriors[:, k]))
                         for k, d in enumerate(self.distributions))

    def _do_emission_mstep(self, stats):
        if "e" not in self.params:
            return
        for d, part in zip(self.distributions, stats.parts):
            _update_state(d, part)

    def _generate_sample_from_state(self, state, random_state):
        rng = np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
        row = np.asarray(self.distributions[state]._sample(1, rng), dtype=np.float64)
        return row.reshape(-1)


def _state_statistics(d, X, w):
    """A state's posterior-weighted statistics: a mixture's E-step, or a distribution's component statistics."""
    if isinstance(d, MixtureEngine):
        return d._e_step_block(X, w)
    return d._component_statistics(X, w)


def _update_state(d, stats):
    """A state's M-step (a frozen state, or one that received no weight, keeps its parameters)."""
    if isinstance(d, MixtureEngine):
        d._maximize(RunningTotal().from_value(stats), 0.0)
    elif not d.frozen and d._total_weight(stats) > 0:
        d._update(d._estimate(stats), 0.0)
