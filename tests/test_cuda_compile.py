"""The fused CUDA kernels compile, without a GPU, for the shipped architectures and without spills (NVRTC).

Needs ``cuda-bindings`` and ``nvidia-cuda-nvrtc-cu12`` (the ``gpu-build`` extra; the ``test`` extra
installs them on Linux). On Linux a missing compiler is a failure, so the check never disappears
silently; elsewhere the tests skip and say so.
"""

import sys

import pytest

from suffstats.backends import cuda_sources

#: Hopper (the first device the project targets) and one older architecture (Ampere).
ARCHITECTURES = ("sm_90", "sm_80")


def _nvrtc_missing():
    try:
        from cuda.bindings import nvrtc

        status, *_ = nvrtc.nvrtcVersion()
        if status != nvrtc.nvrtcResult.NVRTC_SUCCESS:
            return f"NVRTC does not load ({status!r})"
    except Exception as error:  # noqa: BLE001 -- ImportError, or the NVRTC library missing
        return f"{type(error).__name__}: {error}"
    return None


@pytest.fixture(scope="module")
def nvrtc():
    missing = _nvrtc_missing()
    if missing is not None:
        message = f"the CUDA compile check needs pip install 'suffstats[gpu-build]' ({missing})"
        if sys.platform == "linux":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def reports(nvrtc):
    return {arch: cuda_sources.compile_check(arch) for arch in ARCHITECTURES}


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_instance_compiles_without_spills(reports, arch):
    report = reports[arch]
    instances = report["instances"]
    table = "\n".join(f"{arch} {name:40s} {v['registers']:4d} registers {v['stack']:5d} B stack "
                      f"{v['spill_stores']:4d}/{v['spill_loads']:4d} B spill"
                      for name, v in instances.items())
    print(table)
    assert set(cuda_sources.instance_names()) <= set(instances)
    assert "sum_tiles" in instances
    assert all(v["registers"] is not None for v in instances.values()), table
    spilled = [name for name, v in instances.items() if v["spill_stores"] or v["spill_loads"]]
    assert not spilled, f"{arch}: instances spill registers:\n{table}"
    assert report["cubin_bytes"] > 0


def test_a_compile_error_is_reported_with_its_line(nvrtc):
    broken = cuda_sources.SOURCE.replace("maha += y * y;", "maha += y * undeclared_name;", 1)
    line = broken[:broken.index("undeclared_name")].count("\n") + 1
    with pytest.raises(RuntimeError, match=rf"suffstats_kernels\.cu\({line}\).*undeclared_name"):
        cuda_sources.compile_check("sm_90", source=broken, names=["gaussian_responsibilities<2, 0>"],
                                   verbose_ptxas=False)


def test_instances_cover_every_covariance_type_and_layout():
    names = set(cuda_sources.instance_names())
    for k in cuda_sources.COMPONENTS:
        assert {f"gaussian_responsibilities<{k}, {c}>" for c in cuda_sources.COVARIANCE_CODES.values()} <= names
        assert f"nearest_assignment<{k}>" in names
    assert {f"weighted_moments<{c}>" for c in cuda_sources.LAYOUT_CODES.values()} <= names
    assert "atomicAdd" not in cuda_sources.SOURCE  # fixed-order sums only: deterministic results
    assert not cuda_sources.covers(3, max(cuda_sources.COMPONENTS) + 1)
    assert not cuda_sources.covers(cuda_sources.MAX_FEATURES + 1, 2)


def test_ci_installs_the_compile_check_extra():
    """The check cannot vanish from CI unnoticed: CI installs the gpu-build extra, and the test extra includes it."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(name.startswith("cuda-bindings") for name in extras["gpu-build"])
    assert any(name.startswith("nvidia-cuda-nvrtc") for name in extras["gpu-build"])
    assert "suffstats[gpu-build]" in extras["test"]
    assert '".[test,gpu-build]"' in (root / ".ci" / "run").read_text()
