"""``suffstats fit-hmm``: the saved model is the one the Python API fits; bad input is one line and the exit code."""

import numpy as np
import pytest

import suffstats
import suffstats.cli as cli
from suffstats.hmm import GaussianHMM, GMMHMM


@pytest.fixture
def files(tmp_path):
    truth = GaussianHMM(2, "diag")
    truth.startprob_, truth.transmat_ = np.array([0.5, 0.5]), np.array([[0.95, 0.05], [0.1, 0.9]])
    truth.means_, truth.covars_ = np.array([[0.0, 0.0], [4.0, 1.0]]), np.ones((2, 2))
    X, _ = truth.sample(6000, random_state=0)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "lengths.npy", np.array([4500, 1500]))
    return X, tmp_path


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("model, extra, cls, kw", [
    ("gaussian", ["--covariance", "full"], GaussianHMM, dict(covariance_type="full")),
    ("gmm", ["--n-mix", "2"], GMMHMM, dict(covariance_type="diag", n_mix=2)),
])
def test_the_saved_model_is_the_python_fit(capsys, files, model, extra, cls, kw):
    X, folder = files
    code, out, _ = run(capsys, "fit-hmm", folder / "x.npy", "--lengths", folder / "lengths.npy", "--states", 2,
                       "--model", model, *extra, "--n-iter", 5, "--batch-size", 1000, "--seed", 3,
                       "--out", folder / "m.json", "--quiet")
    assert code == 0 and "written to" in out and "2 sequences" in out
    saved = suffstats.load(folder / "m.json")
    ours = cls(2, n_iter=5, random_state=3, **kw).fit(X, [4500, 1500])
    np.testing.assert_array_equal(saved.means_, ours.means_)
    np.testing.assert_array_equal(saved.transmat_, ours.transmat_)


def test_bad_lengths_and_outputs_are_one_line_with_the_exit_code(capsys, files):
    X, folder = files
    np.save(folder / "short.npy", np.array([100, 100]))
    code, _, err = run(capsys, "fit-hmm", folder / "x.npy", "--lengths", folder / "short.npy", "--states", 2,
                       "--out", folder / "m.json", "--quiet")
    assert code == 1 and "lengths sum to 200 rows, but the data has 6,000 rows" in err and len(err.splitlines()) == 1
    code, _, err = run(capsys, "fit-hmm", folder / "x.npy", "--lengths", folder / "x.npy", "--states", 2,
                       "--out", folder / "m.json")
    assert code == 1 and "1-D array of integers" in err
    code, _, err = run(capsys, "fit-hmm", folder / "x.npy", "--states", 2, "--out", folder / "x.npy")
    assert code == 2 and "refusing to overwrite" in err
    code, _, err = run(capsys, "fit-hmm", folder / "x.npy", "--states", 0, "--out", folder / "m.json")
    assert code == 2
    assert not (folder / "m.json").exists()
    np.testing.assert_array_equal(np.load(folder / "x.npy"), X)


def test_a_checkpoint_resumes_to_the_same_model(capsys, files):
    X, folder = files
    argv = ["fit-hmm", folder / "x.npy", "--states", 2, "--n-iter", 4, "--tol", 0, "--quiet",
            "--checkpoint", folder / "fit.ckpt"]
    assert run(capsys, *argv, "--out", folder / "a.json")[0] == 0
    assert (folder / "fit.ckpt").exists()
    # Run again: the checkpoint holds the finished fit, which is written out without another iteration.
    assert run(capsys, *argv, "--out", folder / "b.json")[0] == 0
    assert (folder / "a.json").read_text() == (folder / "b.json").read_text()
    code, _, err = run(capsys, *argv[:-1], folder / "a.json", "--out", folder / "a.json")
    assert code == 2 and "same file" in err
