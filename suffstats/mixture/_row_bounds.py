"""Distance bounds carried per row from one k-means pass to the next (Hamerly's), so settled rows skip the distances.

After a row goes through the distances, it keeps an upper bound ``u`` on its
distance to its nearest centre and a lower bound ``l`` on its distance to
every other centre. When the centres move, ``u`` grows by its centre's move
and ``l`` shrinks by the largest move of another centre; while ``u`` stays
below ``l`` (with the margin of the direct sums' rounding) the row's nearest
centre cannot have changed, and the kernel takes its label without computing a
distance. The labels, and so every statistic, are bit for bit those of the
full pass; only the time changes. The kernel side is
:mod:`suffstats.backends.numba_carried_bounds`, called from
:func:`suffstats.backends.numba_nearest.nearest_run`.

Bounds belong to rows of one source during one fit: the fit creates a
:class:`RowBounds` for a random-access source read on this machine, and drops it
when it ends. Each pass's centres get a generation number; a row's bounds
are used only if they were taken at this generation or the one before, so a
partial pass, a restart from other centres or a resumed fit never mixes
bounds of centres other than the two known.

Renewing a row's bounds costs about a third of its distances, so bounds are
renewed for every row only while they pay: while at least
:data:`RENEW_WHEN_SETTLED` of the rows that carried bounds into the last pass
were settled by them. Otherwise only probe rows (one span of
:data:`PROBE_ROWS` rows in :data:`PROBE_EVERY`) renew theirs, and their fate
in the next pass decides again. Far from convergence, when centres jump, the pass costs about what it
cost without bounds; close to it, most rows skip the distances.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RowBounds"]

#: Bytes the bounds take per row: upper and lower bound (float64), label and generation (int32).
BYTES_PER_ROW = 24
#: Share of the rows carrying bounds into a pass that their bounds must settle for every row to renew them.
RENEW_WHEN_SETTLED = 0.3
#: Rows are grouped in spans of PROBE_ROWS; one span in PROBE_EVERY always renews its bounds (the probe).
PROBE_ROWS = 32_768
PROBE_EVERY = 16


class RowBounds:
    """Per-row bounds for the first ``rows`` rows of a source (the rest go through the distances every pass).

    Parameters
    ----------
    n_rows : int
        Rows of the source.
    max_bytes : int, default=256 MiB
        Memory the bounds may take; beyond ``max_bytes / 24`` rows, rows keep none.

    Examples
    --------
    Two passes over four rows with the same centres: the second settles every row.

    >>> import numpy as np
    >>> from suffstats.backends.numba_nearest import nearest_run
    >>> X = np.array([[0.0], [0.1], [10.0], [10.1]])
    >>> centres = np.array([[0.0], [10.0]])
    >>> bounds = RowBounds(len(X))
    >>> for _ in range(2):
    ...     carried = bounds.begin(centres)
    ...     weight, inertia, counts, first = nearest_run(X, None, centres, 4, 1, bounds.slices(0, 4, carried))
    >>> counts.tolist()
    [2.0, 2.0]
    >>> _ = bounds.begin(centres + 0.5)  # the next pass's centres: the last pass's tally is taken in
    >>> bounds.settled
    4
    """

    def __init__(self, n_rows, max_bytes=256 * 2**20):
        self.rows = int(min(n_rows, max_bytes // BYTES_PER_ROW))
        self.upper = np.empty(self.rows)
        self.lower = np.empty(self.rows)
        self.labels = np.zeros(self.rows, dtype=np.int32)
        self.generations = np.full(self.rows, -1, dtype=np.int32)
        self._centres = None
        self._carried = None
        self._generation = 0
        self._tallies = []
        #: Whether every row renews its bounds in this pass (else only the probes).
        self.renew_all = False
        #: Rows whose label their bounds settled, over every pass so far.
        self.settled = 0

    def begin(self, centres):
        """The moves and generation for a pass with these centres (a new generation when they changed).

        Returns ``(moves, generation, index of the farthest move, farthest move, next farthest)``;
        each move is an upper bound on the distance the centre moved since the previous generation.
        """
        centres = np.asarray(centres, dtype=np.float64)
        if self._centres is not None and self._centres.shape == centres.shape \
                and np.array_equal(self._centres, centres):
            return self._carried
        k, d = centres.shape
        if self._centres is None or self._centres.shape != centres.shape:
            moves = np.full(k, np.inf)  # no previous generation: nothing carries over
        else:
            delta = centres - self._centres
            # Rounded up: each norm is taken of its row scaled by the row's largest entry, so no square
            # underflows; the differences' and the sums' relative errors are below (d + 3)·2⁻⁵³, and 1e-300
            # covers a move that rounds to the subnormals.
            scale = np.abs(delta).max(axis=1)
            unit = delta / np.where(scale > 0, scale, 1.0)[:, None]
            moves = scale * np.sqrt(np.einsum("ij,ij->i", unit, unit)) * (1.0 + (d + 8) * 2.0**-50) + 1e-300
        moves = np.where(np.isfinite(moves), moves, np.inf)
        order = np.argsort(-moves, kind="stable")
        farthest = float(moves[order[0]])
        runner_up = float(moves[order[1]]) if k > 1 else 0.0
        checked, settled = np.sum(self._tallies, axis=0) if self._tallies else (0, 0)
        self._tallies = []
        self.settled += int(settled)
        if checked:
            self.renew_all = settled >= RENEW_WHEN_SETTLED * checked
        self._generation += 1
        self._centres = centres.copy()
        self._carried = (moves, self._generation, int(order[0]), farthest, runner_up)
        return self._carried

    def slices(self, start, stop, carried):
        """The ``carried`` argument of :func:`~suffstats.backends.numba_nearest.nearest_run` for rows ``start:stop``.

        ``None`` where those rows are not all kept (past ``rows``).
        """
        if stop > self.rows:
            return None
        moves, generation, top, farthest, runner_up = carried
        renew = self.renew_all or (start // PROBE_ROWS) % PROBE_EVERY == 0
        tally = np.zeros(2, dtype=np.int64)
        self._tallies.append(tally)  # one per call: calls on other threads never share one
        return (self.upper[start:stop], self.lower[start:stop], self.labels[start:stop],
                self.generations[start:stop], moves, generation, top, farthest, runner_up, renew, tally)
