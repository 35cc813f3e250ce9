"""The ``suffstats`` command behaves like a Unix tool: one-line errors, checks before work, honest help."""

import errno
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import suffstats as ss
import suffstats._cli_checks as cli_checks
import suffstats.cli as cli
from suffstats import save
from suffstats.mixture import GaussianMixture

FAST = ["--components", "2", "--max-iter", "2", "--quiet"]


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "d.npy"
    np.save(path, np.random.default_rng(0).normal(size=(300, 2)))
    return path


def run(capsys, *argv):
    """``main(argv)`` in this process: (exit status, stdout, stderr)."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def messages(err):
    """The lines of stderr that are not warnings (a 2-epoch fit warns that it did not converge)."""
    return [line for line in err.strip().splitlines() if not line.startswith("suffstats: warning: ")]


def assert_one_line_error(err, *fragments):
    lines = messages(err)
    assert len(lines) == 1, err
    assert lines[0].startswith("suffstats: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


def test_fit_writes_the_model(capsys, data, tmp_path):
    code, out, err = run(capsys, "fit", data, *FAST, "--out", tmp_path / "m.json")
    assert code == 0
    assert "fitting 2 components" in out and "written to" in out
    assert json.loads((tmp_path / "m.json").read_text())["family"] == "GaussianMixture"
    assert "Traceback" not in err


def test_bad_input_file_is_one_line_and_exit_1(capsys, tmp_path):
    code, out, err = run(capsys, "fit", tmp_path / "missing.npy", *FAST, "--out", tmp_path / "m.json")
    assert code == 1
    assert_one_line_error(err, "missing.npy")
    assert "fitting" not in out


def test_library_value_error_is_one_line(capsys, data, tmp_path):
    code, _, err = run(capsys, "fit", data, "--components", "500", "--max-iter", "1", "--quiet",
                       "--out", tmp_path / "m.json")
    assert code == 1
    assert_one_line_error(err, "n_components")
    assert not (tmp_path / "m.json").exists()


def test_debug_shows_the_traceback(capsys, tmp_path):
    for argv in (["--debug", "fit"], ["fit", "--debug"]):
        code, _, err = run(capsys, *argv, tmp_path / "missing.npy", *FAST, "--out", tmp_path / "m.json")
        assert code == 1
        assert "Traceback (most recent call last)" in err
        assert err.strip().splitlines()[-1].startswith("suffstats: error: ")


@pytest.mark.parametrize("argv, fragment", [
    (["--components", "0"], "--components"),
    (["--max-iter", "-1"], "--max-iter"),
    (["--batch-size", "ten"], "--batch-size"),
    (["--tol", "nan"], "--tol"),
    (["--covariance", "round"], "--covariance"),
])
def test_bad_argument_values_are_usage_errors(capsys, data, tmp_path, argv, fragment):
    code, out, err = run(capsys, "fit", data, "--out", tmp_path / "m.json", *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) <= 2 and lines[0].startswith("suffstats: error: ") and fragment in lines[0]
    assert "Traceback" not in err and out == ""


def test_missing_required_option_is_a_usage_error(capsys, data):
    code, _, err = run(capsys, "fit", data)
    assert code == 2 and "--out" in err and len(err.strip().splitlines()) <= 2


@pytest.mark.parametrize("spelling", ["same", "dotted", "symlink", "hardlink"])
def test_out_equal_to_the_input_is_refused_and_the_input_untouched(capsys, data, tmp_path, monkeypatch, spelling):
    before = data.read_bytes()
    monkeypatch.chdir(tmp_path)
    out = {"same": str(data), "dotted": "./d.npy", "symlink": "link.npy", "hardlink": "hard.npy"}[spelling]
    if spelling == "symlink":
        os.symlink(data, out)
    if spelling == "hardlink":
        os.link(data, out)
    code, stdout, err = run(capsys, "fit", "d.npy", *FAST, "--out", out)
    assert code == 2
    assert_one_line_error(err, "input data")
    assert "fitting" not in stdout
    assert data.read_bytes() == before


def test_out_equal_to_a_shard_or_an_hdf5_file_is_refused(capsys, data, tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    for i in range(2):
        np.save(shards / f"part{i}.npy", np.zeros((10, 2)))
    before = (shards / "part1.npy").read_bytes()
    for source in (shards, shards / "*.npy", str(shards) + os.sep):
        code, _, err = run(capsys, "fit", source, *FAST, "--out", shards / "part1.npy")
        assert code == 2
        assert_one_line_error(err)
    assert (shards / "part1.npy").read_bytes() == before
    # A new file that the directory or glob would read as a shard next time.
    code, _, err = run(capsys, "fit", shards, *FAST, "--out", shards / "model.npy")
    assert code == 2 and "shard" in err
    # FILE.h5:DATASET: the file part is compared (the check comes before the file is opened).
    h5 = tmp_path / "f.h5"
    h5.write_bytes(b"not really hdf5")
    code, _, err = run(capsys, "fit", f"{h5}:x", *FAST, "--out", h5)
    assert code == 2
    assert_one_line_error(err, "input data")
    assert h5.read_bytes() == b"not really hdf5"


def test_checkpoint_equal_to_the_input_or_to_out_is_refused(capsys, data, tmp_path):
    before = data.read_bytes()
    code, _, err = run(capsys, "fit", data, *FAST, "--out", tmp_path / "m.json", "--checkpoint", data)
    assert code == 2
    assert_one_line_error(err, "--checkpoint")
    code, _, err = run(capsys, "fit", data, *FAST, "--out", tmp_path / "m.json", "--checkpoint", tmp_path / "m.json")
    assert code == 2
    assert_one_line_error(err, "same file")
    assert data.read_bytes() == before
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("where", ["missing-dir", "parent-is-a-file", "is-a-directory", "read-only-file"])
def test_unwritable_out_is_refused_before_fitting(capsys, data, tmp_path, monkeypatch, where):
    fitted = []
    monkeypatch.setattr(GaussianMixture, "fit", lambda self, *a, **k: fitted.append(1) or self)
    out = {"missing-dir": tmp_path / "no" / "such" / "m.json", "parent-is-a-file": data.with_name("d.npy") / "m.json",
           "is-a-directory": tmp_path, "read-only-file": tmp_path / "ro.json"}[where]
    if where == "read-only-file":
        out.write_text("{}")
        out.chmod(0o444)
        if os.access(out, os.W_OK):  # root writes anything
            pytest.skip("running as a user who can write read-only files")
    for option in ("--out", "--checkpoint"):
        argv = ["--out", out] if option == "--out" else ["--out", tmp_path / "m.json", "--checkpoint", out]
        code, stdout, err = run(capsys, "fit", data, *FAST, *argv)
        assert code == 2
        assert_one_line_error(err, option)
        assert "fitting" not in stdout
    assert not fitted


@pytest.mark.parametrize("where", ["proc", "read-only-mount"])
def test_out_that_permission_bits_allow_but_cannot_be_created_is_refused_before_fitting(capsys, data, tmp_path,
                                                                                      monkeypatch, where):
    """``/proc`` (or a read-only mount) passes ``os.access`` for root; the file is refused anyway, by the name given."""
    fitted = []
    monkeypatch.setattr(GaussianMixture, "fit", lambda self, *a, **k: fitted.append(1) or self)
    if where == "proc":
        if not os.path.isdir("/proc/self"):
            pytest.skip("no /proc on this system")
        out = "/proc/m.json"
    else:
        out = str(tmp_path / "mount" / "m.json")
        os.mkdir(tmp_path / "mount")
        real_mkstemp = cli_checks.tempfile.mkstemp

        def read_only(*args, dir=None, **kwargs):
            if os.path.realpath(dir) == os.path.realpath(tmp_path / "mount"):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS))
            return real_mkstemp(*args, dir=dir, **kwargs)

        monkeypatch.setattr(cli_checks.tempfile, "mkstemp", read_only)
    for option in ("--out", "--checkpoint"):
        argv = ["--out", out] if option == "--out" else ["--out", tmp_path / "m.json", "--checkpoint", out]
        code, stdout, err = run(capsys, "fit", data, *FAST, *argv)
        assert code == 2
        assert_one_line_error(err, f"{option} {out} cannot be written")
        assert ".tmp" not in err and "fitting" not in stdout
    assert not fitted
    assert sorted(os.listdir(tmp_path)) == sorted(["d.npy"] + (["mount"] if where != "proc" else []))


def test_a_failed_save_names_the_file_asked_for(tmp_path):
    if not os.path.isdir("/proc/self"):
        pytest.skip("no /proc on this system")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one epoch does not converge; not what this test is about
        model = GaussianMixture(2, max_iter=1).fit(np.random.default_rng(0).normal(size=(50, 2)))
    with pytest.raises(OSError, match=r"cannot write /proc/m\.json") as info:
        save(model, "/proc/m.json")
    assert ".tmp" not in str(info.value)


def test_help_shows_defaults(capsys):
    code, out, _ = run(capsys, "fit", "--help")
    assert code == 0
    assert "default" in out
    assert "(default: 8)" in out and "(default: 100000)" in out and "(default: full)" in out
    code, out, _ = run(capsys, "demo", "--help")
    assert code == 0 and "(default: 300.0)" in out
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "exit status" in out


def test_columns_refused_for_formats_without_named_columns(capsys, data, tmp_path):
    for source in (data, tmp_path / "*.npy", tmp_path, f"{tmp_path / 'f.h5'}:x"):
        code, out, err = run(capsys, "fit", source, *FAST, "--columns", "a,b", "--out", tmp_path / "m.json")
        assert code == 2
        assert_one_line_error(err, "--columns", ".parquet, .pq, .csv, .tsv files only")
        assert "fitting" not in out


def test_columns_accepted_for_csv(capsys, tmp_path):
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(0)
    rows = "\n".join(f"{a},{b},{c}" for a, b, c in rng.normal(size=(200, 3)))
    (tmp_path / "d.csv").write_text("a,b,c\n" + rows + "\n")
    code, out, err = run(capsys, "fit", tmp_path / "d.csv", *FAST, "--columns", "a,c", "--out", tmp_path / "m.json")
    assert code == 0, err
    assert "x 2" in out


def test_keyboard_interrupt_exits_130_with_one_line(capsys, data, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "save", interrupted)
    code, _, err = run(capsys, "fit", data, *FAST, "--out", tmp_path / "m.json")
    assert code == 130
    assert messages(err) == ["suffstats: interrupted"]
    code, _, err = run(capsys, "fit", data, *FAST, "--out", tmp_path / "m.json", "--checkpoint", tmp_path / "ck.json")
    assert code == 130
    assert messages(err) == [f"suffstats: interrupted; run the same command again to resume from {tmp_path / 'ck.json'}"]


def test_unexpected_error_is_short_without_debug(capsys, data, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "save", broken)
    code, _, err = run(capsys, "fit", data, *FAST, "--out", tmp_path / "m.json")
    assert code == 1
    lines = messages(err)
    assert lines[0] == "suffstats: error: RuntimeError: boom"
    assert len(lines) == 2 and "--debug" in lines[1] and "Traceback" not in err


def test_resume_message_from_an_interrupted_fit(capsys, tmp_path):
    path = tmp_path / "r.npy"
    np.save(path, np.random.default_rng(1).normal(size=(3 * 4096, 2)))
    checkpoint = tmp_path / "ck.json"
    argv = ["--components", "2", "--batch-size", "4096", "--max-iter", "3", "--seed", "0",
            "--checkpoint", checkpoint, "--checkpoint-every", "2"]

    def stop(model, logs):  # after epoch 1: the checkpoint then holds 2 of its 3 blocks
        raise KeyboardInterrupt

    # The settings the command uses (callbacks and verbosity are not part of a checkpoint's fingerprint).
    model = GaussianMixture(2, covariance_type="full", batch_size=4096, max_iter=3, tol=1e-3,
                            init_params="kmeans", random_state=0, callbacks=[stop])
    with pytest.raises(KeyboardInterrupt), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(path, checkpoint=checkpoint, checkpoint_every=2)
    code, out, err = run(capsys, "fit", path, *argv, "--quiet", "--out", tmp_path / "m.json")
    assert code == 0, err
    assert "resuming from epoch 1, row 8192 of 12288" in out
    # Run again: the checkpoint now holds the finished fit.
    code, out, _ = run(capsys, "fit", path, *argv, "--quiet", "--out", tmp_path / "m.json")
    assert code == 0 and "finished fit" in out and "resuming" not in out
    # Other settings: refused before the fit, in one line.
    code, out, err = run(capsys, "fit", path, *argv, "--tol", "0.5", "--quiet", "--out", tmp_path / "m.json")
    assert code == 1
    assert_one_line_error(err, "different settings")
    assert "fitting" not in out


def test_no_resume_message_on_a_fresh_checkpoint(capsys, data, tmp_path):
    code, out, _ = run(capsys, "fit", data, *FAST, "--checkpoint", tmp_path / "ck.json", "--out", tmp_path / "m.json")
    assert code == 0 and "resuming" not in out and (tmp_path / "ck.json").exists()


def test_the_installed_command_exit_status_and_stderr(data, tmp_path):
    """Through a real process: what a shell sees."""
    result = subprocess.run([sys.executable, "-m", "suffstats.cli", "fit", str(data), "--out", str(data)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("suffstats: error: ") and len(result.stderr.strip().splitlines()) == 1


def test_select_prints_the_table_and_writes_the_best_model(capsys, tmp_path):
    path = tmp_path / "three.npy"
    rng = np.random.default_rng(0)
    np.save(path, np.concatenate([rng.normal(m, 1.0, (500, 2)) for m in (-6.0, 0.0, 6.0)]))
    code, out, err = run(capsys, "select", path, "--components", "1-4", "--covariance", "full,spherical",
                         "--quiet", "--out", tmp_path / "best.json")
    assert code == 0, err
    assert out.count("\n") >= 10 and "best by bic: 3 components" in out
    model = json.loads((tmp_path / "best.json").read_text())
    assert model["family"] == "GaussianMixture" and len(model["weights"]) == 3
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["k", "covariance"])
    assert lines[header].split()[-3:] == ["bic", "-", "best"]
    rows = [line.split() for line in lines[header + 2:header + 10]]
    assert rows[0][0] == "3" and rows[0][-1] == "0.0"  # best first, at distance 0
    distances = [float(row[-1].replace(",", "")) for row in rows]
    assert distances == sorted(distances) and distances[1] > 0


def test_select_speaks_once_per_epoch_for_the_whole_search(capsys, tmp_path):
    path = tmp_path / "three.npy"
    rng = np.random.default_rng(0)
    np.save(path, np.concatenate([rng.normal(m, 1.0, (500, 2)) for m in (-6.0, 0.0, 6.0)]))
    code, out, err = run(capsys, "select", path, "--components", "1-4", "--covariance", "full,spherical",
                         "--out", tmp_path / "best.json")
    assert code == 0, err
    epochs = [line for line in out.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] for line in epochs] == [f"[{i}" for i in range(1, len(epochs) + 1)]
    assert all("of 8 candidates running" in line for line in epochs)
    assert epochs[-1].startswith(f"[{len(epochs)}] 0 of 8 candidates running, 8 converged")
    assert out.count("Initialization:") == 1


@pytest.mark.parametrize("argv, fragment", [
    (["--components", "0-3"], "must be >= 1"),
    (["--components", "a-b"], "expected a range"),
    (["--components", "5-1"], "'5-1' is an empty range"),
    (["--components", "1-100000000000"], "more than 10,000 numbers of components"),
    (["--covariance", "full,banana"], "choose from"),
])
def test_select_refuses_bad_grids(capsys, data, tmp_path, argv, fragment):
    code, out, err = run(capsys, "select", data, *argv, "--out", tmp_path / "m.json")
    assert code == 2 and fragment in err and not (tmp_path / "m.json").exists()


def test_select_refuses_a_grid_larger_than_the_data_at_once(capsys, data, tmp_path):
    code, out, err = run(capsys, "select", data, "--components", "1-5000", "--out", tmp_path / "m.json")
    assert code == 1 and "n_samples >= n_components" in err and "Initialization" not in out


def test_fit_variational_writes_a_bayesian_mixture_equal_to_the_library_fit(capsys, tmp_path):
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(c, 1.0, (400, 2)) for c in (-8, 8)])
    np.save(tmp_path / "two.npy", X)
    code, out, err = run(capsys, "fit", tmp_path / "two.npy", "--variational", "--components", "6",
                         "--weight-concentration-prior", "0.001", "--max-iter", "300", "--batch-size", "250",
                         "--quiet", "--out", tmp_path / "m.json")
    assert code == 0, err
    assert "2 of 6 components weigh over 1%" in out
    model = ss.load(tmp_path / "m.json")
    direct = ss.BayesianGaussianMixture(6, weight_concentration_prior=0.001, max_iter=300, random_state=0).fit(X)
    assert type(model) is ss.BayesianGaussianMixture and np.array_equal(model.means_, direct.means_)


@pytest.mark.parametrize("argv, fragment", [
    (["--variational", "--batches-per-epoch", "2"], "--variational fits by exact epochs"),
    (["--weight-concentration-prior", "0.1"], "--weight-concentration-prior needs --variational"),
])
def test_fit_variational_refuses_options_it_cannot_honour(capsys, data, tmp_path, argv, fragment):
    code, _, err = run(capsys, "fit", data, *argv, "--out", tmp_path / "m.json")
    assert code == 2 and fragment in err and not (tmp_path / "m.json").exists()
