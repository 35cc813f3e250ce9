"""A hidden Markov model's iteration on a Dask cluster: tasks of whole sequences, added on the client in order.

Each task opens the data on its worker, runs the forward-backward pass over
a run of consecutive whole sequences (a long one out of core, as locally),
and returns the statistics value of every piece and each sequence's
log-probability -- a few kB per 4,096 rows; the rows never pass through the
client. Pieces are cut at the same rows as in a local pass (sequence starts
and multiples of the block size), so every value is the local one, and the
client adds them to one running total in the local pass's order: pieces of
short sequences in row order, then those of long sequences. The fitted model
is the local fit's, bit for bit, whatever the number of workers or the order
in which tasks finish. One sequence is one task: its forward messages run
in order.
"""

from __future__ import annotations

import pickle

import numpy as np

from ..data.reopen import reopener
from ..distributed import _allocator_for_blocks
from ..fit.running_total import RunningTotal
from ._passes import posterior_pass

__all__ = ["plan_sequence_tasks", "dask_pass_statistics"]

#: Rows per task (about 64 MB of five float64 features); a longer sequence is a task of its own.
TASK_ROWS = 1 << 21


def plan_sequence_tasks(bounds, task_rows):
    """Runs of consecutive whole sequences ``(first, stop)`` of about ``task_rows`` rows each.

    Examples
    --------
    >>> from suffstats.fit.sequences import SequenceBoundaries
    >>> plan_sequence_tasks(SequenceBoundaries([2, 3, 10, 2, 2], 19), task_rows=5)
    [(0, 2), (2, 3), (3, 5)]
    """
    tasks, first, rows = [], 0, 0
    for seq, length in enumerate(bounds.lengths):
        if rows and rows + length > task_rows:
            tasks.append((first, seq))
            first, rows = seq, 0
        rows += int(length)
    tasks.append((first, bounds.n_sequences))
    return tasks


def _sequence_task(payload, recipe, bounds, first, stop, weights):
    """The piece values of sequences ``first:stop`` -- short ones, then long ones -- and their log-probabilities."""
    _allocator_for_blocks()  # as every task of the library's: see suffstats.distributed
    model = pickle.loads(payload)
    source = recipe.open()
    short, long, log_probs = [], [], []

    def consume(piece):
        weight = None if weights is None else float(weights[piece.sequence])
        (short if piece.first and piece.last else long).append(model._piece_statistics(piece, weight))

    rows = (int(bounds.starts[first]), int(bounds.starts[stop]))
    posterior_pass(model, source, bounds, model.batch_size, consume, rows=rows, log_probs=log_probs)
    return short, long, log_probs


def dask_pass_statistics(model, source, bounds, sample_weight, client, task_rows=None):
    """``(statistics, log-likelihood)`` of one pass, gathered on ``client`` (as ``BaseHMM._pass_statistics``)."""
    recipe = reopener(source)
    task_rows = TASK_ROWS if task_rows is None else task_rows
    payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    shipped = client.scatter(payload, broadcast=True)
    tasks = plan_sequence_tasks(bounds, task_rows)
    futures = [client.submit(_sequence_task, shipped, recipe, bounds, first, stop, sample_weight, pure=False)
               for first, stop in tasks]
    try:
        results = client.gather(futures)  # in task order, whatever order they finished in
    finally:
        client.cancel(futures)
    total = RunningTotal(weight_of=lambda v: float(v.parts[0].fields["nobs"]))
    for short, _, _ in results:
        for value in short:
            total.add(value)
    for _, long, _ in results:
        for value in long:
            total.add(value)
    log_prob = 0.0
    for _, _, log_probs in results:
        for value in log_probs:
            log_prob += value
    stats = total.to_statistics()
    if sample_weight is not None:
        log_prob = float(stats.parts[0].fields["log_prob"])
    return stats, float(np.float64(log_prob))
