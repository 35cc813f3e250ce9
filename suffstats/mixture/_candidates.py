"""Several candidate mixtures presented to the EM driver as one model, so that each read of the data serves them all.

:class:`Candidates` is what :class:`~suffstats.GaussianMixtureSearch` fits:
its blocks are ``{candidate: block value}``, its running total a
:class:`JointTotal` of the candidates' own totals, its M-step and convergence
each candidate's own (a converged candidate stops accumulating); the
initialisation takes one sample of the union of the candidates' samples and
runs one shared assignment pass.
"""

from __future__ import annotations

import numpy as np

from ..fit.driver import EMHistory, maximize_and_record, one_pass
from ..fit.protocol import FitModel
from ..fit.state import history_from_dict
from ._initialize import InitialPlan

__all__ = ["Candidates", "JointTotal"]


class Candidates(FitModel):
    """Several candidate mixtures presented to the EM driver as one model: each read serves them all."""

    def __init__(self, candidates, settings):
        self.candidates, self.settings = candidates, settings
        self.histories = [EMHistory() for _ in candidates]
        self.verbose = 0  # the search announces its own initialisation (one line for every candidate)
        self.tol = settings.tol

    @property
    def _block_rows(self):
        return self.candidates[0]._block_rows

    def _active(self):
        return [j for j, h in enumerate(self.histories) if not h.converged]

    def _validate_batch(self, X, w, row_offset):
        return self.candidates[0]._validate_batch(X, w, row_offset)

    def _new_accumulator(self):
        return JointTotal({j: self.candidates[j]._new_accumulator() for j in self._active()})

    def _block_values(self, X, w, acc, row_offset=0):
        """Per block, a ``{candidate: block value}`` of the candidates ``acc`` still accumulates."""
        values = {j: self.candidates[j]._block_values(X, w, part, row_offset) for j, part in acc.parts.items()}
        return [dict(zip(values, blocks)) for blocks in zip(*values.values())]

    def _accumulate(self, acc, X, w, row_offset=0):
        for j, part in acc.parts.items():
            self.candidates[j]._accumulate(part, X, w, row_offset)

    def _maximize(self, acc, inertia):
        """Each active candidate's M-step and convergence test, exactly as its own EM run would make them."""
        for j, part in acc.parts.items():
            model, history = self.candidates[j], self.histories[j]
            if model._converged(maximize_and_record(model, part, inertia, history), self.tol):
                history.converged = True

    def _converged(self, change, tol):
        return not self._active()

    def _epoch_line(self, logs):
        """One line for the whole search: candidates running and converged, and the best so far."""
        n, running = len(self.candidates), len(self._active())
        scores = [h.lower_bounds[-1] if h.lower_bounds else -np.inf for h in self.histories]
        best = int(np.argmax(scores))
        model = self.candidates[best]
        return (f"[{logs['epoch']}] {running} of {n} candidates running, {n - running} converged; highest mean "
                f"log-likelihood {scores[best]:.6f} (k={model.n_components}, {model.covariance_type}); "
                f"time (s): {logs['seconds']:.3f}")

    def _initialize(self, source, sample_weight, rng, strategy=None):
        """Every candidate's start, sharing reads: one take of the union of samples, one assignment pass."""
        if self.settings.verbose:
            methods = sorted({m.init_params for m in self.candidates})
            print(f"Initialization: {len(self.candidates)} candidates ({', '.join(methods)}) on samples of at most "
                  f"{self.candidates[0].init_sample_size:,} rows, then one shared pass", flush=True)
        cached = SampleCache(source, [(m.random_state, m.init_sample_size) for m in self.candidates])
        plans = [InitialPlan.make(m, cached, sample_weight, np.random.default_rng(m.random_state))
                 for m in self.candidates]
        passes = [p for p in plans if p.assignment is not None]
        if passes:
            together = Candidates([p.assignment for p in passes], self.settings)
            ranges = self.settings.pass_ranges(source.n_rows, together._block_rows)
            one_pass(together, source, ranges, sample_weight, JointTotal({j: p.moments for j, p in enumerate(passes)}),
                     strategy=strategy, progress=self.settings.progress, label="initialization")
        for model, plan in zip(self.candidates, plans):
            model._assign_parameters(*plan.parameters())
        self.histories = [EMHistory() for _ in self.candidates]

    # -- what a checkpoint holds -----------------------------------------------------------------
    def _fit_parameters(self):
        return {"candidates": [list(m._fit_parameters()) for m in self.candidates],
                "histories": [h.to_dict() for h in self.histories]}

    def _load_fit_parameters(self, params):
        for model, values in zip(self.candidates, params["candidates"]):
            model._load_fit_parameters(values)
        self.histories = [history_from_dict(h) for h in params["histories"]]

    def _check_fit_parameters(self, params):
        n = len(self.candidates)
        if not isinstance(params, dict) or set(params) != {"candidates", "histories"} or \
                not all(isinstance(params[k], list) and len(params[k]) == n for k in params):
            raise ValueError(f"expected the parameters and histories of {n} candidates")
        for j, (model, values, history) in enumerate(zip(self.candidates, params["candidates"], params["histories"])):
            try:
                model._check_fit_parameters(values)
                history_from_dict(history, f"candidate {j}")
            except ValueError as error:
                raise ValueError(f"candidate {j}: {error}") from None

    def _accumulator_from_state(self, state):
        return JointTotal({int(j): self.candidates[int(j)]._accumulator_from_state(part) for j, part in state})


class JointTotal:
    """The running totals of several candidates over the same rows, added block by block together."""

    _transactional = True

    def __init__(self, parts):
        self.parts = parts

    @property
    def weight(self):
        return next(iter(self.parts.values())).weight if self.parts else 0.0

    @property
    def log_likelihood(self):
        return float(sum(part.log_likelihood for part in self.parts.values()))

    @property
    def blocks(self):
        return next(iter(self.parts.values())).blocks if self.parts else 0

    def centred_on(self, shifts):
        return True  # each part is kept around its own candidate's shifts

    def add(self, value, size=1):
        """Add ``{candidate: block value}`` (an aligned run of ``size`` blocks) to each part."""
        for j, part in self.parts.items():
            part.add(value[j], size)

    def run_value(self):
        return {j: part.run_value() for j, part in self.parts.items()}

    def merge(self, other):
        for j, part in self.parts.items():
            part.merge(other.parts[j])

    def to_state(self):
        return [[j, part.to_state()] for j, part in self.parts.items()]


class SampleCache:
    """A source whose ``take`` serves the candidates' initialisation samples from one read of their union."""

    def __init__(self, source, draws):
        self.source = source
        wanted = [source.sample_indices(size, np.random.default_rng(seed)) for seed, size in draws]
        self.rows = np.unique(np.concatenate(wanted)) if wanted else np.empty(0, dtype=np.int64)
        self.values = source.take(self.rows)

    def __getattr__(self, name):
        return getattr(self.source, name)

    def take(self, rows):
        where = np.searchsorted(self.rows, rows)
        if where.size and (where.max() < self.rows.size) and np.array_equal(self.rows[where], rows):
            return self.values[where]
        return self.source.take(rows)
