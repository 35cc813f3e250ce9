"""Markov chains of order k over categorical sequences, fitted exactly out of core from transition counts."""

from __future__ import annotations

import numpy as np

from .._transaction import lock_of, transactional
from .._validation import check_positive_int, check_weights
from ..data import as_source
from ..data.blocks import batch_ranges
from ..data.prefetch import prefetch
from ..distributed import as_strategy
from ..distributions._registry import register_builtin
from ..fit.protocol import FitModel
from ..fit.running_total import RunningTotal
from ..fit.sequences import SequenceBoundaries
from ..fit.summaries import Summaries
from ..statistics import Additive
from ._codes import check_codes, check_table_size, max_codes
from ._persistence import chain_from_dict, chain_to_dict
from ._tables import check_prior, cpt_from_counts
from ._windows import SequenceWindows, WindowCounts, block_counts

__all__ = ["MarkovChain"]

DEFAULT_BATCH_ROWS = 1 << 18


class MarkovChain(Summaries, FitModel):
    """A k-th order Markov chain over sequences of category codes (0 to n_categories - 1).

    Parameters
    ----------
    k : int
        Order: each code depends on the ``k`` codes before it.
    n_categories : int, optional
        Number of categories; ``None``: read from the data (its largest
        code + 1, one extra pass). ``summarize`` before a fit needs it.
    pseudocount : float
        Added to every count of every table.

    Attributes
    ----------
    initial_probs_ : list of ndarray
        ``initial_probs_[p]`` of shape ``(n_categories,) * (p + 1)``: the
        distribution of a sequence's code at position ``p < k`` given the
        codes before it (last axis).
    transition_probs_ : ndarray of shape ``(n_categories,) * (k + 1)``
        ``transition_probs_[x_{t-k}, ..., x_{t-1}]`` is the distribution of ``x_t``.
    n_categories_ : int

    Notes
    -----
    The statistics are counts: of each sequence's first ``k`` codes (with the
    codes before them) and of every window of ``k + 1`` consecutive codes
    inside a sequence. Sequences are read through
    :mod:`suffstats.fit.sequences` in pieces cut at fixed blocks of rows, with
    the last ``k`` codes carried between pieces, so ``fit`` over a memory map
    gives the same bits for every ``batch_size``. A row's weight weights the
    term of its code (give a sequence's rows one weight to weight the sequence).

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats import MarkovChain
    >>> chain = MarkovChain(1).fit([0, 1, 0, 1, 1, 0, 0, 1], lengths=[4, 4])
    >>> chain.initial_probs_[0]
    array([0.5, 0.5])
    >>> chain.transition_probs_
    array([[0.25, 0.75],
           [1.  , 0.  ]])
    >>> chain.log_probability([0, 1, 0, 1], lengths=[4]).round(4)
    array([-1.2685])
    """

    _transactional = True
    _block_rows = 1 << 16
    inertia = 0.0

    def __init__(self, k=1, *, n_categories=None, pseudocount=0.0):
        self.k = check_positive_int(k, "k")
        self.n_categories = check_positive_int(n_categories, "n_categories", allow_none=True)
        check_prior(None, 0.0, pseudocount)
        self.pseudocount = pseudocount
        self._pending = None

    # -- the fit-model hooks ------------------------------------------------------------------------
    def _cards(self):
        return getattr(self, "_fit_cards", None) or getattr(self, "n_categories_", None) or self.n_categories

    def _check_fitted(self):
        if self._cards() is None:
            raise ValueError("MarkovChain needs n_categories (or a fit) before summarize: every batch must "
                             "count into tables of the same size")
        check_table_size((self._cards(),) * (self.k + 1), "the transition table")

    def _validate_batch(self, X, w, row_offset):
        codes = check_codes(X, (self._cards(),), row_offset=row_offset, n_columns=1)[:, 0]
        if w is not None:
            w = check_weights(w, codes.shape[0], row_offset=row_offset)
        return codes, w

    def _new_accumulator(self):
        return RunningTotal()

    def _accumulator_from_statistics(self, stats):
        c, k = self._cards(), self.k
        expected = {"weight": (), **{f"initial_{p}": (c,) * (p + 1) for p in range(k)}, "transitions": (c,) * (k + 1)}
        fields = getattr(stats, "fields", None)
        if not isinstance(stats, Additive) or {n: v.shape for n, v in fields.items()} != expected:
            raise ValueError(f"statistics of another shape: this chain counts {', '.join(expected)} with shapes "
                             f"{list(expected.values())}")
        if not all(np.isfinite(v).all() and (v >= 0).all() for v in fields.values()):
            raise ValueError("statistics with negative or non-finite counts cannot be absorbed")
        return super()._accumulator_from_statistics(stats)

    def _count_pass(self, source, bounds, sample_weight, batch_size=None):
        """One pass over the sequences of ``source``: a running total with one value per block of rows.

        Each block is counted whole, whatever its number of sequences: every
        row's place in its sequence comes from the sequence starts, rows at
        places ``p < k`` count into ``initial_p`` and the others into
        ``transitions``, each table in one ``bincount``. The ``k`` rows before
        a batch are carried, so a block's value does not depend on how the
        rows were read.
        """
        c, k, block = self._cards(), self.k, self._block_rows
        total = self._new_accumulator()
        size = batch_size and -(-batch_size // block) * block  # whole blocks per batch
        ranges = batch_ranges(source.n_rows, size)
        batches = source.batches(ranges)
        if len(ranges) > 1:
            batches = prefetch(batches)
        if not isinstance(bounds, SequenceBoundaries):
            bounds = SequenceBoundaries(bounds, source.n_rows)
        starts = bounds.starts
        tail = np.zeros(0, np.intp)
        try:
            for start, X in batches:
                x, _ = self._validate_batch(X, None, start)
                ext = np.concatenate([tail, x])
                for a in range(0, x.size, block):
                    b = min(a + block, x.size)
                    rows = np.arange(start + a, start + b)
                    place = rows - starts[np.searchsorted(starts, rows, side="right") - 1]
                    here = ext.size - x.size + a  # index in ext of the block's first row
                    w = None if sample_weight is None else sample_weight[start + a:start + b]
                    total.add(block_counts(place, ext, here, w, k, c))
                tail = ext[max(ext.size - k, 0):]
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()
        return total

    def _block_values(self, X, w, acc, row_offset=0):
        """The rows as one sequence, in pieces of whole blocks (what ``statistics(X)`` counts)."""
        total = self._count_pass(as_source(X, ndim=1), None, w)
        return [] if not total.blocks else [total.to_statistics()]

    def _maximize(self, acc, inertia):
        stats = acc.to_statistics().fields
        self.n_categories_ = self._cards()
        self.initial_probs_ = [cpt_from_counts(stats[f"initial_{p}"], pseudocount=self.pseudocount)
                               for p in range(self.k)]
        self.transition_probs_ = cpt_from_counts(stats["transitions"], pseudocount=self.pseudocount)

    def _fit_parameters(self):
        return {"initial_probs": [t.tolist() for t in self.initial_probs_],
                "transition_probs": self.transition_probs_.tolist()}

    def _load_fit_parameters(self, params):
        self.initial_probs_ = [np.asarray(t, dtype=np.float64) for t in params["initial_probs"]]
        self.transition_probs_ = np.asarray(params["transition_probs"], dtype=np.float64)

    # -- public --------------------------------------------------------------------------------------
    @transactional
    def fit(self, X, lengths=None, sample_weight=None, *, batch_size=DEFAULT_BATCH_ROWS, client=None):
        """Count every table in one pass over ``X`` (two when ``n_categories`` is not given); returns ``self``.

        Parameters
        ----------
        X : array_like, memory map, path or BatchSource of shape (n_rows,) or (n_rows, 1)
            Codes of the sequences, one after another.
        lengths : array_like of int, optional
            Rows of each sequence, in order (hmmlearn's convention); ``None``:
            one long sequence.
        sample_weight : array_like of shape (n_rows,), optional
            Weight of each row's counts (an integer weight is the row repeated).
        batch_size : int
            Rows read at a time; the result does not depend on it.
        client : distributed.Client or suffstats.distributed.DaskAccumulation, optional
            Count on a Dask cluster: each task reads its own rows (and the
            ``k`` before them) from a file every worker opens; the result is
            the local fit bit for bit.
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        source = as_source(X, ndim=1)
        bounds = SequenceBoundaries(lengths, source.n_rows)
        if sample_weight is not None:
            sample_weight = check_weights(sample_weight, source.n_rows)
        self._fit_cards = self.n_categories or max_codes(source, batch_size, n_columns=1)[0]
        try:
            self._check_fitted()
            strategy = as_strategy(client)
            if strategy is None:
                acc = self._count_pass(source, bounds, sample_weight, batch_size)
            else:
                windows = SequenceWindows(source, bounds.starts, self.k)
                counter = WindowCounts(self.k, self._cards(), self._block_rows)
                acc = strategy.accumulate(counter, windows, batch_ranges(source.n_rows, batch_size), sample_weight)
            self._pending = acc
            self.from_summaries()
        finally:
            self._fit_cards = None
        return self

    def summarize(self, X, lengths=None, sample_weight=None):
        """Add the counts of the sequences of ``X`` to the pending total.

        Parameters
        ----------
        X : array_like, memory map or BatchSource
            Category codes of the sequences, in order.
        lengths : array_like of int, optional
            Rows per sequence (``None``: one sequence), as in :meth:`fit`.
        sample_weight : array_like of shape (n_rows,), optional
            Weight of each row.
        """
        self._check_fitted()
        source = as_source(np.asarray(X) if not hasattr(X, "shape") else X, ndim=1)
        bounds = SequenceBoundaries(lengths, source.n_rows)
        if sample_weight is not None:
            sample_weight = check_weights(sample_weight, source.n_rows)
        batch = self._count_pass(source, bounds, sample_weight)
        with lock_of(self):
            total = self._pending.copy() if self._pending is not None else self._new_accumulator()
            total.merge(batch)
            self._pending = total

    def _require_fitted(self):
        if getattr(self, "transition_probs_", None) is None:
            raise ValueError("MarkovChain has no probabilities yet: fit it first")

    def log_probability(self, X, lengths=None) -> np.ndarray:
        """Log-probability of each sequence (one value per sequence).

        Parameters
        ----------
        X : array_like of shape (n_rows,) or (n_rows, 1)
            Codes of the sequences, one after another.
        lengths : array_like of int, optional
            Rows of each sequence, in order; ``None``: one sequence.
        """
        self._require_fitted()
        x = check_codes(X, (self.n_categories_,), n_columns=1)[:, 0]
        bounds = SequenceBoundaries(lengths, x.size)
        k = self.k
        starts = np.repeat(bounds.starts[:-1], bounds.lengths)
        position = np.arange(x.size) - starts
        terms = np.empty(x.size)
        with np.errstate(divide="ignore"):
            for p in range(k):
                rows = np.flatnonzero(position == p)
                terms[rows] = np.log(self.initial_probs_[p][tuple(x[rows - p + m] for m in range(p + 1))])
            rows = np.flatnonzero(position >= k)
            terms[rows] = np.log(self.transition_probs_[tuple(x[rows - k + m] for m in range(k + 1))])
        return np.add.reduceat(terms, bounds.starts[:-1])

    def sample(self, n, length, random_state=None) -> np.ndarray:
        """Draw ``n`` sequences of ``length`` codes; an array of shape ``(n, length)``.

        Parameters
        ----------
        n : int
            Number of sequences.
        length : int
            Codes per sequence.
        random_state : int, numpy Generator or None
            Seed or generator of the draw.
        """
        self._require_fitted()
        n = check_positive_int(n, "n", minimum=0)
        length = check_positive_int(length, "length")
        rng = np.random.default_rng(random_state)
        out = np.zeros((n, length), dtype=np.int64)
        for t in range(length):
            p = min(t, self.k)
            table = self.initial_probs_[t] if t < self.k else self.transition_probs_
            probs = np.broadcast_to(table[tuple(out[:, t - p + m] for m in range(p))], (n, self.n_categories_))
            cum = np.cumsum(probs, axis=1)
            out[:, t] = np.minimum((cum <= rng.random(n)[:, None] * cum[:, -1:]).sum(axis=1), self.n_categories_ - 1)
        return out

    def to_dict(self) -> dict:
        """JSON-safe description: order, settings and fitted tables."""
        return chain_to_dict(self)

    @classmethod
    def _from_dict(cls, data):
        return chain_from_dict(cls, data)

    def __repr__(self):
        return f"MarkovChain(k={self.k}, n_categories={getattr(self, 'n_categories_', self.n_categories)})"


register_builtin(MarkovChain)

