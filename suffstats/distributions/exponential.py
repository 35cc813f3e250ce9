"""Exponential distribution on the non-negative reals."""

from __future__ import annotations

import numpy as np

from ._univariate import _SumFamily, as_float


class Exponential(_SumFamily):
    """Exponential with ``rate`` (``scipy.stats.expon(scale=1/rate)``).

    Parameters
    ----------
    rate : float > 0, optional
        Inverse of the mean; ``None`` until fitted.
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
    >>> from suffstats import Exponential
    >>> Exponential().fit([1.0, 2.0, 3.0]).rate
    0.5
    """

    parameter_names = ("rate",)

    def __init__(self, rate=None, *, inertia=0.0, frozen=False, missing="error"):
        super().__init__(inertia=inertia, frozen=frozen, missing=missing)
        self._set_parameters({"rate": rate})

    def _set_parameters(self, params):
        self.rate = as_float(params["rate"], "rate", positive=True)

    support = "non-negative"

    fast_support = "non-negative"

    def _outside(self, X):
        return X < 0

    def _estimate(self, stats):
        f = stats.fields
        # All-zero data has an infinite MLE; keep the rate finite and huge.
        return {"rate": f["weight"] / max(f["sum"], np.finfo(float).tiny * f["weight"])}

    def _log_probability(self, X):
        return np.log(self.rate) - self.rate * X

    def _sample(self, n, rng):
        return rng.exponential(1.0 / self.rate, size=n)
