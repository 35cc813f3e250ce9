"""GeneralMixtureModel with any families: exact batching, EM invariants, persistence."""

import warnings

import numpy as np
import pytest

import suffstats as ss


def _data(n=10_007, seed=0):
    rng = np.random.default_rng(seed)
    half = n // 2
    return np.column_stack([
        np.concatenate([rng.normal(0.0, 1.0, half), rng.normal(6.0, 1.5, n - half)]),
        np.concatenate([rng.poisson(2.0, half), rng.poisson(9.0, n - half)]),
        np.concatenate([rng.exponential(1.0, half), rng.exponential(5.0, n - half)]),
    ])


def _components():
    return [ss.IndependentComponents([ss.Normal(), ss.Poisson(), ss.Exponential()]) for _ in range(2)]


def _fit(X, **kwargs):
    return ss.GeneralMixtureModel(_components(), random_state=0, max_iter=6, tol=0, **kwargs).fit(X)


def test_bit_identical_across_batch_sizes_on_a_memory_map(tmp_path):
    path = tmp_path / "mixed.npy"
    np.save(path, _data())
    X = np.load(path, mmap_mode="r")
    reference = _fit(X).parameters()
    for batch_size in (4096, 3000, 777):
        got = _fit(X, batch_size=batch_size).parameters()
        assert all(np.array_equal(got[k], reference[k]) for k in reference), batch_size


def test_recovers_the_generating_parameters_and_never_decreases():
    model = ss.GeneralMixtureModel(_components(), random_state=0, max_iter=50, tol=0, batch_size=2000).fit(_data(40_000))
    assert np.all(np.diff(model.lower_bounds_) >= -1e-10)
    order = np.argsort([d.distributions[0].mean for d in model.distributions])
    low, high = (model.distributions[i].distributions for i in order)
    np.testing.assert_allclose([low[0].mean, low[1].rate, 1 / low[2].rate], [0.0, 2.0, 1.0], atol=0.06)
    np.testing.assert_allclose([high[0].mean, high[1].rate, 1 / high[2].rate], [6.0, 9.0, 5.0], atol=0.1)
    np.testing.assert_allclose(model.weights[order], [0.5, 0.5], atol=0.01)


def test_gaussian_components_agree_with_gaussian_mixture():
    X = _data()[:, :1] * np.array([1.0])
    start = ss.GaussianMixture(2, max_iter=0, random_state=0, reg_covar=0.0).fit(X)
    gm = ss.GaussianMixture(2, weights_init=start.weights_, means_init=start.means_, reg_covar=0.0,
                            precisions_init=start.precisions_, max_iter=8, tol=0).fit(X)
    components = [ss.Normal(m[0], np.sqrt(c.ravel()[0])) for m, c in zip(start.means_, start.covariances_)]
    general = ss.GeneralMixtureModel(components, weights=start.weights_, max_iter=8, tol=0).fit(X[:, 0])
    np.testing.assert_allclose([d.mean for d in general.distributions], gm.means_[:, 0], rtol=1e-10)
    np.testing.assert_allclose([d.std**2 for d in general.distributions], gm.covariances_.ravel(), rtol=1e-9)
    np.testing.assert_allclose(general.weights, gm.weights_, rtol=1e-10)
    np.testing.assert_allclose(general.lower_bounds_, gm.lower_bounds_, rtol=1e-12)


def test_fit_equals_the_user_written_loop():
    X = _data()
    fitted = _fit(X)
    model = ss.GeneralMixtureModel(_components(), random_state=0, max_iter=0).fit(X)
    for _ in range(6):
        total = sum(model.summarize(X[i : i + 8192]) for i in range(0, len(X), 8192))
        model.from_summaries()
    assert np.isfinite(total)
    got, want = model.parameters(), fitted.parameters()
    assert all(np.array_equal(got[k], want[k]) for k in want)


def test_mixed_families_univariate():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(10.0, 1.0, 5000), rng.exponential(1.0, 5000)])
    model = ss.GeneralMixtureModel([ss.Normal(), ss.Exponential()], random_state=0, batch_size=3000).fit(x)
    assert model.distributions[0].mean == pytest.approx(10.0, abs=0.05)
    assert model.distributions[1].rate == pytest.approx(1.0, abs=0.05)
    proba = model.predict_proba(np.array([10.0, 0.1]))
    assert proba[0, 0] > 0.99 and proba[1, 1] > 0.99


