"""The hidden Markov model base: hmmlearn's API over exact out-of-core Baum–Welch.

:class:`~suffstats.hmm.BaseHMM` owns what every emission family shares: the start and
transition probabilities, the EM loop and its :class:`ConvergenceMonitor`,
scoring, decoding, sampling and the statistics protocol (``statistics`` /
``summarize`` / ``from_summaries``). A subclass supplies the emission
densities, their statistics and their M-step (see :class:`~suffstats.GaussianHMM`).

The expected-count statistics of one pass -- expected first states, expected
transitions, and the emission family's posterior-weighted statistics -- are a
:class:`~suffstats.statistics.Composite` value: values of different pieces,
batches or processes add with ``+``, and the M-step reads only the total.
"""

from __future__ import annotations

import copy
import logging
import string
import sys
from collections import deque

import numpy as np

from .._estimator import Estimator
from .._validation import check_positive_int, check_prior, check_real
from ..data import as_source
from ..fit.running_total import RunningTotal
from ..fit.sequences import SequenceBoundaries
from ..statistics import Additive, Composite
from ..data.blocks import BLOCK_ROWS
from ..distributions._registry import register_builtin
from ._inference import DECODER_ALGORITHMS, Inference, check_random_state
from ._passes import _batches, posterior_pass
from ._persistence import hmm_from_dict, hmm_to_dict
from ..data.reopen import reopener
from ._dask import dask_pass_statistics
from ._resume import open_checkpoint, resume, save_iteration

__all__ = ["BaseHMM", "ConvergenceMonitor", "DECODER_ALGORITHMS"]

_log = logging.getLogger(__name__)

IMPLEMENTATIONS = ("log", "scaling")


class ConvergenceMonitor:
    """The log-likelihood history of an EM run and whether it has converged (hmmlearn's names).

    Parameters
    ----------
    tol : float
        EM has converged when the gain in log-likelihood is below ``tol``.
    n_iter : int
        EM has converged (stopped) after ``n_iter`` iterations.
    verbose : bool
        Print each iteration to ``sys.stderr``.

    Examples
    --------
    >>> from suffstats.hmm import ConvergenceMonitor
    >>> m = ConvergenceMonitor(tol=0.1, n_iter=10, verbose=False)
    >>> m.report(-10.0); m.report(-9.95)
    >>> m.converged, m.iter, list(m.history)
    (True, 2, [-10.0, -9.95])
    """

    _template = "{iter:>10d} {log_prob:>16.8f} {delta:>+16.8f}"

    def __init__(self, tol, n_iter, verbose):
        self.tol = tol
        self.n_iter = n_iter
        self.verbose = verbose
        self.history = deque()
        self.iter = 0

    def __repr__(self):
        return (f"ConvergenceMonitor(tol={self.tol!r}, n_iter={self.n_iter!r}, verbose={self.verbose!r}, "
                f"iter={self.iter}, history={list(self.history)!r})")

    def _reset(self):
        self.iter = 0
        self.history.clear()

    def report(self, log_prob):
        """Record the log-likelihood of one iteration (printed when ``verbose``).

        Parameters
        ----------
        log_prob : float
            The iteration's log-likelihood.
        """
        if self.verbose:
            delta = log_prob - self.history[-1] if self.history else np.nan
            print(self._template.format(iter=self.iter + 1, log_prob=log_prob, delta=delta), file=sys.stderr)
        precision = np.finfo(float).eps ** 0.5
        if self.history and (log_prob - self.history[-1]) < -precision:
            _log.warning(f"Model is not converging.  Current: {log_prob} is not greater than {self.history[-1]}. "
                         f"Delta is {log_prob - self.history[-1]}")
        self.history.append(log_prob)
        self.iter += 1

    @property
    def converged(self):
        """Whether EM has converged (or ran its ``n_iter`` iterations)."""
        return (self.iter == self.n_iter
                or (len(self.history) >= 2 and self.history[-1] - self.history[-2] < self.tol))


