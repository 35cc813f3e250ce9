"""Fixed blocks of rows: the unit of accumulation that makes results batch-size independent.

Statistics are computed per block of :data:`BLOCK_ROWS` rows and added to the
running total block after block, in row order. As long as every batch handed
to a model starts on a block boundary, the floating-point operations -- and so
the bits of the result -- are the same whatever the batch size.
:func:`aligned_chunks` turns batches of any size into such chunks.
"""

from __future__ import annotations

import numpy as np

#: Rows per accumulation block.
BLOCK_ROWS = 4096


def batch_ranges(n_rows, batch_size):
    """``[(start, stop), ...]`` covering ``range(n_rows)`` in batches of ``batch_size``."""
    size = n_rows if batch_size is None else batch_size
    return [(start, min(start + size, n_rows)) for start in range(0, n_rows, max(size, 1))]


def aligned_chunks(batches, block_rows=BLOCK_ROWS):
    """Re-cut a stream of ``(X, w)`` batches into chunks that start on block boundaries.

    Full blocks inside a batch are passed on as views; only a block that
    straddles two batches is copied (at most ``block_rows`` rows), so memory
    stays ``O(batch_size + block_rows)``. ``w`` may be ``None`` throughout.

    Yields
    ------
    X, w
        Chunks whose lengths are multiples of ``block_rows``, except the last.
    """
    carry_X, carry_w = [], []
    carried = 0
    for X, w in batches:
        if carried:
            need = block_rows - carried
            carry_X.append(X[:need])
            carry_w.append(None if w is None else w[:need])
            carried += min(need, X.shape[0])
            X, w = X[need:], (None if w is None else w[need:])
            if carried < block_rows:
                continue
            yield _joined(carry_X, carry_w)
            carry_X, carry_w, carried = [], [], 0
        full = X.shape[0] - X.shape[0] % block_rows
        if full:
            yield X[:full], (None if w is None else w[:full])
        if full < X.shape[0]:
            carry_X, carry_w = [X[full:]], [None if w is None else w[full:]]
            carried = X.shape[0] - full
    if carried:
        yield _joined(carry_X, carry_w)


def _joined(parts_X, parts_w):
    X = np.concatenate(parts_X) if len(parts_X) > 1 else parts_X[0]
    if all(w is None for w in parts_w):
        return X, None
    return X, np.concatenate(parts_w) if len(parts_w) > 1 else parts_w[0]
