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

and may add ``_run_kernel()``: a kernel adding an aligned run of blocks over
the block tree in one call, for the fit's passes.

and the protocol's ``_validate_batch``, ``_new_accumulator``,
``_fit_parameters`` / ``_load_fit_parameters`` and ``_initialize``.
"""

from __future__ import annotations

import numpy as np

from .._validation import NonFiniteValue, RowError, first_bad_row
from ..backends import map_blocks
from ..block_tree import aligned_runs
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

    #: Most blocks one call of a run kernel adds up: enough that per-call costs vanish, few enough that a
    #: chunk still gives every thread work.
    RUN_BLOCKS = 8

    def _run_kernel(self):
        """``(backend module, function(X_run, w_run, size, first_row) -> the run's block value))`` or ``None``.

        The function returns the sum over the block tree of the ``size`` blocks
        of rows it is given (``size`` a power of two): the bits the blocks'
        own values give when pushed one by one. ``first_row`` is the index in
        the data of the run's first row (for what a fit keeps per row).
        ``None`` (the default): blocks one by one.
        """
        return None

    def _accumulate(self, acc, X, w, row_offset=0):
        """Add validated rows to ``acc``: through the run kernel where there is one, else block by block.

        Runs are aligned on the total's block count. A run whose statistics
        are not finite sends the chunk through the blocks, which refuse it
        naming the row, before anything is added.
        """
        runs = self._run_kernel()
        if runs is None or not acc.centred_on(self._shifts()):
            return super()._accumulate(acc, X, w, row_offset)
        kernels, kernel = runs
        sizes = aligned_runs(acc.blocks, -(-X.shape[0] // kernels.BLOCK_ROWS), self.RUN_BLOCKS)
        with np.errstate(over="ignore", invalid="ignore"):
            values = map_blocks(kernels, lambda Xr, wr, size, start: kernel(Xr, wr, size, row_offset + start), X, w,
                                sizes)
        if not all(_finite(value) for value in values):
            return super()._accumulate(acc, X, w, row_offset)
        for size, value in zip(sizes, values):
            acc.add(value, size)

    @property
    def _block_rows(self):
        return self._block_kernel()[0].BLOCK_ROWS

    def _maximize(self, acc, inertia):
        """M-step: ``new = inertia * old + (1 - inertia) * estimate``, committed whole."""
        previous = tuple(np.asarray(p, dtype=np.float64) for p in self._fit_parameters())
        estimate = self._estimate(acc, previous)
        self._load_fit_parameters(tuple(blend(old, new, inertia) for old, new in zip(previous, estimate)))
