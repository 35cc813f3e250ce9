"""Bernoulli distribution on {0, 1}."""

from __future__ import annotations

import numpy as np

from ._univariate import _SumFamily, as_float


class Bernoulli(_SumFamily):
    """Bernoulli with success probability ``p``.

    Parameters
    ----------
    p : float in [0, 1], optional
        Probability of a 1; ``None`` until fitted.
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
    >>> from suffstats import Bernoulli
    >>> Bernoulli().fit([0, 1, 1, 1]).p
    0.75
    """

    parameter_names = ("p",)

    def __init__(self, p=None, *, inertia=0.0, frozen=False, missing="error"):
        super().__init__(inertia=inertia, frozen=frozen, missing=missing)
        self._set_parameters({"p": p})

    def _set_parameters(self, params):
        self.p = as_float(params["p"], "p", unit=True)

    support = "0 or 1"

    fast_support = "binary"

    def _outside(self, X):
        return (X != 0) & (X != 1)

    def _estimate(self, stats):
        return {"p": stats.fields["sum"] / stats.fields["weight"]}

    def _log_probability(self, X):
        with np.errstate(divide="ignore"):
            return np.where(X == 1, np.log(self.p), np.log1p(-self.p))

    def _sample(self, n, rng):
        return (rng.random(n) < self.p).astype(np.float64)
