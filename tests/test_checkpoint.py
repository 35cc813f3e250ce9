"""Resumable fits: kill -9 mid-epoch, resume, and get the uninterrupted model bit for bit."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

import suffstats as ss

from .checkpoints import forge
from .sources import Interrupting

SETTINGS = dict(n_components=3, max_iter=6, tol=0, random_state=0, batch_size=4096, init_params="k-means++")


@pytest.fixture
def data_path(tmp_path):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(m, 1.0, size=(7_000, 4)) for m in (0.0, 4.0, 8.0)])
    path = tmp_path / "x.npy"
    np.save(path, X[rng.permutation(len(X))])
    return path


def _fit(X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ss.GaussianMixture(**SETTINGS).fit(X, **kwargs)


def _state(path):
    try:
        with open(path) as f:
            return json.load(f)["payload"]["state"]
    except (OSError, ValueError, KeyError):
        return None


@pytest.mark.slow
def test_killed_fit_resumes_to_the_uninterrupted_model(tmp_path, data_path):
    checkpoint = tmp_path / "fit.ckpt"
    script = textwrap.dedent(f"""
        import time, numpy as np, suffstats as ss
        class Slow(ss.data.ArraySource):
            def read(self, start, stop):
                time.sleep(0.05)
                return super().read(start, stop)
        X = np.load({str(data_path)!r}, mmap_mode="r")
        ss.GaussianMixture(**{SETTINGS!r}).fit(Slow(X), checkpoint={str(checkpoint)!r}, checkpoint_every=1)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            state = _state(checkpoint)
            if state and state["history"]["n_iter"] >= 2 and state["rows_done"] > 0:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the fit never reached the middle of its third epoch")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed_at = _state(checkpoint)
    assert killed_at["history"]["n_iter"] < SETTINGS["max_iter"]
    X = np.load(data_path, mmap_mode="r")
    resumed = ss.GaussianMixture(**{**SETTINGS, "batch_size": 1500})  # exact mode: any batch size resumes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resumed.fit(X, checkpoint=checkpoint, checkpoint_every=1)
    uninterrupted = _fit(X)
    for name in ("weights_", "means_", "covariances_", "lower_bounds_"):
        assert np.array_equal(getattr(resumed, name), getattr(uninterrupted, name)), name
    assert resumed.n_iter_ == SETTINGS["max_iter"]


def test_resume_mid_epoch_in_process(tmp_path, data_path):
    X = np.load(data_path, mmap_mode="r")
    checkpoint = tmp_path / "fit.ckpt"
    with pytest.raises(KeyboardInterrupt):
        _fit(Interrupting(X, at_read=16), checkpoint=checkpoint, checkpoint_every=2)  # 4th batch, 3rd epoch
    assert _state(checkpoint)["rows_done"] > 0
    resumed = _fit(X, checkpoint=checkpoint, checkpoint_every=2)
    assert np.array_equal(resumed.means_, _fit(X).means_)


def test_corrupted_checkpoint_is_refused(tmp_path, data_path):
    checkpoint = tmp_path / "fit.ckpt"
    _fit(np.load(data_path, mmap_mode="r"), checkpoint=checkpoint)
    text = checkpoint.read_text()
    checkpoint.write_text(text.replace('"n_iter": 6', '"n_iter": 5'))
    with pytest.raises(ValueError, match="damaged \\(checksum mismatch\\)"):
        _fit(np.load(data_path, mmap_mode="r"), checkpoint=checkpoint)
    checkpoint.write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match="not a readable suffstats checkpoint"):
        _fit(np.load(data_path, mmap_mode="r"), checkpoint=checkpoint)


def test_checkpoint_for_other_data_or_settings_is_refused(tmp_path, data_path):
    checkpoint = tmp_path / "fit.ckpt"
    X = np.load(data_path)
    _fit(X, checkpoint=checkpoint)
    with pytest.raises(ValueError, match="made on different data"):
        _fit(X + 1.0, checkpoint=checkpoint)
    with pytest.raises(ValueError, match="different settings \\(differs in n_components\\)"):
        ss.GaussianMixture(**{**SETTINGS, "n_components": 2}).fit(X, checkpoint=checkpoint)


def test_checkpoint_writes_are_atomic(tmp_path, data_path):
    checkpoint = tmp_path / "fit.ckpt"
    _fit(np.load(data_path), checkpoint=checkpoint, checkpoint_every=1)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("fit.ckpt")] == ["fit.ckpt"]
    assert os.path.getsize(checkpoint) > 0


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def change(state):
        target = state
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value(target[keys[-1]]) if callable(value) else value
    return change


