"""One table of parameter constraints shared by the mixture estimators, checked at ``fit``."""

from __future__ import annotations

import numbers

import numpy as np

from .._feature_names import check_feature_names
from .._validation import check_fraction, check_missing_policy, check_positive_int
from ..backends import available_backends
from ..data.blocks import batch_ranges
from ..data.source import as_source
from ..distributions.covariance import COVARIANCE_TYPES
from ._seeding import INIT_METHODS


#: What :class:`~suffstats.GaussianMixtureSearch` can choose the best candidate by.
CRITERIA = ("bic", "aic", "heldout")
#: The priors on the weights of a :class:`~suffstats.BayesianGaussianMixture`.
WEIGHT_PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")


def _int(minimum, allow_none=False):
    return lambda v, name: check_positive_int(v, name, minimum=minimum, allow_none=allow_none)


def _non_negative(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < float("inf"):
        raise ValueError(f"{name} must be a finite non-negative number; got {value!r}")


def _one_of(*options):
    def check(value, name):
        if not isinstance(value, str) or value not in options:
            raise ValueError(f"{name} must be one of {list(options)}; got {value!r}")
    return check


def _random_state(value, name):
    if value is None or isinstance(value, (np.random.RandomState, np.random.Generator)):
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < 2**32:
        raise ValueError(f"{name} must be None, an integer in [0, 2**32 - 1], a numpy.random.Generator or a "
                         f"numpy.random.RandomState; got {value!r:.60}")


def _callbacks(value, name):
    if value is None:
        return
    if callable(value) or isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{name} must be a list of functions callback(model, logs); got {value!r:.60} "
                         f"(wrap a single function in a list: {name}=[f])")
    wrong = [c for c in value if not callable(c)]
    if wrong:
        raise ValueError(f"{name} must hold functions callback(model, logs); {wrong[0]!r:.60} is not callable")


CONSTRAINTS = {
    "n_components": _int(1),
    "n_clusters": _int(1),
    "max_iter": _int(0),
    "n_init": _int(1),
    "tol": _non_negative,
    "reg_covar": _non_negative,
    "lr_decay": _non_negative,
    "inertia": check_fraction,
    "batch_size": _int(1, allow_none=True),
    "batches_per_epoch": _int(1, allow_none=True),
    "init_sample_size": _int(1, allow_none=True),
    "verbose": _int(0),
    "verbose_interval": _int(1),
    "covariance_type": _one_of(*COVARIANCE_TYPES),
    "init_params": _one_of(*INIT_METHODS),
    "weight_concentration_prior_type": _one_of(*WEIGHT_PRIOR_TYPES),
    "compute_dtype": _one_of("float64", "float32"),
    "missing": check_missing_policy,
    "backend": lambda value, name: _one_of(*available_backends())(value, name),
    "random_state": _random_state,
    "callbacks": _callbacks,
}


def check_warm_start(model, n_features):
    """Refuse a warm start whose fitted parameters do not fit the current settings or data."""
    k, d = model.means_.shape
    for name, value in getattr(model, "_fitted_settings", {}).items():
        if getattr(model, name) != value:
            raise ValueError(f"warm_start=True but the fitted parameters were made with {name}={value!r}, not "
                             f"{getattr(model, name)!r}; set warm_start=False to start over")
    if k != model.n_components:
        raise ValueError(f"warm_start=True but the fitted model has {k} components and n_components = "
                         f"{model.n_components}; set warm_start=False to start over")
    if np.shape(model.covariances_) != model._cov.shape(k, d):
        raise ValueError(f"warm_start=True but the fitted covariances have shape {np.shape(model.covariances_)}, "
                         f"not that of covariance_type={model.covariance_type!r}; set warm_start=False to start over")
    if n_features != d:
        raise ValueError(f"X has {n_features} features, but {type(model).__name__} is expecting {d} features as input")


def check_settings(model):
    """Check every constructor argument of ``model`` that the table knows."""
    for name, check in CONSTRAINTS.items():
        if hasattr(model, name):
            check(getattr(model, name), name)


#: Rows per batch for prediction and scoring when the model has no ``batch_size``.
SCORING_BATCH = 65_536


def map_batches(model, X, function, validate=None):
    """Apply ``function`` to validated batches of ``X`` and concatenate (memory maps stay on disk).

    ``validate(X, w, row_offset)`` checks each batch (default: the model's ``_validate_batch``).
    """
    validate = model._validate_batch if validate is None else validate
    check_feature_names(model, X, reset=False)
    source = as_source(X)
    if source.n_rows == 0:
        validate(source.read(0, 0), None, 0)  # raises: empty input
    outputs = []
    for start, stop in batch_ranges(source.n_rows, model.batch_size or SCORING_BATCH):
        batch, _ = validate(source.read(start, stop), None, start)
        outputs.append(function(batch))
    out = np.concatenate(outputs) if outputs else np.empty(0)
    # float32 data gives float32 results, as in scikit-learn (computed in float64 all the same).
    return out.astype(np.float32) if source.dtype == np.float32 and out.dtype.kind == "f" else out
