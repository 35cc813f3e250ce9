"""Per-component weighted moments: the running total of an epoch and the M-step from it.

``ComponentMoments`` holds, for ``k`` components around fixed shifts ``c_j``
(the current means), ``Σw``, ``Σw·log p``, ``Σw·r_j``, ``Σw·r_j(x-c_j)`` and
``Σw·r_j(x-c_j)(x-c_j)ᵀ`` (whole, diagonal or trace). Blocks are added in place, in row
order over the fixed block tree. It converts to and from a statistics value
so that it can be merged, stored or shipped like any other.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..fit.running_total import RunningTotal
from ..statistics import LAYOUTS, Additive, Composite, Moments, Statistics

#: A component whose share of the total weight is below this receives "no mass".
EMPTY_SHARE = 1e-10


class EmptyComponentWarning(UserWarning):
    """A mixture component received no mass in an update and kept its parameters."""


class _Block(tuple):
    """One block's ``(Σw, Σw·log p, Σw·r (k,), first (k, d), second or None)``, added field by field."""

    def __add__(self, other):
        return _Block(None if a is None else a + b for a, b in zip(self, other))


class ComponentMoments(RunningTotal):
    """Running per-component moments around fixed shifts: the running total of every mixture.

    A :class:`~suffstats.fit.running_total.RunningTotal` whose blocks are
    ``_Block`` tuples (cheaper to add than statistics values); the total is the
    same whether one process adds every block in order or workers each sum an
    aligned run of blocks.
    """

    def __init__(self, shifts, layout):
        super().__init__()
        k, d = shifts.shape
        self.shifts = np.array(shifts, dtype=np.float64)
        self._empty = _Block((0.0, 0.0, np.zeros(k), np.zeros((k, d)), np.zeros((k, d, d)[: 1 + LAYOUTS[layout]])))

    def empty(self):
        return self._empty

    weight = property(lambda self: self.total()[0], doc="Σw")
    log_likelihood = property(lambda self: self.total()[1], doc="Σw·log p (for k-means: -Σw·d²)")
    resp = property(lambda self: self.total()[2], doc="Σw·r_j, shape (k,)")
    first = property(lambda self: self.total()[3], doc="Σw·r_j(x - c_j), shape (k, d)")
    second = property(lambda self: self.total()[4], doc="Σw·r_j(x - c_j)(x - c_j)ᵀ in the layout")

    @property
    def layout(self):
        return ("trace", "diag", "full")[self._empty[4].ndim - 1]

    def add(self, block, size=1):
        """Add one block's statistics ``(Σw, Σw·log p, Σw·r (k,), first (k, d), second or None)``.

        ``size`` > 1 adds the total of an aligned run of that many blocks, summed over the same tree.
        """
        weight, log_likelihood, resp, first, second = block
        super().add(_Block((float(weight), float(log_likelihood), np.asarray(resp, dtype=np.float64),
                            np.asarray(first, dtype=np.float64),
                            self._empty[4] if second is None else np.asarray(second, dtype=np.float64))), size)

    def centred_on(self, shifts) -> bool:
        """Whether the moments are kept around exactly ``shifts`` (so blocks computed there add in place)."""
        return np.array_equal(self.shifts, shifts)

    def merge(self, other: "ComponentMoments") -> None:
        """Add another total as one more entry (around the same shifts), or by Chan's formulas (other shifts)."""
        if self.centred_on(other.shifts) and self.layout == other.layout:
            self.add(other.total())
            return
        merged = ComponentMoments.from_statistics(self.to_statistics() + other.to_statistics())
        self.shifts, self._empty, self._tree = merged.shifts, merged._empty, merged._tree

    def scatter(self, resp):
        """Centred scatter of each component given its (possibly regularised) mass."""
        f = self.first
        outer = {"full": lambda: f[:, :, None] * f[:, None, :], "diag": lambda: f * f,
                 "trace": lambda: (f * f).sum(axis=1)}[self.layout]()
        return self.second - outer / resp.reshape((-1,) + (1,) * (self.second.ndim - 1))

    def as_statistics(self, block) -> Composite:
        weight, log_likelihood, resp, first, second = block
        totals = Additive({"weight": weight, "log_likelihood": log_likelihood, "resp": resp})
        return Composite([totals] + [Moments(resp[j], self.shifts[j], first[j], second[j])
                                     for j in range(len(resp))])

    def as_block(self, stats: Composite):
        totals, *parts = stats.parts
        return _Block((float(totals.fields["weight"]), float(totals.fields["log_likelihood"]),
                       np.array([p.weight for p in parts]), np.array([p.first for p in parts]),
                       np.array([p.second for p in parts])))

    @classmethod
    def checked(cls, stats, n_components, n_features, layout) -> "ComponentMoments":
        """:meth:`from_statistics` of a value from outside, refused unless it is ``k`` components' moments
        over ``n_features`` features kept in ``layout``."""
        expected = f"{n_components} components' moments over {n_features} features ({layout} layout)"
        if not isinstance(stats, Composite) or not stats.parts or not isinstance(stats.parts[0], Additive) \
                or not all(isinstance(p, Moments) for p in stats.parts[1:]) \
                or {"weight", "log_likelihood", "resp"} - set(stats.parts[0].fields):
            raise ValueError(f"cannot absorb {type(stats).__name__} statistics: expected {expected}")
        parts = stats.parts[1:]
        got = (f"{len(parts)} components' moments over "
               f"{np.shape(parts[0].first)[0] if parts else 0} features ({parts[0].layout if parts else '-'} layout)")
        if len(parts) != n_components or any(np.shape(p.first) != (n_features,) or p.layout != layout for p in parts) \
                or np.shape(stats.parts[0].fields["resp"]) != (n_components,):
            raise ValueError(f"cannot absorb statistics of {got}: expected {expected}")
        values = [stats.parts[0].fields[k] for k in ("weight", "log_likelihood", "resp")]
        values += [p.shift for p in parts] + [p.first for p in parts] + [p.second for p in parts]
        if not all(np.isfinite(np.asarray(v, dtype=np.float64)).all() for v in values):
            raise ValueError("cannot absorb statistics with NaN or infinite values")
        weight, resp = float(stats.parts[0].fields["weight"]), np.asarray(stats.parts[0].fields["resp"], float)
        # What any rows give: weights that are not negative, each component's share of them, squares that are not.
        if weight < 0 or (resp < 0).any() or any(float(p.weight) != r for p, r in zip(parts, resp)) \
                or abs(resp.sum() - weight) > 1e-8 * max(weight, 1.0):
            raise ValueError(f"cannot absorb statistics whose weights no rows give: total {weight!r}, per component "
                             f"{resp.tolist()!r} (each part's weight must be its component's, none negative, "
                             "summing to the total)")
        kept = any(np.any(np.asarray(p.second) != 0) for p in parts)  # (k-means keeps no second moments)
        for j, p in enumerate(parts if kept else ()):
            first = np.asarray(p.first, dtype=np.float64)
            squares = np.diagonal(np.atleast_2d(p.second)) if layout == "full" else np.asarray(p.second, float)
            # Cauchy-Schwarz: (Σw·(x - c))² <= Σw · Σw·(x - c)², per feature (summed over features for 'trace').
            first2 = (first * first).sum() if layout == "trace" else first * first
            if (squares < 0).any() or (first2 > float(p.weight) * squares * (1 + 1e-8) + 1e-300).any():
                raise ValueError(f"cannot absorb statistics that no rows give: component {j}'s sums of squares "
                                 "are negative or smaller than its first moments allow")
            if layout == "full" and float(p.weight) > 0:
                # The whole scatter, not only its diagonal: symmetric and positive semi-definite, to rounding.
                second = np.asarray(p.second, dtype=np.float64)
                scatter = second - np.outer(first, first) / float(p.weight)
                scale = 1e-8 * max(float(np.trace(second)), 1e-300)
                if np.abs(scatter - scatter.T).max() > scale or np.linalg.eigvalsh(scatter).min() < -scale:
                    raise ValueError(f"cannot absorb statistics that no rows give: component {j}'s second moments "
                                     "are not those of any rows (not symmetric positive semi-definite)")
        return cls.from_statistics(stats)

    def restored(self, state) -> "ComponentMoments":
        """A total rebuilt from :meth:`to_state`, every entry checked: the components' moments around exactly
        this total's shifts (the parameters the part-done epoch was computed at)."""
        if not isinstance(state, list) or not state or not all(isinstance(e, dict) for e in state):
            raise ValueError("a running total's state must be a non-empty list of {size, value} entries")
        k, d = self.shifts.shape
        for index, entry in enumerate(state):
            stats = ComponentMoments.checked(Statistics.from_dict(entry.get("value")), k, d, self.layout)
            if not stats.centred_on(self.shifts):
                raise ValueError(f"entry {index} is not centred on this fit's parameters (its shifts differ)")
        return super().restored(state)

    def from_value(self, stats: Composite) -> "ComponentMoments":
        """A total holding ``stats``, kept around the value's own shifts."""
        return ComponentMoments.from_statistics(stats)

    @classmethod
    def from_state(cls, state) -> "ComponentMoments":
        """Rebuild a running total written by :meth:`to_state` (its shifts are the saved ones)."""
        if not isinstance(state, list) or not state or not isinstance(state[0], dict):
            raise ValueError("a running total's state must be a non-empty list of {size, value} entries")
        return cls.from_statistics(Statistics.from_dict(state[0]["value"])).restored(state)

    @classmethod
    def from_statistics(cls, stats: Composite) -> "ComponentMoments":
        """Rebuild a running total from a statistics value (keeping its shifts)."""
        totals, *parts = stats.parts
        acc = cls(np.array([p.shift for p in parts]), parts[0].layout)
        acc.add(acc.as_block(stats))
        return acc


