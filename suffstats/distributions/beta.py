"""Beta distribution on the open unit interval."""

from __future__ import annotations

import numpy as np

from ._univariate import _SumFamily, as_float


def beta_mle(g1, g2, tol=1e-14, max_iter=200):
    """Solve ``ψ(a) - ψ(a+b) = g1``, ``ψ(b) - ψ(a+b) = g2`` by damped Newton steps.

    ``g1`` and ``g2`` are the weighted means of ``log x`` and ``log(1 - x)``.
    The start uses ``E[x] ≈ exp(g1)`` and the Jensen gap ``1 - e^g1 - e^g2``
    as a rough inverse precision.
    """
    from scipy.special import digamma, polygamma  # here, not at import: SciPy takes a tenth of a second

    p, q = np.exp(g1), np.exp(g2)
    if 1.0 - p - q <= 1e-12:
        # Every row equal (to rounding): the likelihood grows without bound; as Gamma does, return a
        # distribution concentrated at the value.
        return 1e12 * p / (p + q), 1e12 * q / (p + q)
    gap = 1.0 - p - q
    scale = 0.5 / gap
    a, b = scale * p / (p + q) + 0.1, scale * q / (p + q) + 0.1
    for _ in range(max_iter):
        t = polygamma(1, a + b)
        F = np.array([digamma(a) - digamma(a + b) - g1, digamma(b) - digamma(a + b) - g2])
        J = np.array([[polygamma(1, a) - t, -t], [-t, polygamma(1, b) - t]])
        step = np.linalg.solve(J, F)
        damping = 1.0
        while a - damping * step[0] <= 0 or b - damping * step[1] <= 0:
            damping /= 2.0
        a, b = a - damping * step[0], b - damping * step[1]
        if abs(step[0]) <= tol * a and abs(step[1]) <= tol * b:
            break
    return a, b


class Beta(_SumFamily):
    """Beta with shapes ``alpha`` and ``beta`` (``scipy.stats.beta``), on (0, 1).

    Statistics are ``Σw``, ``Σw·log x`` and ``Σw·log(1-x)``; the
    maximum-likelihood shapes are found by Newton's method on them.

    Parameters
    ----------
    alpha, beta : float > 0, optional
        The two shapes; ``None`` until fitted.
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
    >>> import numpy as np
    >>> from suffstats import Beta
    >>> x = np.random.default_rng(0).beta(2.0, 5.0, size=100_000)
    >>> d = Beta().fit(x)
    >>> round(d.alpha, 1), round(d.beta, 1)
    (2.0, 5.0)
    """

    parameter_names = ("alpha", "beta")

    def __init__(self, alpha=None, beta=None, *, inertia=0.0, frozen=False, missing="error"):
        super().__init__(inertia=inertia, frozen=frozen, missing=missing)
        self._set_parameters({"alpha": alpha, "beta": beta})

    def _set_parameters(self, params):
        self.alpha = as_float(params["alpha"], "alpha", positive=True)
        self.beta = as_float(params["beta"], "beta", positive=True)

    support = "strictly between 0 and 1"

    def _outside(self, X):
        return (X <= 0) | (X >= 1)

    def _terms(self, x):
        return {"sum_log": np.log(x), "sum_log1m": np.log1p(-x)}

    def _estimate(self, stats):
        f = stats.fields
        a, b = beta_mle(f["sum_log"] / f["weight"], f["sum_log1m"] / f["weight"])
        return {"alpha": a, "beta": b}

    def _log_probability(self, X):
        from scipy.special import betaln

        a, b = self.alpha, self.beta
        return (a - 1) * np.log(X) + (b - 1) * np.log1p(-X) - betaln(a, b)

    def _sample(self, n, rng):
        return rng.beta(self.alpha, self.beta, size=n)
