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
    with pytest.raises(ValueError, match="corrupted \\(checksum mismatch\\)"):
        _fit(np.load(data_path, mmap_mode="r"), checkpoint=checkpoint)
    checkpoint.write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match="unreadable or corrupted"):
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
