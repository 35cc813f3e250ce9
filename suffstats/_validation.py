"""The checks made once, at the public boundary; kernels trust their inputs.

Every message names the problem and, for data, the first offending row, so that
a user with a file of a billion rows can find it. ``row_offset`` lets callers
that read a file batch by batch report global row numbers.
"""

from __future__ import annotations

import itertools

import numbers

import numpy as np

__all__ = ["MISSING_POLICIES", "as_numeric_array", "check_batch", "check_missing_policy", "check_weights", "check_support", "check_positive_int", "check_fraction",
           "check_bool", "check_real", "check_no_overflow", "json_numbers"]


#: What a NaN in the data means, by policy name: the one list of missing-value policies.
#: ``"error"``: a value is missing by mistake (refused, row and column named);
#: ``"marginalize"``: a hole the model integrates out (kept as NaN; infinities are still refused).
MISSING_POLICIES = ("error", "marginalize")


def check_missing_policy(missing, name="missing") -> str:
    """``missing`` if it names a policy of :data:`MISSING_POLICIES`, else a ``ValueError`` listing them."""
    if not isinstance(missing, str) or missing not in MISSING_POLICIES:
        raise ValueError(f"{name} must be one of {list(MISSING_POLICIES)}; got {missing!r}")
    return missing


def check_batch(X, *, n_features=None, ndim=2, name="X", row_offset=0, allow_empty=False, owner="the model",
                missing="error", check_finite=True):
    """Validate a batch of rows and return it as a floating-point array.

    Parameters
    ----------
    X : array_like
        The rows. For ``ndim=1`` a 1-D array or a single-column 2-D array.
    n_features : int, optional
        Required number of columns.
    ndim : {1, 2}
        1 for univariate data, 2 for rows of features.
    name : str
        The name used in error messages.
    row_offset : int
        Added to row numbers in messages (global position in a file).
    allow_empty : bool
        Whether a batch with no rows is accepted.
    owner : str
        Who expects ``n_features`` (for the message).
    missing : {"error", "marginalize"}
        The missing-value policy (:data:`MISSING_POLICIES`): whether a NaN is
        refused or kept as a hole. Infinities are refused either way.
    check_finite : bool
        ``False`` leaves the values unread: for a caller whose computation
        refuses a non-finite value itself, as it goes (the k-means blocks, see
        :class:`NonFiniteValue`), a separate pass over every batch would cost
        as much as the computation.

    Returns
    -------
    ndarray
        ``X`` itself when it is already a float array of the right shape (no
        copy, memory maps stay memory maps), else a float64 conversion.
    """
    arr = as_numeric_array(X, name)
    if ndim == 1:
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D (or one column) for a univariate model; got shape {arr.shape}")
    else:
        if arr.ndim != 2:
            raise ValueError(
                f"{name} must be 2-D (n_samples, n_features); got shape {arr.shape}. Reshape your data either "
                "using array.reshape(-1, 1) if it has a single feature or array.reshape(1, -1) if it is a single row."
            )
        if arr.shape[1] == 0:
            raise ValueError(f"{name} has 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required.")
        if n_features is not None and arr.shape[1] != n_features:
            raise ValueError(
                f"{name} has {arr.shape[1]} features, but {owner} is expecting {n_features} features as input"
            )
    if arr.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} is empty: a batch needs at least one row (got shape {arr.shape})")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    allow_nan = check_missing_policy(missing) != "error"
    if check_finite:
        _check_finite(arr, name, row_offset, allow_nan=allow_nan)
    return arr


def as_numeric_array(X, name="X"):
    """``X`` as an ndarray of bool, int or float (memory maps stay memory maps), or a clear error."""
    if isinstance(X, (str, bytes)):
        raise TypeError(f"{name} must be numeric array data, got a string")
    if hasattr(X, "toarray") or hasattr(X, "tocsr"):
        raise TypeError(f"Sparse data was passed for {name}, but dense data is required: sparse input is not supported")
    arr = X if isinstance(X, np.ndarray) else np.asarray(X)
    if arr.dtype.kind == "O":
        arr = _numbers_from_objects(arr, name)
    if arr.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {arr.dtype}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} has dtype {arr.dtype}; expected numeric data (bool, int or float)")
    return arr


def _numbers_from_objects(arr, name):
    """An object array holding only numbers becomes float64; anything else is a TypeError."""
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} has dtype object with a non-numeric entry: {err}") from None


def _check_finite(arr, name, row_offset, allow_nan=False):
    # A sum is NaN or infinite whenever an entry is; it allocates nothing. Only
    # when it is not finite (a bad entry, or an overflow) look for the row.
    if np.isfinite(np.sum(arr, dtype=np.float64)):
        return
    bad = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
    if bad.any():
        row, *col = np.argwhere(bad)[0]
        where = f"row {row + row_offset}" + (f", column {col[0]}" if col else "")
        raise ValueError(f"{name} contains {arr[(row, *col)].item()} (NaN or infinity) at {where}")


#: Largest sample weight: leaves float64 room for weighted sums of squares over very many rows.
MAX_WEIGHT = 1e100


