"""Fused CUDA kernels of the accumulation step, as CUDA C for ``cupy.RawModule``, and their compile check.

This module holds source text and plain Python only; it imports neither CuPy
nor the CUDA bindings at import, so it loads (and its source is checked) on
any machine. Two things use it:

* a device backend builds one ``cupy.RawModule(code=SOURCE,
  name_expressions=instance_names())`` and launches the instances listed in
  :data:`INSTANCES`;
* :func:`compile_check` compiles every instance with NVRTC for a chosen
  architecture **without a device** (``cuda-bindings`` and
  ``nvidia-cuda-nvrtc-cu12``, the ``gpu-build`` extra) and parses ptxas's
  register / stack / spill report, so every CI run checks the CUDA C.

The kernels (float64 throughout, no ``atomicAdd``: every sum runs in a fixed
order, so two runs give the same bits):

``gaussian_responsibilities<K, COV>``
    one thread per row: the log-density of each component through the
    precision Cholesky factor (``COV`` 0 full, 1 tied, 2 diag, 3 spherical,
    the layouts of :mod:`suffstats.backends.gaussian_math`), ``log π_j`` added,
    a log-sum-exp that stays finite when every entry is ``-inf``; writes the
    weighted responsibilities ``w·r_ij`` (n, K) and ``w·log p(x_i)`` (n,).
``nearest_assignment<K>``
    one thread per row: squared distances ``Σ(x - c_j)²`` (no cancellation),
    the first nearest centre (NumPy's ``argmin`` rule); writes the weighted
    one-hot membership (n, K) and ``w·min distance²`` (n,).
``weighted_moments<LAYOUT>``
    one thread block per tile of rows, one thread per statistic entry (for
    full second moments, per 4x4 block of the upper triangle, mirrored), each
    summing its tile's rows in row order: ``Σw``, ``Σ value``, ``Σr_j``,
    ``Σr_j(x - μ_j)`` and the second moments ``Σ(r_j(x - μ_j))(x - μ_j)ᵀ`` in
    the layout (``LAYOUT`` 0 full, 1 diag, 2 trace, 3 none). Shared by both
    steps: the nearest-centre step's one-hot rows make it the hard-assignment
    statistics of :func:`suffstats.backends.numpy_kernels.nearest_block`.
``sum_tiles``
    one thread per entry: the tiles' partial statistics added in tile order.

A block of ``BLOCK_ROWS``-aligned rows therefore
gives one statistics vector, which the caller adds over the same fixed block
tree as every backend. Shapes outside :data:`COMPONENTS` and
:data:`MAX_FEATURES` are left to the array-API path (:mod:`suffstats.backends.numpy_kernels` on
CuPy), which stays the reference.

:func:`emulate_gaussian_vector` and :func:`emulate_nearest_vector` mirror
the kernels in NumPy -- the same entries, the same per-tile sums added in tile
order -- so the algorithm and the vector layout are checked against the
reference on the CPU.

None of these kernels has run on a GPU yet: the compile check proves that the
CUDA C compiles without spills for the listed architectures, and the test
suite runs the same CUDA C on the CPU (compiled as C++, every thread of every
block in turn, launched by the CuPy launch code), which checks its indexing
and arithmetic against the reference but not its behaviour on a device.
``benchmarks/device_check.py`` checks parity and speed when a device is
available.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["SOURCE", "COVARIANCE_CODES", "LAYOUT_CODES", "MAX_FEATURES", "COMPONENTS", "THREADS", "TILE_ROWS",
           "INSTANCES", "instance_names", "covers", "moment_entries", "compile_check", "parse_ptxas",
           "emulate_gaussian_vector", "emulate_nearest_vector"]

#: ``COV`` template argument of each covariance type.
COVARIANCE_CODES = {"full": 0, "tied": 1, "diag": 2, "spherical": 3}
#: ``LAYOUT`` template argument of each statistics layout (``None``: no second moments).
LAYOUT_CODES = {"full": 0, "diag": 1, "trace": 2, None: 3}
#: Largest feature count the kernels take (the feature count is a run-time argument).
MAX_FEATURES = 256
#: Component counts with compiled instances (a template argument: the per-row log-densities live in registers).
COMPONENTS = tuple(range(1, 17))
#: Threads per block of every kernel.
THREADS = 256
#: Rows per tile of ``weighted_moments`` (one thread block each).
TILE_ROWS = 256

SOURCE = r"""
// suffstats fused accumulation kernels: float64, deterministic (fixed-order sums, no atomics).
#define SUFFSTATS_LOG_2PI 1.8378770664093453

