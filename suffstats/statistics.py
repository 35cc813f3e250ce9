"""Sufficient statistics as values.

A statistics value is a small, immutable summary of some weighted rows. Values
combine with ``+`` (associative and commutative up to rounding, with an empty
value as the identity), compare with ``==`` and :meth:`~suffstats.Statistics.allclose`,
and convert to and from plain dictionaries of arrays so that other processes,
checkpoints and cluster workers can hold them.

Three shapes cover every model in the library:

* :class:`Additive` -- named float64 arrays that add element by element; fields
  may instead combine by minimum or maximum (the support of a uniform).
* :class:`Moments` -- weighted first and second moments accumulated around a
  fixed *shift* ``c``: ``Σw``, ``Σw(x-c)`` and ``Σw(x-c)(x-c)ᵀ`` -- the whole
  matrix, its diagonal or only its trace (the *layout*, from the number of
  dimensions of the second moment). Values with the same shift add exactly; values with different
  shifts are merged through their centred moments (Chan et al.), which keeps
  data with a large offset and a small spread accurate.
* :class:`Composite` -- an ordered tuple of statistics (a mixture's weights and
  components, a product of independent features).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

__all__ = ["Statistics", "Additive", "Moments", "Composite", "Empty"]

_COMBINE = {"sum": np.add, "min": np.minimum, "max": np.maximum}

#: Layouts of second moments: the whole matrix, its diagonal, or its trace.
LAYOUTS = {"full": 2, "diag": 1, "trace": 0}


def outer(a, b, layout):
    """``a bᵀ`` kept in ``layout``: the matrix, its diagonal, or its trace."""
    if layout == "full":
        return np.outer(a, b)
    return a * b if layout == "diag" else float(a @ b)


def second_moment(wZ, Z, layout):
    """``Σ_i wZ_i Z_iᵀ`` over rows, kept in ``layout``."""
    if layout == "full":
        return wZ.T @ Z
    diag = np.einsum("ij,ij->j", wZ, Z)
    return diag if layout == "diag" else diag.sum()


class Statistics:
    """Base class of statistics values: ``+``, equality, dict conversion."""

    kind = "statistics"

    def __add__(self, other):
        if isinstance(other, int) and other == 0:  # lets ``sum(values)`` work
            return self
        if type(other) is not type(self):
            return NotImplemented
        return self._combine(other)

    def __radd__(self, other):
        return self.__add__(other)

    def _combine(self, other):
        raise NotImplementedError

    def arrays(self) -> dict:
        """Return the value as a flat ``{name: ndarray}`` (no nesting)."""
        raise NotImplementedError

    def to_dict(self) -> dict:
        """Return a plain, JSON-friendly description (arrays as nested lists)."""
        out = {"kind": self.kind}
        out.update({k: np.asarray(v).tolist() for k, v in self._fields().items()})
        return out

    def _fields(self) -> dict:
        raise NotImplementedError

    @staticmethod
    def from_dict(data: Mapping) -> "Statistics":
        """Rebuild a statistics value written by :meth:`to_dict`.

        Parameters
        ----------
        data : Mapping
            The plain description (its kind, fields and shapes are checked).
        """
        kinds = KINDS
        if not isinstance(data, Mapping):
            raise ValueError(f"a statistics description must be a mapping; got {type(data).__name__}")
        kind = data.get("kind")
        if kind not in kinds:
            raise ValueError(f"unknown statistics kind {kind!r}; expected one of {sorted(kinds)}")
        boolean = _first_boolean({k: v for k, v in data.items() if k != "parts"})  # (parts are read as values)
        if boolean is not None:
            raise ValueError(f"malformed {kind} statistics: {boolean} is a boolean, where a number belongs")
        try:
            return kinds[kind]._from_fields(data)
        except (KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"malformed {kind} statistics: {err!r}") from None
        except ValueError as err:
            raise ValueError(f"malformed {kind} statistics: {err}") from None

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        a, b = self.arrays(), other.arrays()
        return a.keys() == b.keys() and all(
            np.shape(a[k]) == np.shape(b[k]) and np.array_equal(a[k], b[k]) for k in a
        )

    __hash__ = None

    # -- what crosses a boundary (absorb, checkpoints, workers) is checked by these --------------------
    def signature(self) -> tuple:
        """What another value must match to be added to this one: kind, fields, dimensions, layout."""
        return (type(self).__name__,)

    @staticmethod
    def describe_signature(sig) -> str:
        """A signature of this kind in words, for messages.

        Parameters
        ----------
        sig : tuple
            A signature of this kind, as :meth:`signature` returns it.
        """
        return f"a {sig[0]}"

    @staticmethod
    def signature_matches(expected, got) -> bool:
        """Whether signature ``got`` satisfies ``expected`` of this kind (``None`` dimensions match any).

        Parameters
        ----------
        expected, got : tuple
            Signatures of this kind, as :meth:`signature` returns them.
        """
        return expected == got

    def check_numbers(self, where) -> None:
        """Raise ``ValueError`` naming ``where`` and the field when a number cannot be a sum of rows.

        Parameters
        ----------
        where : str
            Where the value comes from, for the message (a file, a worker, a part).
        """

    def is_finite(self) -> bool:
        """Whether every summed number is finite (no overflow, no NaN)."""
        return True

    def canonical(self) -> dict:
        """Arrays that do not depend on the shift (moments as weight, mean and scatter)."""
        return self.arrays()

    @property
    def n_features(self):
        """The number of features of the rows summarized, where the value says (moments do); else ``None``."""
        return None

    def allclose(self, other: "Statistics", rtol: float = 1e-12, atol: float = 0.0) -> bool:
        """Whether two values agree within tolerances (after a common shift).

        Each field is compared at the scale of the field: an entry may differ
        by ``atol + rtol * max(|entry|, max|field|)``, because the rounding of
        an entry near zero in a scatter matrix follows the matrix's largest
        entries, not its own size.

        Parameters
        ----------
        other : Statistics
            The value to compare with.
        rtol : float, default=1e-12
            Relative tolerance, at the scale of each field.
        atol : float, default=0
            Absolute tolerance.
        """
        a, b = self.canonical(), other.canonical()
        return a.keys() == b.keys() and all(
            np.shape(a[k]) == np.shape(b[k])
            and np.allclose(a[k], b[k], rtol=rtol, atol=atol + rtol * _scale(b[k]))
            for k in a
        )


class Additive(Statistics):
    """Named float64 arrays combined field by field.

    Parameters
    ----------
    fields : mapping of str to array_like
        The arrays.
    rules : mapping of str to {"sum", "min", "max"}, optional
        How each field combines; fields not listed are summed.

    Examples
    --------
    >>> from suffstats.statistics import Additive
    >>> a = Additive({"weight": 2.0, "total": [1.0, 2.0]})
    >>> (a + a).fields["total"]
    array([2., 4.])
    """

    kind = "additive"

    def __init__(self, fields: Mapping, rules: Mapping | None = None):
        self.fields = {k: np.asarray(v, dtype=np.float64) for k, v in fields.items()}
        self.rules = {k: (rules or {}).get(k, "sum") for k in self.fields}
        unknown = sorted({r for r in self.rules.values() if r not in _COMBINE}, key=str)
        if unknown:
            raise ValueError(f"unknown combining rule(s) {unknown}; expected {sorted(_COMBINE)}")

    def _combine(self, other):
        if self.fields.keys() != other.fields.keys():
            raise ValueError(f"cannot add statistics with fields {sorted(self.fields)} and {sorted(other.fields)}")
        return Additive(
            {k: _COMBINE[r](self.fields[k], other.fields[k]) for k, r in self.rules.items()}, self.rules
        )

    def arrays(self):
        return dict(self.fields)

    def _fields(self):
        return {"fields": {k: v.tolist() for k, v in self.fields.items()}, "rules": self.rules}

    def to_dict(self):
        return {"kind": self.kind, **self._fields()}

    @classmethod
    def _from_fields(cls, data):
        return cls(data["fields"], data.get("rules"))

    def signature(self):
        return (self.kind, tuple(sorted((k, v.shape, self.rules[k]) for k, v in self.fields.items())))

    @staticmethod
    def describe_signature(sig):
        return "additive statistics with fields " + ", ".join(
            f"{k}{list(shape) if shape else ''}" + ("" if rule == "sum" else f" ({rule})") for k, shape, rule in sig[1])

    def check_numbers(self, where):
        for k, v in self.fields.items():
            if np.isnan(v).any():
                raise ValueError(f"{where}: field {k!r} holds NaN")
        _check_finite_and_weight({k: v for k, v in self.fields.items() if self.rules[k] == "sum"},
                                 self.fields.get("weight", 0.0), where)

    def is_finite(self):
        return all(np.isfinite(v).all() if self.rules[k] == "sum" else not np.isnan(v).any()
                   for k, v in self.fields.items())


class Moments(Statistics):
    """Weighted moments around a shift: ``Σw``, ``Σw(x-c)``, ``Σw(x-c)(x-c)ᵀ``.

    Parameters
    ----------
    weight : float
        Total weight ``Σw``.
    shift : array_like of shape (d,)
        The fixed reference point ``c``.
    first : array_like of shape (d,)
        ``Σw(x-c)``.
    second : array_like of shape (d, d), (d,) or ()
        ``Σw(x-c)(x-c)ᵀ``, only its diagonal, or only its trace.

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats.statistics import Moments
    >>> x = np.array([[1e8 + 1.0], [1e8 - 1.0]])
    >>> m = Moments.of(x, shift=x[0])
    >>> m.mean(), m.scatter() / m.weight
    (array([1.e+08]), array([[1.]]))
    """

    kind = "moments"

    def __init__(self, weight, shift, first, second):
        self.weight = float(weight)
        self.shift = np.asarray(shift, dtype=np.float64)
        self.first = np.asarray(first, dtype=np.float64)
        self.second = np.asarray(second, dtype=np.float64)

    @classmethod
    def of(cls, X, weights=None, shift=None, layout="full") -> "Moments":
        """Compute the moments of rows ``X`` (n, d) around ``shift`` in one pass, second moments in ``layout``.

        Parameters
        ----------
        X : array_like of shape (n, d)
            The rows.
        weights : array_like of shape (n,), optional
            Weight of each row (default: 1).
        shift : array_like of shape (d,), optional
            The point the moments are taken around (default: the origin).
        layout : {"full", "diag", "trace"}, default="full"
            Second moments as a (d, d) matrix, their diagonal, or their trace.
        """
        X = np.asarray(X, dtype=np.float64)
        w = np.ones(len(X)) if weights is None else np.asarray(weights, dtype=np.float64)
        shift = np.zeros(X.shape[1]) if shift is None else np.asarray(shift, dtype=np.float64)
        Z = X - shift
        wZ = Z * w[:, None]
        return cls(w.sum(), shift, wZ.sum(axis=0), second_moment(wZ, Z, layout))

    @classmethod
    def empty(cls, shift, layout="full") -> "Moments":
        """The identity value around ``shift``.

        Parameters
        ----------
        shift : array_like of shape (d,)
            The point the (zero) moments are taken around.
        layout : {"full", "diag", "trace"}, default="full"
            The layout of the second moments, as in :meth:`of`.
        """
        shift = np.asarray(shift, dtype=np.float64)
        d = shift.shape[0]
        return cls(0.0, shift, np.zeros(d), np.zeros((d, d)[: LAYOUTS[layout]]))

    @property
    def n_features(self):
        return self.shift.shape[0] if self.shift.ndim == 1 else None

    @property
    def layout(self) -> str:
        """``"full"``, ``"diag"`` or ``"trace"``: how much of the second moment is kept."""
        return ("trace", "diag", "full")[self.second.ndim]

    def mean(self) -> np.ndarray:
        """Weighted mean ``c + Σw(x-c)/Σw``."""
        return self.shift + self.first / self.weight

    def scatter(self) -> np.ndarray:
        """Centred second moment ``Σw(x-m)(x-m)ᵀ`` (in this value's layout)."""
        return self.second - outer(self.first, self.first, self.layout) / self.weight

    def _around(self, base, mean_offset, scatter) -> "Moments":
        """Moments with mean ``base + mean_offset`` and centred ``scatter``.

        The new shift is ``base + mean_offset`` rounded to a float; what the
        rounding loses stays in the first moment, so no digit of the mean is
        dropped even at offsets like 1e8.
        """
        shift = base + mean_offset
        residual = mean_offset - (shift - base)
        return Moments(self.weight, shift, self.weight * residual,
                       scatter + self.weight * outer(residual, residual, self.layout))

    def _combine(self, other):
        if self.first.shape != other.first.shape or self.second.shape != other.second.shape:
            raise ValueError("cannot add moments of different dimensions")
        if other.weight == 0 and not other.first.any():
            return self
        if self.weight == 0 and not self.first.any():
            return other
        if np.array_equal(self.shift, other.shift):
            return Moments(
                self.weight + other.weight, self.shift, self.first + other.first, self.second + other.second
            )
        # Different shifts: merge centred moments (Chan, Golub & LeVeque) with
        # means measured from this value's shift, so no large offset is squared.
        n = self.weight + other.weight
        mean_a = self.first / self.weight
        mean_b = (other.shift - self.shift) + other.first / other.weight
        delta = mean_b - mean_a
        scatter = self.scatter() + other.scatter() + outer(delta, delta, self.layout) * (self.weight * other.weight / n)
        merged = Moments(n, self.shift, np.zeros_like(delta), np.zeros_like(scatter))
        return merged._around(self.shift, mean_a + delta * (other.weight / n), scatter)

    def arrays(self):
        return {"weight": np.float64(self.weight), "shift": self.shift, "first": self.first, "second": self.second}

    def _fields(self):
        return self.arrays()

    @classmethod
    def _from_fields(cls, data):
        return cls(data["weight"], data["shift"], data["first"], data["second"])

    def signature(self):
        return (self.kind, self.first.shape[0] if self.first.ndim == 1 else self.first.shape, self.layout)

    @staticmethod
    def describe_signature(sig):
        return f"moments of {'d' if sig[1] is None else sig[1]} feature(s) with {sig[2]} second moments"

    @staticmethod
    def signature_matches(expected, got):
        return len(expected) == len(got) and expected[1] in (None, got[1]) and expected[2] == got[2]

    def check_numbers(self, where):
        d = self.first.shape[0] if self.first.ndim == 1 else -1
        if d < 0 or self.shift.shape != (d,) or self.second.shape not in ((d, d), (d,), ()):
            raise ValueError(f"{where}: moments with inconsistent shapes: shift {self.shift.shape}, "
                             f"first {self.first.shape}, second {self.second.shape}")
        _check_finite_and_weight(self.arrays(), self.weight, where)

    def is_finite(self):
        return all(np.isfinite(v).all() for v in self.arrays().values())

    def canonical(self):
        if not self.weight:
            return {"weight": np.float64(0.0), "mean": self.first, "scatter": self.second}
        return {"weight": np.float64(self.weight), "mean": self.mean(), "scatter": self.scatter()}


class Empty(Statistics):
    """The statistics of no rows: the identity of every kind (``Empty() + s == s + Empty() == s``).

    A part of a composite that received no rows yet (a class absent from a
    block) holds it, where the family's own empty value would need its shape.
    """

    kind = "empty"

    def __add__(self, other):
        return other if isinstance(other, Statistics) else Statistics.__add__(self, other)

    __radd__ = __add__

    def arrays(self):
        return {}

    def _fields(self):
        return {}

    @classmethod
    def _from_fields(cls, data):
        return cls()

    def signature(self):
        return (self.kind,)

    @staticmethod
    def describe_signature(sig):
        return "the statistics of no rows"


def _first_boolean(value, path=""):
    """Where the first ``True`` / ``False`` in a description is (JSON's booleans would read as 1 and 0), or ``None``."""
    if isinstance(value, bool):
        return path or "a value"
    items = value.items() if isinstance(value, Mapping) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _first_boolean(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


class Composite(Statistics):
    """An ordered tuple of statistics values, combined part by part.

    Parameters
    ----------
    parts : sequence of Statistics
        The parts, in order (one per feature of
        :class:`~suffstats.IndependentComponents`, for example).
    """

    kind = "composite"

    def __init__(self, parts):
        self.parts = tuple(parts)

    def _combine(self, other):
        if len(self.parts) != len(other.parts):
            raise ValueError("cannot add composite statistics with different numbers of parts")
        return Composite(a + b for a, b in zip(self.parts, other.parts))

    def arrays(self):
        return {f"{i}.{k}": v for i, p in enumerate(self.parts) for k, v in p.arrays().items()}

    def to_dict(self):
        return {"kind": self.kind, "parts": [p.to_dict() for p in self.parts]}

    @classmethod
    def _from_fields(cls, data):
        return cls(Statistics.from_dict(p) for p in data["parts"])

    def signature(self):
        return (self.kind, tuple(p.signature() for p in self.parts))

    @staticmethod
    def describe_signature(sig):
        return (f"composite statistics of {len(sig[1])} part(s) ["
                + "; ".join(describe_signature(p) for p in sig[1]) + "]")

    @staticmethod
    def signature_matches(expected, got):
        return len(expected[1]) == len(got[1]) and all(signature_matches(e, g) for e, g in zip(expected[1], got[1]))

    def check_numbers(self, where):
        for j, part in enumerate(self.parts):
            part.check_numbers(f"{where} part {j}")

    def is_finite(self):
        return all(p.is_finite() for p in self.parts)

    def canonical(self):
        return {f"{i}.{k}": v for i, p in enumerate(self.parts) for k, v in p.canonical().items()}


#: Statistics kinds by name: where a signature (a tuple starting with its kind) finds its rules.
KINDS = {cls.kind: cls for cls in (Additive, Moments, Composite, Empty)}


def describe_signature(sig) -> str:
    """A signature in words, for messages (``None``: any statistics)."""
    if sig is None:
        return "any statistics"
    return KINDS[sig[0]].describe_signature(sig) if sig[0] in KINDS else Statistics.describe_signature(sig)


def signature_matches(expected, got) -> bool:
    """Whether signature ``got`` satisfies ``expected`` (``None`` matches anything)."""
    if expected is None:
        return True
    if expected[0] != got[0]:
        return False
    return KINDS[got[0]].signature_matches(expected, got) if got[0] in KINDS else expected == got


def _check_finite_and_weight(arrays, weight, where):
    for k, v in arrays.items():
        if not np.isfinite(v).all():
            raise ValueError(f"{where}: field {k!r} is not finite ({v.ravel()[~np.isfinite(v.ravel())][0]})")
    if np.any(np.asarray(weight) < 0):
        raise ValueError(f"{where}: the total weight is negative ({weight})")


def _scale(values) -> float:
    """Largest finite magnitude of ``values`` (0 when there is none)."""
    values = np.abs(np.asarray(values, dtype=np.float64))
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size else 0.0


def blend(old, new, inertia):
    """The update rule of every model: ``inertia * old + (1 - inertia) * new`` (``new`` itself at 0).

    Examples
    --------
    >>> blend(1.0, 3.0, 0.25)
    2.5
    """
    if inertia == 0:
        return new
    return inertia * np.asarray(old) + (1 - inertia) * np.asarray(new) if np.ndim(old) else \
        inertia * old + (1 - inertia) * new
