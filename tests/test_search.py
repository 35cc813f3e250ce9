"""GaussianMixtureSearch: every candidate is its standalone fit, bit for bit, from one read per epoch."""

import json
import warnings

import numpy as np
import pytest

import suffstats as ss

from .sources import Counting, Interrupting


@pytest.fixture(scope="module")
def three_blobs():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(m, 1.0, (3000, 3)) for m in (-6.0, 0.0, 6.0)])
    return X[rng.permutation(len(X))]


def _quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


SEARCH = dict(n_components=[1, 2, 3, 4], covariance_type=["full", "spherical"], n_init=2, random_state=0,
              batch_size=3000, max_iter=30)


def test_each_candidate_is_its_standalone_fit_bit_for_bit(three_blobs):
    search = _quiet(ss.GaussianMixtureSearch(**SEARCH).fit, three_blobs)
    assert len(search.candidates_) == 16
    for model, row in zip(search.candidates_, search.results_):
        alone = _quiet(ss.GaussianMixture(row["n_components"], covariance_type=row["covariance_type"],
                                          random_state=row["random_state"], batch_size=5000, max_iter=30).fit,
                       three_blobs)
        for name in ("weights_", "means_", "covariances_"):
            assert np.array_equal(getattr(model, name), getattr(alone, name)), (row, name)
        assert model.n_iter_ == alone.n_iter_ and model.lower_bounds_ == alone.lower_bounds_


def test_bic_picks_the_generating_k_and_matches_scikit_learns_formula(three_blobs):
    search = _quiet(ss.GaussianMixtureSearch(**SEARCH).fit, three_blobs)
    assert search.best_params_["n_components"] == 3
    best = search.best_estimator_
    row = next(r for m, r in zip(search.candidates_, search.results_) if m is best)
    # BIC from the last E-step: within tol per row of the BIC of the final parameters.
    assert row["bic"] == pytest.approx(best.bic(three_blobs), abs=2 * SEARCH.get("tol", 1e-3) * len(three_blobs))
    np.testing.assert_array_equal(search.predict(three_blobs[:50]), best.predict(three_blobs[:50]))


def test_the_data_is_read_once_per_epoch_for_all_candidates(three_blobs):
    shared = Counting(three_blobs)
    search = _quiet(ss.GaussianMixtureSearch(**SEARCH).fit, shared)
    passes = shared.rows_read / len(three_blobs)
    assert passes == 1 + search.n_iter_  # one assignment pass for every k-means start, then one per epoch
    separate = 0
    for row in search.results_:
        alone = Counting(three_blobs)
        _quiet(ss.GaussianMixture(row["n_components"], covariance_type=row["covariance_type"],
                                  random_state=row["random_state"], batch_size=3000, max_iter=30).fit, alone)
        separate += alone.rows_read
    assert shared.rows_read * 5 < separate


def test_a_killed_search_resumes_bit_for_bit(tmp_path, three_blobs):
    checkpoint = tmp_path / "search.ckpt"
    with pytest.raises(KeyboardInterrupt):
        # Interrupted at the second batch of the third epoch.
        _quiet(ss.GaussianMixtureSearch(**SEARCH).fit, Interrupting(three_blobs, at_read=11), checkpoint=checkpoint,
               checkpoint_every=1)
    assert json.loads(checkpoint.read_text())["payload"]["state"]["rows_done"] > 0
    resumed = _quiet(ss.GaussianMixtureSearch(**SEARCH).fit, three_blobs, checkpoint=checkpoint, checkpoint_every=1)
    straight = _quiet(ss.GaussianMixtureSearch(**SEARCH).fit, three_blobs)
    assert resumed.results_ == straight.results_
    for a, b in zip(resumed.candidates_, straight.candidates_):
        assert np.array_equal(a.means_, b.means_) and np.array_equal(a.covariances_, b.covariances_)


@pytest.mark.parametrize("kwargs, message", [
    ({"criterion": "hqic"}, "criterion must be one of"),
    ({"n_components": []}, "at least one value"),
    ({"covariance_type": ["full", "banana"]}, "covariance_type must be one of"),
    ({"n_components": [2, 0]}, "n_components must be an integer >= 1"),
])
def test_bad_settings_are_refused_before_reading(three_blobs, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ss.GaussianMixtureSearch(**kwargs).fit(three_blobs)


def test_the_whole_grid_is_checked_against_the_data_before_any_read(three_blobs):
    source = Counting(three_blobs)
    for n_components, message in [(range(1, 10**9), "n_samples >= n_components"),
                                  (range(0, 3), "must be an integer >= 1"),
                                  ((k for k in [2, 10**9]), "n_samples >= n_components"),
                                  (iter(range(1, 10**9)), "more than 10,000 values"),
                                  ([2, 2.5], "must be an integer >= 1"),
                                  ("3", "a value or an iterable")]:
        with pytest.raises(ValueError, match=message):
            ss.GaussianMixtureSearch(n_components).fit(source)
    with pytest.raises(ValueError, match="GiB of parameters"):
        ss.GaussianMixtureSearch(range(1, 2000)).fit(np.zeros((2000, 500)))
    assert source.rows_read == 0


def test_a_generator_of_component_counts_is_a_grid(three_blobs):
    search = _quiet(ss.GaussianMixtureSearch((k for k in (1, 3)), random_state=0, max_iter=5).fit, three_blobs)
    assert [row["n_components"] for row in search.results_] == [1, 3]


def test_a_held_out_share_without_weight_is_refused_before_fitting(three_blobs):
    with pytest.raises(ValueError, match="holds out rows of total weight zero"):
        ss.GaussianMixtureSearch([1, 2], criterion="heldout", validation_fraction=1e-12).fit(three_blobs)


def test_held_out_rows_are_left_out_of_every_fit_and_score_it(three_blobs):
    search = _quiet(ss.GaussianMixtureSearch([1, 2, 3, 4], criterion="heldout", validation_fraction=0.25,
                                             random_state=0, batch_size=3000).fit, three_blobs)
    assert search.best_params_["n_components"] >= 3  # one or two components fit three blobs far worse
    split = ss.mixture._holdout.HeldOutSplit(len(three_blobs), 0.25, search.results_[0]["random_state"],
                                             held_out=True)
    held_out = split[0:len(three_blobs)] > 0
    assert 0.2 < held_out.mean() < 0.3
    for model, row in zip(search.candidates_, search.results_):
        alone = _quiet(ss.GaussianMixture(row["n_components"], random_state=row["random_state"],
                                          batch_size=5000).fit, three_blobs,
                       sample_weight=(~held_out).astype(float))
        assert np.array_equal(model.means_, alone.means_)
        # The held-out score is that of the final parameters on the held-out rows.
        assert row["heldout_log_likelihood"] == pytest.approx(alone.score(three_blobs[held_out]), rel=1e-10)


def test_heldout_criterion_needs_a_fraction(three_blobs):
    with pytest.raises(ValueError, match="needs validation_fraction"):
        ss.GaussianMixtureSearch([1, 2], criterion="heldout").fit(three_blobs)
    with pytest.raises(ValueError, match="validation_fraction must be a number in"):
        ss.GaussianMixtureSearch([1, 2], validation_fraction=1.5).fit(three_blobs)
