"""Model JSON from outside: every refusal is a clear ``ValueError`` naming the field, and nothing is executed.
Covers malformed and malicious documents, field-by-field checks, size and nesting limits, declared sizes,
numbers checked level by level, and the round trip of every family and of a fitted GaussianMixture. The
property-based versions (random fields of a distribution's or a GaussianMixture's document) are in
``tests/test_refusals_distributions_properties.py`` and ``tests/test_refusals_mixtures.py``.
"""

import json

import numpy as np
import pytest

import suffstats as ss
from suffstats import io
from suffstats._json import parse_json
from suffstats.distributions import FAMILIES

from .fits import _fit


def _doc(family="Normal", **fields):
    return json.dumps({"schema": 1, "family": family, **fields})


NORMAL = {"parameters": {"mean": 0.0, "std": 1.0}}


@pytest.mark.parametrize("text, pattern", [
    (_doc("Categorical", parameters={"probs": [1.5, -0.5]}), "non-negative numbers summing to 1"),
    ('{"schema": 1, "family": "Normal", "parameters": {"mean": NaN, "std": 1.0}}', r"parameters.mean must be finite"),
    (_doc(**NORMAL, frozen="no"), "frozen must be True or False; got 'no'"),
    (_doc(**NORMAL, frozen=1), "frozen must be True or False"),
    (_doc(**NORMAL, inertia="abc"), r"inertia must be a number in \[0, 1\]"),
    (_doc(parameters={"mean": "abc", "std": 1.0}), "parameters.mean must hold numbers only; found str"),
    (_doc(parameters={"mean": True, "std": 1.0}), "parameters.mean must hold numbers only; found bool"),
    (_doc(parameters={"mean": [1, [2]], "std": 1.0}), "parameters.mean must be a number or a rectangular array"),
    (_doc(parameters={"mean": 0.0, "std": -1.0}), "std must be positive"),
    (_doc(parameters={"mean": 0.0, "std": 1.0, "shape": 2.0}), r"must have exactly \['mean', 'std'\]"),
    (_doc(parameters=[0.0, 1.0]), "'parameters' must be an object"),
    (_doc("Poisson", parameters={"rate": 1e400}), "must be finite"),
    (_doc("MultivariateNormal", parameters={"mean": [0, 0], "covariance": [[1, 2], [2, 1]]}), "not positive definite"),
    (_doc("MultivariateNormal", parameters={"mean": [0, 0], "covariance": [[1, 0], [0, 1]]}, reg_covar="x"),
     "reg_covar must be a real number"),
    (_doc("MultivariateNormal", parameters={"mean": [0], "covariance": [[1]]}, covariance_type="tied"),
     "covariance_type must be one of"),
    (_doc("Categorical", parameters={"probs": None}, n_categories="3"), "n_categories must be an integer"),
    (_doc("IndependentComponents", distributions=[json.loads(_doc(**NORMAL)),
                                                   json.loads(_doc(parameters={"mean": 0, "std": 0}))]),
     r"model.distributions\[1\]: malformed Normal: parameter std must be positive"),
    (_doc("IndependentComponents", distributions=[]), r"model.distributions must be a non-empty list"),
    ('{"schema": "1", "family": "Normal"}', "schema version '1'"),
    ('{"schema": true, "family": "Normal"}', "schema version True"),
    ('{"schema": 1, "family": ["Normal"]}', "unknown model family"),
    ("[" * 100_000 + "]" * 100_000, "nested 100000 levels deep"),
    ('{"a": ' * 70 + "1" + "}" * 70, "nested 70 levels deep"),
    (b"\xff\xfe", "not valid JSON"),
])
def test_model_json_is_checked_field_by_field(text, pattern):
    with pytest.raises(ValueError, match=pattern) as info:
        ss.from_json(text)
    assert isinstance(info.value, io.ModelFormatError)


@pytest.mark.parametrize("text", ["[" * 10_000, '{"a":' * 5000, "1" * 10, '"\\ud800"', "\x00"])
def test_hostile_json_text(text):
    with pytest.raises(ValueError):
        ss.from_json(text)


def test_model_json_size_limit_is_checked_before_parsing(monkeypatch, tmp_path):
    monkeypatch.setattr("suffstats._json.MAX_JSON_BYTES", 100)
    monkeypatch.setattr(io, "MAX_JSON_BYTES", 100)
    with pytest.raises(ValueError, match="refusing more than 100"):
        ss.from_json(_doc(**NORMAL, padding="x" * 200))
    (tmp_path / "big.json").write_text(_doc(**NORMAL, padding="x" * 200))
    with pytest.raises(ValueError, match="big.json: .*refusing model files above 100"):
        ss.load(tmp_path / "big.json")


def test_round_trip_of_every_family_still_works():
    for model in (ss.Normal(1.0, 2.0, frozen=True), ss.Categorical([0.25, 0.75], pseudocount=1.0),
                  ss.MultivariateNormal([0.0, 1.0], [[2.0, 0.5], [0.5, 1.0]]),
                  ss.IndependentComponents([ss.Poisson(2.0), ss.Uniform(0.0, 1.0)], inertia=0.5)):
        assert ss.from_json(ss.to_json(model)).to_dict() == model.to_dict()