template <int K, int COV>
__global__ void gaussian_responsibilities(const double* __restrict__ X, const double* __restrict__ w,
                                          const long long n, const int D, const double* __restrict__ means,
                                          const double* __restrict__ prec, const double* __restrict__ log_det,
                                          const double* __restrict__ log_weights,
                                          double* __restrict__ resp, double* __restrict__ row_value)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const double* x = X + i * (long long)D;
    double lp[K];
#pragma unroll
    for (int j = 0; j < K; ++j) {
        const double* mu = means + j * D;
        double maha = 0.0;
        if (COV == 0 || COV == 1) {
            const double* P = prec + (COV == 0 ? (long long)j * D * D : 0);
            // four columns of the whitened row at a time: each x[a] - mu[a] is loaded once per four products
#pragma unroll 1
            for (int b0 = 0; b0 < D; b0 += 4) {
                double y[4] = {0.0, 0.0, 0.0, 0.0};
                int col[4];
#pragma unroll
                for (int q = 0; q < 4; ++q) col[q] = min(b0 + q, D - 1);
#pragma unroll 2
                for (int a = 0; a < D; ++a) {
                    const double z = x[a] - mu[a];
                    const double* row = P + a * D;
#pragma unroll
                    for (int q = 0; q < 4; ++q) y[q] += z * row[col[q]];
                }
#pragma unroll
                for (int q = 0; q < 4; ++q)
                    if (b0 + q < D) maha += y[q] * y[q];
            }
        } else {
#pragma unroll 4
            for (int a = 0; a < D; ++a) {
                const double y = (x[a] - mu[a]) * (COV == 2 ? prec[j * D + a] : prec[j]);
                maha += y * y;
            }
        }
        lp[j] = (-0.5 * (D * SUFFSTATS_LOG_2PI + maha) + log_det[j]) + log_weights[j];
    }
    double top = lp[0];
#pragma unroll
    for (int j = 1; j < K; ++j) top = fmax(top, lp[j]);
    const double safe = isfinite(top) ? top : 0.0;
    double total = 0.0;
#pragma unroll
    for (int j = 0; j < K; ++j) total += exp(lp[j] - safe);
    const double log_norm = log(total) + safe;
    const double wi = (w == nullptr) ? 1.0 : w[i];
#pragma unroll
    for (int j = 0; j < K; ++j) resp[i * K + j] = exp(lp[j] - log_norm) * wi;
    row_value[i] = wi * log_norm;
}

template <int K>
__global__ void nearest_assignment(const double* __restrict__ X, const double* __restrict__ w, const long long n,
                                   const int D, const double* __restrict__ centers,
                                   double* __restrict__ resp, double* __restrict__ row_value)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const double* x = X + i * (long long)D;
    double best = 0.0;
    int label = 0;
#pragma unroll 1
    for (int j = 0; j < K; ++j) {
        double dist = 0.0;
#pragma unroll 4
        for (int a = 0; a < D; ++a) {
            const double z = x[a] - centers[j * D + a];
            dist += z * z;
        }
        if (j == 0 || dist < best) { best = dist; label = j; }
    }
    const double wi = (w == nullptr) ? 1.0 : w[i];
    for (int j = 0; j < K; ++j) resp[i * K + j] = (j == label) ? wi : 0.0;
    row_value[i] = wi * best;
}

