"""Minibatch iteration for loops written by hand, in memory or out of core."""

from __future__ import annotations

import numpy as np

from .._validation import check_positive_int

__all__ = ["iter_minibatches", "iter_shuffled_blocks"]


def iter_minibatches(arrays, batch_size, axes=None, *, shuffle=False, replace=False, drop_last=False,
                     repeat=False, random_state=None):
    """Yield aligned minibatches of several arrays, each sliced along its own sample axis.

    Parameters
    ----------
    arrays : sequence of array_like
        Arrays with the same number of samples along their ``axes``
        (memory maps are sliced, never read whole).
    batch_size : int
        Samples per minibatch.
    axes : sequence of int, optional
        The sample axis of each array (default 0 for all), e.g. ``[0, 1]``
        when targets are stored one sample per column.
    shuffle : bool
        Visit samples in a random order (a fresh permutation per pass).
    replace : bool
        Draw every minibatch independently with replacement (implies random order).
    drop_last : bool
        Skip a final minibatch smaller than ``batch_size``.
    repeat : bool
        Start over after each pass, forever (draws with replacement always do).
    random_state : int, numpy Generator or None
        Seed of the order (with ``shuffle`` or ``replace``).

    Yields
    ------
    list of ndarray
        One slice per array.

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats.data import iter_minibatches
    >>> X, Y = np.arange(10).reshape(5, 2), np.arange(5)[None, :]
    >>> [[x.tolist(), y.tolist()] for x, y in iter_minibatches([X, Y], 2, axes=[0, 1])]
    [[[[0, 1], [2, 3]], [[0, 1]]], [[[4, 5], [6, 7]], [[2, 3]]], [[[8, 9]], [[4]]]]
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    axes = [0] * len(arrays) if axes is None else list(axes)
    if len(axes) != len(arrays):
        raise ValueError(f"got {len(arrays)} arrays but {len(axes)} axes")
    counts = {np.shape(a)[ax] for a, ax in zip(arrays, axes)}
    if len(counts) != 1:
        raise ValueError(f"arrays disagree on the number of samples along their axes: {sorted(counts)}")
    n = counts.pop()
    rng = np.random.default_rng(random_state)

    def take(index):
        return [np.take(a, index, axis=ax) if isinstance(index, np.ndarray) else
                a[(slice(None),) * ax + (index,)] for a, ax in zip(arrays, axes)]

    while True:
        if replace:
            yield take(np.sort(rng.integers(0, n, size=batch_size)))
            continue
        order = rng.permutation(n) if shuffle else None
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            if drop_last and stop - start < batch_size:
                break
            yield take(slice(start, stop) if order is None else np.sort(order[start:stop]))
        if not repeat:
            return


def iter_shuffled_blocks(source, block_rows, random_state=None):
    """One shuffled pass over an out-of-core source: blocks in random order, rows shuffled within each.

    Reads are contiguous (one block at a time), so this is as fast as a
    sequential pass while no two passes see the rows in the same order.

    Parameters
    ----------
    source : BatchSource or anything :func:`~suffstats.data.as_source` accepts
        The rows.
    block_rows : int
        Rows per block (one contiguous read each).
    random_state : int, numpy Generator or None
        Seed of the order of blocks and of rows within each block.

    Yields
    ------
    ndarray
        The rows of one block, shuffled.
    """
    from .source import as_source

    source = as_source(source)
    block_rows = check_positive_int(block_rows, "block_rows")
    rng = np.random.default_rng(random_state)
    starts = np.arange(0, source.n_rows, block_rows)
    for start in rng.permutation(starts):
        rows = np.asarray(source.read(int(start), int(start) + block_rows))
        yield rows[rng.permutation(rows.shape[0])]
