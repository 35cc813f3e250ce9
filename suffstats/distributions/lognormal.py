"""Log-normal distribution on the positive reals."""

from __future__ import annotations

import numpy as np

from .normal import Normal


class LogNormal(Normal):
    """Log-normal: ``log(x)`` is normal with ``mean`` and ``std``.

    Matches ``scipy.stats.lognorm(s=std, scale=exp(mean))``.

    Parameters
    ----------
    mean : float, optional
        Mean of ``log(x)``; ``None`` until fitted.
    std : float > 0, optional
        Standard deviation of ``log(x)``; ``None`` until fitted.
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
    >>> from suffstats import LogNormal
    >>> d = LogNormal().fit(np.exp([0.0, 1.0, 2.0]))
    >>> round(d.mean, 6), round(d.std ** 2, 6)
    (1.0, 0.666667)
    """

    support = "positive"

    def _outside(self, X):
        return X <= 0

    def _statistics(self, X, w, shift=None):
        return super()._statistics(np.log(X), w, shift)

    def _log_probability(self, X):
        logx = np.log(X)
        return super()._log_probability(logx) - logx

    def _sample(self, n, rng):
        return np.exp(super()._sample(n, rng))
