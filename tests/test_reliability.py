"""Issue 10, distribution and persistence layers: refused calls leave no trace, threads lose no rows,
absorbed values and model JSON are checked field by field, files are written atomically."""

import json
import os
import threading

import numpy as np
import pytest

import suffstats as ss
from suffstats.fit.checkpoint import Checkpoint
from suffstats.distributions import FAMILIES
from suffstats.statistics import Additive, Composite, Moments, Statistics

from .families import snapshot


# -- transactions -------------------------------------------------------------------------------
def test_squares_that_overflow_are_refused_at_summarize_naming_the_row():
    d = ss.Normal().fit([1.0, 2.0, 3.0])
    before = snapshot(d)
    with pytest.raises(ValueError, match=r"1e\+300 at row 3: .*overflow float64"):
        d.summarize(np.array([1.0, 2.0, 3.0, 1e300, 5.0]))
    with pytest.raises(ValueError, match=r"row 1: .*overflow"):
        d.fit(np.array([-1e300, 1e300]))
    assert snapshot(d) == before
    # Equal huge values have no spread: nothing overflows, nothing is refused.
    assert ss.Normal().fit([1e300, 1e300]).mean == 1e300


def test_a_failure_half_way_through_from_summaries_keeps_the_old_parameters(monkeypatch):
    d = ss.Normal().fit([1.0, 2.0, 3.0])
    d.summarize([10.0, 20.0])
    before = snapshot(d)
    # The new mean is stored, then the standard deviation is refused.
    monkeypatch.setattr(ss.Normal, "_estimate", lambda self, stats: {"mean": 99.0, "std": -1.0})
    with pytest.raises(ValueError, match="std must be positive"):
        d.from_summaries()
    assert snapshot(d) == before and d.mean == 2.0


def test_refused_refit_on_a_constant_column_keeps_the_covariance():
    rng = np.random.default_rng(0)
    d = ss.MultivariateNormal(reg_covar=0.0).fit(rng.normal(size=(50, 2)))
    before = snapshot(d)
    X = np.column_stack([rng.normal(size=50), np.ones(50)])
    with pytest.raises(ValueError, match="not positive definite"):
        d.fit(X)
    assert snapshot(d) == before and d.covariance is not None


def test_every_mutator_is_transactional_in_every_family():
    from suffstats.distributions._base import MUTATORS

    for cls in set(FAMILIES.values()):
        if cls.__module__.startswith("suffstats.distributions"):  # mixtures: their own engine
            for name in MUTATORS:
                assert getattr(getattr(cls, name), "__transactional__", False), (cls, name)


def test_independent_components_roll_back_their_features(monkeypatch):
    d = ss.IndependentComponents([ss.Normal(), ss.Poisson()]).fit(np.array([[0.5, 1], [1.5, 3]]))
    before = snapshot(d)
    monkeypatch.setattr(ss.Poisson, "_estimate", lambda self, stats: {"rate": -1.0})
    with pytest.raises(ValueError, match="rate must be non-negative"):
        d.fit(np.array([[5.0, 1], [7.0, 3]]))  # the Normal feature is updated first, then rolled back
    assert snapshot(d) == before


