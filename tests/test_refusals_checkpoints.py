"""Files a fit writes and reads back: model files and checkpoints are written atomically (a failed write
leaves the old file in place and no temporary, and one module is the only caller of ``os.replace``), and a
checkpoint read back is checked field by field, not only by its checksum, with deep nesting refused as a
``ValueError``.
"""

import json
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import suffstats as ss
from suffstats.fit.checkpoint import Checkpoint, _digest
from suffstats.hmm import GaussianHMM

from .sources import Interrupting


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


# -- checkpoints read back --------------------------------------------------------------------------
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


# -- every field of a saved fit state forged, checksum recomputed (property) --------------------------
_RNG = np.random.default_rng(5)
_X = np.concatenate([_RNG.normal(m, 1.0, size=(3000, 2)) for m in (0.0, 5.0, 10.0)])[_RNG.permutation(9000)]
#: Values of another type or out of range, put in place of one field of a saved fit state.
HOSTILE = [None, "x", [], {}, -1, 10**12, 0.5, True, [[1.0]], {"a": 1}, -1e308]
_FITS = {
    "GaussianMixture": lambda: ss.GaussianMixture(3, max_iter=4, tol=0, random_state=0, batch_size=4096),
    "KMeans": lambda: ss.KMeans(3, max_iter=4, tol=0, random_state=0, batch_size=4096),
    "GaussianHMM": lambda: GaussianHMM(3, "diag", n_iter=4, tol=0.0, random_state=0),
}


def _leaves(value, path=()):
    """Every path to a leaf (and to every list and object) of a JSON value."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):  # the first few items of long lists stand for the rest
            yield from _leaves(item, path + (index,))


def _saved_state(kind, tmp):
    """A checkpoint of a fit interrupted mid-epoch (the last one of a finished fit for a hidden Markov model)."""
    path = os.path.join(tmp, f"{kind}.ckpt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "GaussianHMM":  # checkpoints between iterations: the last one holds the fitted parameters
            _FITS[kind]().fit(_X[:4000], checkpoint=path)
            return path
        for at_read in range(2, 30):  # the first interruption that leaves a part-done epoch in the file
            try:
                _FITS[kind]().fit(Interrupting(_X, at_read=at_read), checkpoint=path, checkpoint_every=1)
            except KeyboardInterrupt:
                pass
            if os.path.exists(path):
                with open(path) as f:
                    if json.load(f)["payload"]["state"].get("rows_done"):
                        return path
                os.remove(path)
    raise AssertionError(f"no part-done checkpoint of {kind}")


def _resume(kind, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = _FITS[kind]()
        return model.fit(_X[:4000], checkpoint=path) if kind == "GaussianHMM" else model.fit(_X, checkpoint=path)


def _parameters(model):
    names = ("weights_", "means_", "covariances_", "cluster_centers_", "startprob_", "transmat_", "covars_")
    return {name: np.asarray(getattr(model, name)) for name in names if hasattr(model, name)}


@pytest.fixture(scope="module")
def saved_fits(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("forged"))
    out = {}
    for kind in _FITS:
        path = _saved_state(kind, tmp)
        with open(path) as f:
            record = json.load(f)
        out[kind] = (record, _parameters(_resume(kind, path)), tmp)
    return out


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_field_of_a_checkpoint_forged_is_refused_by_name_or_changes_nothing(saved_fits, data):
    """Whatever field of the state is replaced by whatever value, with a recomputed checksum: the resume is
    refused with a ``ValueError`` naming the checkpoint file, or it ends with the parameters of the resume of
    the true checkpoint. No other exception escapes, and no other model comes out."""
    kind = data.draw(st.sampled_from(sorted(saved_fits)), label="fit")
    record, expected, tmp = saved_fits[kind]
    record = json.loads(json.dumps(record))
    state = record["payload"]["state"]
    paths = [p for p in _leaves(state) if p]
    field = data.draw(st.sampled_from(paths), label="field")
    value = data.draw(st.sampled_from(HOSTILE), label="value")
    target = state
    for key in field[:-1]:
        target = target[key]
    # A number put in place of a number may be one the fit could have written (a statistic, a parameter): the
    # resume may take it, but must still end with a finite model of the same shapes. Anything else is refused
    # or changes nothing.
    plausible = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (target[field[-1]], value))
    target[field[-1]] = value
    record["sha256"] = _digest(record["payload"])
    path = os.path.join(tmp, "forged.ckpt")
    with open(path, "w") as f:
        json.dump(record, f)
    try:
        model = _resume(kind, path)
    except ValueError as error:
        assert path in str(error), str(error)
        return
    got = _parameters(model)
    assert got.keys() == expected.keys()
    for name in expected:
        if plausible:
            assert got[name].shape == expected[name].shape and np.isfinite(got[name]).all(), (kind, field, value)
        else:
            np.testing.assert_array_equal(got[name], expected[name], err_msg=f"{kind}: {field} = {value!r}")
