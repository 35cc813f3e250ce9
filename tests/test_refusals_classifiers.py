"""BayesClassifier, NaiveBayes and GaussianNB given hostile labels and priors: refused by name (and row), the
model left exactly as it was; labels read from a memory map give the in-memory fit.
"""

import copy

import numpy as np
import pytest

import suffstats as ss
from suffstats import BayesClassifier, GaussianNB, MultivariateNormal, NaiveBayes, Normal

rng = np.random.default_rng(0)
X = np.concatenate([rng.normal(0, 1, (60, 2)), rng.normal(4, 1, (60, 2))])
Y = np.repeat([0, 1], 60)


def _bayes():
    return BayesClassifier([MultivariateNormal(), MultivariateNormal()], max_iter=5)


def _naive():
    return NaiveBayes([Normal(), Normal()], max_iter=5)


MAKERS = {"BayesClassifier": _bayes, "NaiveBayes": _naive, "GaussianNB": GaussianNB}


def _state(model):
    """Every attribute (deep-copied) and, when fitted, the JSON text."""
    state = {name: copy.deepcopy(value) for name, value in vars(model).items()}
    fitted = getattr(model, "fitted", hasattr(model, "theta_"))
    return state, ss.to_json(model) if fitted else None


def _same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype and \
            np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if hasattr(a, "__dict__") and not isinstance(a, type):
        return type(a) is type(b) and _same(vars(a), vars(b))
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and np.isnan(b)
    return a == b


def _assert_unchanged(model, before):
    after = _state(model)
    assert after[0].keys() == before[0].keys(), set(after[0]) ^ set(before[0])
    for name in before[0]:
        assert _same(before[0][name], after[0][name]), name
    assert after[1] == before[1]


def _memmap(tmp_path, values, name="y.npy"):
    path = tmp_path / name
    np.save(path, np.asarray(values))
    return np.load(path, mmap_mode="r")


def _bad_labels(tmp_path):
    nan = Y.astype(float)
    nan[17] = np.nan
    half = Y.astype(float)
    half[33] = 0.5
    return {
        "shorter": (Y[:-1], r"y has 119 labels but X has 120 rows"),
        "longer": (np.r_[Y, 0], r"y has 121 labels but X has 120 rows"),
        "memmap shorter": (_memmap(tmp_path, Y[:-3]), r"y has 117 labels but X has 120 rows"),
        "NaN": (nan, r"y holds nan at row 17"),
        "not an integer": (half, r"Unknown label type: continuous \(y holds 0\.5 at row 33"),
        "memmap not an integer": (_memmap(tmp_path, half), r"Unknown label type: continuous \(y holds 0\.5 at row 33"),
        "2-D": (np.c_[Y, Y], r"y must be 1-D|y should be a 1d array"),
    }


@pytest.mark.parametrize("case", ["shorter", "longer", "memmap shorter", "NaN", "not an integer",
                                  "memmap not an integer", "2-D"])
@pytest.mark.parametrize("fitted", [False, True])
@pytest.mark.parametrize("kind", list(MAKERS))
def test_bad_labels_are_refused_by_name_and_row_and_leave_the_model_unchanged(tmp_path, kind, fitted, case):
    labels, message = _bad_labels(tmp_path)[case]
    model = MAKERS[kind]()
    if fitted:
        model.fit(X, Y)
    before = _state(model)
    with pytest.raises(ValueError, match=message):
        model.fit(X, labels)
    _assert_unchanged(model, before)


@pytest.mark.parametrize("case", ["shorter", "memmap shorter", "NaN", "memmap not an integer"])
def test_partial_fit_refuses_bad_labels_and_keeps_its_totals(tmp_path, case):
    labels, message = _bad_labels(tmp_path)[case]
    model = GaussianNB().partial_fit(X[:50], Y[:50], classes=[0, 1])
    before = _state(model)
    with pytest.raises(ValueError, match=message):
        model.partial_fit(X, labels)
    _assert_unchanged(model, before)
    model.partial_fit(X[50:], Y[50:])
    whole = GaussianNB().fit(X, Y)
    assert np.allclose(model.theta_, whole.theta_, rtol=1e-13, atol=0)
    assert np.allclose(model.var_, whole.var_, rtol=1e-12, atol=0)
    assert np.array_equal(model.class_count_, whole.class_count_)


def test_partial_fit_refuses_a_label_not_in_classes_naming_its_row():
    model = GaussianNB().partial_fit(X[:50], Y[:50], classes=[0, 1])
    before = _state(model)
    labels = Y.copy()
    labels[77] = 2
    with pytest.raises(ValueError, match=r"\[2\].*y.*row 77"):
        model.partial_fit(X, labels)
    _assert_unchanged(model, before)


def test_a_first_partial_fit_with_a_label_not_in_classes_leaves_the_model_unfitted():
    model = GaussianNB()
    before = _state(model)
    with pytest.raises(ValueError, match=r"\[1\].*row 60"):
        model.partial_fit(X, Y, classes=[0])
    _assert_unchanged(model, before)


@pytest.mark.parametrize("kind", ["BayesClassifier", "NaiveBayes"])
def test_a_class_number_out_of_range_is_refused_naming_its_row(kind):
    model = MAKERS[kind]().fit(X, Y)
    before = _state(model)
    labels = Y.copy()
    labels[90] = 2
    with pytest.raises(ValueError, match=r"\[2\].*row 90"):
        model.fit(X, labels)
    _assert_unchanged(model, before)