# -- threads -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, X", [
    (ss.MultivariateNormal, np.random.default_rng(0).normal(size=(40_000, 3)) + 1e3),
    (ss.Normal, np.random.default_rng(1).normal(size=40_000)),
    (lambda: ss.Categorical(n_categories=4), np.random.default_rng(2).integers(0, 4, 40_000).astype(float)),
])
def test_eight_threads_summarizing_one_model_keep_every_row(make, X):
    shared, alone = make(), make()
    chunks = np.array_split(X, 64)
    barrier = threading.Barrier(8)

    def work(mine):
        barrier.wait()
        for chunk in mine:
            shared.summarize(chunk)

    threads = [threading.Thread(target=work, args=(chunks[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    alone.summarize(X)
    assert shared.pending.allclose(alone.pending, rtol=1e-9)
    shared.from_summaries()
    alone.from_summaries()
    for k, v in alone.parameters().items():
        np.testing.assert_allclose(shared.parameters()[k], v, rtol=1e-9)


def test_eight_threads_absorbing_values():
    d = ss.Normal()
    values = [ss.Normal().statistics(np.arange(i, i + 100.0)) for i in range(80)]
    threads = [threading.Thread(target=lambda vs: [d.absorb(v) for v in vs], args=(values[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert d.pending.weight == 8000


def test_the_lock_is_not_part_of_the_model():
    import copy

    d = ss.Normal().fit([1.0, 2.0])
    d.summarize([3.0])
    assert not any("lock" in k.lower() for k in vars(d))
    e = copy.deepcopy(d)
    assert snapshot(e) == snapshot(d)


# -- absorb ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, value, error, pattern", [
    (ss.Normal, Moments.of(np.ones((3, 2))), ValueError,
     r"expected moments of 1 feature\(s\) with diag second moments; got moments of 2 feature\(s\) with full"),
    (ss.Normal, Additive({"weight": 1.0, "sum": 2.0}), ValueError, "expected moments .*got additive"),
    (ss.Poisson, ss.Exponential().statistics([1.0]) + Additive({"weight": 0.0, "sum": 0.0}), None, None),
    (ss.Poisson, ss.Gamma().statistics([1.0]), ValueError, "fields sum, weight; got .*sum_log"),
    (lambda: ss.Categorical(n_categories=2), ss.Categorical(n_categories=3).statistics([0.0]), ValueError,
     r"counts\[2\].*got .*counts\[3\]"),
    (lambda: ss.MultivariateNormal(covariance_type="diag"), ss.MultivariateNormal().statistics(np.ones((2, 2))),
     ValueError, "diag second moments; got .*full"),
    (lambda: ss.IndependentComponents([ss.Normal(), ss.Poisson()]),
     Composite([ss.Normal().statistics([1.0])]), ValueError, "2 part"),
    (ss.Normal, [1.0, 2.0], TypeError, "takes a Statistics value"),
    (ss.Normal, Moments(1.0, [0.0], [np.nan], [1.0]), ValueError, "'first' is not finite"),
    (ss.Normal, Moments(-1.0, [0.0], [0.0], [0.0]), ValueError, "weight is negative"),
    (ss.Normal, Moments(1.0, [0.0, 1.0], [0.0], [0.0]), ValueError, "inconsistent shapes"),
])
def test_absorb_checks_kind_shape_layout_and_numbers(make, value, error, pattern):
    d = make()
    if error is None:
        d.absorb(value)
        return
    with pytest.raises(error, match=pattern):
        d.absorb(value)
    assert d.pending is None


def test_absorb_into_a_pending_total_of_other_dimensions_is_refused():
    d = ss.MultivariateNormal()
    d.summarize(np.ones((3, 2)))
    before = snapshot(d)
    with pytest.raises(ValueError, match="moments of 2 feature.*got moments of 3"):
        d.absorb(ss.MultivariateNormal().statistics(np.ones((3, 3))))
    assert snapshot(d) == before


def test_absorb_refuses_a_total_that_overflows():
    d = ss.Poisson()
    d.absorb(Additive({"weight": 1.0, "sum": 1e308}))
    with pytest.raises(ValueError, match="overflow"):
        d.absorb(Additive({"weight": 1.0, "sum": 1e308}))
    assert d.pending.fields["sum"] == 1e308


@pytest.mark.parametrize("data, pattern", [
    ([1, 2], "must be a mapping"), ({"kind": "nope"}, "unknown statistics kind"),
    ({"kind": "moments", "weight": 1.0}, "malformed moments"),
    ({"kind": "additive", "fields": {"a": 1.0}, "rules": {"a": "product"}}, "unknown combining rule"),
    ({"kind": "composite", "parts": 3}, "malformed composite"),
    ({"kind": "moments", "weight": "x", "shift": [0], "first": [0], "second": [0]}, "malformed moments"),
])
def test_statistics_from_hostile_dicts(data, pattern):
    with pytest.raises(ValueError, match=pattern):
        Statistics.from_dict(data)


# -- parameters ------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, error, pattern", [
    (lambda: ss.Normal(0.0, 1.0).sample(2.5), ValueError, r"n must be an integer >= 0; got 2.5"),
    (lambda: ss.Normal(0.0, 1.0).sample(-1), ValueError, r"n must be an integer"),
    (lambda: ss.Normal(frozen="no"), TypeError, "frozen must be True or False"),
    (lambda: ss.Categorical(n_categories=2.7), ValueError, "n_categories must be an integer"),
    (lambda: ss.Categorical(n_categories=2, pseudocount="a"), TypeError, "pseudocount must be a real number"),
    (lambda: ss.MultivariateNormal(reg_covar="big"), TypeError, "reg_covar must be a real number"),
    (lambda: ss.Normal(mean=[1.0, 2.0], std=1.0), ValueError, "mean must be a single number"),
    (lambda: ss.Normal(mean="1", std=1.0), TypeError, "mean must be a number"),
    (lambda: ss.MultivariateNormal([0.0], [[np.nan]]), ValueError, "covariances must be finite"),
])
def test_constructor_and_sample_arguments(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


# -- atomic writes -----------------------------------------------------------------------------------
def test_failed_writes_leave_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "m.json"
    ss.save(ss.Normal(0.0, 1.0), target)
    old = target.read_text()

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="No space"):
        ss.save(ss.Normal(5.0, 1.0), target)
    ckpt = Checkpoint(tmp_path / "fit.ckpt", 1, {"n_rows": 1}, {})
    with pytest.raises(OSError, match="No space"):
        ckpt.save({"epoch": 1})
    assert target.read_text() == old
    assert sorted(os.listdir(tmp_path)) == ["m.json"]


def test_atomic_write_is_the_only_writer():
    root = os.path.dirname(ss.__file__)
    users = [os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
             if f.endswith(".py") and "os.replace(" in open(os.path.join(d, f), encoding="utf-8").read()]
    assert users == ["_json.py"]


@pytest.mark.parametrize("payload, pattern", [
    ({"version": 1, "data": {}, "settings": {}}, "missing field 'state'"),
    ({"version": 1, "data": [], "settings": {}, "state": {}}, "'data' must be an object"),
    ({"version": 1, "data": {}, "settings": {}, "state": 3}, "'state' must be an object"),
])
def test_checkpoint_payload_fields_are_checked_not_just_the_checksum(tmp_path, payload, pattern):
    from suffstats.fit.checkpoint import _digest

    path = tmp_path / "fit.ckpt"
    path.write_text(json.dumps({"payload": payload, "sha256": _digest(payload)}))
    with pytest.raises(ValueError, match=pattern):
        Checkpoint(path, 1, {}, {}).load()


def test_deeply_nested_checkpoint_is_a_value_error(tmp_path):
    path = tmp_path / "fit.ckpt"
    path.write_text("[" * 100_000)
    with pytest.raises(ValueError, match="nested 100000 levels"):
        Checkpoint(path, 1, {}, {}).load()


