"""Categorical distribution over the integers 0 .. n_categories - 1."""

from __future__ import annotations

import numpy as np

from .._validation import check_positive_int, check_real
from ..statistics import Additive
from ._univariate import _SumFamily, fast_input, kernels


class Categorical(_SumFamily):
    """Categorical with probabilities ``probs`` over ``0, 1, ..., n_categories - 1``.

    Parameters
    ----------
    probs : array_like of shape (n_categories,), optional
        Probabilities (non-negative, summing to one).
    n_categories : int, optional
        Number of categories; needed when ``probs`` is not given, so that
        statistics of every batch have the same length.
    pseudocount : float
        Added to every category's count in the M-step (additive smoothing).
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
    >>> from suffstats import Categorical
    >>> Categorical(n_categories=3, pseudocount=1.0).fit([0, 0, 1]).probs
    array([0.5       , 0.33333333, 0.16666667])
    """

    parameter_names = ("probs",)

    def __init__(self, probs=None, *, n_categories=None, pseudocount=0.0, inertia=0.0, frozen=False, missing="error"):
        super().__init__(inertia=inertia, frozen=frozen, missing=missing)
        self.pseudocount = check_real(pseudocount, "pseudocount", minimum=0.0)
        self.n_categories = check_positive_int(n_categories, "n_categories", allow_none=True)
        self._set_parameters({"probs": probs})
        if self.n_categories is None:
            raise ValueError("Categorical needs n_categories (or probs) so that every batch has the same categories")

    def _set_parameters(self, params):
        probs = params["probs"]
        if probs is None:
            self.probs = None
            return
        probs = np.asarray(probs, dtype=np.float64)
        if probs.ndim != 1 or (probs < 0).any() or not np.isclose(probs.sum(), 1.0):
            raise ValueError(f"probs must be a 1-D array of non-negative numbers summing to 1; got {probs}")
        if self.n_categories is not None and probs.shape[0] != self.n_categories:
            raise ValueError(f"probs has {probs.shape[0]} entries but n_categories is {self.n_categories}")
        self.n_categories = probs.shape[0]
        self.probs = probs

    @property
    def support(self):
        return f"integer categories in [0, {self.n_categories})"

    def _outside(self, X):
        return (X < 0) | (X >= self.n_categories) | (X != np.floor(X))

    def _fast_statistics(self, X, sample_weight, running=None):
        args = fast_input(X, sample_weight)
        if args is None:
            return None
        ok, counts = kernels().category_counts(*args, self.n_categories)
        return Additive({"weight": counts.sum(), "counts": counts}) if ok else None

    def _statistics_signature(self):
        return ("additive", (("counts", (self.n_categories,), "sum"), ("weight", (), "sum")))

    def _statistics(self, X, w):
        counts = np.bincount(X.astype(np.intp), weights=w, minlength=self.n_categories).astype(np.float64)
        return Additive({"weight": counts.sum(), "counts": counts})

    def _estimate(self, stats):
        counts = stats.fields["counts"] + self.pseudocount
        return {"probs": counts / counts.sum()}

    @property
    def n_parameters(self):
        return self.n_categories - 1

    def _log_probability(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.probs)[X.astype(np.intp)]

    def _sample(self, n, rng):
        return rng.choice(self.n_categories, size=n, p=self.probs).astype(np.float64)

    def _settings(self):
        return {"n_categories": self.n_categories, "pseudocount": self.pseudocount}

    @classmethod
    def _settings_from_dict(cls, data):
        return {"n_categories": data.get("n_categories"), "pseudocount": data.get("pseudocount", 0.0)}