FORGERIES = {
    "rows_done past the epoch": (_set("rows_done", 10**9), "'rows_done'"),
    "rows_done off a block": (_set("rows_done", 12345), "'rows_done'"),
    "negative rows_done": (_set("rows_done", -5), "'rows_done'"),
    "negative n_iter": (_set("history", "n_iter", -3), "'history.n_iter'"),
    "n_iter without its log-likelihoods": (_set("history", "n_iter", 1), "'history.n_iter'"),
    "an empty state": (lambda state: state.clear(), "'init', 'parameters', 'pending', 'rng', 'rows_done' are missing"),
    "a foreign field": (_set("extra", 1), "'extra' is not a field"),
    "init past n_init": (_set("init", 7), "'init'"),
    "a cursor in exact mode": (_set("history", "cursor", 3), "'history.cursor'"),
    "a forged generator": (_set("rng", "state", "state", "not a number"), "'rng'"),
    "another generator": (_set("rng", "bit_generator", "MT19937"), "'rng'"),
    "means of the wrong shape": (_set("parameters", 1, lambda means: [row[:-1] for row in means]), "'parameters'"),
    "weights that do not sum to one": (_set("parameters", 0, lambda w: [2 * v for v in w]), "'parameters'"),
    "a singular covariance": (_set("parameters", 2, lambda c: [[[0.0] * len(m) for m in cov] for cov in c]),
                              "'parameters'"),
    "forged pending statistics": (_set("pending", [[0, "nonsense"]]), "'pending'"),
    "pending statistics without rows": (_set("rows_done", 0), "'rows_done'"),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_a_forged_checkpoint_with_a_valid_checksum_is_refused_by_meaning(tmp_path, data_path, forgery):
    """Every field is checked for type, range and consistency; the message names the file and the field."""
    change, field = FORGERIES[forgery]
    X = np.load(data_path, mmap_mode="r")
    checkpoint = tmp_path / "fit.ckpt"
    with pytest.raises(KeyboardInterrupt):
        _fit(Interrupting(X, at_read=16), checkpoint=checkpoint, checkpoint_every=2)
    assert _state(checkpoint)["rows_done"] > 0  # a part-done epoch: pending statistics are in the file
    forge(checkpoint, change)
    model = ss.GaussianMixture(**SETTINGS)
    with pytest.raises(ValueError) as error:
        model.fit(X, checkpoint=checkpoint)
    assert str(checkpoint) in str(error.value) and field in str(error.value), str(error.value)
    assert not hasattr(model, "means_")  # refused before anything was loaded


def test_the_data_file_given_as_checkpoint_is_refused_and_untouched(data_path):
    before = data_path.read_bytes()
    with pytest.raises(ValueError, match="is the data file"):
        _fit(str(data_path), checkpoint=data_path)
    # A memory map does not say which file it maps: the file is refused for what it holds.
    with pytest.raises(ValueError, match="not a JSON file but a .npy array"):
        _fit(np.load(data_path, mmap_mode="r"), checkpoint=str(data_path))
    assert data_path.read_bytes() == before


def test_an_array_file_given_as_checkpoint_says_what_it_is(tmp_path, data_path):
    other = tmp_path / "other.npy"
    np.save(other, np.zeros(3))
    with pytest.raises(ValueError, match="not a readable suffstats checkpoint \\(it is not a JSON file but a .npy array"):
        _fit(np.load(data_path, mmap_mode="r"), checkpoint=other)


def test_temporary_files_left_by_a_kill_are_removed_by_the_next_run(tmp_path, data_path):
    checkpoint = tmp_path / "fit.ckpt"
    stray = tmp_path / ".fit.ckpt.abc123.tmp"
    stray.write_text("{half a checkpoint")
    _fit(np.load(data_path, mmap_mode="r"), checkpoint=checkpoint)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.ckpt", "x.npy"]


class _Clock:
    """A fake clock on which time passes only as chunks are summed: ``step`` seconds per chunk.

    It is advanced where the fit asks whether a write is due (once per chunk, on the thread that sums), not
    where rows are read: reads run ahead on a background thread by as much as the scheduler allows.
    """

    def __init__(self, step):
        self.now, self.step = 0.0, step

    def __call__(self):
        return self.now


@pytest.mark.parametrize("seconds_per_chunk, chunks_per_write", [(61.0, 1), (25.0, 3)])
def test_by_default_a_checkpoint_is_written_every_minute_of_work(tmp_path, data_path, monkeypatch,
                                                                  seconds_per_chunk, chunks_per_write):
    """With no batch count, a part-done epoch is written once a minute of work has passed: a kill loses a minute."""
    import suffstats.fit.checkpoint as checkpoint_module

    clock = _Clock(seconds_per_chunk)
    monkeypatch.setattr(checkpoint_module, "_now", clock)
    written = []
    save, due = checkpoint_module.Checkpoint.save, checkpoint_module.Checkpoint.due
    monkeypatch.setattr(checkpoint_module.Checkpoint, "save",
                        lambda self, state: (written.append(state["rows_done"]), save(self, state)))

    def one_chunk_of_work(self, chunks):
        clock.now += clock.step
        return due(self, chunks)

    monkeypatch.setattr(checkpoint_module.Checkpoint, "due", one_chunk_of_work)
    X = np.load(data_path, mmap_mode="r")
    checkpoint = tmp_path / "fit.ckpt"
    with pytest.raises(KeyboardInterrupt):
        _fit(Interrupting(X, at_read=10), checkpoint=checkpoint)  # the 4th read of the second epoch
    batch, done = SETTINGS["batch_size"], 3 * SETTINGS["batch_size"]  # three chunks of that epoch were summed
    part_done = [rows for rows in written if 0 < rows < len(X)]
    assert part_done and all(rows % batch == 0 for rows in part_done), part_done
    assert len(part_done) >= (5 + 2) // chunks_per_write - 1  # one write per minute of work, give or take a chunk
    lost = done - _state(checkpoint)["rows_done"]
    assert 0 <= lost <= chunks_per_write * batch  # at most about a minute of work
    resumed = _fit(X, checkpoint=checkpoint)
    assert np.array_equal(resumed.means_, _fit(X).means_)