def component_estimates(acc: ComponentMoments, cov, reg_covar):
    """Each component's mass, mean and covariance from its moments, as scikit-learn's
    ``_estimate_gaussian_parameters`` gives them (masses raised by ``10·eps`` so none is zero).

    Returns
    -------
    nk (k,), means (k, d), covariances (shape by covariance type)
    """
    nk = acc.resp + 10 * np.finfo(np.float64).eps
    means = acc.shifts + acc.first / nk[:, None]
    return nk, means, cov.estimate(acc.scatter(nk), nk, reg_covar, acc.shifts.shape[1])


def estimate_gaussian(acc: ComponentMoments, cov, reg_covar, previous=None):
    """M-step: weights, means and covariances from component moments.

    Components that received no mass keep their ``previous`` parameters (a
    warning says which); without previous parameters they get the mean of
    their shift and the pooled covariance, so nothing is ever NaN.

    Returns
    -------
    weights (k,), means (k, d), covariances (shape by covariance type)
    """
    k = acc.resp.shape[0]
    resp, means, covariances = component_estimates(acc, cov, reg_covar)
    weights = resp / resp.sum()
    empty = acc.resp <= EMPTY_SHARE * max(acc.weight, np.finfo(float).tiny) / k
    if empty.any():
        warnings.warn(
            f"mixture components {np.flatnonzero(empty).tolist()} received no mass in this update and keep "
            "their previous parameters; consider fewer components or another initialisation",
            EmptyComponentWarning, stacklevel=3)
        if previous is not None:
            old_weights, old_means, old_cov = previous
            weights[empty] = old_weights[empty]
            weights /= weights.sum()
            means[empty] = old_means[empty]
            if cov.name != "tied":
                covariances[empty] = old_cov[empty]
            return weights, means, covariances
        means[empty] = acc.shifts[empty]
        if cov.name != "tied" and (~empty).any():
            pooled = covariances[~empty].mean(axis=0)
            covariances[empty] = pooled
    return weights, means, covariances
