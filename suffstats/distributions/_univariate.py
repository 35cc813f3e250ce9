"""Helpers shared by the univariate families whose statistics are plain sums."""

from __future__ import annotations

import numpy as np

from ..backends import univariate_kernels
from ..backends.protocol import UNIVARIATE_SUPPORTS
from ..statistics import Additive
from ._base import Distribution


def weighted_sums(x, w, **terms) -> Additive:
    """``Additive`` of ``Σw`` and ``Σw·t`` for each named array ``t`` (same length as ``x``)."""
    if w is None:
        fields = {"weight": float(x.shape[0])}
        fields.update({name: np.sum(t, dtype=np.float64) for name, t in terms.items()})
    else:
        fields = {"weight": np.sum(w)}
        fields.update({name: np.dot(w, np.asarray(t, dtype=np.float64)) for name, t in terms.items()})
    return Additive(fields)


def fast_input(X, sample_weight):
    """``(x, w)`` as contiguous float64 1-D arrays when the fast kernels can take them as they are, else None.

    None also when the default backend has no one-pass univariate kernels
    (:func:`suffstats.backends.univariate_kernels`): the checked NumPy path runs.
    """
    if kernels() is None:
        return None
    if not isinstance(X, np.ndarray) or X.dtype != np.float64 or X.ndim == 0 or X.shape[0] == 0:
        return None
    x = X[:, 0] if X.ndim == 2 and X.shape[1] == 1 else X
    if x.ndim != 1 or not x.flags.c_contiguous:
        return None
    if sample_weight is None:
        return x, None
    w = sample_weight
    if not isinstance(w, np.ndarray) or w.dtype != np.float64 or w.shape != x.shape or not w.flags.c_contiguous:
        return None
    return x, w


def kernels():
    """The default backend's one-pass univariate kernels, or None."""
    return univariate_kernels()


class _SumFamily(Distribution):
    """A univariate family whose statistics are ``Σw`` and a few ``Σw·f(x)``."""

    #: The support the one-pass kernel checks values against, one of
    #: :data:`~suffstats.backends.protocol.UNIVARIATE_SUPPORTS` (None: no fast path).
    fast_support = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.fast_support is not None and cls.fast_support not in UNIVARIATE_SUPPORTS:
            raise TypeError(f"{cls.__name__}.fast_support must be one of {UNIVARIATE_SUPPORTS}; "
                            f"got {cls.fast_support!r}")

    def _fast_statistics(self, X, sample_weight, running=None):
        if self.fast_support is None or type(self)._terms is not _SumFamily._terms:
            return None
        args = fast_input(X, sample_weight)
        if args is None:
            return None
        ok, weight, total = kernels().univariate_sums(args[0], args[1], UNIVARIATE_SUPPORTS.index(self.fast_support))
        return Additive({"weight": weight, "sum": total}) if ok else None

    def _statistics(self, X, w):
        return weighted_sums(X, w, **self._terms(X))

    def _statistics_signature(self):
        names = ["weight", *self._terms(np.array([0.5]))]
        return ("additive", tuple(sorted((k, (), "sum") for k in names)))

    def _terms(self, x) -> dict:
        return {"sum": x}

    @staticmethod
    def _total_weight(stats):
        return float(stats.fields["weight"])

    @property
    def n_parameters(self):
        return len(self.parameter_names)


def as_float(value, name, *, positive=False, unit=False):
    """A scalar parameter as float (``None`` passes through), with range checks."""
    if value is None:
        return None
    if isinstance(value, (str, bytes, bool)):
        raise TypeError(f"parameter {name} must be a number; got {value!r}")
    arr = np.asarray(value, dtype=np.float64)
    if arr.size != 1:
        raise ValueError(f"parameter {name} must be a single number; got shape {arr.shape}")
    v = float(arr.reshape(()))
    if not np.isfinite(v) or (positive and v <= 0) or (unit and not 0.0 <= v <= 1.0):
        need = "in [0, 1]" if unit else ("positive and finite" if positive else "finite")
        raise ValueError(f"parameter {name} must be {need}; got {v!r}")
    return v
