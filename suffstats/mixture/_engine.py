"""The one mixture engine: E-step blocks through the backend's block map, and the M-step.

Every mixture model -- :class:`~suffstats.GaussianMixture`,
:class:`~suffstats.KMeans`, :class:`~suffstats.GeneralMixtureModel` -- and
every initialisation pass derives from :class:`MixtureEngine`, a
:class:`~suffstats.fit.protocol.FitModel` with the statistics protocol of
:class:`~suffstats.fit.summaries.Summaries`. A model adds:

``_block_kernel()``
    ``(backend module, function(X_block, w_block) -> block statistics)`` for
    the current parameters.
``_estimate(acc, previous)``
    Parameters from a total (the M-step without inertia).

and the protocol's ``_validate_batch``, ``_new_accumulator``,
``_fit_parameters`` / ``_load_fit_parameters`` and ``_initialize``.
"""

from __future__ import annotations

import numpy as np

from .._validation import NonFiniteValue, RowError, first_bad_row
from ..backends import map_blocks
from ..fit.protocol import FitModel
from ..fit.summaries import Summaries
from ..statistics import Statistics, blend

__all__ = ["MixtureEngine"]


def _finite(result) -> bool:
    """Whether a block's statistics (a tuple of numbers and arrays, or a statistics value) are all finite."""
    values = result.arrays().values() if isinstance(result, Statistics) else result
    return all(v is None or np.isfinite(v).all() for v in values)


class MixtureEngine(Summaries, FitModel, abstract=True):
    """The accumulation and M-step of a mixture, written once.

    ``summarize``, ``absorb``, ``statistics``, ``pending``, ``clear_summaries``
    and ``from_summaries`` come from :class:`~suffstats.fit.summaries.Summaries`:
    a refused call leaves no trace, and threads summarizing into one model add
    every row.
    """

    _transactional = True
    _summarize_returns_log_likelihood = True
    #: Whether ``_validate_batch`` leaves the values unread, the kernel's statistics being non-finite
    #: whenever a value is: a non-finite block is then searched for the NaN or infinity first.
    _values_checked_in_blocks = False

    def _block_values(self, X, w, acc, row_offset=0):
        """E-step statistics of each block of rows ``X``, in row order.

        A block whose statistics are not finite is refused before anything is
        added, naming its first such row (:class:`~suffstats._validation.RowError`,
        row counted within ``X``): a NaN or infinity in the rows (refused as
        :func:`~suffstats._validation.check_batch` refuses it, for a model whose
        ``_validate_batch`` leaves the values to its kernel) or squares of
        values near 1e300 overflowing.
        """
        kernels, kernel = self._block_kernel()

        def block(Xb, wb):
            # Overflow shows as non-finite statistics, refused below with the row: no warning on the way.
            with np.errstate(over="ignore", invalid="ignore"):
                return kernel(Xb, wb)

        results = map_blocks(kernels, block, X, w)
        for index, result in enumerate(results):
            if not _finite(result):
                start = index * kernels.BLOCK_ROWS
                rows = X[start:start + kernels.BLOCK_ROWS]
                value = NonFiniteValue.first_in(rows) if self._values_checked_in_blocks else None
                if value is not None:
                    raise value.shifted(start + value.row)
                weights = None if w is None else w[start:start + kernels.BLOCK_ROWS]
                row = first_bad_row(lambda a, b: block(rows[a:b], None if weights is None else weights[a:b]),
                                    rows.shape[0], lambda r: not _finite(r))
                dtype = getattr(self, "compute_dtype", "float64")
                limit = "" if dtype == "float64" else " (or compute_dtype='float64', whose products reach 1.8e308)"
                raise RowError(start + row, f"its statistics overflow (values too large to square in {dtype} "
                                            f"products, or far outside every component); rescale the data{limit}")
        return results

    @property
    def _block_rows(self):
        return self._block_kernel()[0].BLOCK_ROWS

    def _maximize(self, acc, inertia):
        """M-step: ``new = inertia * old + (1 - inertia) * estimate``, committed whole."""
        previous = tuple(np.asarray(p, dtype=np.float64) for p in self._fit_parameters())
        estimate = self._estimate(acc, previous)
        self._load_fit_parameters(tuple(blend(old, new, inertia) for old, new in zip(previous, estimate)))
