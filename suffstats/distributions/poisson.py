"""Poisson distribution on the non-negative integers."""

from __future__ import annotations

import numpy as np

from ._univariate import _SumFamily, as_float


class Poisson(_SumFamily):
    """Poisson with mean ``rate``.

    Parameters
    ----------
    rate : float >= 0, optional
        The mean (and variance); ``None`` until fitted.
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
    >>> from suffstats import Poisson
    >>> Poisson().fit([0, 1, 2, 5], sample_weight=[1, 1, 1, 0]).rate
    1.0
    """

    parameter_names = ("rate",)

    def __init__(self, rate=None, *, inertia=0.0, frozen=False, missing="error"):
        super().__init__(inertia=inertia, frozen=frozen, missing=missing)
        self._set_parameters({"rate": rate})

    def _set_parameters(self, params):
        self.rate = as_float(params["rate"], "rate")
        if self.rate is not None and self.rate < 0:
            raise ValueError(f"parameter rate must be non-negative; got {self.rate!r}")

    support = "non-negative integers"

    fast_support = "counts"

    def _outside(self, X):
        return (X < 0) | (X != np.floor(X))

    def _estimate(self, stats):
        return {"rate": stats.fields["sum"] / stats.fields["weight"]}

    def _log_probability(self, X):
        from scipy.special import gammaln  # here, not at import: SciPy takes a tenth of a second

        with np.errstate(divide="ignore", invalid="ignore"):
            out = X * np.log(self.rate) - self.rate - gammaln(X + 1)
        return np.where(X == 0, -self.rate, out)

    def _sample(self, n, rng):
        return rng.poisson(self.rate, size=n).astype(np.float64)