def test_rows_outside_every_support_are_refused_and_nothing_changes():
    model = ss.GeneralMixtureModel([ss.Poisson(1.0), ss.Poisson(5.0)], weights=[0.5, 0.5])
    model.summarize(np.array([1.0, 2.0]))
    before = model.pending.to_dict()
    with pytest.raises(ValueError, match="row 1 has zero probability under every component"):
        model.summarize(np.array([1.0, -3.0]))
    assert model.pending.to_dict() == before


def test_json_round_trip_and_sampling():
    model = _fit(_data())
    loaded = ss.from_json(ss.to_json(model))
    X = _data(500, seed=3)
    np.testing.assert_array_equal(loaded.log_probability(X), model.log_probability(X))
    assert model.sample(10, random_state=0).shape == (10, 3)
    assert model.n_parameters == 2 * 4 + 1


def test_frozen_components_do_not_move():
    X = _data()
    frozen = ss.IndependentComponents([ss.Normal(0.0, 1.0), ss.Poisson(2.0), ss.Exponential(1.0)]).freeze()
    other = ss.IndependentComponents([ss.Normal(6.0, 1.0), ss.Poisson(8.0), ss.Exponential(0.2)])
    model = ss.GeneralMixtureModel([frozen, other], weights=[0.5, 0.5], max_iter=3, tol=0).fit(X)
    assert model.distributions[0].distributions[0].mean == 0.0
    assert model.distributions[1].distributions[0].mean != 6.0


def test_kmeans_matches_scikit_learn_lloyd_from_the_same_centres(blobs_memmap):
    from sklearn.cluster import KMeans as SkKMeans

    X = np.asarray(blobs_memmap)
    init = X[[0, 1, 2, 3]]
    ours = ss.KMeans(4, init=init, max_iter=20, tol=0, batch_size=999).fit(blobs_memmap)
    theirs = SkKMeans(4, init=init, n_init=1, max_iter=20, tol=0, algorithm="lloyd").fit(X)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=1e-10)
    np.testing.assert_allclose(-ours.score(X), theirs.inertia_, rtol=1e-10)
    np.testing.assert_array_equal(ours.predict(blobs_memmap), theirs.predict(X))


def test_kmeans_bit_identical_across_batch_sizes(blobs_memmap):
    a = ss.KMeans(4, random_state=0, max_iter=10).fit(blobs_memmap)
    for batch_size in (5000, 1237):
        assert np.array_equal(ss.KMeans(4, random_state=0, max_iter=10, batch_size=batch_size)
                              .fit(blobs_memmap).cluster_centers_, a.cluster_centers_)


def test_kmeans_empty_cluster_warns_and_keeps_its_centre():
    X = np.random.default_rng(0).normal(size=(100, 2))
    init = np.array([[0.0, 0.0], [500.0, 500.0]])
    with pytest.warns(ss.EmptyComponentWarning, match=r"clusters \[1\] received no rows"):
        model = ss.KMeans(2, init=init, max_iter=3).fit(X)
    assert np.array_equal(model.cluster_centers_[1], init[1])


def test_fitted_components_without_weights_start_from_uniform_weights():
    x = np.concatenate([np.random.default_rng(0).normal(0, 1, 500), np.random.default_rng(1).normal(8, 1, 1500)])
    model = ss.GeneralMixtureModel([ss.Normal(8.0, 1.0), ss.Normal(0.0, 1.0)], max_iter=20).fit(x)
    assert model.distributions[0].mean == pytest.approx(8.0, abs=0.1)
    np.testing.assert_allclose(model.weights, [0.75, 0.25], atol=0.02)


