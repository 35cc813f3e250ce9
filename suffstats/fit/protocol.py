"""The model protocol: what the EM driver and every accumulation strategy call on a model, declared once.

A class that the driver fits (a mixture, a distribution, a search over
candidates, a model defined outside this package) derives from
:class:`FitModel`. The hooks it must write are listed in ``REQUIRED``;
those in ``OPTIONAL`` have defaults here. The check runs when the class is
defined: a class that misses a hook is refused with a ``TypeError`` naming it.
An intermediate base that leaves hooks to its subclasses says so with
``class Base(FitModel, abstract=True)``.

=============================================  =====================================================
hook                                           what it does
=============================================  =====================================================
``_validate_batch(X, w, row_offset)``          boundary checks of rows read from a source; ``X, w``
``_new_accumulator()``                         an empty :class:`~suffstats.fit.running_total.RunningTotal`
``_block_values(X, w, acc, row_offset)``       statistics of each block of rows, in order (pure)
``_maximize(acc, inertia)``                    the M-step: ``new = inertia·old + (1-inertia)·estimate``
``_fit_parameters()``                          the parameters a checkpoint and the best run keep
``_load_fit_parameters(params)``               puts them back
``_initialize(source, w, rng, strategy)``      starting parameters (default: keep the current ones)
``_shifts()``                                  the shifts a block is computed around (default ``None``)
``_accumulator_from_state(state)``             a part-done epoch's total from a checkpoint
``_accumulator_from_statistics(stats)``        a total from a value computed elsewhere (``absorb``)
``_lower_bound(acc, previous)``                what an epoch records and converges on (default: mean
                                               log-likelihood per unit weight of ``acc``)
``_converged(change, tol)``                    whether the fit has converged (default ``|change| < tol``)
``_block_rows``                                rows per accumulation block (default 4096)
``_blocks_follow_reference``                   blocks computed around the total's first block (default False)
``_check_fit_parameters(params)``              refuse parameters a checkpoint holds (default: none)
``_epoch_line(logs)``                          what ``verbose`` prints after an epoch
``_record_history(history)``                   the fit's history in the model's attributes (``n_iter_``
                                               ...): when a fit ends, and when it is interrupted
=============================================  =====================================================

Examples
--------
>>> from suffstats.fit.protocol import FitModel
>>> try:
...     class Half(FitModel):
...         def _validate_batch(self, X, w, row_offset):
...             return X, w
... except TypeError as error:
...     print(str(error).split(" (")[0])
Half does not implement the fit-model hooks _new_accumulator, _block_values, _maximize, _fit_parameters, _load_fit_parameters
"""

from __future__ import annotations

from ..data.blocks import BLOCK_ROWS
from .running_total import RunningTotal

__all__ = ["FitModel", "REQUIRED", "OPTIONAL", "missing_hooks", "accumulate"]

#: Hooks every fitted model writes itself.
REQUIRED = ("_validate_batch", "_new_accumulator", "_block_values", "_maximize", "_fit_parameters",
            "_load_fit_parameters")
#: Hooks with a default in :class:`FitModel`.
OPTIONAL = ("_initialize", "_shifts", "_accumulator_from_state", "_accumulator_from_statistics", "_lower_bound",
            "_converged", "_block_rows", "_blocks_follow_reference", "_check_fitted", "_check_fit_parameters", "_epoch_line",
            "_record_history")


def missing_hooks(cls) -> list:
    """The required hooks ``cls`` leaves unwritten (those still :class:`FitModel`'s placeholders)."""
    return [name for name in REQUIRED if getattr(getattr(cls, name, None), "__isabstracthook__", False)]


