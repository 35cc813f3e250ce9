"""Geometric distribution: the number of trials up to the first success."""

from __future__ import annotations

import numpy as np

from ._univariate import _SumFamily, as_float


class Geometric(_SumFamily):
    """Geometric on {1, 2, ...} with success probability ``p`` (``scipy.stats.geom``).

    Parameters
    ----------
    p : float in (0, 1], optional
        Success probability per trial; ``None`` until fitted.
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
    >>> from suffstats import Geometric
    >>> Geometric().fit([1, 2, 3, 2]).p
    0.5
    """

    parameter_names = ("p",)

    def __init__(self, p=None, *, inertia=0.0, frozen=False, missing="error"):
        super().__init__(inertia=inertia, frozen=frozen, missing=missing)
        self._set_parameters({"p": p})

    def _set_parameters(self, params):
        self.p = as_float(params["p"], "p", unit=True)
        if self.p == 0.0:
            raise ValueError("parameter p must be in (0, 1]; got 0.0")

    support = "integers >= 1"

    fast_support = "trials"

    def _outside(self, X):
        return (X < 1) | (X != np.floor(X))

    def _estimate(self, stats):
        return {"p": stats.fields["weight"] / stats.fields["sum"]}

    def _log_probability(self, X):
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (X - 1) * np.log1p(-self.p) + np.log(self.p)
        return np.where(X == 1, np.log(self.p), out)

    def _sample(self, n, rng):
        return rng.geometric(self.p, size=n).astype(np.float64)
