"""Continuous uniform distribution on an interval."""

from __future__ import annotations

import numpy as np

from ..statistics import Additive
from ._univariate import _SumFamily, as_float, fast_input, kernels


class Uniform(_SumFamily):
    """Uniform on ``[low, high]``; the MLE is the smallest and largest row.

    Its statistics combine by minimum and maximum rather than by sum (rows of
    zero weight are ignored).

    Parameters
    ----------
    low, high : float, optional
        Ends of the interval; ``None`` until fitted.
    inertia : float in [0, 1], default=0
        Weight of the old parameters in an update:
        ``new = inertia * old + (1 - inertia) * estimate``.
    frozen : bool, default=False
        A frozen distribution ignores updates (``from_summaries`` keeps its parameters).
    missing : {"error", "marginalize"}, default="error"
        What a NaN in the data means: refused, naming its row, or a value
        missing at random (see :class:`Distribution`).

    Examples
    --------
    >>> from suffstats import Uniform
    >>> d = Uniform().fit([0.5, 2.0, 1.0])
    >>> d.low, d.high
    (0.5, 2.0)
    """

    parameter_names = ("low", "high")
    _RULES = {"weight": "sum", "low": "min", "high": "max"}

    def __init__(self, low=None, high=None, *, inertia=0.0, frozen=False, missing="error"):
        super().__init__(inertia=inertia, frozen=frozen, missing=missing)
        self._set_parameters({"low": low, "high": high})

    def _set_parameters(self, params):
        self.low = as_float(params["low"], "low")
        self.high = as_float(params["high"], "high")
        if self.low is not None and self.high is not None and not self.low <= self.high:
            raise ValueError(f"Uniform needs low <= high; got low={self.low}, high={self.high}")

    def _statistics(self, X, w):
        kept = X if w is None else X[w > 0]
        weight = float(X.shape[0]) if w is None else np.sum(w)
        if kept.size == 0:
            return Additive({"weight": weight, "low": np.inf, "high": -np.inf}, self._RULES)
        return Additive({"weight": weight, "low": kept.min(), "high": kept.max()}, self._RULES)

    def _statistics_signature(self):
        return ("additive", tuple(sorted((k, (), rule) for k, rule in self._RULES.items())))

    def _fast_statistics(self, X, sample_weight, running=None):
        args = fast_input(X, sample_weight)
        if args is None:
            return None
        ok, weight, low, high = kernels().univariate_range(*args)
        return Additive({"weight": weight, "low": low, "high": high}, self._RULES) if ok else None

    def _estimate(self, stats):
        return {"low": stats.fields["low"], "high": stats.fields["high"]}

    def _log_probability(self, X):
        width = self.high - self.low
        inside = (X >= self.low) & (X <= self.high)
        with np.errstate(divide="ignore"):
            return np.where(inside, -np.log(width), -np.inf)

    def _sample(self, n, rng):
        return rng.uniform(self.low, self.high, size=n)
