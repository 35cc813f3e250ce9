"""Mixture settings are checked at ``fit``, before any work, each refusal naming the setting; nothing changes."""

import warnings

import numpy as np
import pytest

import suffstats as ss

X = np.random.default_rng(0).normal(size=(600, 2))

REFUSED = {
    "a negative random_state": (dict(random_state=-1), "random_state must be None, an integer in"),
    "a float random_state": (dict(random_state=1.5), "random_state must be None"),
    "a single callback function": (dict(callbacks=print), r"callbacks must be a list .* callbacks=\[f\]"),
    "a callback that is not a function": (dict(callbacks=[3]), "3 is not callable"),
}


@pytest.mark.parametrize("model", [ss.GaussianMixture, ss.KMeans])
@pytest.mark.parametrize("case", list(REFUSED))
def test_a_bad_setting_is_named(model, case):
    settings, message = REFUSED[case]
    estimator = model(2, **settings)
    with pytest.raises(ValueError, match=message):
        estimator.fit(X)
    assert not hasattr(estimator, "n_features_in_")


@pytest.mark.parametrize("random_state", [0, 2**32 - 1, None, np.random.default_rng(1), np.random.RandomState(1)])
def test_every_kind_of_random_state_is_accepted(random_state):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ss.GaussianMixture(2, random_state=random_state, max_iter=2).fit(X)


def test_a_generator_object_with_a_checkpoint_is_refused_before_any_work(tmp_path):
    checkpoint = tmp_path / "fit.ckpt"
    with pytest.raises(ValueError, match="checkpoint needs random_state to be None or an integer; got a RandomState"):
        ss.GaussianMixture(2, random_state=np.random.RandomState(0)).fit(X, checkpoint=checkpoint)
    assert not checkpoint.exists()


def test_a_raising_callback_stops_the_fit_like_ctrl_c():
    """The model keeps the epoch the callback saw; the exception is the callback's own."""
    seen = {}

    def stop_at_two(model, logs):
        seen[logs["epoch"]] = model.means_.copy()
        if logs["epoch"] == 2:
            raise RuntimeError("enough")

    model = ss.GaussianMixture(2, callbacks=[stop_at_two], max_iter=10, tol=0, random_state=0)
    with pytest.raises(RuntimeError, match="enough"):
        model.fit(X)
    assert np.array_equal(model.means_, seen[2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        two_epochs = ss.GaussianMixture(2, max_iter=2, tol=0, random_state=0).fit(X)
    assert np.array_equal(model.means_, two_epochs.means_)


def test_a_refused_fit_still_rolls_back():
    model = ss.GaussianMixture(2, random_state=0, max_iter=2).fit(X)
    means = model.means_.copy()
    with pytest.raises(ValueError):
        model.fit(np.r_[X, [[np.nan, 0.0]]])
    assert np.array_equal(model.means_, means)