def _blobs(n=6001, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0], [0.0, 6.0, 4.0]])
    return np.concatenate([rng.normal(c, [1.0, 0.5, 2.0], size=(n // 3, 3)) for c in centres])


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_multivariate_normal_components_agree_with_gaussian_mixture_by_default(covariance_type):
    """Both default to reg_covar=1e-6: no setting needs to be repeated to get the same model."""
    X = _blobs()
    start = ss.GaussianMixture(3, covariance_type=covariance_type, max_iter=0, random_state=0).fit(X)
    gm = ss.GaussianMixture(3, covariance_type=covariance_type, weights_init=start.weights_, means_init=start.means_,
                            precisions_init=start.precisions_, max_iter=10, tol=0).fit(X)
    components = [ss.MultivariateNormal(m, c, covariance_type=covariance_type)
                  for m, c in zip(start.means_, start.covariances_)]
    general = ss.GeneralMixtureModel(components, weights=start.weights_, max_iter=10, tol=0).fit(X)
    assert all(d.reg_covar == gm.reg_covar == 1e-6 for d in general.distributions)
    np.testing.assert_allclose(general.weights, gm.weights_, rtol=1e-7)
    np.testing.assert_allclose([d.mean for d in general.distributions], gm.means_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose([d.covariance for d in general.distributions], gm.covariances_, rtol=1e-7)
    np.testing.assert_allclose(general.lower_bounds_, gm.lower_bounds_, rtol=1e-7)


def test_a_component_left_with_one_row_is_rescued_by_reg_covar():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (500, 2)), rng.normal(8, 1, (500, 2)), [[60.0, 60.0]]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about: the lone row is a component of its own
        model = ss.GeneralMixtureModel([ss.MultivariateNormal() for _ in range(3)], random_state=0, max_iter=30).fit(X)
    lone = int(np.argmin(model.weights))
    np.testing.assert_allclose(model.distributions[lone].mean, [60.0, 60.0])
    np.testing.assert_allclose(model.distributions[lone].covariance, 1e-6 * np.eye(2), rtol=1e-6)
    assert all(np.isfinite(v).all() for v in model.parameters().values())


def test_a_component_that_loses_every_row_keeps_its_parameters_like_gaussian_mixture():
    # Denormal responsibilities (the component sits ~38 standard deviations away) used to give
    # an asymmetric or indefinite covariance and a crash mid-fit.
    X = np.array([[0.0, 0.0], [0.3, -0.2], [-0.1, 0.4], [0.2, 0.1]] * 50)
    for far in np.linspace(38.2, 38.6, 21):
        components = [ss.MultivariateNormal(np.zeros(2), np.eye(2)), ss.MultivariateNormal([far, 0.0], np.eye(2))]
        with pytest.warns(ss.EmptyComponentWarning, match=r"components \[1\] received no mass"):
            model = ss.GeneralMixtureModel(components, weights=[0.5, 0.5], max_iter=3, tol=0).fit(X)
        np.testing.assert_array_equal(model.distributions[1].mean, [far, 0.0])
        np.testing.assert_array_equal(model.distributions[1].covariance, np.eye(2))
        assert all(np.isfinite(v).all() for v in model.parameters().values())
        np.testing.assert_allclose(model.distributions[0].mean, X.mean(axis=0), rtol=1e-12)


def test_one_instance_twice_and_univariate_components_on_two_columns_are_refused():
    d = ss.Normal()
    with pytest.raises(ValueError, match=r"distributions\[1\] is the same object as distributions\[0\]"):
        ss.GeneralMixtureModel([d, d])
    with pytest.raises(ValueError, match="X has 2 columns, but the components are univariate"):
        ss.GeneralMixtureModel([ss.Normal(), ss.Normal()]).fit(np.zeros((100, 2)))


def test_a_bad_value_found_while_initialising_is_named_by_its_row_in_the_data():
    Y = np.random.default_rng(0).poisson(3, size=10_000).astype(float)
    Y[7000] = -1.0
    with pytest.raises(ValueError, match="row 7000 has zero probability under every component"):
        ss.GeneralMixtureModel([ss.Poisson(), ss.Poisson()], init_sample_size=10_000).fit(Y)


def test_a_component_starts_from_the_rows_inside_its_support():
    rng = np.random.default_rng(0)
    Y = np.r_[rng.normal(-3.0, 1.0, 3000), rng.poisson(4.0, 3000).astype(float)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ss.GeneralMixtureModel([ss.Normal(), ss.Poisson()], random_state=0).fit(Y)
    assert model.weights == pytest.approx([0.5, 0.5], abs=0.02)
    assert model.distributions[1].rate == pytest.approx(4.0, rel=0.05)