@pytest.mark.parametrize("kind", ["BayesClassifier", "NaiveBayes"])
@pytest.mark.parametrize("fitted", [False, True])
@pytest.mark.parametrize("source", ["array", "memmap"])
def test_string_labels_with_minus_one_are_refused_by_the_class_number_classifiers(tmp_path, kind, fitted, source):
    model = MAKERS[kind]()
    if fitted:
        model.fit(X, Y)
    before = _state(model)
    labels = np.where(Y == 0, "cat", "dog").astype(object)
    labels[::3] = -1
    labels = labels.astype(str) if source == "array" else _memmap(tmp_path, labels.astype(str))
    with pytest.raises(ValueError, match=r"y must hold class numbers"):
        model.fit(X, labels)
    _assert_unchanged(model, before)


def test_gaussian_nb_takes_strings_with_minus_one_as_three_classes_as_scikit_learn_does():
    from sklearn.naive_bayes import GaussianNB as Theirs
    labels = np.where(Y == 0, "cat", "dog").astype(object)
    labels[::3] = "-1"
    labels = labels.astype(str)
    ours, theirs = GaussianNB().fit(X, labels), Theirs().fit(X, labels)
    assert ours.classes_.tolist() == theirs.classes_.tolist() == ["-1", "cat", "dog"]
    assert np.allclose(ours.theta_, theirs.theta_, rtol=1e-12, atol=0)


@pytest.mark.parametrize("kind", ["BayesClassifier", "NaiveBayes"])
@pytest.mark.parametrize("fitted", [False, True])
def test_a_class_with_no_labelled_rows_and_no_parameters_is_refused(kind, fitted):
    model = MAKERS[kind]()
    if fitted:
        model.fit(X, Y)
        model = MAKERS[kind]()  # a fresh template: its class 1 has no parameters
    before = _state(model)
    labels = np.where(Y == 1, -1, 0)
    with pytest.raises(ValueError, match=r"class 1 has no labelled rows"):
        model.fit(X, labels)
    _assert_unchanged(model, before)


def test_gaussian_nb_a_declared_class_with_no_rows_gets_zero_count_as_scikit_learn():
    from sklearn.naive_bayes import GaussianNB as Theirs
    ours = GaussianNB().partial_fit(X, Y, classes=[0, 1, 2])
    theirs = Theirs().partial_fit(X, Y, classes=[0, 1, 2])
    assert ours.class_count_.tolist() == theirs.class_count_.tolist() == [60.0, 60.0, 0.0]
    assert np.isfinite(ours.predict_log_proba(X)[:, :2]).all()


@pytest.mark.parametrize("kind", ["BayesClassifier", "NaiveBayes"])
@pytest.mark.parametrize("fitted", [False, True])
@pytest.mark.parametrize("source", ["array", "memmap"])
def test_every_row_unlabelled_is_refused(tmp_path, kind, fitted, source):
    model = MAKERS[kind]()
    if fitted:
        model.fit(X, Y)
    before = _state(model)
    labels = np.full(len(X), -1)
    if source == "memmap":
        labels = _memmap(tmp_path, labels)
    with pytest.raises(ValueError, match=r"every row is unlabelled"):
        model.fit(X, labels)
    _assert_unchanged(model, before)


def test_gaussian_nb_takes_minus_one_as_a_class_as_scikit_learn_does():
    model = GaussianNB().fit(X, np.full(len(X), -1))
    assert model.classes_.tolist() == [-1] and model.class_count_.tolist() == [120.0]


@pytest.mark.parametrize("priors, message", [
    ([0.3, 0.3], r"priors must sum to 1"),
    ([1.2, -0.2], r"priors must be finite and non-negative"),
    ([np.nan, 1.0], r"priors must be finite and non-negative"),
    ([1.0], r"priors must hold one number per class"),
])
@pytest.mark.parametrize("kind", ["BayesClassifier", "NaiveBayes"])
def test_bad_priors_are_refused_by_name(kind, priors, message):
    with pytest.raises(ValueError, match=message):
        (_bayes if kind == "BayesClassifier" else _naive)().__class__(
            [MultivariateNormal(), MultivariateNormal()] if kind == "BayesClassifier" else [Normal(), Normal()],
            priors=priors)


@pytest.mark.parametrize("priors, message", [
    ([0.3, 0.3], r"sum of the priors should be 1"),
    ([1.2, -0.2], r"Priors must be non-negative"),
    ([1.0], r"Number of priors must match number of classes"),
])
def test_gaussian_nb_bad_priors_are_refused_at_fit_and_the_fitted_model_is_unchanged(priors, message):
    model = GaussianNB().fit(X, Y)
    before = _state(model)
    model.priors = priors
    with pytest.raises(ValueError, match=message):
        model.fit(X, Y)
    model.priors = None
    before[0]["priors"] = None
    _assert_unchanged(model, before)


def test_gaussian_nb_nan_priors_are_refused_by_name():
    with pytest.raises(ValueError, match=r"priors"):
        GaussianNB(priors=[np.nan, 1.0]).fit(X, Y)


@pytest.mark.parametrize("kind", list(MAKERS))
def test_labels_from_a_memmap_are_read_not_copied_and_give_the_in_memory_fit(tmp_path, kind):
    labels = _memmap(tmp_path, Y)
    a, b = MAKERS[kind]().fit(X, labels), MAKERS[kind]().fit(X, Y)
    assert ss.to_json(a) == ss.to_json(b)


def test_gaussian_nb_labels_mixing_numbers_and_strings_are_refused_by_name():
    X = np.random.default_rng(0).normal(size=(20, 2))
    labels = np.array(["a", "b"] * 10, dtype=object)
    labels[3] = -1
    with pytest.raises(ValueError, match=r"y mixes labels of types \['int', 'str'\]"):
        ss.GaussianNB().fit(X, labels)
