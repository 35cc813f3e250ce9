"""Bad labels and priors given to the classifiers: a clear error naming the problem, and the model unchanged.

Each case is tried on a fitted model, whose every attribute (arrays, scalars, its JSON) must be as it was.
"""

import numpy as np
import pytest

import suffstats as ss

rng = np.random.default_rng(0)
X = rng.normal(size=(300, 3)) + np.repeat(np.arange(3), 100)[:, None]
y = np.repeat(np.arange(3), 100)


def gaussian_nb():
    return ss.GaussianNB()


def bayes_classifier():
    return ss.BayesClassifier([ss.MultivariateNormal() for _ in range(3)])


def naive_bayes():
    return ss.NaiveBayes([ss.Normal() for _ in range(3)])


MODELS = [gaussian_nb, bayes_classifier, naive_bayes]


def _with(values, row, value, dtype=float):
    out = np.asarray(values, dtype=dtype).copy()
    out[row] = value
    return out


def _snapshot(model):
    return repr(sorted((k, repr(v)) for k, v in vars(model).items())), ss.to_json(model)


COMMON = [
    ("labels of another length", lambda: y[:250], "y has 250 labels but X has 300 rows"),
    ("a NaN label", lambda: _with(y, 17, np.nan), r"(row 17|NaN)"),
    ("a 2-D label array", lambda: np.column_stack([y, y]), "1-D|1d array"),
    ("numbers mixed with strings", lambda: _with(y.astype(str), 3, -1, dtype=object), "mixes labels|class numbers"),
    ("labels from a memory map of another length", "memmap", "y has 299 labels but X has 300 rows"),
]


@pytest.mark.parametrize("make", MODELS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("case, labels, message", COMMON, ids=[c[0] for c in COMMON])
def test_bad_labels_are_refused_and_the_model_is_unchanged(make, case, labels, message, tmp_path):
    model = make().fit(X, y)
    before = _snapshot(model)
    if labels == "memmap":
        np.save(tmp_path / "y.npy", y[:299])
        labels = np.load(tmp_path / "y.npy", mmap_mode="r")
    else:
        labels = labels()
    with pytest.raises(ValueError, match=message):
        model.fit(X, labels)
    assert _snapshot(model) == before


@pytest.mark.parametrize("make", [bayes_classifier, naive_bayes], ids=lambda f: f.__name__)
def test_every_row_unlabelled_is_refused_and_points_to_clustering(make):
    with pytest.raises(ValueError, match="every row is unlabelled.*GeneralMixtureModel"):
        make().fit(X, np.full(len(X), -1))


@pytest.mark.parametrize("make", [bayes_classifier, naive_bayes], ids=lambda f: f.__name__)
def test_a_class_with_no_rows_and_no_parameters_is_refused_by_number(make):
    with pytest.raises(ValueError, match="class 1 has no labelled rows"):
        make().fit(X, np.where(y == 1, 0, y))


@pytest.mark.parametrize("make", [bayes_classifier, naive_bayes], ids=lambda f: f.__name__)
def test_a_label_beyond_the_classes_is_refused_with_its_row(make):
    with pytest.raises(ValueError, match="row 250"):
        make().fit(X, _with(y, 250, 7, dtype=int))


@pytest.mark.parametrize("priors, message", [
    ([0.5, 0.4, 0.3], "sum of the priors should be 1"),
    ([1.2, -0.1, -0.1], "non-negative"),
    ([0.5, 0.5], "Number of priors must match"),
])
def test_gaussian_nb_bad_priors_are_refused_and_the_model_is_unchanged(priors, message):
    model = ss.GaussianNB().fit(X, y)
    before = _snapshot(model)
    with pytest.raises(ValueError, match=message):
        model.set_params(priors=priors).fit(X, y)
    model.set_params(priors=None)
    assert _snapshot(model) == before


def test_gaussian_nb_partial_fit_label_outside_classes_names_it_and_its_row():
    model = ss.GaussianNB().partial_fit(X[:150], y[:150], classes=[0, 1, 2])
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"label\(s\) \[5\] in y .* \(first at row 20\)"):
        model.partial_fit(X[150:], _with(y[150:], 20, 5, dtype=int))
    assert _snapshot(model) == before