def _hook(name):
    def placeholder(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.{name} is a required fit-model hook")

    placeholder.__isabstracthook__ = True
    placeholder.__name__ = name
    return placeholder


class FitModel:
    """Base of every model the driver fits; subclasses are checked for ``REQUIRED`` hooks when defined."""

    def __init_subclass__(cls, abstract=False, **kwargs):
        super().__init_subclass__(**kwargs)
        if abstract:
            return
        missing = missing_hooks(cls)
        if missing:
            raise TypeError(f"{cls.__name__} does not implement the fit-model hooks {', '.join(missing)} "
                            "(see suffstats.fit.protocol); define them, or declare the class with abstract=True")

    #: Rows per accumulation block: statistics are summed per block over the fixed tree.
    _block_rows = BLOCK_ROWS
    #: Whether block values are computed around the running total's first block (``acc.reference``), as a
    #: distribution's are; a cluster strategy then settles that block before the others.
    _blocks_follow_reference = False

    def _initialize(self, source, sample_weight, rng, strategy=None):
        """Starting parameters for one initialisation (default: the current parameters)."""

    def _shifts(self):
        """What blocks are computed around (a mixture's means); ``None`` when values carry their own shift."""
        return None

    def _check_fitted(self):
        """Raise when the model cannot compute statistics yet (default: it always can)."""

    def _epoch_line(self, logs) -> str:
        """The line ``verbose`` prints after an epoch (``logs`` as callbacks get them)."""
        return (f"[{logs['epoch']}] improvement: {logs['improvement']:.6g}  log-likelihood: "
                f"{logs['log_likelihood']:.6f}  time (s): {logs['seconds']:.3f}")

    def _check_fit_parameters(self, params) -> None:
        """Raise ``ValueError`` when ``params`` (as a checkpoint holds them) cannot be this model's parameters.

        Called before anything is loaded from a checkpoint. The default checks
        nothing beyond what ``_load_fit_parameters`` does; the library's models
        check shapes against their settings and the data, and ranges.
        """

    def _accumulator_from_state(self, state) -> RunningTotal:
        """A part-done epoch's running total from a checkpoint (its summation tree included)."""
        return self._new_accumulator().restored(state)

    def _accumulator_from_statistics(self, stats) -> RunningTotal:
        """A running total holding a value computed elsewhere (``absorb``); refuse values of another shape here."""
        return self._new_accumulator().from_value(stats)

    def _lower_bound(self, acc, previous) -> float:
        """The objective of an epoch whose statistics were ``acc``, called after the M-step.

        ``previous`` holds the parameters of the E-step (``_fit_parameters()``
        before the update). The default is the mean log-likelihood per unit
        weight; a variational model returns its evidence lower bound.
        """
        return acc.log_likelihood / acc.weight

    def _record_history(self, history) -> None:
        """Set the attributes that describe a fit (``n_iter_``, ``converged_``, ...) from the driver's history.

        Called when a fit ends (the best run's history) and when it is
        interrupted -- Ctrl-C, or a callback that raises -- with the history of
        the epochs the model's parameters come from, so parameters and history
        always describe the same fit. The default sets nothing.
        """

    def _converged(self, change, tol) -> bool:
        """Whether an epoch that changed the objective (:meth:`_lower_bound`) by ``change`` ends the fit."""
        return abs(change) < tol

    def _accumulate(self, acc, X, w, row_offset=0) -> None:
        """Add the statistics of validated rows to ``acc``, block by block in row order (see :func:`accumulate`)."""
        accumulate(self, acc, self._block_values(X, w, acc, row_offset))


for _name in REQUIRED:
    setattr(FitModel, _name, _hook(_name))


def accumulate(model, acc, values) -> None:
    """Push block values onto ``acc`` in order; a total kept around other shifts is merged by Chan's formulas."""
    if acc.centred_on(model._shifts()):
        for value in values:
            acc.add(value)
        return
    # A total absorbed from elsewhere, around other shifts: the blocks (at the current parameters) are summed
    # around the current shifts, then the two totals are merged.
    own = model._new_accumulator()
    for value in values:
        own.add(value)
    acc.merge(own)
