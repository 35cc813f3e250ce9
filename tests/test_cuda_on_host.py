"""The CUDA C of the fused kernels, executed on the CPU and driven by the CuPy launch code, against the reference.

The kernels use no shared memory, barriers, warp operations or atomics, so running every thread of every block
one after another is a faithful execution of their indexing and arithmetic. The source is compiled as C++ (g++)
with ``blockIdx`` / ``threadIdx`` / ``blockDim`` as host variables and a serial launcher per instance; a stand-in
``cupy.RawModule`` hands :class:`suffstats.backends.cupy_fused.FusedKernels` those launchers, and each checks
its arguments against the kernel's declared parameters (pointer, ``long long``, ``int``) before the call. What
this cannot see: device-only behaviour (occupancy, the device's ``exp``/``log`` and FMA rounding, memory
limits) -- ``benchmarks/device_check.py`` measures those on a device.
"""

import ctypes
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from suffstats.backends import cuda_sources, numpy_kernels

from .test_cupy_fused_plumbing import _StandInCupy

COMPONENTS = cuda_sources.COMPONENTS  # every shipped instance
SHIM = r"""
#include <cmath>
using std::exp; using std::fmax; using std::isfinite; using std::log;
struct suffstats_dim3 { unsigned int x, y, z; };
static suffstats_dim3 blockIdx, threadIdx, blockDim;
#define __global__
template <class T> static inline T min(T a, T b) { return b < a ? b : a; }
"""
_KERNEL = re.compile(r"__global__ void (\w+)\((.*?)\)\s*\{", re.S)


def _parameters(text):
    """``[(ctype, kind, name)]`` of a kernel's parameter list; kind is ``p`` (pointer), ``ll`` or ``i``."""
    out = []
    for parameter in text.split(","):
        words = parameter.replace("__restrict__", "").replace("const", "").split()
        name, ctype = words[-1], " ".join(words[:-1])
        kind = "p" if "*" in ctype else {"long long": "ll", "int": "i"}[ctype]
        out.append((parameter.strip(), kind, name))
    return out


SIGNATURES = {name: _parameters(params) for name, params in _KERNEL.findall(cuda_sources.SOURCE)}


def _instances():
    names = [f"weighted_moments<{c}>" for c in cuda_sources.LAYOUT_CODES.values()]
    for k in COMPONENTS:
        names += [f"gaussian_responsibilities<{k}, {c}>" for c in cuda_sources.COVARIANCE_CODES.values()]
        names.append(f"nearest_assignment<{k}>")
    return names + ["sum_tiles"]


def _symbol(name):
    return "run_" + re.sub(r"\W+", "_", name).strip("_")


def _launchers():
    lines = []
    for name in _instances():
        params = SIGNATURES[name.split("<")[0]]
        declared = ", ".join(p for p, _, _ in params)
        passed = ", ".join(n for _, _, n in params)
        lines.append(f'extern "C" void {_symbol(name)}(unsigned grid, unsigned block, {declared}) {{\n'
                     f"    blockDim.x = block;\n"
                     f"    for (unsigned b = 0; b < grid; ++b) {{ blockIdx.x = b;\n"
                     f"        for (unsigned t = 0; t < block; ++t) {{ threadIdx.x = t; {name}({passed}); }} }}\n}}")
    return "\n".join(lines)


def compile_kernels(folder):
    """The kernels' CUDA C compiled as a host library with one serial launcher per instance (skips without g++)."""
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None or sys.platform != "linux":
        pytest.skip("running the CUDA C on the CPU needs a C++ compiler (g++) on Linux")
    source, shared = folder / "kernels.cpp", folder / "kernels.so"
    source.write_text(SHIM + cuda_sources.SOURCE + "\n" + _launchers())
    subprocess.run([compiler, "-O1", "-std=c++17", "-shared", "-fPIC", "-Wno-unknown-pragmas", str(source),
                    "-o", str(shared)], check=True, capture_output=True)
    return ctypes.CDLL(str(shared))


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return compile_kernels(tmp_path_factory.mktemp("cuda_on_host"))


