"""Files a fit writes and reads back: model files and checkpoints are written atomically (a failed write
leaves the old file in place and no temporary, and one module is the only caller of ``os.replace``), and a
checkpoint read back is checked field by field, not only by its checksum, with deep nesting refused as a
``ValueError``.
"""

import json
import os

import pytest

import suffstats as ss
from suffstats.fit.checkpoint import Checkpoint


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
