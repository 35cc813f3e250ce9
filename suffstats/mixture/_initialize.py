"""Initial statistics for mixtures, independent of the batch size.

Every method works on a seeded uniform sample of rows drawn from the whole
data (``init_sample_size`` rows; all rows when there are fewer), never on "the
first batch". The default, ``kmeans``, costs one read of the sample and one
pass over the data: Lloyd's iterations run on the sample in memory, then every
row is assigned to its nearest centre for the starting moments.
``kmeans_full`` runs Lloyd's iterations out of core over all rows instead (up
to 100 passes).

=================  ============================================================
method             initial responsibilities
=================  ============================================================
kmeans             hard, nearest centre after k-means on the sample
kmeans_full        hard, nearest centre after k-means over all the data
k-means++          hard, nearest k-means++ seed (chosen on the sample)
random             random soft responsibilities on the sample
random_from_data   hard, nearest of k distinct sample rows
first-k            hard, nearest of the first k rows of the data
=================  ============================================================
"""

from __future__ import annotations

import numpy as np

from .._validation import check_batch, check_weights
from ..backends import get_backend
from ..backends.protocol import capabilities
from ..fit.driver import EMSettings, one_pass
from ._engine import MixtureEngine
from ._missing import fill_nearest, fill_sample
from ._moments import ComponentMoments, estimate_gaussian
from ._seeding import INIT_METHODS, draw_sample, seed_centers
from .kmeans import KMeans, check_centers

__all__ = ["INIT_METHODS", "draw_sample", "initial_gaussian", "initial_plan", "given_initial_parameters"]

def assignment_backend(name):
    """The backend that assigns rows to centres while initialising a model on backend ``name``: that one, or
    the NumPy reference when it has no nearest-centre kernels (a device with Gaussian kernels only)."""
    return name if "nearest-centre" in capabilities(get_backend(name)) else "numpy"


def hard_moments(X, w, centers, layout, backend="numpy"):
    """Moments of rows ``X`` (in memory) assigned to their nearest centre, through the mixture engine."""
    assignment = HardAssignment(X.shape[1], centers, layout, backend)
    acc = assignment._new_accumulator()
    assignment._accumulate(acc, X, w)
    return acc


def random_moments(X, w, k, layout, rng):
    """Moments of the sample under random soft responsibilities (rows normalised)."""
    resp = rng.uniform(size=(X.shape[0], k))
    resp /= resp.sum(axis=1, keepdims=True)
    if w is not None:
        resp *= w[:, None]
    shift = X[0]
    acc = ComponentMoments(np.tile(shift, (k, 1)), layout)
    Z = X - shift
    first = resp.T @ Z
    if layout == "full":
        second = np.einsum("ij,ik,il->jkl", resp, Z, Z)
    else:
        second = resp.T @ (Z * Z)
        second = second if layout == "diag" else second.sum(axis=1)
    acc.add((float(resp.sum()), 0.0, resp.sum(axis=0), first, second))
    return acc


def initial_gaussian(model, source, sample_weight, rng, strategy=None):
    """Initial weights, means and covariances of a :class:`~suffstats.GaussianMixture` (user-given ones win).

    The one pass of the ``kmeans`` start goes through ``strategy`` (local by
    default), as the epochs do: on a cluster the workers read the rows.
    """
    return initial_plan(model, source, sample_weight, rng, strategy).parameters()


def initial_plan(model, source, sample_weight, rng, strategy=None):
    """The ``InitialPlan`` of ``model`` with its pass (if any) done: its ``moments`` are the starting moments."""
    plan = InitialPlan.make(model, source, sample_weight, rng)
    if plan.assignment is not None:
        ranges = EMSettings(batch_size=model.batch_size).pass_ranges(source.n_rows, plan.assignment._block_rows)
        one_pass(plan.assignment, source, ranges, sample_weight, plan.moments, strategy=strategy,
                 progress=model.progress, label="initialization")
    return plan


class InitialPlan:
    """An initialisation in two steps: what is computed from the sample, then (for ``kmeans``) one pass.

    The pass is left to the caller, so that several models can share one read
    of the data: :attr:`assignment` is an engine model (every row to its nearest
    k-means centre) that fills :attr:`moments`; :meth:`parameters` then gives
    the starting weights, means and covariances.
    """

    def __init__(self, model, given, moments, assignment=None):
        self.model, self.given, self.moments, self.assignment = model, given, moments, assignment

    @classmethod
    def make(cls, model, source, sample_weight, rng):
        k, d, cov = model.n_components, source.n_features, model._cov
        given = given_initial_parameters(model, d)
        if all(v is not None for v in given):
            return cls(model, given, None)
        say = print if model.verbose else (lambda *a, **kw: None)
        if model.init_params == "kmeans_full":
            say(f"Initialization: k-means over all {source.n_rows:,} rows", flush=True)
            try:
                km = _kmeans(model, k, rng).fit(source, sample_weight=sample_weight)
            except ValueError as err:
                if getattr(model, "missing", "error") == "error" or "NaN" not in str(err):
                    raise
                raise ValueError(f"init_params='kmeans_full' needs complete rows ({err}); with missing values use "
                                 "init_params='kmeans', which starts from a sample with its holes filled") from None
        else:
            sample, w = draw_sample(source, sample_weight, model.init_sample_size, rng, model._validate_batch)
            if getattr(model, "missing", "error") == "marginalize":
                sample, w = fill_sample(sample, w)
            say(f"Initialization: {model.init_params} on a sample of {sample.shape[0]:,} rows", flush=True)
            if model.init_params == "random":
                return cls(model, given, random_moments(sample, w, k, cov.layout, rng))
            if model.init_params != "kmeans":
                centers = seed_centers(model.init_params, sample, w, k, rng, source)
                if np.isnan(centers).any():  # first-k rows with holes: filled by the sample's column means
                    centers = np.where(np.isnan(centers), sample.mean(axis=0), centers)
                return cls(model, given, hard_moments(sample, w, centers, cov.layout,
                                                      backend=assignment_backend(model.backend)))
            km = _kmeans(model, k, rng).fit(sample, sample_weight=w)
        say(f"Initialization: k-means took {km.n_iter_} iterations; assigning every row", flush=True)
        assignment = HardAssignment(d, km.cluster_centers_, cov.layout, assignment_backend(model.backend),
                                    getattr(model, "missing", "error"))
        return cls(model, given, assignment._new_accumulator(), assignment)

    def parameters(self):
        """Weights, means and covariances: the user's where given, else estimated from the moments."""
        if self.moments is None:
            return self.given
        estimated = estimate_gaussian(self.moments, self.model._cov, self.model.reg_covar)
        return tuple(g if g is not None else e for g, e in zip(self.given, estimated))