def test_gaussian_mixture_json_round_trip(tmp_path):
    model = _fit(np.random.default_rng(0).normal(size=(500, 2)))
    ss.save(model, tmp_path / "m.json")
    loaded = ss.load(tmp_path / "m.json")
    X = np.random.default_rng(1).normal(size=(50, 2))
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))


def test_a_user_subclass_does_not_replace_a_builtin_family():
    builtin = FAMILIES["Normal"]

    class Normal(ss.Normal):  # a user's class with a built-in's name
        pass

    assert FAMILIES["Normal"] is builtin
    with pytest.raises(ValueError, match="'Normal' is already registered"):
        io.register_family(Normal)

    class Shifted(ss.Normal):
        pass

    try:
        assert io.register_family(Shifted) is Shifted
        assert type(ss.from_json(ss.to_json(Shifted(0.0, 1.0)))) is Shifted
    finally:
        FAMILIES.pop("Shifted")


def test_schema_version_is_one_constant():
    for model in (ss.Normal(0.0, 1.0), ss.IndependentComponents([ss.Normal(0.0, 1.0)])):
        assert model.to_dict()["schema"] == io.SCHEMA_VERSION

def test_parse_json_refuses_non_text():
    with pytest.raises(TypeError, match="must be text"):
        parse_json(3)

@pytest.mark.parametrize("text, pattern", [
    ('{"schema": 1, "family": "Categorical", "parameters": {"probs": null}, "n_categories": 1000000000000}',
     "declares n_categories = 1000000000000"),
    ('{"schema": 1, "family": "GaussianMixture", "settings": {"n_components": 99999999999}, "weights": [], '
     '"means": [], "covariances": []}', "declares n_components"),
    ('{"schema": 7, "family": "GaussianMixture"}', "schema version 7"),
    ('{"schema": 1, "family": "GaussianMixture", "settings": {"n_components": 2}, "weights": [1.0], '
     '"means": [[0.0, 1.0]], "covariances": [[[1.0, 0.0], [0.0, 1.0]]]}', "1 means but n_components = 2"),
    ('{"schema": 1, "family": "GaussianMixture", "settings": {"n_components": 1, "covariance_type": "full"}, '
     '"weights": [1.0], "means": [[0.0, 1.0]], "covariances": [[[1.0, 2.0], [2.0, 1.0]]]}', "not positive definite"),
])
def test_malicious_or_malformed_model_json(text, pattern):
    with pytest.raises(ValueError, match=pattern):
        ss.from_json(text)

@pytest.mark.parametrize("text, pattern", [
    ('{"schema": 1, "family": "KMeans", "settings": {"n_clusters": 2}, "cluster_centers": [[], []]}',
     r"n_features >= 1\) array; got shape \(2, 0\)"),
    ('{"schema": 1, "family": "KMeans", "settings": {"n_clusters": 2}, "cluster_centers": [[1, 2], [3, 4]], '
     '"inertia": -5}', "inertia must be a non-negative number"),
])
def test_kmeans_json_out_of_range_is_refused(text, pattern):
    with pytest.raises(ValueError, match=pattern):
        ss.from_json(text)

def test_to_json_of_something_else_names_what_it_got():
    with pytest.raises(TypeError, match="to_json takes a suffstats model .* got object"):
        ss.to_json(object())

@pytest.mark.parametrize("value, message", [
    ([[1, True]], "numbers only; found bool True"),
    ([["a"]], "numbers only; found str 'a'"),
    ([[1], [2, 3]], "rectangular array"),
    ([[1, [2]]], "rectangular array"),
    ([[float("nan")]], "must be finite"),
])
def test_json_numbers_are_checked_level_by_level(value, message):
    from suffstats._validation import json_numbers

    with pytest.raises(ValueError, match=message):
        json_numbers(value, "means")
    assert json_numbers([[1, 2.5], [3, 4]], "means").tolist() == [[1.0, 2.5], [3.0, 4.0]]

@pytest.mark.parametrize(
    "text, pattern",
    [
        ("{not json", "not a valid model JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"schema": 99, "family": "Normal"}', "schema version 99"),
        ('{"schema": 1, "family": "os.system"}', "unknown model family 'os.system'"),
        ('{"schema": 1, "family": "Normal"}', "malformed Normal"),
    ],
)
def test_malformed_json_is_refused(text, pattern):
    with pytest.raises(ValueError, match=pattern):
        ss.from_json(text)


def test_declared_sizes_are_found_below_lists_of_numbers():
    from suffstats.distributions._registry import _check_declared_sizes

    with pytest.raises(ValueError, match="declares n_categories = 100000000000"):
        _check_declared_sizes({"distributions": [[{"n_categories": 10**11}]], "means": [[1.0, 2.0]]})
