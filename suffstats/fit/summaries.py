"""``summarize`` / ``absorb`` / ``pending`` / ``clear_summaries`` / ``from_summaries``, written once.

Every model -- each distribution family, each mixture, a model defined outside
this package -- inherits these from :class:`Summaries`; it supplies the hooks
of :class:`~suffstats.fit.protocol.FitModel`. The pending total is a
:class:`~suffstats.fit.running_total.RunningTotal`, so a loop of
``summarize`` calls on batches that start on multiples of the block size adds
the same blocks over the same tree as ``fit``, and gives its bits.

Thread safety: a batch's block values are computed without a lock (threads
run in parallel); the pending total is then replaced, under the model's lock,
by a copy with the blocks added. Nothing else of the model is copied, and a
refused batch leaves the pending total as it was.
"""

from __future__ import annotations

from .._feature_names import check_feature_names
from .._transaction import lock_of, transactional
from ..statistics import Statistics
from .protocol import accumulate

__all__ = ["Summaries"]


class Summaries:
    """The statistics protocol of a :class:`~suffstats.fit.protocol.FitModel`."""

    _pending = None
    #: Whether ``summarize`` returns the batch's log-likelihood (mixtures) or ``None`` (distributions).
    _summarize_returns_log_likelihood = False

    def _check_addition(self, total, values) -> None:
        """Refuse adding the statistics ``values`` to the running ``total`` (``None``: empty); default: accept.

        Mixtures check a value's shape when it becomes a running total
        (``_accumulator_from_statistics``); distributions check here that the
        kind, dimension and layout match and that the sum stays finite.
        """

    def statistics(self, X, sample_weight=None) -> Statistics:
        """Statistics of a batch under the current parameters, as a value; the model is not changed.

        Parameters
        ----------
        X : array_like
            The batch.
        sample_weight : array_like of shape (n,), optional
            Non-negative weights; integer weights equal repeated rows.
        """
        self._check_fitted()
        _check_names(self, X)
        X, w = self._validate_batch(X, sample_weight, 0)
        acc = self._pending.fresh() if self._pending is not None else self._new_accumulator()
        accumulate(self, acc, self._block_values(X, w, self._pending or acc, 0))
        return acc.to_statistics()

    def summarize(self, X, sample_weight=None):
        """Add the statistics of a batch to the pending total (a mixture returns the batch's log-likelihood).

        Rows are summarized per block of :data:`~suffstats.data.BLOCK_ROWS` and
        the blocks added over the fixed block tree, as ``fit`` does: a loop of
        ``summarize`` calls on batches that start on multiples of the block
        size, then ``from_summaries``, gives ``fit`` bit for bit. A batch that
        fails validation leaves the pending total unchanged. Safe to call from
        several threads.

        Parameters
        ----------
        X : array_like
            The batch of rows.
        sample_weight : array_like of shape (n_rows,), optional
            Non-negative weights; integer weights equal repeated rows.
        """
        self._check_fitted()
        _check_names(self, X)
        X, w = self._validate_batch(X, sample_weight, 0)
        running = self._pending
        values = self._block_values(X, w, running if running is not None else self._new_accumulator(), 0)
        with lock_of(self):
            total = self._pending.copy() if self._pending is not None else self._new_accumulator()
            before = total.log_likelihood
            self._check_addition(total, values)
            accumulate(self, total, values)
            self._pending = total
            return total.log_likelihood - before if self._summarize_returns_log_likelihood else None

    # A computed-aside commit: no snapshot of the model is needed to leave no trace.
    summarize.__transactional__ = True

    @transactional
    def absorb(self, stats: Statistics) -> None:
        """Add a statistics value computed elsewhere (another process, device, worker or checkpoint).

        Parameters
        ----------
        stats : Statistics
            A value from :meth:`statistics` (of this model or an equal one), or its sum with others.

        Raises
        ------
        TypeError
            When ``stats`` is not a :class:`~suffstats.statistics.Statistics` value.
        ValueError
            When it is of another kind, dimension, layout or number of parts
            than this model's statistics, holds a non-finite number, or when
            the sum overflows float64.
        """
        self._check_fitted()
        pending = self._pending
        self._check_addition(pending, [stats])
        incoming = self._accumulator_from_statistics(stats)
        if pending is None:
            self._pending = incoming
        else:
            total = pending.copy()
            total.merge(incoming)
            self._pending = total

    @property
    def pending(self):
        """The statistics summarized since the last update, as a value (or ``None``)."""
        return None if self._pending is None else self._pending.to_statistics()

    @transactional
    def clear_summaries(self) -> None:
        """Drop the pending statistics."""
        self._pending = None

    @transactional
    def from_summaries(self) -> None:
        """Update the parameters from the pending statistics (with ``inertia``), then clear them.

        Totals of zero weight leave the parameters as they are.
        """
        acc, self._pending = self._pending, None
        if acc is not None and acc.weight > 0:
            self._maximize(acc, self.inertia)


def _check_names(model, X):
    """Rows of a model fitted on named columns are checked against those names, as when scoring."""
    if hasattr(model, "feature_names_in_"):
        check_feature_names(model, X, reset=False)
