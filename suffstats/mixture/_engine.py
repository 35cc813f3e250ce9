"""The one mixture engine: accumulation through the backend's block map, the M-step, the fit loop.

Every mixture model -- :class:`~suffstats.GaussianMixture`,
:class:`~suffstats.KMeans`, :class:`~suffstats.GeneralMixtureModel` -- and
every initialisation pass runs here. A model supplies its formulas through a
few hooks; what the engine adds (``n_init``, ``warm_start``, checkpoints and
resume, backends and threads, transactions, the statistics protocol) then
serves every model at once.

Hooks a model provides
----------------------
``_block_kernel()``
    ``(backend module, function(X_block, w_block) -> block statistics)`` for
    the current parameters.
``_new_accumulator()``, ``_accumulator_from_statistics(stats)``
    The running total of an epoch, empty or rebuilt from a value.
``_estimate(acc, previous)``
    Parameters from a total (the M-step without inertia).
``_fit_parameters()``, ``_load_fit_parameters(params)``
    The parameters as a tuple of arrays, as the M-step, checkpoints and the
    best run keep them.
``_initialize(source, sample_weight, rng, strategy)``
    Starting parameters for one initialisation (a pass over the data goes
    through ``strategy``, as the epochs do).
"""

from __future__ import annotations

import hashlib
import numpy as np

from .._transaction import transactional
from .._validation import RowError, first_bad_row
from ..backends import map_blocks
from ..checkpoint import Checkpoint
from ..em import EMHistory, EMSettings, FitState, run_em
from ..statistics import Statistics, blend

__all__ = ["MixtureEngine", "fit_mixture", "settings_fingerprint", "em_settings"]


def em_settings(model, tol=None) -> EMSettings:
    """The driver's settings from a model's parameters of the same names."""
    return EMSettings(batch_size=model.batch_size, batches_per_epoch=model.batches_per_epoch,
                      max_iter=model.max_iter, tol=model.tol if tol is None else tol, inertia=model.inertia,
                      lr_decay=model.lr_decay, verbose=model.verbose,
                      verbose_interval=getattr(model, "verbose_interval", 1), callbacks=model.callbacks or (),
                      progress=model.progress)


def settings_fingerprint(settings: dict, sample_weight, exact: bool) -> dict:
    """The settings a checkpoint must match (not verbosity, callbacks or, in exact mode, batch size)."""
    skip = {"verbose", "verbose_interval", "callbacks", "progress"} | ({"batch_size"} if exact else set())
    out = {k: (v.tolist() if isinstance(v, np.ndarray) else v if isinstance(v, (int, float, str, type(None)))
               else repr(v)) for k, v in settings.items() if k not in skip}
    out["sample_weight"] = None if sample_weight is None else hashlib.sha256(sample_weight.tobytes()).hexdigest()
    return out


def fit_mixture(model, source, sample_weight, settings, n_init, *, warm=False, checkpoint=None,
                checkpoint_every=100, fingerprint=None, strategy=None) -> EMHistory:
    """Run ``n_init`` initialisations of EM (one when ``warm``) and keep the best; returns its history.

    With ``checkpoint``, the driver writes the fit state there and a later call
    with the same data and settings resumes it, ending bit for bit where an
    uninterrupted fit would. ``strategy`` gathers each epoch's statistics
    (default: :class:`~suffstats.em.LocalAccumulation`).
    """
    rng = np.random.default_rng(getattr(model, "random_state", None))
    store = None if checkpoint is None else Checkpoint(checkpoint, checkpoint_every, source.fingerprint(),
                                                       fingerprint or {})
    saved = None if store is None else store.load()
    state = None if saved is None else FitState.from_dict(saved, model, rng)
    best = None if state is None else state.best
    for init in range(state.init if state else 0, 1 if warm else n_init):
        if state is None or state.init != init:
            if warm:
                # Convergence is judged against the previous fit's last log-likelihood, as in scikit-learn.
                history = EMHistory(initial_lower_bound=float(getattr(model, "lower_bound_", -np.inf)))
            else:
                model._initialize(source, sample_weight, rng, strategy)
                if model.verbose:
                    print(f"Initialization {init}", flush=True)
                history = EMHistory()
            state = FitState(init=init, rng=rng, history=history, best=best)
            if store is not None:
                store.save(state.to_dict(model))
        run_em(model, source, sample_weight, settings, state, store, strategy)
        if best is None or state.history.lower_bound > best[0].lower_bound:
            best = (state.history, model._fit_parameters())
        state = None
    history, params = best
    model._load_fit_parameters(params)
    return history