class BaseHMM(Estimator, Inference):
    """A hidden Markov model with dense transitions; subclasses add the emission family.

    Parameters are those of hmmlearn's ``BaseHMM`` plus ``batch_size``.

    Parameters
    ----------
    n_components : int, default=1
        Number of states.
    startprob_prior, transmat_prior : float or array_like, default=1.0
        Dirichlet priors of the start and transition probabilities.
    algorithm : {"viterbi", "map"}, default="viterbi"
        Decoder of :meth:`predict` / :meth:`decode`.
    random_state : int, RandomState or None
        Randomness of the initialisation and of :meth:`sample`.
    n_iter : int, default=10
        Maximum EM iterations.
    tol : float, default=1e-2
        EM stops when the log-likelihood gains less than ``tol``.
    verbose : bool, default=False
        Print each iteration to ``sys.stderr``.
    params, init_params : str, default=all letters
        Parameters updated by EM / initialised by ``fit``, one letter each
        (``s`` startprob, ``t`` transmat, then the emission family's letters).
    implementation : {"log", "scaling"}, default="log"
        Forward-backward in log space, or with scaled messages.
    batch_size : int, optional
        Rows read at a time (``None``: all); the fit does not depend on it.
    """

    #: Letters of ``params`` / ``init_params`` for the emission parameters.
    _emission_letters = ""
    #: Emission parameters written to JSON: name in the document -> attribute read.
    _persisted: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register_builtin(cls)  # a JSON naming the class loads it

    def to_dict(self):
        """JSON-safe description: settings and, once fitted, the parameters (see :func:`suffstats.to_json`)."""
        return hmm_to_dict(self)

    @classmethod
    def _from_dict(cls, data):
        return hmm_from_dict(cls, data)

    def __init__(self, n_components=1, startprob_prior=1.0, transmat_prior=1.0, algorithm="viterbi",
                 random_state=None, n_iter=10, tol=1e-2, verbose=False, params=string.ascii_letters,
                 init_params=string.ascii_letters, implementation="log", batch_size=None):
        self.n_components = n_components
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.params = params
        self.init_params = init_params
        self.implementation = implementation
        self.batch_size = batch_size
        self.monitor_ = ConvergenceMonitor(self.tol, self.n_iter, self.verbose)

    # -- input ---------------------------------------------------------------------------------
    def _source(self, X, lengths):
        """The batch source of ``X`` and its sequence boundaries; errors name what is wrong."""
        source = as_source(X)
        if np.ndim(X) == 1 or (hasattr(X, "ndim") and X.ndim != 2):
            raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {np.shape(X)}")
        if source.n_rows == 0:
            raise ValueError("X has no rows")
        if lengths is not None and np.ndim(lengths) == 0:
            lengths = [lengths]
        return source, SequenceBoundaries(lengths, source.n_rows)

    def _check_rows(self, X, row_offset):
        """Rows as float64, refused with the row's index if not finite (overridden by discrete families)."""
        X = np.asarray(X, dtype=np.float64)
        if np.isfinite(np.sum(X)):  # one pass, no mask: a NaN or infinity makes the sum non-finite
            return X
        bad = ~np.isfinite(X).all(axis=1)  # (finite values whose sum overflows pass here)
        if bad.any():
            row = row_offset + int(np.flatnonzero(bad)[0])
            raise ValueError(f"X[{row}] contains NaN or infinity")
        return X

    def _check_settings(self):
        if self.implementation not in IMPLEMENTATIONS:
            raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}; got {self.implementation!r}")
        for name in ("params", "init_params"):
            value = getattr(self, name)
            if value == string.ascii_letters:
                continue
            unknown = sorted(set(value) - set("st" + self._emission_letters))
            if unknown:
                raise ValueError(f"{name}={value!r} has unknown letters {unknown}; this model knows "
                                 f"{'st' + self._emission_letters!r}")
        if not (isinstance(self.n_components, (int, np.integer)) and self.n_components >= 1):
            raise ValueError(f"n_components must be a positive integer; got {self.n_components!r}")
        check_positive_int(self.n_iter, "n_iter", minimum=0)
        check_real(self.tol, "tol")  # a negative tol is allowed: it runs all n_iter iterations
        for name in ("startprob_prior", "transmat_prior"):
            check_prior(getattr(self, name), name)

    # -- initialisation and checks -----------------------------------------------------------
    def _needs_init(self, code, name):
        if code in self.init_params:
            if hasattr(self, name):
                _log.warning("Even though the %r attribute is set, it will be overwritten during initialization "
                             "because 'init_params' contains %r", name, code)
            return True
        return not hasattr(self, name)

    def _check_and_set_n_features(self, n_features):
        if hasattr(self, "n_features"):
            if self.n_features != n_features:
                raise ValueError(f"Unexpected number of dimensions, got {n_features} but expected {self.n_features}")
        else:
            self.n_features = n_features

    def _set_n_features(self, source):
        """Check (or learn) ``n_features`` from the data before initialisation."""
        self._check_and_set_n_features(source.n_features)

    def _block_pass(self, source):
        """``(row_offset, rows)`` for every block of rows, in order, read ``batch_size`` rows at a time."""
        for start, X in _batches(source, self.batch_size):
            for a in range(0, X.shape[0], BLOCK_ROWS):
                yield start + a, X[a:a + BLOCK_ROWS]

    def _get_n_fit_scalars_per_param(self):
        nc = self.n_components
        return {"s": nc - 1, "t": nc * (nc - 1)}

    def _init(self, X, lengths=None):
        """Initialise the parameters named in ``init_params`` from ``X`` (hmmlearn's name)."""
        source, bounds = self._source(X, lengths)
        self._initialize(source, bounds)

    def _initialize(self, source, bounds):
        self._check_settings()
        self._set_n_features(source)
        n_features = source.n_features
        init = 1.0 / self.n_components
        random_state = check_random_state(self.random_state)
        if self._needs_init("s", "startprob_"):
            self.startprob_ = random_state.dirichlet(np.full(self.n_components, init))
        if self._needs_init("t", "transmat_"):
            self.transmat_ = random_state.dirichlet(np.full(self.n_components, init), size=self.n_components)
        self._initialize_emissions(source, bounds, random_state)
        per_param = self._get_n_fit_scalars_per_param()
        n_scalars = sum(per_param.get(p, 0) for p in set(self.params))
        if source.n_rows * n_features < n_scalars:
            _log.warning("Fitting a model with %d free scalar parameters with only %d data points will result in "
                         "a degenerate solution.", n_scalars, source.n_rows * n_features)

    def _initialize_emissions(self, source, bounds, random_state):
        """Initialise the emission parameters (subclasses)."""

    def _check_sum_1(self, name):
        s = getattr(self, name).sum(axis=-1)
        if not np.allclose(s, 1):
            raise ValueError(f"{name} must sum to 1 (got {s:.4f})" if s.ndim == 0
                             else f"{name} rows must sum to 1 (got row sums of {s})")

    def _check(self):
        """Check the parameters (shapes, sums); raises ValueError naming the parameter."""
        self._check_settings()
        for name in ("startprob_", "transmat_"):
            if not hasattr(self, name):
                raise ValueError(f"this model has no {name}: fit it or set {name} first")
        self.startprob_ = np.asarray(self.startprob_, dtype=np.float64)
        if len(self.startprob_) != self.n_components:
            raise ValueError("startprob_ must have length n_components")
        self._check_sum_1("startprob_")
        self.transmat_ = np.asarray(self.transmat_, dtype=np.float64)
        if self.transmat_.shape != (self.n_components, self.n_components):
            raise ValueError("transmat_ must have shape (n_components, n_components)")
        self._check_sum_1("transmat_")
        if (self.startprob_ < 0).any() or (self.transmat_ < 0).any():
            raise ValueError("startprob_ and transmat_ must be non-negative")

    # -- statistics ------------------------------------------------------------------------------
    def _emission_statistics(self, X, posteriors):
        raise NotImplementedError

    def _piece_statistics(self, piece, weight=None):
        K = self.n_components
        first = piece.first
        posteriors, xi, log_prob = piece.posteriors, piece.xi, piece.log_prob
        if weight is not None:  # a sequence of weight w counts as w copies of it
            posteriors, xi, log_prob = posteriors * weight, xi * weight, log_prob * weight
        head = Additive({"start": posteriors[0] if first else np.zeros(K), "trans": xi,
                         "nobs": (1.0 if weight is None else weight) if first else 0.0,
                         "log_prob": log_prob if first else 0.0})
        return Composite([head, self._emission_statistics(piece.X, posteriors)])

    def _pass_statistics(self, source, bounds, sample_weight=None):
        """The pass's statistics and its log-likelihood (weighted by the sequences' weights, if any)."""
        total = RunningTotal(weight_of=lambda v: float(v.parts[0].fields["nobs"]))

        def consume(piece):
            weight = None if sample_weight is None else float(sample_weight[piece.sequence])
            total.add(self._piece_statistics(piece, weight))

        log_prob = posterior_pass(self, source, bounds, self.batch_size, consume)
        stats = total.to_statistics()
        if sample_weight is not None:
            log_prob = float(stats.parts[0].fields["log_prob"])
        return stats, log_prob

    @staticmethod
    def _sequence_weights(sample_weight, bounds):
        """Per-sequence weights as float64, checked: one finite non-negative number per sequence, not all 0."""
        if sample_weight is None:
            return None
        w = np.asarray(sample_weight)
        if w.dtype.kind not in "biuf" or w.ndim != 1:
            raise ValueError(f"sample_weight must be a 1-D array of numbers, one per sequence; got shape {w.shape} "
                             f"and dtype {w.dtype}")
        if w.shape[0] != bounds.n_sequences:
            raise ValueError(f"sample_weight has {w.shape[0]} weights, but there are {bounds.n_sequences} sequences "
                             "(one weight per sequence, in the order of lengths)")
        w = w.astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
        if bad.size:
            raise ValueError(f"sample_weight[{bad[0]}] is {w[bad[0]]}: weights must be finite and non-negative")
        if not w.any():
            raise ValueError("sample_weight is 0 for every sequence: nothing to fit")
        return w

    def statistics(self, X, lengths=None, sample_weight=None):
        """Expected-count statistics of sequences ``X`` under the current parameters; the model is unchanged.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features), memory map, path or batch source
            The rows of one or several sequences, one after another.
        lengths : array_like of int, optional
            Length of each sequence (they sum to the number of rows); ``None``: one sequence.
        sample_weight : array_like of shape (n_sequences,), optional
            Weight of each sequence (an integer weight counts the sequence that many times).

        Returns
        -------
        Composite
            ``parts[0]``: expected first states ``start``, expected transitions
            ``trans``, sequence count ``nobs`` and ``log_prob``; ``parts[1]``:
            the emission family's statistics. Values add with ``+``.
        """
        self._check()
        source, bounds = self._source(X, lengths)
        self._check_and_set_n_features_readonly(source.n_features)
        return self._pass_statistics(source, bounds, self._sequence_weights(sample_weight, bounds))[0]

    def _check_and_set_n_features_readonly(self, n_features):
        expected = getattr(self, "n_features", n_features)
        if expected != n_features:
            raise ValueError(f"X has {n_features} features, but the model has {expected}")

    def summarize(self, X, lengths=None, sample_weight=None):
        """Add the statistics of sequences ``X`` to the pending total; returns their log-likelihood.

        A loop of ``summarize`` calls followed by :meth:`from_summaries` is
        one EM iteration over all the data it saw.

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource
            Rows of the sequences, in order.
        lengths : array_like of int, optional
            Rows per sequence (``None``: one sequence).
        sample_weight : array_like of shape (n_sequences,), optional
            Weight of each sequence.
        """
        stats = self.statistics(X, lengths, sample_weight)
        self._pending = stats if getattr(self, "_pending", None) is None else self._pending + stats
        return float(stats.parts[0].fields["log_prob"])

    def clear_summaries(self):
        """Drop the pending statistics."""
        self._pending = None

    def from_summaries(self):
        """The M-step on the pending statistics (then cleared); returns ``self``."""
        if getattr(self, "_pending", None) is None:
            raise ValueError("no pending statistics: call summarize first")
        work = self._copy()
        work._do_mstep(self._pending)
        work._pending = None
        self.__dict__.update(work.__dict__)
        return self

    def _copy(self):
        memo = {}
        if isinstance(self.random_state, np.random.RandomState):
            memo[id(self.random_state)] = self.random_state
        return copy.deepcopy(self, memo)

    # -- EM -------------------------------------------------------------------------------------
    def _do_mstep(self, stats):
        head = stats.parts[0].fields
        if "s" in self.params:
            startprob = np.maximum(self.startprob_prior - 1 + head["start"], 0)
            self.startprob_ = np.where(self.startprob_ == 0, 0, startprob)
            self.startprob_ = self.startprob_ / self.startprob_.sum()
        if "t" in self.params:
            transmat = np.maximum(self.transmat_prior - 1 + head["trans"], 0)
            transmat = np.where(self.transmat_ == 0, 0, transmat)
            sums = transmat.sum(axis=1, keepdims=True)
            self.transmat_ = np.where(sums == 0, transmat, transmat / np.where(sums == 0, 1, sums))
        self._do_emission_mstep(stats.parts[1])

    def _do_emission_mstep(self, stats):
        raise NotImplementedError

    def fit(self, X, lengths=None, sample_weight=None, checkpoint=None, client=None):
        """Estimate the parameters by Baum–Welch (EM), initialising those in ``init_params``.

        Parameters
        ----------
        X : array_like, memory map, path or batch source of shape (n_samples, n_features)
            Observations of all sequences, one after another; read ``batch_size`` rows at a time.
        lengths : array_like of int, optional
            Rows of each sequence, summing to ``n_samples`` (``None``: one sequence).
        sample_weight : array_like of shape (n_sequences,), optional
            Weight of each sequence: an integer weight counts the sequence that
            many times, 0 leaves it out (the log-likelihoods in ``monitor_`` are weighted too).
        checkpoint : str or path-like, optional
            A file the model and its history are written to after every
            iteration; the same fit run again (same data, lengths, weights,
            settings and starting parameters) resumes from it and ends with the
            bits of an uninterrupted fit. A checkpoint of another fit is refused.
        client : distributed.Client, optional
            Run each iteration's forward-backward on this Dask cluster, runs of
            whole sequences per task, read by the workers themselves (``X`` a
            file they can open, or a ``dask.array``); the fit is the local one,
            bit for bit.

        Returns
        -------
        self
        """
        work = self._copy()
        work._fit(X, lengths, sample_weight, checkpoint, client)
        self.__dict__.update(work.__dict__)
        return self

    def _fit(self, X, lengths, sample_weight=None, checkpoint=None, client=None):
        source, bounds = self._source(X, lengths)
        sample_weight = self._sequence_weights(sample_weight, bounds)
        if client is not None:
            reopener(source)  # data the workers cannot open is refused before any work
        checkpoint = open_checkpoint(self, source, bounds, sample_weight, checkpoint)  # fingerprints the start
        # A monitor the user set (a subclass, as hmmlearn allows) is kept, reset, and told the current settings.
        monitor = getattr(self, "monitor_", None)
        if not all(callable(getattr(monitor, name, None)) for name in ("report", "_reset")):
            self.monitor_ = ConvergenceMonitor(self.tol, self.n_iter, self.verbose)
        self.monitor_.tol, self.monitor_.n_iter, self.monitor_.verbose = self.tol, self.n_iter, self.verbose
        self.monitor_._reset()
        resumed = resume(self, checkpoint, source.n_features)
        if not resumed:
            self._initialize(source, bounds)
        self._check()
        if resumed and self.monitor_.converged:
            return
        for _ in range(self.n_iter - self.monitor_.iter):
            if client is None:
                stats, log_prob = self._pass_statistics(source, bounds, sample_weight)
            else:
                stats, log_prob = dask_pass_statistics(self, source, bounds, sample_weight, client)
            self._do_mstep(stats)
            self.monitor_.report(log_prob)
            save_iteration(self, checkpoint)
            if self.monitor_.converged:
                break
            if (self.transmat_.sum(axis=1) == 0).any():
                _log.warning("Some rows of transmat_ have zero sum because no transition from the state was "
                             "ever observed.")