// Entries of one statistics vector: [sum w, sum value, sum r_j (K), first (K*D), second (layout)].
template <int LAYOUT>
__global__ void weighted_moments(const double* __restrict__ X, const double* __restrict__ w,
                                 const double* __restrict__ resp, const double* __restrict__ row_value,
                                 const long long n, const int D, const int K, const double* __restrict__ shifts,
                                 const int tile_rows, double* __restrict__ partial)
{
    const long long start = (long long)blockIdx.x * tile_rows;
    const long long stop = min(start + (long long)tile_rows, n);
    const int second = (LAYOUT == 0) ? K * D * D : (LAYOUT == 1) ? K * D : (LAYOUT == 2) ? K : 0;
    const int entries = 2 + K + K * D + second;
    // Full second moments: one work item per component and 4x4 block of the upper triangle of blocks, its 16
    // sums in registers (9 loads per 16 products); an off-diagonal block is written to both triangles.
    const int small = (LAYOUT == 0) ? 2 + K + K * D : entries;
    const int nb = (D + 3) / 4, pairs = nb * (nb + 1) / 2;
    const int items = (LAYOUT == 0) ? small + K * pairs : entries;
    for (int e = threadIdx.x; e < items; e += blockDim.x) {
        if (LAYOUT == 0 && e >= small) {
            int t = e - small;
            const int j = t / pairs;
            t %= pairs;
            int A = 0;
            while (t >= nb - A) { t -= nb - A; ++A; }
            const int B = A + t;
            int ia[4], ib[4];
            double ma[4], mb[4], sums[4][4];
#pragma unroll
            for (int p = 0; p < 4; ++p) {
                ia[p] = min(4 * A + p, D - 1);
                ib[p] = min(4 * B + p, D - 1);
                ma[p] = shifts[j * D + ia[p]];
                mb[p] = shifts[j * D + ib[p]];
#pragma unroll
                for (int q = 0; q < 4; ++q) sums[p][q] = 0.0;
            }
            for (long long i = start; i < stop; ++i) {
                const double r = resp[i * K + j];
                double za[4], zb[4];
#pragma unroll
                for (int p = 0; p < 4; ++p) {
                    za[p] = (X[i * D + ia[p]] - ma[p]) * r;
                    zb[p] = X[i * D + ib[p]] - mb[p];
                }
#pragma unroll
                for (int p = 0; p < 4; ++p)
#pragma unroll
                    for (int q = 0; q < 4; ++q) sums[p][q] += za[p] * zb[q];
            }
            double* out = partial + (long long)blockIdx.x * entries + small + (long long)j * D * D;
#pragma unroll
            for (int p = 0; p < 4; ++p)
#pragma unroll
                for (int q = 0; q < 4; ++q) {
                    const int a = 4 * A + p, b = 4 * B + q;
                    if (a < D && b < D) {
                        out[a * D + b] = sums[p][q];
                        if (A != B) out[b * D + a] = sums[p][q];
                    }
                }
            continue;
        }
        double acc = 0.0;
        if (e == 0) {
            for (long long i = start; i < stop; ++i) acc += (w == nullptr) ? 1.0 : w[i];
        } else if (e == 1) {
            for (long long i = start; i < stop; ++i) acc += row_value[i];
        } else if (e < 2 + K) {
            const int j = e - 2;
            for (long long i = start; i < stop; ++i) acc += resp[i * K + j];
        } else if (e < 2 + K + K * D) {
            const int f = e - 2 - K, j = f / D, a = f % D;
            const double m = shifts[j * D + a];
            for (long long i = start; i < stop; ++i) acc += (X[i * D + a] - m) * resp[i * K + j];
        } else {
            const int s = e - 2 - K - K * D;
            if (LAYOUT == 1) {
                const int j = s / D, a = s % D;
                const double m = shifts[j * D + a];
                for (long long i = start; i < stop; ++i) {
                    const double z = X[i * D + a] - m;
                    acc += (z * resp[i * K + j]) * z;
                }
            } else {
                const int j = s;
                for (long long i = start; i < stop; ++i) {
                    double row = 0.0;
                    for (int a = 0; a < D; ++a) {
                        const double z = X[i * D + a] - shifts[j * D + a];
                        row += (z * resp[i * K + j]) * z;
                    }
                    acc += row;
                }
            }
        }
        partial[(long long)blockIdx.x * entries + e] = acc;
    }
}