def _launcher(library, name):
    params = SIGNATURES[name.split("<")[0]]
    function = getattr(library, _symbol(name))
    ctype = {"p": ctypes.c_void_p, "ll": ctypes.c_longlong, "i": ctypes.c_int}
    function.argtypes = [ctypes.c_uint, ctypes.c_uint] + [ctype[kind] for _, kind, _ in params]
    function.restype = None
    scalar = {"ll": np.int64, "i": np.int32}

    def launch(grid, block, args):
        assert len(grid) == 1 and len(block) == 1 and len(args) == len(params), name
        converted = []
        for value, (declared, kind, _) in zip(args, params):
            if kind == "p":
                assert isinstance(value, np.ndarray) and value.dtype == np.float64 and value.flags.c_contiguous, \
                    f"{name}: {declared} got {type(value).__name__}"
                converted.append(value.ctypes.data)
            else:
                assert type(value) is scalar[kind], f"{name}: {declared} got {type(value).__name__}"
                converted.append(int(value))
        function(int(grid[0]), int(block[0]), *converted)
    return launch


def raw_module(library):
    """A stand-in ``cupy.RawModule`` whose functions are the host library's launchers."""

    class RawModule:
        def __init__(self, code, options, name_expressions):
            assert code == cuda_sources.SOURCE and list(name_expressions) == cuda_sources.instance_names()

        def compile(self):
            pass

        def get_function(self, name):
            return _launcher(library, name)
    return RawModule


@pytest.fixture
def fused(library, monkeypatch):
    cupy = _StandInCupy("cupy")
    cupy.RawModule = raw_module(library)
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    from suffstats.backends.cupy_fused import FusedKernels

    return FusedKernels()


def _problem(rng, n, d, k, covariance_type):
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, d) + 1e4
    means = X[rng.integers(0, n, k)] + rng.normal(scale=0.3, size=(k, d))
    tri = np.triu(0.1 * rng.normal(size=(d, d)), 1)
    prec = {"full": np.stack([tri + np.diag(rng.uniform(0.4, 2, d)) for _ in range(k)]),
            "tied": tri + np.diag(rng.uniform(0.4, 2, d)), "diag": rng.uniform(0.4, 2, (k, d)),
            "spherical": rng.uniform(0.4, 2, k)}[covariance_type]
    return X, rng.uniform(0.5, 2, n), means, prec, np.log(rng.dirichlet(np.ones(k)))


def _assert_statistics(got, want):
    for index, (g, r) in enumerate(zip(got, want)):
        if r is None:
            assert g is None
            continue
        assert np.shape(g) == np.shape(r), index
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-10 * max(np.max(np.abs(r)), 1e-300), err_msg=index)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("n, d, k", [(1, 1, 1), (cuda_sources.TILE_ROWS + 1, 5, 3), (700, 3, 16), (300, 2, 2)])
def test_the_cuda_gaussian_step_gives_the_reference_statistics(fused, covariance_type, n, d, k):
    rng = np.random.default_rng(n * 100 + d * 10 + k)
    X, w, means, prec, log_weights = _problem(rng, n, d, k, covariance_type)
    for weights in (None, w):
        got = fused.gaussian_block(X, weights, means, prec, log_weights, covariance_type)
        _assert_statistics(got, numpy_kernels.gaussian_block(X, weights, means, prec, log_weights, covariance_type))
    again = fused.gaussian_vector(X, w, means, prec, log_weights, covariance_type)
    np.testing.assert_array_equal(again, fused.gaussian_vector(X, w, means, prec, log_weights, covariance_type))


@pytest.mark.parametrize("layout", [None, "full", "diag", "trace"])
@pytest.mark.parametrize("n, d, k", [(1, 2, 1), (cuda_sources.TILE_ROWS + 1, 4, 3), (600, 3, 16)])
def test_the_cuda_nearest_step_gives_the_reference_statistics(fused, layout, n, d, k):
    rng = np.random.default_rng(n + d + k)
    X = rng.normal(size=(n, d)) * 3 + 50
    centers = X[rng.integers(0, n, k)] + rng.normal(scale=0.5, size=(k, d))
    w = rng.uniform(0.5, 2, n)
    _assert_statistics(fused.nearest_block(X, w, centers, layout), numpy_kernels.nearest_block(X, w, centers, layout))


def test_a_row_far_from_every_component_gives_no_nan(fused):
    """Every exp(log-density) underflows to 0 for the far row: the shifted log-sum-exp stays finite."""
    X = np.array([[0.0, 0.0], [1e6, -1e6], [0.5, 0.1]])
    means, prec, log_weights = np.array([[0.0, 0.0], [1.0, 1.0]]), np.ones((2, 2)), np.log([0.5, 0.5])
    got = fused.gaussian_block(X, None, means, prec, log_weights, "diag")
    _assert_statistics(got, numpy_kernels.gaussian_block(X, None, means, prec, log_weights, "diag"))
    assert all(np.all(np.isfinite(part)) for part in got)
