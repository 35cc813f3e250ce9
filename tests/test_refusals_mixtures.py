"""GaussianMixture and KMeans given bad input: a memory map holding an infinity, a bad ``batch_size`` and
rows whose squared distances underflow are refused by name, and property tests draw parameters, data (shapes,
dtypes, non-finite and huge values), weights, absorbed values and JSON at random. Any exception must be a
``ValueError`` or ``TypeError`` (``NotFittedError`` is a ``ValueError``), and a refused call must leave the model
exactly as it was. Bounded for CI; ``SUFFSTATS_HYPOTHESIS_LONG=1`` runs many more examples.
"""

import json
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import suffstats as ss

from .fits import _fit

LONG = os.environ.get("SUFFSTATS_HYPOTHESIS_LONG") == "1"
SETTINGS = settings(max_examples=1000 if LONG else 40, deadline=None, derandomize=not LONG,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ALLOWED = (ValueError, TypeError)

VALUES = st.one_of(st.floats(-10, 10), st.sampled_from([np.nan, np.inf, -np.inf, 1e300, -1e300, 0.0, 1e-320]))
PARAMETERS = st.fixed_dictionaries({}, optional={
    "n_components": st.one_of(st.integers(-1, 6), st.sampled_from([2.5, "3", None, True])),
    "covariance_type": st.sampled_from(["full", "tied", "diag", "spherical", "banana", None]),
    "batch_size": st.one_of(st.none(), st.integers(-2, 50), st.sampled_from([0.5, "7"])),
    "batches_per_epoch": st.one_of(st.none(), st.integers(-1, 3)),
    "max_iter": st.one_of(st.integers(-1, 3), st.sampled_from([1.5, None])),
    "tol": st.one_of(st.floats(-1, 1), st.sampled_from([np.nan, np.inf])),
    "reg_covar": st.one_of(st.floats(-1, 1e-3), st.sampled_from([np.nan, "x"])),
    "inertia": st.one_of(st.floats(-0.5, 1.5), st.sampled_from([np.nan])),
    "lr_decay": st.one_of(st.floats(-1, 2), st.sampled_from([np.inf, np.nan])),
    "init_params": st.sampled_from(["kmeans", "k-means++", "random", "random_from_data", "first-k", "median"]),
    "init_sample_size": st.one_of(st.none(), st.integers(-1, 30)),
    "backend": st.sampled_from(["numba", "numpy", "gpu9"]),
})


@st.composite
def data(draw):
    rows, cols = draw(st.integers(0, 40)), draw(st.integers(0, 3))
    X = np.array(draw(st.lists(VALUES, min_size=rows * cols, max_size=rows * cols)), dtype=np.float64)
    X = X.reshape(rows, cols)
    kind = draw(st.sampled_from(["float64", "float32", "int64", "object", "1-D", "3-D", "list"]))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if kind in ("float32", "int64"):
            return np.nan_to_num(X).astype(kind) if kind == "int64" else X.astype(kind)
        if kind == "object":
            out = X.astype(object)
            if out.size:
                out.flat[0] = draw(st.sampled_from(["x", None, [1.0]]))
            return out
        if kind == "1-D":
            return X.ravel()
        if kind == "3-D":
            return X[None]
        if kind == "list":
            return X.tolist()
    return X


def _state(model):
    """Everything a refused call must leave as it was (arrays compared by value)."""
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(model).items()
            if k not in ("callbacks",)}


def _same(before, model):
    after = vars(model)
    if before.keys() != after.keys() - {"callbacks"} and before.keys() != after.keys():
        return False
    for key, value in before.items():
        other = after[key]
        if isinstance(value, np.ndarray):
            if not (isinstance(other, np.ndarray) and value.shape == other.shape
                    and np.array_equal(value, other, equal_nan=True)):
                return False
        elif key == "_pending":
            if (value is None) != (other is None) or (value is not None and value.to_statistics() != other.to_statistics()):
                return False
        elif not _equal(value, other):  # scalars, lists, settings, helper objects: all of them stay
            return False
    return True


def _equal(a, b):
    if a is b:
        return True
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    try:
        return bool(a == b) or repr(a) == repr(b)
    except (ValueError, TypeError):
        return repr(a) == repr(b)


def _refused_or_done(call, model):
    before = _state(model)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            call()
    except ALLOWED:
        assert _same(before, model), "a refused call changed the model"
    except Exception as error:  # noqa: BLE001 -- the property: nothing else may escape
        raise AssertionError(f"{type(error).__name__} escaped: {error}") from error