extern "C" __global__ void sum_tiles(const double* __restrict__ partial, const int tiles, const int entries,
                                     double* __restrict__ out)
{
    const int e = blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= entries) return;
    double acc = 0.0;
    for (int t = 0; t < tiles; ++t) acc += partial[(long long)t * entries + e];
    out[e] = acc;
}
"""


def _instances():
    names = []
    for k in COMPONENTS:
        names += [f"gaussian_responsibilities<{k}, {code}>" for code in COVARIANCE_CODES.values()]
        names.append(f"nearest_assignment<{k}>")
    names += [f"weighted_moments<{code}>" for code in LAYOUT_CODES.values()]
    return tuple(names)


#: Every templated kernel instance the source ships (``sum_tiles`` is ``extern "C"`` and needs no name).
INSTANCES = _instances()


def instance_names():
    """The ``name_expressions`` of a ``RawModule`` built from ``SOURCE``.

    Examples
    --------
    >>> names = instance_names()
    >>> "gaussian_responsibilities<4, 0>" in names and "weighted_moments<3>" in names
    True
    """
    return list(INSTANCES)


def covers(n_features, n_components):
    """Whether compiled instances exist for this shape (else the array-API path computes it).

    Examples
    --------
    >>> covers(50, 3), covers(50, 17)
    (True, False)
    """
    return 1 <= n_features <= MAX_FEATURES and n_components in COMPONENTS


def moment_entries(n_features, n_components, layout):
    """Length of the statistics vector ``weighted_moments`` writes per tile.

    Examples
    --------
    >>> moment_entries(2, 3, "full")   # Σw, Σvalue, 3 Σr_j, 3x2 first, 3x2x2 second
    23
    """
    d, k = n_features, n_components
    second = {"full": k * d * d, "diag": k * d, "trace": k, None: 0}[layout]
    return 2 + k + k * d + second


_ENTRY = re.compile(r"Compiling entry function '([^']+)' for '([^']+)'")
_STACK = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_REGS = re.compile(r"Used (\d+) registers")


def parse_ptxas(log):
    """Per entry function: ``{"registers", "stack", "spill_stores", "spill_loads"}`` from a ``ptxas -v`` log.

    Examples
    --------
    >>> log = '''ptxas info    : Compiling entry function '_Z1fILi3EEvPd' for 'sm_90'
    ... ptxas info    : Function properties for _Z1fILi3EEvPd
    ... ptxas         .     8 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
    ... ptxas info    : Used 8 registers, used 0 barriers'''
    >>> parse_ptxas(log)["_Z1fILi3EEvPd"]
    {'registers': 8, 'stack': 8, 'spill_stores': 0, 'spill_loads': 0}
    """
    report, current = {}, None
    for line in log.splitlines():
        entry = _ENTRY.search(line)
        if entry:
            current = entry.group(1)
            report[current] = {"registers": None, "stack": 0, "spill_stores": 0, "spill_loads": 0}
            continue
        if current is None:
            continue
        stack = _STACK.search(line)
        if stack:
            report[current].update(stack=int(stack.group(1)), spill_stores=int(stack.group(2)),
                                   spill_loads=int(stack.group(3)))
        regs = _REGS.search(line)
        if regs:
            report[current]["registers"] = int(regs.group(1))
    return report


def compile_check(arch="sm_90", source=SOURCE, names=None, verbose_ptxas=True):
    """Compile ``source`` with NVRTC for ``arch`` without a device; the ptxas report of every instance.

    Needs ``cuda-bindings`` and the NVRTC library (``pip install 'suffstats[gpu-build]'``).

    Parameters
    ----------
    arch : str
        A real architecture (``"sm_90"``, ``"sm_80"``, ...): a cubin is built, so ptxas runs and reports.
    source : str
        CUDA C (default: ``SOURCE``).
    names : list of str, optional
        Name expressions (default: :func:`instance_names`).
    verbose_ptxas : bool
        Pass ``-Xptxas=-v`` and parse its report.

    Returns
    -------
    dict
        ``{"arch", "cubin_bytes", "log", "instances": {name: {"lowered", "registers", "stack",
        "spill_stores", "spill_loads"}}}``.

    Raises
    ------
    RuntimeError
        When NVRTC reports an error; the message carries its log (file, line and message).
    """
    from cuda.bindings import nvrtc

    names = instance_names() if names is None else list(names)

    def check(result):
        status, *rest = result
        if status != nvrtc.nvrtcResult.NVRTC_SUCCESS:
            raise RuntimeError(f"NVRTC: {status!r}")
        return rest[0] if len(rest) == 1 else rest

    program = check(nvrtc.nvrtcCreateProgram(source.encode(), b"suffstats_kernels.cu", 0, [], []))
    try:
        for name in names:
            check(nvrtc.nvrtcAddNameExpression(program, name.encode()))
        options = [f"--gpu-architecture={arch}".encode(), b"--std=c++17"]
        if verbose_ptxas:
            options.append(b"-Xptxas=-v")
        status = nvrtc.nvrtcCompileProgram(program, len(options), options)[0]
        size = check(nvrtc.nvrtcGetProgramLogSize(program))
        buffer = b" " * size
        check(nvrtc.nvrtcGetProgramLog(program, buffer))
        log = buffer.decode(errors="replace").rstrip("\x00 \n")
        if status != nvrtc.nvrtcResult.NVRTC_SUCCESS:
            raise RuntimeError(f"CUDA C does not compile for {arch}:\n{log}")
        cubin_bytes = check(nvrtc.nvrtcGetCUBINSize(program))
        lowered = {name: check(nvrtc.nvrtcGetLoweredName(program, name.encode())).decode() for name in names}
    finally:
        nvrtc.nvrtcDestroyProgram(program)
    ptxas = parse_ptxas(log)
    instances = {name: {"lowered": low, **ptxas.get(low, {})} for name, low in lowered.items()}
    for low in set(ptxas) - set(lowered.values()):  # extern "C" kernels (sum_tiles) need no name expression
        instances[low] = {"lowered": low, **ptxas[low]}
    return {"arch": arch, "cubin_bytes": int(cubin_bytes), "log": log, "instances": instances}


# -- NumPy mirrors of the kernels (the algorithm and the vector layout, checked on the CPU) -------------------

def _emulate_moments(X, w, resp, value, shifts, layout, tile_rows):
    """``weighted_moments`` then ``sum_tiles``: per-tile sums of each entry, the tiles added in order."""
    n, d = X.shape
    k = shifts.shape[0]
    total = np.zeros(moment_entries(d, k, layout))
    for start in range(0, n, tile_rows):
        sl = slice(start, min(start + tile_rows, n))
        Z = X[sl, None, :] - shifts[None, :, :]            # (t, k, d)
        rZ = Z * resp[sl, :, None]
        parts = [[np.sum(w[sl])], [np.sum(value[sl])], np.sum(resp[sl], axis=0), np.sum(rZ, axis=0).ravel()]
        if layout == "full":
            parts.append(np.einsum("tja,tjb->jab", rZ, Z).ravel())
        elif layout == "diag":
            parts.append(np.sum(rZ * Z, axis=0).ravel())
        elif layout == "trace":
            parts.append(np.sum(np.sum(rZ * Z, axis=2), axis=0))
        total = total + np.concatenate(parts)
    return total


def emulate_gaussian_vector(X, w, means, prec_chol, log_weights, covariance_type, tile_rows=TILE_ROWS):
    """What ``gaussian_responsibilities`` + ``weighted_moments`` + ``sum_tiles`` compute, in NumPy.

    Examples
    --------
    >>> import numpy as np
    >>> from suffstats.backends import numpy_kernels
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> args = (X, None, X[:2], np.ones((2, 2)), np.log([0.5, 0.5]), "diag")
    >>> want = np.concatenate([np.ravel(p) for p in numpy_kernels.gaussian_block(*args)])
    >>> bool(np.allclose(emulate_gaussian_vector(*args), want, rtol=1e-12, atol=1e-12))
    True
    """
    from .gaussian_math import LOG_2PI, layout_of, log_det

    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    k = means.shape[0]
    w = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    det = log_det(covariance_type, prec_chol, d, k)
    lp = np.empty((n, k))
    for j in range(k):
        Z = X - means[j]
        if covariance_type in ("full", "tied"):
            y = Z @ (prec_chol[j] if covariance_type == "full" else prec_chol)
        else:
            y = Z * prec_chol[j]
        lp[:, j] = (-0.5 * (d * LOG_2PI + np.sum(y * y, axis=1)) + det[j]) + log_weights[j]
    top = np.max(lp, axis=1)
    safe = np.where(np.isfinite(top), top, 0.0)
    log_norm = np.log(np.sum(np.exp(lp - safe[:, None]), axis=1)) + safe
    resp = np.exp(lp - log_norm[:, None]) * w[:, None]
    return _emulate_moments(X, w, resp, w * log_norm, np.asarray(means, dtype=np.float64),
                            layout_of(covariance_type), tile_rows)


def emulate_nearest_vector(X, w, centers, layout=None, tile_rows=TILE_ROWS):
    """What ``nearest_assignment`` + ``weighted_moments`` + ``sum_tiles`` compute, in NumPy.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [9.0]])
    >>> emulate_nearest_vector(X, None, np.array([[0.0], [10.0]])).tolist()   # Σw, inertia, counts, first
    [3.0, 2.0, 2.0, 1.0, 1.0, -1.0]
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    centers = np.asarray(centers, dtype=np.float64)
    w = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    dist = np.stack([np.sum((X - c) ** 2, axis=1) for c in centers], axis=1)
    labels = np.argmin(dist, axis=1)
    resp = (labels[:, None] == np.arange(centers.shape[0])[None, :]) * w[:, None]
    return _emulate_moments(X, w, resp, w * dist[np.arange(n), labels], centers, layout, tile_rows)
