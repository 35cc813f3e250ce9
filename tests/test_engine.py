"""The one mixture engine: what it adds serves every model (checkpoints, n_init, threads, absorb, transactions)."""

import json
import threading
import warnings

import numpy as np
import pytest

import suffstats as ss

from .sources import Interrupting


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal(m, 1.0, size=(7_000, 3)) for m in (0.0, 5.0, 10.0)])[rng.permutation(21_000)]


def _models():
    """Each model of the engine, built fresh with settings that make several epochs."""
    return {
        "GaussianMixture": lambda: ss.GaussianMixture(3, max_iter=5, tol=0, random_state=0, batch_size=4096,
                                                      init_params="k-means++"),
        "KMeans": lambda: ss.KMeans(3, max_iter=5, tol=0, random_state=0, batch_size=4096),
        "GeneralMixtureModel": lambda: ss.GeneralMixtureModel(
            [ss.MultivariateNormal(), ss.MultivariateNormal(), ss.MultivariateNormal()], max_iter=5, tol=0,
            random_state=0, batch_size=4096),
    }


def _parameters(model):
    if isinstance(model, ss.KMeans):
        return [model.cluster_centers_]
    if isinstance(model, ss.GaussianMixture):
        return [model.weights_, model.means_, model.covariances_]
    return [model.weights] + [v for d in model.distributions for v in d.parameters().values()]


def _quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


@pytest.mark.parametrize("name", ["GaussianMixture", "KMeans", "GeneralMixtureModel"])
def test_an_interrupted_fit_resumes_bit_for_bit(tmp_path, blobs, name):
    make = _models()[name]
    checkpoint = tmp_path / "fit.ckpt"
    with pytest.raises(KeyboardInterrupt):
        # Interrupted at the fourth batch of the third epoch.
        _quiet(make().fit, Interrupting(blobs, at_read=16), checkpoint=checkpoint, checkpoint_every=2)
    saved = json.loads(checkpoint.read_text())["payload"]["state"]
    assert saved["history"]["n_iter"] >= 1 and saved["rows_done"] > 0
    resumed = _quiet(make().fit, blobs, checkpoint=checkpoint, checkpoint_every=2)
    uninterrupted = _quiet(make().fit, blobs)
    for got, want in zip(_parameters(resumed), _parameters(uninterrupted)):
        assert np.array_equal(got, want)


@pytest.mark.parametrize("name", ["GaussianMixture", "KMeans", "GeneralMixtureModel"])
def test_n_init_keeps_the_best_run(blobs, name):
    make = _models()[name]
    single = _quiet(make().fit, blobs)
    several = _quiet(make().set_params(n_init=3).fit, blobs) if hasattr(make(), "set_params") else None
    if several is None:
        model = make()
        model.n_init = 3
        several = _quiet(model.fit, blobs)
    score = (lambda m: -m.inertia_) if name == "KMeans" else (lambda m: m.lower_bounds_[-1])
    assert score(several) >= score(single) - 1e-12 * abs(score(single))


@pytest.mark.parametrize("name", ["GaussianMixture", "KMeans", "GeneralMixtureModel"])
def test_threads_summarizing_into_one_model_add_every_row(blobs, name):
    model = _quiet(_models()[name]().fit, blobs)
    parts = np.array_split(blobs, 8)
    expected = model.statistics(blobs[:0 + 1])  # kind and layout only
    errors = []

    def summarize(part):
        try:
            model.summarize(part)
        except BaseException as error:  # a thread's exception would otherwise vanish
            errors.append(error)

    threads = [threading.Thread(target=summarize, args=(part,)) for part in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    total = model.pending
    assert type(total) is type(expected)
    reference = sum(model.statistics(part) for part in parts)
    # Sums of n terms, each at most about max|x| (moments around the model's own shifts): the rounding of the
    # order the threads commit in is bounded by that scale, whatever the cancellation inside a sum.
    scale = len(blobs) * np.abs(blobs).max() ** 2
    got, want = total.arrays(), reference.arrays()
    assert got.keys() == want.keys()
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-10, atol=1e-12 * scale, err_msg=key)


@pytest.mark.parametrize("name", ["GaussianMixture", "KMeans"])
def test_absorb_refuses_values_of_another_shape_and_changes_nothing(blobs, name):
    model = _quiet(_models()[name]().fit, blobs)
    other_k = _quiet(type(model)(2, random_state=0, max_iter=2).fit, blobs)
    other_d = _quiet(type(model)(3, random_state=0, max_iter=2).fit, blobs[:, :2])
    model.summarize(blobs[:100])
    before = model.pending
    for value in (other_k.statistics(blobs[:50]), other_d.statistics(blobs[:50, :2]),
                  ss.MultivariateNormal().statistics(blobs[:50])):
        with pytest.raises(ValueError, match="cannot absorb"):
            model.absorb(value)
        assert model.pending == before