@SETTINGS
@given(parameters=PARAMETERS, X=data(), weights=st.one_of(st.none(), st.lists(VALUES, min_size=0, max_size=45)))
def test_gaussian_mixture_fit_refuses_cleanly(parameters, X, weights):
    model = ss.GaussianMixture(2, random_state=0, max_iter=2)
    good = np.random.default_rng(0).normal(size=(30, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(good)
    model.set_params(**parameters)
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    _refused_or_done(lambda: model.fit(X, sample_weight=w), model)


@SETTINGS
@given(X=data(), k=st.integers(1, 3), which=st.sampled_from(["GaussianMixture", "KMeans"]))
def test_summarize_absorb_predict_refuse_cleanly(X, k, which):
    good = np.random.default_rng(1).normal(size=(40, 2))
    make = {"GaussianMixture": lambda n: ss.GaussianMixture(n, random_state=0, max_iter=2),
            "KMeans": lambda n: ss.KMeans(n, random_state=0, max_iter=2)}[which]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, other = make(2).fit(good), make(k).fit(good)
    model.summarize(good[:10])
    _refused_or_done(lambda: model.summarize(X), model)
    _refused_or_done(lambda: model.absorb(other.statistics(good[:5])), model)
    _refused_or_done(lambda: model.predict(X), model)
    _refused_or_done(lambda: model.score_samples(X) if which == "GaussianMixture" else model.transform(X), model)


@SETTINGS
@given(field=st.sampled_from(["weights", "means", "covariances", "lower_bounds", "n_iter", "converged", "settings",
                              "schema", "family"]),
       value=st.one_of(st.none(), st.booleans(), st.text(max_size=3), st.floats(allow_nan=True),
                       st.lists(st.floats(allow_nan=True), max_size=3),
                       st.lists(st.lists(st.floats(-2, 2), max_size=3), max_size=3),
                       st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)))
def test_gaussian_mixture_json_refuses_cleanly(field, value):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = ss.GaussianMixture(2, random_state=0, max_iter=2).fit(
            np.random.default_rng(2).normal(size=(30, 2))).to_dict()
    data[field] = value
    try:
        ss.io.from_json(json.dumps(data))
    except ALLOWED:
        pass
    except Exception as error:  # noqa: BLE001
        raise AssertionError(f"{type(error).__name__} escaped for {field}={value!r}: {error}") from error


def test_nan_in_the_middle_of_a_memory_map_keeps_the_last_good_parameters(tmp_path):
    rng = np.random.default_rng(0)
    good = rng.normal(size=(6000, 2))
    model = _fit(good, warm_start=True)
    before = (model.weights_.copy(), model.means_.copy(), model.covariances_.copy())
    bad = np.lib.format.open_memmap(tmp_path / "bad.npy", mode="w+", dtype=np.float64, shape=good.shape)
    bad[:] = good
    bad[4321, 0] = np.inf
    bad.flush()
    with pytest.raises(ValueError, match="row 4321, column 0"):
        model.fit(np.load(tmp_path / "bad.npy", mmap_mode="r"))
    for a, b in zip(before, (model.weights_, model.means_, model.covariances_)):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("batch_size", [0, -5, 2.5, "100"])
def test_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        ss.GaussianMixture(2, batch_size=batch_size).fit(np.ones((10, 2)))


def test_kmeans_on_rows_whose_squared_differences_underflow_is_refused():
    X = np.random.default_rng(0).normal(size=(200, 2)) * 1e-310
    with pytest.raises(ValueError, match="squared distances underflow"):
        ss.KMeans(2, random_state=0).fit(X)


def _stop_after(epochs, error):
    def callback(model, logs):
        if logs["epoch"] == epochs:
            raise error
    return callback


@pytest.mark.parametrize("error", [RuntimeError("stop"), KeyboardInterrupt()], ids=["callback error", "Ctrl-C"])
@pytest.mark.parametrize("make", [
    lambda **kw: ss.GaussianMixture(3, random_state=0, tol=0, **kw),
    lambda **kw: ss.KMeans(3, random_state=0, tol=0, **kw),
    lambda **kw: ss.GeneralMixtureModel([ss.Normal(), ss.Normal()], random_state=0, tol=0, **kw),
], ids=["GaussianMixture", "KMeans", "GeneralMixtureModel"])
def test_an_interrupted_fit_keeps_its_last_epoch_with_that_epochs_history(make, error):
    """A callback that raises (or Ctrl-C) after epoch 3 leaves the parameters and the history of 3 epochs,
    even over a model fitted before with more (refitted from a fresh start): never new parameters beside an
    old n_iter_."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-3, 1, (3000, 1)), rng.normal(3, 1, (3000, 1))])
    model = make(max_iter=10, callbacks=[_stop_after(3, error)])
    if not isinstance(model, ss.GeneralMixtureModel):  # (a fitted GeneralMixtureModel refits from where it is)
        model.max_iter, model.callbacks = 8, None
        model.fit(X)
        model.max_iter, model.callbacks = 10, [_stop_after(3, error)]
    with pytest.raises(type(error)):
        model.fit(X)
    three = make(max_iter=3).fit(X)
    assert model.n_iter_ == 3
    for name in ("means_", "cluster_centers_", "lower_bounds_", "inertia_", "lower_bound_"):
        if hasattr(three, name):
            assert np.array_equal(np.asarray(getattr(model, name)), np.asarray(getattr(three, name))), name
    if hasattr(three, "distributions"):
        assert [d.mean for d in model.distributions] == [d.mean for d in three.distributions]
