"""Scoring rows that already live on a device: computed in the rows' own array namespace, returned in it.

A CuPy array passed to ``predict``, ``predict_proba``, ``score_samples`` or
``transform`` is scored where it is: the fitted parameters (a few small
arrays) go to the device, the reference formulas of
:mod:`suffstats.backends.numpy_kernels` run in the rows' namespace, and the
result is an array of that namespace -- the rows never make a host round
trip. The same holds for any array of a non-NumPy array-API namespace, which
is how this path is tested without a device (``array_api_strict``).
"""

from __future__ import annotations

import numpy as np

from ..backends.numpy_kernels import logsumexp_rows, namespace, squared_distances, weighted_log_prob

__all__ = ["device_namespace", "check_device_rows", "gaussian_log_prob", "log_density", "posterior", "most_likely",
           "center_distances"]


def _cast(xp, array, dtype):
    """``xp.astype`` where the namespace has it (the standard), else the array's method (CuPy before 14)."""
    return xp.astype(array, dtype) if hasattr(xp, "astype") else array.astype(dtype)


def _is_kind(xp, dtype, kinds):
    """``xp.isdtype`` where the namespace has it, else NumPy's dtype kinds (CuPy's dtypes are NumPy's)."""
    if hasattr(xp, "isdtype"):
        return xp.isdtype(dtype, kinds)
    letters = {"real floating": "f", "integral": "iu", "bool": "b"}
    return np.dtype(dtype).kind in "".join(letters[k] for k in ((kinds,) if isinstance(kinds, str) else kinds))


def device_namespace(X):
    """The array namespace of ``X`` when it is a non-NumPy array (CuPy, ...), else ``None``.

    Examples
    --------
    >>> import numpy as np
    >>> device_namespace(np.zeros((2, 2))) is None, device_namespace([[0.0]]) is None
    (True, True)
    """
    if isinstance(X, np.ndarray) or type(X).__module__.startswith("dask"):
        return None
    if not hasattr(X, "__array_namespace__") and type(X).__module__.split(".")[0] != "cupy":
        return None
    xp = namespace(X)
    return None if xp is np else xp


def check_device_rows(xp, X, n_features, owner, allow_nan=False):
    """``X`` as float64 rows of ``n_features`` in its namespace, or a ``ValueError`` naming the problem.

    The finiteness check is one reduction on the device; only when it fails is
    the first bad row looked for (a second small reduction).
    """
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {tuple(X.shape)}")
    if X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features, but {owner} is expecting {n_features} features as input")
    if X.shape[0] == 0:
        raise ValueError(f"X is empty: a batch needs at least one row (got shape {tuple(X.shape)})")
    if not _is_kind(xp, X.dtype, ("real floating", "integral", "bool")):
        raise TypeError(f"X has dtype {X.dtype}; expected numeric data (bool, int or float)")
    X = _cast(xp, X, xp.float64)
    bad = xp.isinf(X) if allow_nan else ~xp.isfinite(X)
    bad_rows = xp.any(bad, axis=1)
    if bool(xp.any(bad_rows)):
        row = int(xp.argmax(_cast(xp, bad_rows, xp.int8)))
        kind = "an infinity" if allow_nan else "NaN or infinity"
        raise ValueError(f"X contains {kind} at row {row}")
    return X


def _same_precision(xp, X, out):
    """float32 rows give float32 results, as for host arrays (computed in float64 all the same)."""
    if X.dtype == xp.float32 and _is_kind(xp, out.dtype, "real floating"):
        return _cast(xp, out, xp.float32)
    return out


def gaussian_log_prob(model, X, xp):
    """``log π_j + log N(x | μ_j, Σ_j)``, shape (n, k), in ``xp`` (rows checked by the caller)."""
    means, prec_chol, log_weights = model._kernel_parameters()
    return weighted_log_prob(X, xp.asarray(means), xp.asarray(prec_chol), xp.asarray(log_weights),
                             model.covariance_type)


def _gaussian_rows(model, X):
    xp = device_namespace(X)
    if model.missing == "marginalize":
        raise ValueError("missing='marginalize' scores host arrays only: pass the rows as a NumPy array "
                         "(cupy.asnumpy(X)) to marginalise missing values")
    return xp, X, check_device_rows(xp, X, model.n_features_in_, "the mixture")


def log_density(model, X):
    """Log-density of each device row under a Gaussian mixture, shape (n,), in the rows' namespace."""
    xp, raw, rows = _gaussian_rows(model, X)
    return _same_precision(xp, raw, logsumexp_rows(xp, gaussian_log_prob(model, rows, xp)))


def posterior(model, X):
    """Component posteriors of each device row, shape (n, k), in the rows' namespace."""
    xp, raw, rows = _gaussian_rows(model, X)
    lp = gaussian_log_prob(model, rows, xp)
    return _same_precision(xp, raw, xp.exp(lp - logsumexp_rows(xp, lp)[:, None]))


def most_likely(model, X):
    """Most likely component of each device row, shape (n,), in the rows' namespace."""
    xp, _, rows = _gaussian_rows(model, X)
    return xp.argmax(gaussian_log_prob(model, rows, xp), axis=1)


def center_distances(model, X):
    """Euclidean distance of each device row to each centre, shape (n, k), in the rows' namespace."""
    xp = device_namespace(X)
    rows = check_device_rows(xp, X, model.n_features_in_, model.__class__.__name__)
    return _same_precision(xp, X, xp.sqrt(squared_distances(rows, xp.asarray(model.cluster_centers_))))