def test_general_mixture_refuses_statistics_of_another_mixture(blobs):
    model = _quiet(_models()["GeneralMixtureModel"]().fit, blobs)
    univariate = _quiet(ss.GeneralMixtureModel([ss.Normal(), ss.Normal()], random_state=0, max_iter=2).fit,
                        blobs[:, 0])
    with pytest.raises(ValueError, match="cannot absorb"):
        model.absorb(univariate.statistics(blobs[:20, 0]))
    assert model.pending is None


def test_warm_start_with_changed_settings_is_refused_and_changes_nothing(blobs):
    model = _quiet(ss.GaussianMixture(3, random_state=0, max_iter=3).fit, blobs)
    means = model.means_.copy()
    for change in ({"n_components": 4}, {"covariance_type": "diag"}):
        model.set_params(warm_start=True, **change)
        with pytest.raises(ValueError, match="warm_start"):
            model.fit(blobs)
        assert np.array_equal(model.means_, means)
        model.set_params(n_components=3, covariance_type="full")


@pytest.mark.parametrize("field, value, message", [
    ("weights", [1.5, -0.5, 0.0], "weights must be 3 non-negative numbers summing to 1"),
    ("means", [[float("nan")] * 3] * 3, "means must be finite"),
    ("lower_bounds", "abc", "lower_bounds must hold numbers only"),
    ("converged", "no", "converged must be true or false"),
    ("n_iter", -1, "n_iter = -1; a size must be between 0 and"),
    ("n_iter", 2.5, "n_iter must be a non-negative integer"),
    ("settings", {"n_components": 3, "covariance_type": "full", "evil": 1}, "unknown parameters"),
])
def test_gaussian_mixture_json_is_checked_field_by_field(blobs, field, value, message):
    data = _quiet(ss.GaussianMixture(3, random_state=0, max_iter=2).fit, blobs).to_dict()
    data[field] = value
    with pytest.raises(ValueError, match=message):
        ss.io.from_json(json.dumps(data, allow_nan=True))


def test_a_file_rewritten_between_epochs_is_refused(tmp_path, blobs):
    path = tmp_path / "rows.npy"
    np.save(path, blobs)

    def rewrite(model, logs):
        if logs["epoch"] == 1:
            data = np.load(path, mmap_mode="r+")
            data[5000, 1] += 1.0
            data.flush()

    model = ss.GaussianMixture(3, random_state=0, max_iter=4, tol=0, callbacks=[rewrite])
    with pytest.raises(ValueError, match="rows.npy"):
        _quiet(model.fit, str(path))
    assert not hasattr(model, "means_")  # the refused fit left nothing behind


def test_lr_decay_must_be_finite(blobs):
    with pytest.raises(ValueError, match="lr_decay must be a finite non-negative number"):
        ss.GaussianMixture(2, lr_decay=float("inf")).fit(blobs)


@pytest.mark.parametrize("n", [2.5, 0, "3", True])
def test_sample_refuses_a_count_that_is_not_a_positive_integer(blobs, n):
    model = _quiet(ss.GaussianMixture(2, random_state=0, max_iter=2).fit, blobs)
    with pytest.raises(ValueError, match="n_samples"):
        model.sample(n)


def test_statistics_that_overflow_are_refused_naming_the_row(blobs):
    model = _quiet(ss.GaussianMixture(3, random_state=0, max_iter=2).fit, blobs)
    bad = blobs.copy()
    bad[7777, 1] = 1e300
    with pytest.raises(ValueError, match=r"row 7777: its statistics overflow"):
        model.summarize(bad)
    assert model.pending is None
    km = _quiet(ss.KMeans(3, random_state=0, max_iter=2).fit, blobs)
    with pytest.raises(ValueError, match=r"row 7777: its statistics overflow"):
        km.summarize(bad)


def test_an_overflow_late_in_a_file_is_named_by_its_row_in_the_file(tmp_path, blobs):
    bad = blobs.copy()
    bad[15_000, 0] = 1e300
    start = _quiet(ss.GaussianMixture(3, random_state=0, max_iter=1).fit, blobs)
    model = ss.GaussianMixture(3, weights_init=start.weights_, means_init=start.means_,
                               precisions_init=start.precisions_, max_iter=2, batch_size=5000)
    with pytest.raises(ValueError, match=r"row 15000: its statistics overflow"):
        _quiet(model.fit, bad)


def test_kmeans_round_trips_through_json(tmp_path, blobs):
    km = _quiet(ss.KMeans(3, random_state=0, max_iter=3).fit, blobs)
    ss.io.save(km, tmp_path / "km.json")
    back = ss.io.load(tmp_path / "km.json")
    assert isinstance(back, ss.KMeans) and np.array_equal(back.cluster_centers_, km.cluster_centers_)
    assert back.inertia_ == km.inertia_ and np.array_equal(back.predict(blobs[:100]), km.predict(blobs[:100]))
    data = km.to_dict()
    data["cluster_centers"] = [[1.0, 2.0]]
    with pytest.raises(ValueError, match="cluster_centers must be"):
        ss.io.from_json(json.dumps(data))
