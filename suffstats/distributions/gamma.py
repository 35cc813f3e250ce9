"""Gamma distribution on the positive reals."""

from __future__ import annotations

import numpy as np

from ._univariate import _SumFamily, as_float


def gamma_shape_mle(s, tol=1e-14, max_iter=100):
    """Solve ``log(a) - digamma(a) = s`` (``s > 0``) for the shape ``a`` by Newton's method.

    Starts from Minka's closed-form approximation, which is within a few per
    cent, so a handful of Newton steps reach machine precision.
    """
    from scipy.special import digamma, polygamma  # here, not at import: SciPy takes a tenth of a second

    a = (3.0 - s + np.sqrt((s - 3.0) ** 2 + 24.0 * s)) / (12.0 * s)
    for _ in range(max_iter):
        f = np.log(a) - digamma(a) - s
        step = f / (1.0 / a - polygamma(1, a))
        a_new = a - step
        a = a_new if a_new > 0 else a / 2.0
        if abs(step) <= tol * a:
            break
    return a


class Gamma(_SumFamily):
    """Gamma with ``shape`` and ``rate`` (``scipy.stats.gamma(shape, scale=1/rate)``).

    Statistics are ``Σw``, ``Σw·x`` and ``Σw·log x``; the maximum-likelihood
    shape is found by Newton's method on them.

    Parameters
    ----------
    shape : float > 0, optional
        Shape ``a``; ``None`` until fitted.
    rate : float > 0, optional
        Inverse scale; ``None`` until fitted.
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
    >>> from suffstats import Gamma
    >>> x = np.random.default_rng(0).gamma(3.0, 2.0, size=100_000)
    >>> d = Gamma().fit(x)
    >>> round(d.shape, 1), round(1 / d.rate, 1)
    (3.0, 2.0)
    """

    parameter_names = ("shape", "rate")

    def __init__(self, shape=None, rate=None, *, inertia=0.0, frozen=False, missing="error"):
        super().__init__(inertia=inertia, frozen=frozen, missing=missing)
        self._set_parameters({"shape": shape, "rate": rate})

    def _set_parameters(self, params):
        self.shape = as_float(params["shape"], "shape", positive=True)
        self.rate = as_float(params["rate"], "rate", positive=True)

    support = "positive"

    def _outside(self, X):
        return X <= 0

    def _terms(self, x):
        return {"sum": x, "sum_log": np.log(x)}

    def _estimate(self, stats):
        f = stats.fields
        mean = f["sum"] / f["weight"]
        s = np.log(mean) - f["sum_log"] / f["weight"]
        # s == 0 only when every row is equal: the likelihood grows without bound in a.
        shape = gamma_shape_mle(s) if s > 1e-12 else 1e12
        return {"shape": shape, "rate": shape / mean}

    def _log_probability(self, X):
        from scipy.special import gammaln

        a, b = self.shape, self.rate
        return a * np.log(b) - gammaln(a) + (a - 1) * np.log(X) - b * X

    def _sample(self, n, rng):
        return rng.gamma(self.shape, 1.0 / self.rate, size=n)