def _finite(result) -> bool:
    """Whether a block's statistics (a tuple of numbers and arrays, or a statistics value) are all finite."""
    values = result.arrays().values() if isinstance(result, Statistics) else result
    return all(v is None or np.isfinite(v).all() for v in values)


class MixtureEngine:
    """The statistics protocol and the accumulation of a mixture, written once.

    ``summarize`` adds a batch's E-step statistics to the pending total (and
    returns its log-likelihood), ``from_summaries`` is the M-step, ``absorb``
    adds a value computed elsewhere, ``statistics`` computes a value without
    touching the model. Each of them runs under the model's lock inside one
    transaction (:func:`suffstats._transaction.transactional`): a refused call
    leaves no trace, and threads summarizing into one model add every row
    (calls on one model are serialised; the blocks of a call still run
    concurrently on the pool).
    """

    _transactional = True

    # -- accumulation ----------------------------------------------------------------
    def _accumulate(self, acc, X, w):
        """Add the statistics of rows ``X`` to ``acc``, block by block in row order.

        A block whose statistics are not finite (squares of values near 1e300
        overflow) is refused before anything is added, naming its first such row
        (:class:`~suffstats._validation.RowError`, row counted within ``X``).
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
                weights = None if w is None else w[start:start + kernels.BLOCK_ROWS]
                row = first_bad_row(lambda a, b: block(rows[a:b], None if weights is None else weights[a:b]),
                                    rows.shape[0], lambda r: not _finite(r))
                raise RowError(start + row, "its statistics overflow (values too large to square in float64, "
                                            "or far outside every component); rescale the data")
        if not acc.centred_on(self._shifts()):
            # A total absorbed from elsewhere, around other shifts: the E-step still runs at the current
            # parameters, and the two totals are merged by the Chan formulas.
            own = self._new_accumulator()
            for result in results:
                own.add(result)
            acc.merge(own)
            return
        for result in results:
            acc.add(result)

    def _accumulator_from_state(self, state):
        """A part-done epoch's running total from a checkpoint (its summation tree included)."""
        return type(self._new_accumulator()).from_state(state)

    @property
    def _block_rows(self):
        return self._block_kernel()[0].BLOCK_ROWS

    def _maximize(self, acc, inertia):
        """M-step: ``new = inertia * old + (1 - inertia) * estimate``, committed whole."""
        previous = tuple(np.asarray(p, dtype=np.float64) for p in self._fit_parameters())
        estimate = self._estimate(acc, previous)
        self._load_fit_parameters(tuple(blend(old, new, inertia) for old, new in zip(previous, estimate)))

    # -- statistics protocol -------------------------------------------------------------
    def statistics(self, X, sample_weight=None) -> Statistics:
        """E-step statistics of a batch under the current parameters, as a value (the model is untouched)."""
        self._check_fitted()
        X, w = self._validate_batch(X, sample_weight, 0)
        acc = self._new_accumulator()
        self._accumulate(acc, X, w)
        return acc.to_statistics()

    @transactional
    def summarize(self, X, sample_weight=None) -> float:
        """Add a batch's E-step statistics to the pending total; returns its log-likelihood.

        Blocks are added to the pending total one after another, so batches
        that start on multiples of the backend's block size
        (:data:`suffstats.data.BLOCK_ROWS` by default) give bit for bit what
        :meth:`fit` gives.
        """
        self._check_fitted()
        X, w = self._validate_batch(X, sample_weight, 0)
        if getattr(self, "_pending", None) is None:
            self._pending = self._new_accumulator()
        before = self._pending.log_likelihood
        self._accumulate(self._pending, X, w)
        return self._pending.log_likelihood - before

    @transactional
    def absorb(self, stats: Statistics) -> None:
        """Add a statistics value (from another process, device or checkpoint) to the pending total."""
        self._check_fitted()
        incoming = self._accumulator_from_statistics(stats)
        pending = getattr(self, "_pending", None)
        if pending is None:
            self._pending = incoming
        else:
            pending.merge(incoming)

    @property
    def pending(self):
        """The pending statistics as a value (or ``None``)."""
        pending = getattr(self, "_pending", None)
        return None if pending is None else pending.to_statistics()

    @transactional
    def clear_summaries(self):
        """Drop the pending statistics."""
        self._pending = None

    @transactional
    def from_summaries(self):
        """M-step from the pending statistics (with ``inertia``); clears them."""
        acc, self._pending = getattr(self, "_pending", None), None
        if acc is not None and acc.weight > 0:
            self._maximize(acc, self.inertia)
