"""How a batch becomes a statistics value: validation, the support, fast kernels, overflow.

A mixin of :class:`~suffstats.Distribution`. Nothing here changes the model:
:meth:`BatchStatistics._block_statistics` is the pure half of ``summarize``, which
is why threads may run it concurrently (see ``Distribution``'s notes).
"""

from __future__ import annotations

import numpy as np

from .._validation import check_batch, check_no_overflow, check_support, check_weights
from ..data.blocks import BLOCK_ROWS
from ..statistics import Statistics

__all__ = ["BatchStatistics"]


class BatchStatistics:
    """Validated statistics of batches; a family supplies ``_statistics`` and, optionally, the hooks below."""

    ndim = 1

    def _statistics(self, X, w) -> Statistics:
        """Statistics of validated rows ``X`` with weights ``w`` (None = ones)."""
        raise NotImplementedError

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

    #: The missing-value policy (set by :class:`~suffstats.Distribution`).
    missing = "error"

    def _validate(self, X, sample_weight=None, row_offset=0, running=None):
        # Rows added to pending statistics must have their features (a fitted model's, or earlier batches').
        n_features = self._n_features()
        if n_features is None and running is not None:
            n_features = running.n_features
        X = check_batch(X, ndim=self.ndim, n_features=n_features, row_offset=row_offset, missing=self.missing,
                        owner=type(self).__name__)
        holes = None if self.missing == "error" or self.ndim != 1 else np.isnan(X)
        if holes is None or not holes.any():
            self._check_support(X, row_offset)
            return X, check_weights(sample_weight, X.shape[0], row_offset=row_offset)
        # missing="marginalize": a univariate row with a hole has nothing observed and gets no weight.
        w = check_weights(sample_weight, X.shape[0], row_offset=row_offset)
        bad = self._outside(X)
        if bad is not None:
            check_support(X, bad & ~holes, self.support, row_offset=row_offset)
        return X[~holes], None if w is None else w[~holes]

    def _n_features(self):
        return None

    def _block_statistics(self, X, sample_weight, running, row_offset=0) -> list:
        """Validated statistics of each block of :data:`~suffstats.data.BLOCK_ROWS` rows of a batch.

        Every block is computed around ``running``'s shift (the first block's
        when there is none), as :meth:`fit` computes the blocks of a file, so
        the values add over the block tree to the same bits. Errors name rows
        counted from the start of the batch.
        """
        n = len(X) if hasattr(X, "__len__") and not isinstance(X, (str, bytes)) and np.ndim(X) >= 1 else None
        if n is None or n <= BLOCK_ROWS or (sample_weight is not None and np.shape(sample_weight) != (n,)):
            stats = self._checked_statistics(X, sample_weight, running, row_offset)  # one block, or refused whole
            return [] if stats is None else [stats]
        blocks = []
        for start in range(0, n, BLOCK_ROWS):
            stop = start + BLOCK_ROWS
            stats = self._checked_statistics(X[start:stop], None if sample_weight is None else sample_weight[start:stop],
                                             running, row_offset=row_offset + start)
            if stats is None:  # nothing observed yet (missing="marginalize")
                continue
            running = stats if running is None else running
            blocks.append(stats)
        return blocks

    def _checked_statistics(self, X, sample_weight, running, row_offset=0) -> Statistics:
        """Validated statistics of a batch to be added to ``running`` (``None``: the first batch).

        ``None`` when every value of the batch is missing and there is no running total yet.

        Families with a shift reuse ``running``'s, so that values add exactly;
        errors name rows counted from ``row_offset``.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            fast = self._fast_statistics(X, sample_weight, running)
            if fast is not None and fast.is_finite():
                return fast
            X, w = self._validate(X, sample_weight, row_offset, running)
            if X.shape[0] == 0 and running is None:
                return None  # every value missing, and no total to take a shift from: the block adds nothing
            stats = self._continued_statistics(X, w, running)
            if not stats.is_finite():
                check_no_overflow(X, X.shape[0], lambda m: not self._continued_statistics(
                    X[:m], None if w is None else w[:m], running).is_finite(), row_offset=row_offset)
        return stats

    def _statistics_signature(self):
        """What :meth:`absorb` accepts, as :meth:`suffstats.Statistics.signature` (None: any)."""
        return None

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