def check_weights(sample_weight, n_rows, *, row_offset=0):
    """Validate ``sample_weight`` for ``n_rows`` rows; ``None`` gives ``None``."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight has dtype {w.dtype}; expected numbers")
    w = w.astype(np.float64, copy=False)
    if w.ndim != 1 or w.shape[0] != n_rows:
        raise ValueError(f"sample_weight has shape {w.shape}; expected ({n_rows},), one weight per row")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(
            f"sample_weight must be finite and non-negative; row {row + row_offset} has {w[row]}"
        )
    if w.size and w.max() > MAX_WEIGHT:
        row = int(np.argmax(w))
        raise ValueError(f"sample_weight of row {row + row_offset} is {w[row]:.3g}, above {MAX_WEIGHT:.0e}: weighted "
                         "sums of squares would overflow float64. Weights are relative: divide them all by one "
                         "constant (the fitted model does not change)")
    return w


def check_support(X, bad, description, *, name="X", row_offset=0):
    """Raise if any entry of the boolean mask ``bad`` is set.

    ``description`` completes "values must be ..." (e.g. "non-negative integers").
    """
    if bad.any():
        row, *col = np.argwhere(bad)[0]
        where = f"row {row + row_offset}" + (f", column {col[0]}" if col else "")
        raise ValueError(f"{name} has {X[(row, *col)].item()!r} at {where}; values must be {description}")


def check_positive_int(value, name, *, allow_none=False, minimum=1):
    """Return ``value`` as an int ``>= minimum`` (or ``None`` when allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def check_fraction(value, name):
    """Return ``value`` as a float in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1]; got {value!r}")
    return float(value)


def check_bool(value, name):
    """Return ``value`` when it is a bool (``numpy.bool_`` included): ``"no"`` is not a truth value."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def check_real(value, name, *, minimum=None):
    """Return ``value`` as a finite float ``>= minimum`` (when given)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    if not np.isfinite(value) or (minimum is not None and value < minimum):
        need = "finite" if minimum is None else f"finite and >= {minimum}"
        raise ValueError(f"{name} must be {need}; got {value!r}")
    return float(value)


def check_prior(value, name):
    """Refuse a prior (a number or an array of them) with a negative or non-finite value, naming ``name``."""
    try:
        values = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or an array of numbers; got {value!r}") from None
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"{name} must be finite and >= 0 everywhere; got {value!r}")
    return value


def check_no_overflow(X, n_rows, overflows, *, name="X", row_offset=0):
    """Raise naming the first row whose statistics overflow float64.

    ``overflows(m)`` tells whether the statistics of the first ``m`` rows are
    no longer finite; it is called ``O(log n)`` times (only on this error path).
    """
    if not overflows(n_rows):
        return
    lo, hi = 0, n_rows  # overflows(lo) is False, overflows(hi) is True
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if overflows(mid) else (mid, hi)
    row = hi - 1
    value = np.asarray(X[row]).tolist()
    raise ValueError(f"{name} has {value!r} at row {row + row_offset}: the statistics up to this row overflow float64 "
                     "(a sum or a square beyond 1.8e308); rescale the data")


def json_numbers(value, field):
    """A parameter read from JSON as a finite float64 array: a number or rectangular nested lists of numbers.

    ``None`` passes through (an unfitted parameter). Booleans, strings and
    objects are refused, and so are NaN and infinities; errors name ``field``.
    """
    if value is None:
        return None
    # Level by level, with the type checks in C (map, chain): a description of millions of numbers loads fast.
    level = [value]
    while level:
        kinds = set(map(type, level))
        if kinds <= {int, float}:
            break
        if list in kinds and kinds != {list}:  # lists beside numbers: ragged, refused by np.asarray below
            level = [item for item in level if type(item) is not list] + \
                list(itertools.chain.from_iterable(item for item in level if type(item) is list))
            continue
        if kinds == {list}:
            level = list(itertools.chain.from_iterable(level))
            continue
        item = next(item for item in level if type(item) not in (int, float, list))
        raise ValueError(f"{field} must hold numbers only; found {type(item).__name__} {item!r:.40}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (ValueError, OverflowError) as err:
        raise ValueError(f"{field} must be a number or a rectangular array of numbers ({err})") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{field} must be finite; it holds {arr[~np.isfinite(arr)].ravel()[0]}")
    return arr


class RowError(ValueError):
    """A refusal that names one row; ``shifted(offset)`` renames it by its position in a larger whole.

    Raised where only a batch is in view (a kernel's output overflowing, say) and
    re-raised by the reader with the row's global index in the file.
    """

    def __init__(self, row, detail):
        super().__init__(f"row {row}: {detail}")
        self.row, self.detail = int(row), detail

    def shifted(self, row):
        """The same refusal, naming ``row`` instead."""
        return RowError(row, self.detail)


class NonFiniteValue(RowError):
    """A NaN or infinity found where a computation used it: check_batch's refusal, raised later.

    The message is the one :func:`check_batch` gives; ``shifted`` renames the row.
    """

    def __init__(self, row, column, value, name="X"):
        ValueError.__init__(self, f"{name} contains {value} (NaN or infinity) at row {int(row)}, column {int(column)}")
        self.row, self.column, self.value, self.name = int(row), int(column), value, name
        self.detail = str(self)

    def shifted(self, row):
        """The same refusal, naming ``row`` instead."""
        return NonFiniteValue(row, self.column, self.value, self.name)

    @classmethod
    def first_in(cls, rows, name="X"):
        """The refusal of the first non-finite value of the 2-D array ``rows`` (row counted within it), or ``None``."""
        bad = ~np.isfinite(rows)
        if not bad.any():
            return None
        row, column = np.argwhere(bad)[0]
        return cls(row, column, rows[row, column].item(), name)


def first_bad_row(compute, n_rows, is_bad):
    """The first row ``i`` such that ``is_bad(compute(0, i + 1))`` (a prefix property), by bisection.

    ``compute(start, stop)`` gives the statistics of rows ``start:stop``; once a
    bad row is in a prefix, every longer prefix is bad too (a sum that overflowed
    stays non-finite), so about ``log2(n_rows)`` evaluations find it.
    """
    low, high = 0, n_rows  # the answer is in [low, high)
    while high - low > 1:
        middle = (low + high) // 2
        if is_bad(compute(0, middle)):
            high = middle
        else:
            low = middle
    return low