def _kmeans(model, k, rng):
    return KMeans(k, max_iter=100, random_state=rng, batch_size=model.batch_size,
                  init_sample_size=model.init_sample_size, backend=assignment_backend(model.backend),
                  progress=model.progress and model.init_params == "kmeans_full", verbose=0)


def given_initial_parameters(model, d):
    """User-given ``weights_init``, ``means_init`` and covariances from ``precisions_init`` (or None).

    The checks and their messages are scikit-learn's, so code written against
    :class:`sklearn.mixture.GaussianMixture` sees the same errors.
    """
    k, cov = model.n_components, model._cov
    weights = means = covariances = None
    if model.weights_init is not None:
        weights = _float_array(model.weights_init, "weights")
        _check_shape(weights, (k,), "weights")
        if (weights < 0).any() or (weights > 1).any():
            # scikit-learn's wording, with the two values in its order.
            raise ValueError("The parameter 'weights' should be in the range [0, 1], but got "
                             f"max value {np.min(weights):.5f}, min value {np.max(weights):.5f}")
        if not np.isclose(float(np.abs(1.0 - np.sum(weights))), 0.0, atol=1e-6 if weights.dtype == np.float32 else 1e-8):
            raise ValueError(f"The parameter 'weights' should be normalized, but got sum(weights) = {np.sum(weights):.5f}")
    if model.means_init is not None:
        means = _float_array(model.means_init, "means")
        _check_shape(means, (k, d), "means")
    if model.precisions_init is not None:
        name = f"{cov.name} precision"
        precisions = _float_array(model.precisions_init, name)
        _check_shape(precisions, cov.shape(k, d), name)
        if cov.layout == "full":
            for matrix in precisions.reshape(-1, d, d):
                if not (np.allclose(matrix, matrix.T) and np.all(np.linalg.eigvalsh(matrix) > 0.0)):
                    raise ValueError(f"'{name}' should be symmetric, positive-definite")
            covariances = np.linalg.inv(precisions)
        else:
            if np.any(precisions <= 0.0):
                raise ValueError(f"'{name}' should be positive")
            covariances = 1.0 / precisions
    return weights, means, covariances


def _float_array(value, name):
    """A finite float array of a user-given initial parameter."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"The parameter '{name}' must be numeric; got dtype {array.dtype}")
    # float32 stays float32 for the checks (a float32 sum of weights rounds as scikit-learn's does).
    array = array.astype(np.float32 if array.dtype == np.float32 else np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"The parameter '{name}' contains NaN or infinity")
    return array


def _check_shape(array, shape, name):
    if array.shape != tuple(shape):
        raise ValueError(f"The parameter '{name}' should have the shape of {tuple(shape)}, but got {array.shape}")


class HardAssignment(MixtureEngine):
    """Every row to its nearest centre, collecting Gaussian moments: an initialisation pass on the engine.

    It holds only the centres and what validation needs, so it travels to
    cluster workers as lightly as a model's parameters.
    """

    def __init__(self, n_features, centers, layout, backend, missing="error"):
        self.n_features, self.missing = n_features, missing
        self.centers, self.layout, self.backend = np.asarray(centers, np.float64), layout, backend

    def _validate_batch(self, X, w, row_offset):
        X = check_batch(X, n_features=self.n_features, row_offset=row_offset, owner="the mixture",
                        missing=self.missing)
        return X, check_weights(w, X.shape[0], row_offset=row_offset)

    def _shifts(self):
        return self.centers

    def _fit_parameters(self):
        return (self.centers,)

    def _load_fit_parameters(self, params):
        (centers,) = params
        self.centers = np.asarray(centers, np.float64)

    def _check_fit_parameters(self, params):
        check_centers(params, self.centers.shape[0], self.n_features)

    def _new_accumulator(self):
        return ComponentMoments(self.centers, self.layout)

    def _block_kernel(self):
        kernels, centers, layout = get_backend(self.backend, "nearest-centre"), self.centers, self.layout

        def block(X, w):
            X, w = fill_nearest(X, w, centers)  # rows with holes (missing="marginalize"): see mixture._missing
            weight, inertia, counts, first, second = kernels.nearest_block(X, w, centers, layout)
            return weight, -inertia, counts, first, second

        return kernels, block
