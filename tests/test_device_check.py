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


@pytest.mark.slow
def test_the_device_run_under_a_stand_in_cupy_running_the_cuda_c_on_the_cpu(tmp_path, monkeypatch, capsys):
    """The sections a dry run skips (CuPy device, ceilings, kernel rates, the pinned streamed pass, the Numba
    comparison) run their Python against a stand-in CuPy whose RawModule is the kernels' CUDA C compiled for the
    host, at tiny sizes: a typo there would otherwise first show on the device."""
    import sys
    import types

    import numba

    from suffstats import backends

    from .test_cuda_on_host import compile_kernels, raw_module
    from .test_cupy_fused_plumbing import _StreamingCupy

    cupy = _StreamingCupy("cupy")
    cupy.RawModule = raw_module(compile_kernels(tmp_path))
    cupy.__version__ = "stand-in"
    runtime = types.SimpleNamespace(getDeviceCount=lambda: 1, driverGetVersion=lambda: 0, runtimeGetVersion=lambda: 0,
                                    getDeviceProperties=lambda index: {"name": b"stand-in device"})
    cupy.cuda.runtime = runtime
    cupy.cuda.Device = lambda: types.SimpleNamespace(id=0, compute_capability="90")

    def elementwise(in_params, out_params, operation, name):
        assert in_params == "float64 x" and out_params == "float64 y" and "fma" in operation

        def run(x, y):  # the body is CUDA C that only a device compiles
            y[...] = x
        return run
    cupy.ElementwiseKernel = elementwise
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    threads = numba.get_num_threads(), backends.get_num_threads()
    out = tmp_path / "report.json"
    try:
        status = _script().main(["--out", str(out), "--tmp", str(tmp_path), "--skip", "compile,pytest",
                                 "--memmap-gb", "0.001", "--transfer-mb", "1", "--gemm-n", "64",
                                 "--kernel-rows", "3000"])
    finally:
        numba.set_num_threads(threads[0])
        backends.set_num_threads(threads[1])
    report = json.loads(out.read_text())
    for section in ("environment", "parity", "ceilings", "kernels", "streamed"):
        assert "error" not in report[section], report[section].get("traceback")
    assert status == 0 and report["parity"]["failures"] == 0 and len(report["parity"]["cases"]) == 72
    assert report["environment"]["device"] == "stand-in device"
    assert all(report["streamed"][f"{b} buffers"]["bit_identical"] for b in (2, 3))
    assert report["streamed"]["numba_rows_per_s"] > 0
    assert "of DGEMM (target >= 50%)" in capsys.readouterr().out
