"""The prepared device script runs end to end on the CPU (``--dry-run``), and the kernels' NumPy mirrors match
the reference for every covariance type and layout at edge sizes."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from suffstats.backends import cuda_sources, numpy_kernels

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "device_check.py"


def _script():
    spec = importlib.util.spec_from_file_location("device_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_dry_run_runs_every_section_and_writes_its_report(tmp_path, capsys):
    out = tmp_path / "report.json"
    assert _script().main(["--dry-run", "--out", str(out), "--tmp", str(tmp_path)]) == 0
    report = json.loads(out.read_text())
    for section in ("environment", "compile", "parity", "pytest", "ceilings", "kernels", "streamed"):
        assert "error" not in report[section], report[section]
    assert report["parity"]["failures"] == 0 and len(report["parity"]["cases"]) == 48
    assert all(report["streamed"][f"{b} buffers"]["bit_identical"] for b in (2, 3))
    table = capsys.readouterr().out
    assert "worst relative error" in table and "M rows/s" in table


def test_a_failing_section_is_reported_and_fails_the_run(tmp_path, monkeypatch, capsys):
    script = _script()

    def broken(*args):
        raise ZeroDivisionError("planted")
    monkeypatch.setattr(script, "section_streamed", broken)
    assert script.main(["--dry-run", "--out", str(tmp_path / "r.json"), "--skip", "parity"]) == 1
    assert "planted" in json.loads((tmp_path / "r.json").read_text())["streamed"]["error"]
    assert "parity" not in json.loads((tmp_path / "r.json").read_text())


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("n", [1, cuda_sources.TILE_ROWS + 1, 1000])
def test_the_kernels_mirror_matches_the_reference(covariance_type, n):
    problem = _script().problem
    rng = np.random.default_rng(n)
    X, w, means, prec, log_weights = problem(rng, n, 4, 3, covariance_type)
    for weights in (None, w):
        want = np.concatenate([np.ravel(p) for p in numpy_kernels.gaussian_block(
            X, weights, means, prec, log_weights, covariance_type)])
        got = cuda_sources.emulate_gaussian_vector(X, weights, means, prec, log_weights, covariance_type)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * np.max(np.abs(want)))
    for layout in (None, "full", "diag", "trace"):
        want = np.concatenate([np.ravel(p) for p in numpy_kernels.nearest_block(X, w, means, layout)
                               if p is not None])
        got = cuda_sources.emulate_nearest_vector(X, w, means, layout)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * np.max(np.abs(want)))


def test_the_dry_run_reports_the_nvrtc_compile_of_every_instance(tmp_path, capsys):
    pytest.importorskip("cuda.bindings.nvrtc", reason="the compile section needs the gpu-build extra")
    out = tmp_path / "report.json"
    skip = "parity,pytest,ceilings,kernels,streamed"
    assert _script().main(["--dry-run", "--nvrtc", "--skip", skip, "--out", str(out)]) == 0
    ptxas = json.loads(out.read_text())["compile"]["ptxas"]
    assert set(cuda_sources.instance_names()) | {"sum_tiles"} <= set(ptxas)
    assert all(v["registers"] and not v["spill_stores"] for v in ptxas.values())
    assert f"{len(ptxas)} instances for sm_90" in capsys.readouterr().out
