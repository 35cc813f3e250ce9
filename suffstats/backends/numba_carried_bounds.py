"""Distance bounds carried per row between k-means passes (Hamerly's), in compiled kernels.

When a row goes through the float32 filter of
:mod:`suffstats.backends.numba_nearest`, :func:`keep_bounds` turns its
approximate ``a_j`` into an upper bound ``u`` on its distance to its centre and
a lower bound ``l`` on its distance to every other centre. In a later pass,
:func:`skip_by_bounds` widens them by how far the centres moved
(``u + m_label``, ``l - max_{j≠label} m_j``); where ``u²(1 + 2ρ) < l²(1 - 2ρ)``,
with ``ρ`` the direct sums' relative error bound, the direct distance to the
row's centre is strictly the smallest, so the label is the exact rule's without
a distance computed. Every bound is rounded outwards, so the labels -- and so
the statistics -- are bit for bit those of the full pass.

The bounds travel as one tuple, ``carried``: ``(upper, lower, labels,
generations)`` arrays over a run's rows, the centres' moves since the previous
generation, ``(generation, index of the farthest move, farthest move, next
farthest)``, whether rows that go through the product renew their bounds, and
a ``(rows with bounds, rows settled)`` tally (built by
``suffstats.mixture._row_bounds.RowBounds``; :func:`nothing_carried`: none).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["keep_bounds", "nothing_carried", "skip_by_bounds"]

#: A lower bound at or below this settles nothing: squared distances near float64's subnormals lose the relative
#: error bound the skip rests on.
_TINY = 1e-140


@njit(nogil=True, cache=True)
def nothing_carried():
    """No bounds carried between passes: every row goes through the product."""
    return (np.empty(0), np.empty(0), np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int32), np.empty(0), 0, 0,
            0.0, 0.0, False, np.zeros(2, dtype=np.int64))


@njit(nogil=True, cache=True, fastmath={"nnan", "ninf", "nsz"})
def _smallest(a):
    """The smallest of finite values ``a`` (a reduction in vector lanes)."""
    smallest = a[0]
    for j in range(1, a.shape[0]):
        smallest = min(smallest, a[j])
    return smallest


@njit(nogil=True, cache=True)
def keep_bounds(rows, A, labels, ynorm, slack, slack_per_norm, floor, upper, lower, known, gens, gen):
    """Row ``rows[r]``'s bounds from row ``r`` of ``A``, ``labels`` and ``ynorm``.

    ``u ≥ ‖x - c_label‖`` and ``l ≤ ‖x - c_j‖`` for every other ``j``.

    ``a_j`` is ``‖x - c_j‖² - ‖x - c0‖²`` within ``E = slack + slack_per_norm·‖y‖``
    (twice that is taken), and ``‖x - c0‖`` lies between ``y`` and ``y`` less
    ``floor`` narrowed by ``2⁻¹⁸`` (undoing the filter's widening of its norm
    bounds, with room to spare). A row whose ``y`` is infinite (the filter sets
    it so where its product may have overflowed, or the row is not finite)
    keeps none (``gens[i] = -1``): with ``y`` finite, so is every ``a_j``. The
    row's ``a_label`` is overwritten (``A`` is scratch).
    """
    single = A.shape[1] == 1
    for r in range(rows.shape[0]):
        i = rows[r]
        label = labels[r]
        y = ynorm[r]
        if not y < np.inf:
            gens[i] = -1
            continue
        a = A[r]
        own = a[label]
        a[label] = 1e300  # above every other a_j: the smallest left is the nearest other centre's
        second = np.inf if single else _smallest(a)
        error = 2.0 * (slack + slack_per_norm * y)
        low = max(0.0, (y - floor) * (1.0 - 2.0**-18))
        upper[i] = np.sqrt((own + error + y * y) * (1.0 + 2.0**-40)) * (1.0 + 2.0**-50)
        lower[i] = np.sqrt(max((second - error + low * low) * (1.0 - 2.0**-40), 0.0)) * (1.0 - 2.0**-50)
        known[i] = label
        gens[i] = gen


@njit(nogil=True, cache=True)
def skip_by_bounds(lo, hi, carried, relative, labels, rows):
    """Rows ``lo:hi`` whose label their bounds settle get it in ``labels[i - lo]``; the others' indices go to ``rows``.

    A row's bounds hold for the centres of generation ``gens[i]``: this pass's
    (``gen``) as they are, the previous pass's (``gen - 1``) widened by the
    centres' moves ``moves`` (the farthest move ``farthest``, by centre
    ``top``, and the next ``runner_up``), rounded outwards; older or missing
    bounds settle nothing. ``tally`` counts the rows that had bounds and those
    settled. Returns how many rows need the product (without bounds: all, and
    ``rows`` is not written).
    """
    upper, lower, known, gens, moves, gen, top, farthest, runner_up, _, tally = carried
    if upper.shape[0] == 0:
        return hi - lo
    m = 0
    checked = 0
    for i in range(lo, hi):
        g = gens[i]
        if g == gen:
            u, l = upper[i], lower[i]
        elif g == gen - 1:
            label = known[i]
            u = (upper[i] + moves[label]) * (1.0 + 2.0**-50)
            l = (lower[i] - (runner_up if label == top else farthest)) * (1.0 - 2.0**-50)
        else:
            rows[m] = i
            m += 1
            continue
        checked += 1
        if l > _TINY and u * u * (1.0 + 2.0 * relative) < l * l * (1.0 - 2.0 * relative):
            labels[i - lo] = known[i]
            upper[i], lower[i], gens[i] = u, l, gen
        else:
            rows[m] = i
            m += 1
    tally[0] += checked
    tally[1] += checked - (m - (hi - lo - checked))
    return m
