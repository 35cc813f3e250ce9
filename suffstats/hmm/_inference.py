"""What a fitted hidden Markov model computes from rows: scores, posteriors, decoding, sampling, criteria.

:class:`Inference` is the half of :class:`~suffstats.hmm.BaseHMM` that reads
data with fixed parameters; every method streams the rows through the passes
of :mod:`suffstats.hmm._passes`, so memory grows with ``batch_size``, not with
the sequences.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from ..data import as_source
from ._passes import forward_pass, posterior_pass, viterbi_pass
from ._path_output import path_output, pointer_dtype

__all__ = ["DECODER_ALGORITHMS", "Inference", "check_random_state"]

#: The decoders of ``decode`` / ``predict``.
DECODER_ALGORITHMS = frozenset(("viterbi", "map"))


def check_random_state(seed):
    """A :class:`numpy.random.RandomState` from ``None``, an int or a ``RandomState`` (as scikit-learn's)."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, (int, np.integer)):
        return np.random.RandomState(seed)
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(f"random_state must be None, an int or a numpy RandomState; got {seed!r}")


class Inference:
    """Scoring, posteriors, decoding, sampling and information criteria of an HMM with fixed parameters.

    The model class provides ``_check``, ``_source``,
    ``_check_and_set_n_features_readonly``, ``_compute_log_likelihood``,
    ``_generate_sample_from_state`` and ``_get_n_fit_scalars_per_param``.
    """

    def _prepare(self, X, lengths):
        self._check()
        source, bounds = self._source(X, lengths)
        self._check_and_set_n_features_readonly(source.n_features)
        return source, bounds

    def score(self, X, lengths=None):
        """Log-likelihood of ``X`` under the model (sum over sequences).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features), memory map, path or batch source
            The rows of one or several sequences, one after another.
        lengths : array_like of int, optional
            Length of each sequence (they sum to the number of rows); ``None``: one sequence.
        """
        source, bounds = self._prepare(X, lengths)
        return forward_pass(self, source, bounds, self.batch_size)

    def score_samples(self, X, lengths=None):
        """Log-likelihood of ``X`` and the state posteriors, shape (n_samples, n_components).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features), memory map, path or batch source
            The rows of one or several sequences, one after another.
        lengths : array_like of int, optional
            Length of each sequence (they sum to the number of rows); ``None``: one sequence.
        """
        source, bounds = self._prepare(X, lengths)
        out = np.empty((source.n_rows, self.n_components))

        def consume(piece):
            out[piece.start:piece.stop] = piece.posteriors

        log_prob = posterior_pass(self, source, bounds, self.batch_size, consume)
        return log_prob, out

    def predict_proba(self, X, lengths=None):
        """State posteriors, shape (n_samples, n_components).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features), memory map, path or batch source
            The rows of one or several sequences, one after another.
        lengths : array_like of int, optional
            Length of each sequence (they sum to the number of rows); ``None``: one sequence.
        """
        return self.score_samples(X, lengths)[1]

    def decode(self, X, lengths=None, algorithm=None, out=None):
        """Most likely states: ``(log_prob, state_sequence)``.

        ``algorithm="viterbi"``: the most likely path and its log-probability;
        ``"map"``: the most likely state of each row, with hmmlearn's
        ``log_prob`` (the sum of the rows' largest posteriors).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features), memory map, path or batch source
            The rows of one or several sequences, one after another.
        lengths : array_like of int, optional
            Length of each sequence (they sum to the number of rows); ``None``: one sequence.
        algorithm : {"viterbi", "map"}, optional
            The decoder (default: the model's ``algorithm``).
        out : str, path-like or array, optional
            Where to write the states, for a sequence longer than memory: a
            ``.npy`` path (created as an int64 memory map; never an input
            file) or a writable integer array or memory map of ``n_samples``.
            Viterbi's back-pointers then go to a temporary memory map in the
            same folder (``n_samples × n_components`` bytes, deleted at the
            end), and rows are read ``batch_size`` at a time (65,536 when
            ``batch_size`` is None): memory grows with the batch, not the
            sequence. The path is the same as without ``out`` (and so is
            Viterbi's ``log_prob``; MAP's is summed piece by piece, equal to
            rounding).

        Returns
        -------
        log_prob : float
        state_sequence : ndarray of int, shape (n_samples,)
            ``out`` itself when given (the memory map, opened for writing).

        Examples
        --------
        >>> import numpy as np, os, tempfile
        >>> from suffstats.hmm import GaussianHMM
        >>> model = GaussianHMM(2, random_state=0).fit(np.r_[np.zeros((50, 1)), np.ones((50, 1))]
        ...                                           + np.random.default_rng(0).normal(0, 0.1, (100, 1)))
        >>> X = np.random.default_rng(1).normal(0, 0.1, (1000, 1)) + np.repeat([0.0, 1.0], 500)[:, None]
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     _, path = model.decode(X, out=os.path.join(folder, "states.npy"))
        ...     same = bool(np.array_equal(path, model.decode(X)[1]))
        ...     del path
        >>> same
        True
        """
        algorithm = algorithm or self.algorithm
        if algorithm not in DECODER_ALGORITHMS:
            raise ValueError(f"Unknown decoder {algorithm!r}")
        if out is None and algorithm == "map":
            _, posteriors = self.score_samples(X, lengths)
            return float(np.max(posteriors, axis=1).sum()), np.argmax(posteriors, axis=1)
        source, bounds = self._prepare(X, lengths)
        if out is None:
            path = np.empty(source.n_rows, dtype=np.int64)
            return viterbi_pass(self, source, bounds, self.batch_size, path), path
        path, folder = path_output(out, source.n_rows, self.n_components, source.files())
        batch_size = self.batch_size or 65_536
        if algorithm == "map":
            largest = []

            def consume(piece):
                path[piece.start:piece.stop] = np.argmax(piece.posteriors, axis=1)
                largest.append(np.max(piece.posteriors, axis=1).sum())

            posterior_pass(self, source, bounds, batch_size, consume)
            log_prob = float(np.sum(largest))
        else:
            with tempfile.TemporaryDirectory(dir=folder) as scratch:
                spill = np.lib.format.open_memmap(os.path.join(scratch, "back_pointers.npy"), mode="w+",
                                                  dtype=pointer_dtype(self.n_components),
                                                  shape=(source.n_rows, self.n_components))
                log_prob = viterbi_pass(self, source, bounds, batch_size, path, spill)
                del spill
        if isinstance(path, np.memmap):
            path.flush()
        return log_prob, path

    def predict(self, X, lengths=None, out=None):
        """Most likely state of each row (by ``algorithm``).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features), memory map, path or batch source
            The rows of one or several sequences, one after another.
        lengths : array_like of int, optional
            Length of each sequence (they sum to the number of rows); ``None``: one sequence.
        out : str, path-like or array, optional
            Where to write the states (see :meth:`decode`).
        """
        return self.decode(X, lengths, out=out)[1]

    def sample(self, n_samples=1, random_state=None, currstate=None):
        """Draw ``(X, state_sequence)`` from the model (hmmlearn's draws, for the same random state).

        Parameters
        ----------
        n_samples : int, default=1
            Rows to draw.
        random_state : int, RandomState or None
            Randomness of the draw (default: the model's ``random_state``).
        currstate : int, optional
            The state of the first row (default: drawn from ``startprob_``).
        """
        self._check()
        random_state = check_random_state(self.random_state if random_state is None else random_state)
        transmat_cdf = np.cumsum(self.transmat_, axis=1)
        if currstate is None:
            currstate = (np.cumsum(self.startprob_) > random_state.rand()).argmax()
        states = [currstate]
        X = [self._generate_sample_from_state(currstate, random_state)]
        for _ in range(n_samples - 1):
            currstate = (transmat_cdf[currstate] > random_state.rand()).argmax()
            states.append(currstate)
            X.append(self._generate_sample_from_state(currstate, random_state))
        return np.atleast_2d(X), np.array(states, dtype=int)

    def _generate_sample_from_state(self, state, random_state):
        raise NotImplementedError

    def get_stationary_distribution(self):
        """The stationary distribution of the states (left eigenvector of ``transmat_`` for eigenvalue 1)."""
        eigvals, eigvecs = np.linalg.eig(self.transmat_.T)
        vec = np.real_if_close(eigvecs[:, np.argmax(eigvals)])
        return vec / vec.sum()

    def aic(self, X, lengths=None):
        """Akaike information criterion: ``-2 log L + 2 p``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features), memory map, path or batch source
            The rows of one or several sequences, one after another.
        lengths : array_like of int, optional
            Length of each sequence (they sum to the number of rows); ``None``: one sequence.
        """
        n_params = sum(self._get_n_fit_scalars_per_param().values())
        return -2 * self.score(X, lengths) + 2 * n_params

    def bic(self, X, lengths=None):
        """Bayesian information criterion: ``-2 log L + p log n``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features), memory map, path or batch source
            The rows of one or several sequences, one after another.
        lengths : array_like of int, optional
            Length of each sequence (they sum to the number of rows); ``None``: one sequence.
        """
        n_params = sum(self._get_n_fit_scalars_per_param().values())
        return -2 * self.score(X, lengths) + n_params * np.log(as_source(X).n_rows)
