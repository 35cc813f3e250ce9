"""A product of independent univariate families, one per feature."""

from __future__ import annotations

import numpy as np

from ..statistics import Composite
from ._base import SCHEMA_VERSION, Distribution
from ._persistence import common_settings
from ._registry import components_from_dict


class IndependentComponents(Distribution):
    """Rows whose features are independent, feature ``j`` following ``distributions[j]``.

    Parameters
    ----------
    distributions : sequence of univariate Distribution
        One per feature; families may differ.
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
    >>> from suffstats import IndependentComponents, Normal, Poisson
    >>> X = np.array([[0.5, 1], [1.5, 3]])
    >>> d = IndependentComponents([Normal(), Poisson()]).fit(X)
    >>> d.distributions[0].mean, d.distributions[1].rate
    (1.0, 2.0)
    """

    ndim = 2
    handles_missing = True

    def __init__(self, distributions, *, inertia=0.0, frozen=False, missing="error"):
        super().__init__(inertia=inertia, frozen=frozen, missing=missing)
        self.distributions = list(distributions)
        if not self.distributions:
            raise ValueError("IndependentComponents needs at least one distribution")
        for j, d in enumerate(self.distributions):
            if not isinstance(d, Distribution) or d.ndim != 1:
                raise TypeError(f"distributions[{j}] must be a univariate Distribution; got {d!r}")

    @property
    def fitted(self):
        return all(d.fitted for d in self.distributions)

    def _n_features(self):
        return len(self.distributions)

    def _outside(self, X):
        masks = [d._outside(X[:, j]) for j, d in enumerate(self.distributions)]
        if all(m is None for m in masks):
            return None
        # A hole (NaN, under missing="marginalize") is outside no support.
        return np.column_stack([np.zeros(X.shape[0], bool) if m is None else m & ~np.isnan(X[:, j])
                                for j, m in enumerate(masks)])

    def _check_support(self, X, row_offset=0):
        for j, d in enumerate(self.distributions):
            try:
                d._check_support(X[:, j], row_offset)
            except ValueError as err:
                raise ValueError(f"feature {j} ({type(d).__name__}): {err}") from None

    def _statistics_signature(self):
        return ("composite", tuple(d._statistics_signature() for d in self.distributions))

    def _statistics(self, X, w):
        return Composite(d._statistics(X[:, j], w) for j, d in enumerate(self.distributions))

    def _continued_statistics(self, X, w, running):
        return Composite(d._continued_statistics(X[:, j], w, None if running is None else running.parts[j])
                         for j, d in enumerate(self.distributions))

    def _component_statistics(self, X, w):
        # A feature's statistics take its observed values only: with independent features, integrating a hole
        # out of the likelihood leaves the other features' terms (exact EM for values missing at random).
        return Composite(d._component_statistics(*_observed(X[:, j], w)) for j, d in enumerate(self.distributions))

    def _total_weight(self, stats):
        return self.distributions[0]._total_weight(stats.parts[0])

    def _estimate(self, stats):
        """Per-feature estimates (``None`` for a frozen feature)."""
        return [None if d.frozen else d._estimate(part) for d, part in zip(self.distributions, stats.parts)]

    def _update(self, estimate, inertia):
        """Update each feature; a non-zero ``inertia`` here overrides the features' own."""
        for d, est in zip(self.distributions, estimate):
            if est is not None:
                d._update(est, inertia if inertia > 0 else d.inertia)

    @property
    def n_parameters(self):
        return sum(d.n_parameters for d in self.distributions)

    def parameters(self):
        return {f"{j}.{k}": v for j, d in enumerate(self.distributions) for k, v in d.parameters().items()}

    def _log_probability(self, X):
        total = np.zeros(X.shape[0])
        for j, d in enumerate(self.distributions):
            x = X[:, j]
            holes = np.isnan(x)
            if holes.any():  # a hole's marginal density is 1
                total[~holes] += d._log_probability(x[~holes])
            else:
                total += d._log_probability(x)
        return total

    def _sample(self, n, rng):
        return np.column_stack([d._sample(n, rng) for d in self.distributions])

    def to_dict(self):
        return {"schema": SCHEMA_VERSION, "family": "IndependentComponents", "inertia": self.inertia, "frozen": self.frozen,
                "distributions": [d.to_dict() for d in self.distributions]}

    @classmethod
    def _from_dict(cls, data):
        return cls(components_from_dict(data), **common_settings(data))


def _observed(x, w):
    """A feature's observed values and their weights (rows with a hole left out)."""
    holes = np.isnan(x)
    if not holes.any():
        return x, w
    return x[~holes], (np.ones(int((~holes).sum())) if w is None else w[~holes])
