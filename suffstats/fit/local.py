"""One pass over a source on this machine: the local accumulation strategy.

Batches are read and validated on a background thread, one batch ahead of the
computation, re-cut into chunks that start on block boundaries, and handed to
the model's ``_accumulate`` in row order. Every pass of the library goes
through here: an EM epoch, an initialisation pass, a distribution's ``fit``,
a held-out score. :func:`accumulate_rows` is the one place where a block's row
becomes the row of the data in an error message; the Dask strategy calls it
too.
"""

from __future__ import annotations

from .._validation import RowError
from ..data.blocks import aligned_chunks
from ..data.prefetch import prefetch

__all__ = ["LocalAccumulation", "accumulate_rows", "global_row", "read_batches"]


def read_batches(model, source, ranges, sample_weight, on_batch=None):
    """Yield validated ``(X, w)`` for each ``(start, stop)`` range of the source."""
    for start, X in source.batches(ranges):
        w = None if sample_weight is None else sample_weight[start : start + X.shape[0]]
        X, w = model._validate_batch(X, w, start)
        yield X, w
        if on_batch is not None:
            on_batch(X.shape[0])


def global_row(ranges, position):
    """The index in the data of the ``position``-th row read through ``ranges``."""
    for start, stop in ranges:
        if position < stop - start:
            return start + position
        position -= stop - start
    return position


def accumulate_rows(model, acc, X, w, ranges, position=0):
    """``model._accumulate(acc, X, w)`` for rows read as the ``position``-th onwards through ``ranges``.

    A refusal naming a row of ``X`` is re-raised naming its row in the data.
    """
    try:
        model._accumulate(acc, X, w, global_row(ranges, position))
    except RowError as error:
        raise error.shifted(global_row(ranges, position + error.row)) from None


class LocalAccumulation:
    """How a pass's statistics are gathered on this machine (the default strategy of the driver).

    A distributed strategy offers the same ``accumulate`` method and plugs
    into :func:`suffstats.fit.driver.run_em` unchanged.
    """

    def accumulate(self, model, source, ranges, sample_weight, acc=None, on_batch=None, on_chunk=None):
        """One pass over ``ranges``: ``acc`` (or a new accumulator) filled block-aligned, in row order.

        ``on_batch(rows)`` is called after each batch is read; ``on_chunk(acc,
        rows)`` after each block-aligned chunk is added.
        """
        acc = model._new_accumulator() if acc is None else acc
        batches = read_batches(model, source, ranges, sample_weight, on_batch)
        if len(ranges) > 1 or not source.random_access:
            batches = prefetch(batches)
        done = 0
        try:
            for X, w in aligned_chunks(batches, model._block_rows):
                accumulate_rows(model, acc, X, w, ranges, done)
                done += X.shape[0]
                if on_chunk is not None:
                    on_chunk(acc, X.shape[0])
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()
        return acc
