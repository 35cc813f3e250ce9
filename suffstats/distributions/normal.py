"""Normal (Gaussian) distribution on the real line."""

from __future__ import annotations

import numpy as np

from ..statistics import Moments
from ._base import Distribution
from ._univariate import as_float, fast_input, kernels

_TINY = np.finfo(np.float64).tiny


class Normal(Distribution):
    """Normal distribution with ``mean`` and standard deviation ``std``.

    Statistics are weighted moments around a fixed shift (the first row seen),
    so data with a large offset and a small spread is fitted accurately.

    Parameters
    ----------
    mean : float, optional
        ``None`` until fitted.
    std : float > 0, optional
        Standard deviation; ``None`` until fitted.
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
    >>> from suffstats import Normal
    >>> x = np.random.default_rng(0).normal(1e8, 1.0, size=10_000)
    >>> d = Normal()
    >>> for batch in np.array_split(x, 7):
    ...     d.summarize(batch)
    >>> d.from_summaries()
    >>> bool(np.isclose(d.std, x.std(), rtol=1e-9))
    True
    """

    parameter_names = ("mean", "std")

    def __init__(self, mean=None, std=None, *, inertia=0.0, frozen=False, missing="error"):
        super().__init__(inertia=inertia, frozen=frozen, missing=missing)
        self._set_parameters({"mean": mean, "std": std})

    def _set_parameters(self, params):
        self.mean = as_float(params["mean"], "mean")
        self.std = as_float(params["std"], "std", positive=True)

    def _statistics(self, X, w, shift=None):
        shift = X[:1] if shift is None else shift
        return Moments.of(X[:, None], w, shift=np.atleast_1d(shift), layout="diag")

    def _statistics_signature(self):
        return ("moments", 1, "diag")

    def _continued_statistics(self, X, w, running):
        # Around the shift of the total they join, so that the values add exactly.
        return self._statistics(X, w, shift=None if running is None else running.shift)

    def _fast_statistics(self, X, sample_weight, running=None):
        if type(self) is not Normal:
            return None
        args = fast_input(X, sample_weight)
        if args is None:
            return None
        x, w = args
        shift = x[:1] if running is None else running.shift
        ok, weight, first, second = kernels().univariate_moments(x, w, float(shift[0]))
        return Moments(weight, shift, [first], [second]) if ok else None

    def _component_statistics(self, X, w):
        # Around the current mean: fixed for an epoch, so block sums are exact and stable.
        return self._statistics(X, w, shift=self.mean)

    @staticmethod
    def _total_weight(stats):
        return stats.weight

    def _estimate(self, stats):
        var = stats.scatter()[0] / stats.weight
        return {"mean": stats.mean()[0], "std": np.sqrt(max(var, _TINY))}

    @property
    def n_parameters(self):
        return 2

    def _log_probability(self, X):
        z = (X - self.mean) / self.std
        return -0.5 * z * z - np.log(self.std) - 0.5 * np.log(2 * np.pi)

    def _sample(self, n, rng):
        return rng.normal(self.mean, self.std, size=n)
