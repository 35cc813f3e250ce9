"""GaussianNB against scikit-learn's; BayesClassifier and NaiveBayes against closed forms; batching; hostile input."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.naive_bayes import GaussianNB as SklearnGaussianNB

from suffstats import (BayesClassifier, Exponential, GaussianNB, GeneralMixtureModel, IndependentComponents,
                       MultivariateNormal, NaiveBayes, Normal, Poisson)


def _relative(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), np.finfo(float).tiny)


@pytest.fixture(scope="module")
def labelled():
    rng = np.random.default_rng(0)
    n, d = 20_000, 4
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, d)) * np.array([1.0, 10.0, 0.1, 3.0]) + y[:, None] * np.array([1.0, -5.0, 0.2, 2.0])
    return X, y, rng.random(n)


# -- GaussianNB ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("weighted", [False, True])
def test_gaussian_nb_matches_scikit_learn(labelled, weighted):
    X, y, w = labelled
    w = w if weighted else None
    ours, theirs = GaussianNB(batch_size=3001).fit(X, y, w), SklearnGaussianNB().fit(X, y, sample_weight=w)
    assert _relative(ours.theta_, theirs.theta_) <= 1e-10
    assert _relative(ours.var_, theirs.var_) <= 1e-10
    assert _relative(ours.class_count_, theirs.class_count_) <= 1e-12
    assert abs(ours.epsilon_ - theirs.epsilon_) <= 1e-10 * theirs.epsilon_
    assert np.max(np.abs(ours.predict_proba(X[:2000]) - theirs.predict_proba(X[:2000]))) <= 1e-10
    assert np.array_equal(ours.predict(X), theirs.predict(X))
    assert ours.score(X, y) == theirs.score(X, y)


def test_gaussian_nb_partial_fit_matches_scikit_learn(labelled):
    X, y, _ = labelled
    ours, theirs = GaussianNB(), SklearnGaussianNB()
    for part in np.array_split(np.arange(len(y)), 5):
        ours.partial_fit(X[part], y[part], classes=[0, 1, 2])
        theirs.partial_fit(X[part], y[part], classes=[0, 1, 2])
    assert _relative(ours.theta_, theirs.theta_) <= 1e-10
    # epsilon_ differs by design (all rows seen vs the last call's rows): compare the variances without it.
    assert _relative(ours.var_ - ours.epsilon_, theirs.var_ - theirs.epsilon_) <= 1e-10
    assert np.array_equal(ours.class_count_, theirs.class_count_)


@pytest.mark.parametrize("batch_size", [999, 4096, None])
def test_gaussian_nb_from_a_memory_map_matches_scikit_learn(labelled, tmp_path, batch_size):
    X, y, w = labelled
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    Xm, ym = np.load(tmp_path / "X.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r")
    ours, theirs = GaussianNB(batch_size=batch_size).fit(Xm, ym, w), SklearnGaussianNB().fit(X, y, sample_weight=w)
    assert _relative(ours.theta_, theirs.theta_) <= 1e-10
    assert _relative(ours.var_, theirs.var_) <= 1e-10
    assert _relative(ours.predict_proba(Xm), theirs.predict_proba(X)) <= 1e-10
    assert _relative(ours.predict_log_proba(Xm[:3000]), theirs.predict_log_proba(X[:3000])) <= 1e-10


@pytest.mark.parametrize("var_smoothing", [0.0, 1e-9])
def test_gaussian_nb_partial_fit_over_memory_map_chunks_matches_scikit_learn(labelled, tmp_path, var_smoothing):
    X, y, _ = labelled
    np.save(tmp_path / "X.npy", X)
    Xm = np.load(tmp_path / "X.npy", mmap_mode="r")
    ours, theirs = GaussianNB(var_smoothing=var_smoothing), SklearnGaussianNB(var_smoothing=var_smoothing)
    for start, stop in zip([0, 3, 5000, 11_111], [3, 5000, 11_111, len(y)]):
        ours.partial_fit(Xm[start:stop], y[start:stop], classes=[0, 1, 2])
        theirs.partial_fit(X[start:stop], y[start:stop], classes=[0, 1, 2])
    assert _relative(ours.theta_, theirs.theta_) <= 1e-10
    assert _relative(ours.var_ - ours.epsilon_, theirs.var_ - theirs.epsilon_) <= 1e-10
    if var_smoothing == 0.0:  # epsilon_ differs by design otherwise (see GaussianNB's Notes)
        assert _relative(ours.var_, theirs.var_) <= 1e-10
        assert _relative(ours.predict_proba(Xm), theirs.predict_proba(X)) <= 1e-10


def test_gaussian_nb_memory_maps_and_batch_size_give_the_same_bits(labelled, tmp_path):
    X, y, w = labelled
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    Xm, ym = np.load(tmp_path / "X.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r")
    reference = GaussianNB().fit(X, y, w)
    for batch_size, XX, yy in [(1, X[:5000], y[:5000]), (4095, Xm, ym), (7777, str(tmp_path / "X.npy"), ym),
                               (None, Xm, str(tmp_path / "y.npy"))]:
        model = GaussianNB(batch_size=batch_size).fit(XX, yy, w[:len(yy)] if batch_size == 1 else w)
        if batch_size == 1:
            assert np.array_equal(model.theta_, GaussianNB().fit(X[:5000], y[:5000], w[:5000]).theta_)
            continue
        for name in ("theta_", "var_", "class_count_", "class_prior_"):
            assert np.array_equal(getattr(model, name), getattr(reference, name)), (batch_size, name)


def test_gaussian_nb_statistics_add_across_processes(labelled):
    X, y, _ = labelled
    whole = GaussianNB().fit(X, y)
    first = GaussianNB().fit(X[:7000], y[:7000])
    assert np.array_equal(first.classes_, whole.classes_)
    first.absorb(first.statistics(X[7000:], y[7000:]))
    assert _relative(first.theta_, whole.theta_) <= 1e-13 and _relative(first.var_, whole.var_) <= 1e-12
    with pytest.raises(ValueError, match="cannot absorb"):
        first.absorb(GaussianNB().fit(X[:, :2], y).statistics(X[:10, :2], y[:10]))


def test_gaussian_nb_large_offset():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 10_000)
    X = 1e8 + rng.normal(size=(10_000, 2)) + y[:, None]
    ours = GaussianNB(var_smoothing=0.0).fit(X, y)
    for c in (0, 1):
        rows = X[y == c] - 1e8
        assert np.allclose(ours.theta_[c] - 1e8, rows.mean(axis=0), rtol=0, atol=1e-7)
        assert np.allclose(ours.var_[c], rows.var(axis=0), rtol=1e-9)


def test_gaussian_nb_accuracy_on_digits():
    # The GaussianNB part of scikit-learn's test_check_accuracy_on_digits (deselected there with the others).
    X, y = load_digits(return_X_y=True)
    assert cross_val_score(GaussianNB(), X, y, cv=10).mean() > 0.77
    assert cross_val_score(GaussianNB(var_smoothing=0.1), X, y, cv=10).mean() > 0.89


@pytest.mark.parametrize("call, match", [
    (lambda m, X, y: m.fit(X, y[:-1]), "labels but X has"),
    (lambda m, X, y: m.fit(X, np.where(np.arange(len(y)) == 7, np.nan, y)), "Input y contains NaN|row 7"),
    (lambda m, X, y: m.partial_fit(X, y + 5), r"do not exist in the initial classes.*row 0"),
    (lambda m, X, y: m.set_params(priors=[0.5, 0.6, 0.1]).fit(X, y), "sum of the priors"),
    (lambda m, X, y: m.partial_fit(X[:, :2], y), "expecting 4 features"),
])
def test_gaussian_nb_refusals_leave_the_model_unchanged(labelled, call, match):
    X, y, _ = labelled
    model = GaussianNB().partial_fit(X[:100], y[:100], classes=[0, 1, 2])
    before = (model.theta_.copy(), model.var_.copy(), model.class_count_.copy(), model.class_prior_.copy())
    with pytest.raises(ValueError, match=match):
        call(model, X[:1000], y[:1000])
    assert np.array_equal(model.theta_, before[0]) and np.array_equal(model.var_, before[1])
    assert np.array_equal(model.class_count_, before[2]) and np.array_equal(model.class_prior_, before[3])


def test_gaussian_nb_class_with_no_rows_matches_scikit_learn(labelled):
    X, y, _ = labelled
    ours = GaussianNB().partial_fit(X[:500], y[:500], classes=[0, 1, 2, 7])
    theirs = SklearnGaussianNB().partial_fit(X[:500], y[:500], classes=[0, 1, 2, 7])
    assert ours.class_count_[3] == 0 and ours.class_prior_[3] == 0 and not ours.theta_[3].any()
    assert _relative(ours.var_, theirs.var_) <= 1e-10
    assert np.array_equal(ours.predict(X[:100]), theirs.predict(X[:100]))
    with pytest.raises(ValueError, match="var_smoothing"):
        GaussianNB(var_smoothing=-1.0).fit(X, y)


def test_gaussian_nb_class_with_no_weight():
    X = np.array([[-2.0, -1], [-1, -1], [1, 1], [2, 1]])
    y = np.array([1, 1, 2, 2])
    model = GaussianNB().fit(X, y, sample_weight=np.array([1.0, 1, 0, 0]))
    assert model.class_count_.tolist() == [2.0, 0.0] and model.theta_[1].tolist() == [0.0, 0.0]


# -- BayesClassifier and NaiveBayes -------------------------------------------------------------------
def test_supervised_bayes_classifier_is_the_per_class_fit(labelled):
    X, y, w = labelled
    model = BayesClassifier([MultivariateNormal() for _ in range(3)], batch_size=5000).fit(X, y, w)
    assert model.n_iter_ == 0 and model.converged_
    shares = np.bincount(y, weights=w) / w.sum()
    assert np.allclose(model.priors_, shares, rtol=1e-13)
    for c, d in enumerate(model.distributions):
        alone = MultivariateNormal().fit(X[y == c], w[y == c])
        assert _relative(d.mean, alone.mean) <= 1e-12 and _relative(d.covariance, alone.covariance) <= 1e-12


def test_naive_bayes_of_normals_is_gaussian_nb(labelled):
    X, y, _ = labelled
    nb = NaiveBayes([Normal(), Normal(), Normal()]).fit(X, y)
    reference = GaussianNB(var_smoothing=0.0).fit(X, y)
    means = np.array([[f.mean for f in d.distributions] for d in nb.distributions])
    variances = np.array([[f.std ** 2 for f in d.distributions] for d in nb.distributions])
    assert _relative(means, reference.theta_) <= 1e-12 and _relative(variances, reference.var_) <= 1e-10
    assert np.max(np.abs(nb.predict_proba(X[:500]) - reference.predict_proba(X[:500]))) <= 1e-9


def _two_classes(n=6000, seed=2):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = np.column_stack([rng.normal(2.0 * y, 1.0), rng.poisson(np.where(y == 1, 6.0, 2.0))]).astype(float)
    return X, y


def test_semi_supervised_is_exact_for_any_batch_size_and_memory_maps(tmp_path):
    X, y = _two_classes()
    partial = y.copy()
    partial[np.random.default_rng(3).random(len(y)) < 0.9] = -1
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", partial)

    def fit(X_, y_, batch_size):
        return NaiveBayes([[Normal(), Poisson()], [Normal(), Poisson()]], batch_size=batch_size, tol=1e-8).fit(X_, y_)

    a = fit(X, partial, None)
    b = fit(np.load(tmp_path / "X.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r"), 1000)
    assert a.n_iter_ > 1 and a.n_iter_ == b.n_iter_ and a.lower_bounds_ == b.lower_bounds_
    assert np.array_equal(a.priors_, b.priors_)
    for da, db in zip(a.distributions, b.distributions):
        for fa, fb in zip(da.distributions, db.distributions):
            assert all(np.array_equal(v, fb.parameters()[k]) for k, v in fa.parameters().items())
    assert np.all(np.diff(a.lower_bounds_) >= -1e-12)  # EM never lowers its objective


def test_semi_supervised_helps_when_labels_are_few():
    X, y = _two_classes(n=8000, seed=4)
    rng = np.random.default_rng(5)
    keep = np.zeros(len(y), bool)
    keep[rng.choice(len(y), 12, replace=False)] = True
    partial = np.where(keep, y, -1)

    def model():
        return BayesClassifier([IndependentComponents([Normal(), Poisson()]) for _ in range(2)], tol=1e-6)

    supervised = model().fit(X[keep], y[keep])
    semi = model().fit(X, partial)
    assert semi.score(X, y) >= supervised.score(X, y) - 1e-12
    assert semi.score(X, y) > 0.9


def test_mixture_per_class_and_mixed_families():
    rng = np.random.default_rng(6)
    x0 = np.concatenate([rng.normal(-6, 1, 1500), rng.normal(6, 1, 1500)])
    x1 = rng.exponential(1.0, 3000) + 20
    X, y = np.concatenate([x0, x1]), np.repeat([0, 1], 3000)
    model = BayesClassifier([GeneralMixtureModel([Normal(), Normal()], random_state=0), Normal()],
                            max_iter=5, random_state=0).fit(X, y)
    means = sorted(d.mean for d in model.distributions[0].distributions)
    assert np.allclose(means, [-6, 6], atol=0.1) and model.score(X, y) == 1.0
    assert model.predict(np.array([0.5, 21.0])).tolist() == [0, 1]


@pytest.mark.parametrize("labels, match", [
    (lambda y: np.full(len(y), -1), "every row is unlabelled"),
    (lambda y: np.where(np.arange(len(y)) == 17, 5, y), r"do not exist.*row 17"),
    (lambda y: np.where(np.arange(len(y)) == 3, np.nan, y.astype(float)), "row 3"),
    (lambda y: y[:-1], "labels but X has"),
])
def test_bayes_classifier_refusals_leave_the_model_unchanged(labels, match):
    X, y = _two_classes(n=500)
    model = BayesClassifier([MultivariateNormal(), MultivariateNormal()]).fit(X, y)
    before = model._fit_parameters()
    with pytest.raises(ValueError, match=match):
        model.fit(X, labels(y))
    after = model._fit_parameters()
    assert np.array_equal(before[0], after[0])
    assert all(np.array_equal(v, after[c + 1][k]) for c in range(2) for k, v in before[c + 1].items())


def test_a_class_without_labelled_rows_needs_parameters():
    X, y = _two_classes(n=500)
    model = BayesClassifier([MultivariateNormal(), MultivariateNormal()])
    with pytest.raises(ValueError, match="class 1 has no labelled rows"):
        model.fit(X, np.where(y == 1, -1, y))
    assert not model.fitted and model.distributions[0].mean is None
    # Given parameters, a class needs no labelled rows: its rows are found by EM.
    given = BayesClassifier([MultivariateNormal(), MultivariateNormal([2.0, 6.0], np.eye(2))]).fit(
        X, np.where(y == 1, -1, y))
    assert given.score(X, y) > 0.85


def test_bayes_classifier_priors_are_checked():
    with pytest.raises(ValueError, match="sum to 1"):
        BayesClassifier([Normal(), Normal()], priors=[0.5, 0.6])
    with pytest.raises(ValueError, match="one number per class"):
        BayesClassifier([Normal(), Normal()], priors=[1.0])
    X, y = _two_classes(n=400)
    fixed = BayesClassifier([Exponential(), Exponential()], priors=[0.9, 0.1]).fit(X[:, 1] + 1, y)
    assert fixed.priors_.tolist() == [0.9, 0.1]


def test_naive_bayes_refused_fit_keeps_its_templates():
    X, y = _two_classes(n=300)
    model = NaiveBayes([Normal(), Normal()])
    with pytest.raises(ValueError, match="labels but X has"):
        model.fit(X, y[:-1])
    assert len(model.distributions[0].distributions) == 1 and not model.fitted
    model.fit(X, y)
    assert len(model.distributions[1].distributions) == 2 and model.score(X, y) > 0.7


def test_summarize_loop_over_unlabelled_rows_is_one_em_step():
    X, y = _two_classes(n=9000)
    model = NaiveBayes([[Normal(), Poisson()], [Normal(), Poisson()]]).fit(X[:200], y[:200])
    resp = model.predict_proba(X)
    model.summarize(X[:4096])
    model.absorb(model.statistics(X[4096:]))  # a value computed elsewhere joins the pending total
    model.from_summaries()
    assert np.allclose(model.priors_, resp.mean(axis=0), rtol=1e-12)
    for c, d in enumerate(model.distributions):
        expected = resp[:, c] @ X / resp[:, c].sum()
        assert np.allclose([d.distributions[0].mean, d.distributions[1].rate], expected, rtol=1e-12)


def test_empty_statistics_is_the_identity_and_round_trips():
    from suffstats.statistics import Composite, Empty, Moments, Statistics, describe_signature

    m = Moments.of(np.arange(6.0).reshape(3, 2))
    assert (Empty() + m) is m and (m + Empty()) is m
    total = Composite([Empty(), m]) + Composite([m, Empty()])
    assert total.parts[0] is m and total.parts[1] is m
    again = Statistics.from_dict(Composite([Empty(), m]).to_dict())
    assert isinstance(again.parts[0], Empty) and again.parts[1] == m
    assert describe_signature(Empty().signature()) == "the statistics of no rows"


# -- persistence --------------------------------------------------------------------------------------
def test_gaussian_nb_json_round_trip_goes_on_exactly(labelled, tmp_path):
    from suffstats import load, save

    X, y, w = labelled
    model = GaussianNB(var_smoothing=1e-6).partial_fit(X[:5000], y[:5000], classes=[0, 1, 2], sample_weight=w[:5000])
    save(model, tmp_path / "nb.json")
    loaded = load(tmp_path / "nb.json")
    assert isinstance(loaded, GaussianNB) and loaded.get_params() == model.get_params()
    for name in ("theta_", "var_", "class_count_", "class_prior_", "classes_"):
        assert np.array_equal(getattr(loaded, name), getattr(model, name)), name
    model.partial_fit(X[5000:], y[5000:])
    loaded.partial_fit(X[5000:], y[5000:])
    assert np.array_equal(loaded.theta_, model.theta_) and np.array_equal(loaded.var_, model.var_)
    strings = GaussianNB().fit(X[:50], np.where(y[:50] == 0, "a", "b"))
    assert load_from(strings).predict(X[:50]).tolist() == strings.predict(X[:50]).tolist()


def load_from(model):
    from suffstats import from_json, to_json

    return from_json(to_json(model))


@pytest.mark.parametrize("change, match", [
    (lambda d: d["statistics"]["parts"].pop(), "statistics must be"),
    (lambda d: d.update(classes=[2, 1, 0]), "sorted"),
    (lambda d: d.update(classes=[0, 1, 1]), "distinct"),
    (lambda d: d["statistics"]["parts"][1].update(weight=-1.0), "non-negative"),
    (lambda d: d["settings"].update(priors=[0.5, 0.6, 0.1]), "sum of the priors"),
])
def test_gaussian_nb_json_refusals_name_the_field(labelled, change, match):
    from suffstats.io import ModelFormatError, distribution_from_dict

    X, y, _ = labelled
    data = GaussianNB().fit(X[:300], y[:300]).to_dict()
    change(data)
    with pytest.raises(ModelFormatError, match=match):
        distribution_from_dict(data)


def test_bayes_classifiers_json_round_trip():
    X, y = _two_classes(n=2000)
    partial = np.where(np.arange(len(y)) % 3 == 0, y, -1)
    for model in (NaiveBayes([[Normal(), Poisson()], [Normal(), Poisson()]]).fit(X, partial),
                  BayesClassifier([MultivariateNormal(), MultivariateNormal()], priors=[0.4, 0.6]).fit(X, y)):
        loaded = load_from(model)
        assert type(loaded) is type(model) and np.array_equal(loaded.priors_, model.priors_)
        assert np.array_equal(loaded.predict_proba(X[:100]), model.predict_proba(X[:100]))
    data = model.to_dict()
    data["priors_"] = [0.7, 0.7]
    from suffstats.io import ModelFormatError, distribution_from_dict

    with pytest.raises(ModelFormatError, match="sum to 1"):
        distribution_from_dict(data)
