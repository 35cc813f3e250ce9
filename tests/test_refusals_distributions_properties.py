"""Property tests on the distributions' public API: batches, weights, absorbed statistics, statistics dicts
and model JSON are drawn at random for every family. Any exception must be a ``ValueError`` or ``TypeError``
(``ModelFormatError`` is a ``ValueError``), a refused call must leave the model exactly as it was, and whatever
model JSON loads must round-trip. Bounded for CI; ``SUFFSTATS_HYPOTHESIS_LONG=1`` runs many more examples.
"""

import json
import os
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import suffstats as ss
from suffstats.statistics import Additive, Composite, Moments, Statistics

LONG = os.environ.get("SUFFSTATS_HYPOTHESIS_LONG") == "1"
SETTINGS = settings(max_examples=2000 if LONG else 60, deadline=None, derandomize=not LONG,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

ALLOWED = (ValueError, TypeError)

FAMILIES = {
    "Normal": lambda: ss.Normal(), "Normal-fit": lambda: ss.Normal(1.0, 2.0),
    "LogNormal": lambda: ss.LogNormal(0.0, 1.0), "Exponential": lambda: ss.Exponential(),
    "Gamma": lambda: ss.Gamma(2.0, 1.0), "Beta": lambda: ss.Beta(), "Poisson": lambda: ss.Poisson(3.0),
    "Bernoulli": lambda: ss.Bernoulli(0.5), "Geometric": lambda: ss.Geometric(),
    "Categorical": lambda: ss.Categorical(n_categories=3, pseudocount=0.5), "Uniform": lambda: ss.Uniform(0.0, 1.0),
    "MVN": lambda: ss.MultivariateNormal(), "MVN-fit": lambda: ss.MultivariateNormal([0.0, 0.0], np.eye(2)),
    "MVN-diag": lambda: ss.MultivariateNormal(covariance_type="diag"),
    "MVN-spherical": lambda: ss.MultivariateNormal([1.0, 2.0], 0.5, covariance_type="spherical"),
    "Independent": lambda: ss.IndependentComponents([ss.Normal(), ss.Poisson()]),
}

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.floats(-5, 5), st.integers(-3, 5).map(float),
    st.sampled_from([0.0, 1.0, 0.5, -1.0, 1e300, -1e300, 1e154, 1e-320, 2.0**63]),
)
DTYPES = st.sampled_from(["float64", "float32", "float16", "int64", "int8", "uint8", "bool", "object", "complex128",
                          "U3"])


@st.composite
def arrays(draw):
    shape = draw(st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple))
    values = np.array(draw(st.lists(NUMBERS, min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))),
                      dtype=np.float64).reshape(shape)
    dtype = draw(DTYPES)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if dtype == "object":
            out = values.astype(object)
            if out.size and draw(st.booleans()):
                out.flat[0] = draw(st.sampled_from(["x", None, [1.0], {}]))
            return out
        if dtype == "U3":
            return values.astype("U3")
        return np.nan_to_num(values).astype(dtype) if dtype[0] in "iub" else values.astype(dtype)


def weights(n):
    return st.one_of(st.none(), st.lists(NUMBERS, min_size=n, max_size=n).map(np.array),
                     st.lists(NUMBERS, min_size=0, max_size=3).map(np.array), st.just("abc"))


def statistics_values():
    moments = st.builds(lambda w, d, s, layout: Moments(w, np.zeros(d), np.full(d, s),
                                                        {"full": np.eye(d), "diag": np.ones(d), "trace": 1.0}[layout]),
                        NUMBERS, st.integers(1, 3), NUMBERS, st.sampled_from(["full", "diag", "trace"]))
    additive = st.builds(lambda names, v: Additive({n: v for n in names}),
                         st.lists(st.sampled_from(["weight", "sum", "sum_log", "counts", "low", "high"]),
                                  min_size=1, max_size=3, unique=True), NUMBERS)
    flat = st.one_of(moments, additive)
    return st.one_of(flat, st.lists(flat, min_size=1, max_size=3).map(Composite),
                     st.sampled_from([None, 3, [1.0], "stats"]))


JSON = st.recursive(st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=5)),
                    lambda inner: st.one_of(st.lists(inner, max_size=3),
                                            st.dictionaries(st.text(max_size=5), inner, max_size=3)), max_leaves=10)


def state(model):
    pending = model.pending
    return json.dumps([model.to_dict(), None if pending is None else pending.to_dict()], sort_keys=True)


def refused_or_fine(model, call):
    before = state(model)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # warnings are allowed; exceptions are what is checked
            call()
    except ALLOWED:
        assert state(model) == before, "a refused call changed the model"
    # any other exception propagates and fails the test


@SETTINGS
@given(name=st.sampled_from(sorted(FAMILIES)), X=arrays(), data=st.data(),
       method=st.sampled_from(["summarize", "statistics", "fit", "log_probability"]))
def test_random_batches(name, X, data, method):
    model = FAMILIES[name]()
    w = data.draw(weights(X.shape[0] if X.ndim else 0))
    if method == "log_probability":
        refused_or_fine(model, lambda: model.log_probability(X))
    else:
        refused_or_fine(model, lambda: getattr(model, method)(X, sample_weight=w))
    refused_or_fine(model, model.from_summaries)


@SETTINGS
@given(name=st.sampled_from(sorted(FAMILIES)), values=st.lists(statistics_values(), min_size=1, max_size=3),
       n=st.one_of(NUMBERS, st.integers(-2, 5), st.just("3")))
def test_random_absorb_update_and_sample(name, values, n):
    model = FAMILIES[name]()
    for value in values:
        refused_or_fine(model, lambda: model.absorb(value))
    refused_or_fine(model, model.from_summaries)
    refused_or_fine(model, lambda: model.sample(n, random_state=0))


@SETTINGS
@given(name=st.sampled_from(sorted(FAMILIES)), path=st.lists(st.sampled_from(["parameters", "mean", "std", "probs",
                                                                               "covariance", "distributions", 0, 1,
                                                                               "frozen", "inertia", "schema",
                                                                               "family", "n_categories", "rate"]),
                                                              min_size=1, max_size=3), value=JSON)
def test_random_model_json(name, path, value):
    doc = FAMILIES[name]().to_dict()
    target = doc
    for key in path[:-1]:
        nxt = target.get(key) if isinstance(target, dict) else (
            target[key] if isinstance(target, list) and isinstance(key, int) and key < len(target) else None)
        if not isinstance(nxt, (dict, list)):
            break
        target = nxt
    if isinstance(target, dict):
        target[path[-1]] = value
    elif isinstance(target, list) and target:
        target[0] = value
    try:
        loaded = ss.from_json(json.dumps(doc))
    except ValueError:
        return
    # Whatever loads is a working model.
    assert ss.from_json(ss.to_json(loaded)).to_dict() == loaded.to_dict()


@SETTINGS
@given(name=st.sampled_from(sorted(FAMILIES)), data=JSON)
def test_random_statistics_dicts(name, data):
    try:
        value = Statistics.from_dict(data)
    except ValueError:
        return
    model = FAMILIES[name]()
    refused_or_fine(model, lambda: model.absorb(value))
