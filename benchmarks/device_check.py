"""One call on a GPU: verify the fused kernels against the NumPy reference and measure, then print a table.

    python benchmarks/device_check.py                 # on a machine with CuPy and a GPU (a few minutes)
    python benchmarks/device_check.py --memmap-gb 2   # a smaller streamed memory map (default 8 GB)
    python benchmarks/device_check.py --dry-run       # the whole script on the CPU with NumPy stand-ins

Sections (each is timed and caught on its own, so one failure does not cost the others):

environment   Python, NumPy, CuPy, device, driver and runtime versions
compile       the RawModule of every instance built on the device; NVRTC ptxas report (registers, spills)
parity        fused kernels vs the NumPy reference, every covariance type and layout, edge sizes
              (1 row, a tile + 1, n not a multiple of a block), weighted and not; two runs bit-identical
pytest        ``pytest -m gpu``
ceilings      pinned and pageable host->device, device->device, DGEMM, plain FP64 FMA
kernels       device-resident rates of the fused E-step (full, d=50, k=3) and nearest step, and of the
              array-API path, against the DGEMM ceiling
streamed      a pass over a memory map through pinned double/triple buffers, vs pinned bandwidth / bytes
              per row; the memmap -> pinned copy timed on its own; the two-core Numba path on the same rows

``--dry-run`` runs every section that has a CPU stand-in (parity of the kernels' NumPy mirrors, the streamed pass
through :class:`~suffstats.backends.streaming.DeferredHostOps`) at tiny sizes, so the script's own Python
is exercised by the test suite. Writes a JSON report (``--out``). Exit status 1 when a parity check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from suffstats.backends import cuda_sources, numpy_kernels  # noqa: E402
from suffstats.backends.streaming import DeferredHostOps, stream_pass  # noqa: E402
from suffstats.block_tree import BlockTree  # noqa: E402

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
LAYOUTS = (None, "full", "diag", "trace")
PARITY_RTOL = 1e-10


def pack(parts):
    """A statistics tuple as one flat float64 vector (``None`` parts skipped)."""
    return np.concatenate([np.ravel(np.asarray(p, dtype=np.float64)) for p in parts if p is not None])


def problem(rng, n, d, k, covariance_type):
    """Rows, weights and parameters of a well-posed mixture (offset 100 so that shifts matter)."""
    X = rng.normal(size=(n, d)) + 100.0
    w = rng.uniform(0.5, 2.0, size=n)
    means = X[rng.integers(0, n, k)] + rng.normal(scale=0.1, size=(k, d)) if n else rng.normal(size=(k, d))
    if covariance_type == "full":
        prec = np.stack([np.triu(np.eye(d) * rng.uniform(0.5, 1.5) + 0.05 * rng.normal(size=(d, d)))
                         for _ in range(k)])
        for P in prec:
            P[np.diag_indices(d)] = np.abs(P[np.diag_indices(d)]) + 0.5
    elif covariance_type == "tied":
        prec = np.triu(np.eye(d) + 0.05 * rng.normal(size=(d, d)))
        prec[np.diag_indices(d)] = np.abs(prec[np.diag_indices(d)]) + 0.5
    elif covariance_type == "diag":
        prec = rng.uniform(0.5, 1.5, size=(k, d))
    else:
        prec = rng.uniform(0.5, 1.5, size=k)
    log_weights = np.log(rng.dirichlet(np.ones(k)))
    return X, w, means, prec, log_weights


class HostStandIn:
    """The dry run's device: NumPy arrays, NumPy mirrors of the fused kernels, deferred streams."""

    name = "numpy stand-in (dry run)"

    def __init__(self):
        self.xp = np

    def sync(self):
        pass

    def to_device(self, a):
        return None if a is None else np.asarray(a, dtype=np.float64)

    def to_host(self, a):
        return np.asarray(a)

    def gaussian_vector(self, X, w, means, prec, log_weights, covariance_type):
        return cuda_sources.emulate_gaussian_vector(X, w, means, prec, log_weights, covariance_type)

    def nearest_vector(self, X, w, centers, layout):
        return cuda_sources.emulate_nearest_vector(X, w, centers, layout)

    def stream_ops(self):
        return DeferredHostOps()


class CupyDevice:
    """The real device: CuPy arrays, the fused kernels of :mod:`suffstats.backends.cupy_fused`."""

    def __init__(self):
        import cupy

        from suffstats.backends.cupy_fused import CupyStreamOps, FusedKernels

        self.xp = cupy
        self.fused = FusedKernels()
        self._ops = CupyStreamOps
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        self.name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])

    def sync(self):
        self.xp.cuda.get_current_stream().synchronize()

    def to_device(self, a):
        return None if a is None else self.xp.asarray(a, dtype=self.xp.float64)

    def to_host(self, a):
        return self.xp.asnumpy(a)

    def gaussian_vector(self, X, w, means, prec, log_weights, covariance_type):
        return self.fused.gaussian_vector(X, w, means, prec, log_weights, covariance_type)

    def nearest_vector(self, X, w, centers, layout):
        return self.fused.nearest_vector(X, w, centers, layout)

    def stream_ops(self):
        return self._ops()


def timed(device, function, repeats=3):
    """Median seconds of ``function()`` after one warm-up, the device synchronised around each call."""
    function()
    device.sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        device.sync()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


# -- sections ---------------------------------------------------------------------------------------------------

def section_environment(device, args, rows):
    info = {"python": platform.python_version(), "numpy": np.__version__, "device": device.name,
            "platform": platform.platform()}
    if not args.dry_run:
        cupy = device.xp
        info.update(cupy=cupy.__version__, driver=cupy.cuda.runtime.driverGetVersion(),
                    runtime=cupy.cuda.runtime.runtimeGetVersion(),
                    compute_capability=cupy.cuda.Device().compute_capability)
    for key, value in info.items():
        rows.append(("environment", key, value, "", ""))
    return info


def section_compile(device, args, rows):
    out = {}
    if not args.dry_run:
        start = time.perf_counter()
        device.fused.module()
        out["rawmodule_seconds"] = time.perf_counter() - start
        rows.append(("compile", "RawModule, every instance, on the device", f"{out['rawmodule_seconds']:.1f}", "s", ""))
        arch = "sm_" + device.xp.cuda.Device().compute_capability
    else:
        arch = "sm_90"
    if args.dry_run and not args.nvrtc:
        rows.append(("compile", "NVRTC ptxas report", "skipped in the dry run (--nvrtc)", "", ""))
        return out
    try:
        report = cuda_sources.compile_check(arch)
    except ImportError as error:
        rows.append(("compile", "NVRTC ptxas report", f"not available ({error}): pip install suffstats[gpu-build]",
                     "", ""))
        return out
    out["ptxas"] = report["instances"]
    spills = [name for name, v in report["instances"].items() if v["spill_stores"] or v["spill_loads"]]
    registers = [v["registers"] for v in report["instances"].values()]
    rows.append(("compile", f"{len(registers)} instances for {arch}: registers min/max",
                 f"{min(registers)}/{max(registers)}", "", "ok" if not spills else f"SPILLS: {spills}"))
    return out


def _relative_error(got, want, n_features, n_components):
    """Worst over the statistics (Σw, Σ value, Σr, first, second) of ``max|got - want| / max|want|``."""
    d, k = n_features, n_components
    bounds = [0, 1, 2, 2 + k, 2 + k + k * d, want.size]
    worst = 0.0
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if hi <= lo:
            continue
        scale = np.max(np.abs(want[lo:hi]))
        diff = np.max(np.abs(got[lo:hi] - want[lo:hi]))
        worst = max(worst, float(diff / scale) if scale else float(diff))
    return worst


def section_parity(device, args, rows):
    rng = np.random.default_rng(0)
    tile = cuda_sources.TILE_ROWS
    shapes = [(1, 3, 3), (tile + 1, 3, 3), (1000, 2, 16), (4097, 5, 4)]
    if not args.dry_run:
        shapes += [(10_007, 50, 3), (65_537, 16, 8)]
    results, failures = [], 0
    for n, d, k in shapes:
        for covariance_type in COVARIANCE_TYPES:
            for weighted in (False, True):
                X, w, means, prec, log_weights = problem(rng, n, d, k, covariance_type)
                w = w if weighted else None
                want = pack(numpy_kernels.gaussian_block(X, w, means, prec, log_weights, covariance_type))
                args_dev = [device.to_device(a) for a in (X, w, means, prec, log_weights)]
                first = device.gaussian_vector(*args_dev, covariance_type)
                second = device.gaussian_vector(*args_dev, covariance_type)
                got, again = device.to_host(first), device.to_host(second)
                error = _relative_error(got, want, d, k)
                identical = bool(np.array_equal(got, again))
                ok = error <= PARITY_RTOL and identical
                failures += not ok
                results.append(dict(step="gaussian", covariance_type=covariance_type, n=n, d=d, k=k,
                                    weighted=weighted, relative_error=error, bit_identical=identical, ok=ok))
        for layout in LAYOUTS:
            X, w, means, *_ = problem(rng, n, d, k, "diag")
            want = pack(numpy_kernels.nearest_block(X, w, means, layout))
            got = device.to_host(device.nearest_vector(device.to_device(X), device.to_device(w),
                                                       device.to_device(means), layout))
            error = _relative_error(got, want, d, k)
            ok = error <= PARITY_RTOL
            failures += not ok
            results.append(dict(step="nearest", layout=str(layout), n=n, d=d, k=k, weighted=True,
                                relative_error=error, ok=ok))
    worst = max(r["relative_error"] for r in results)
    rows.append(("parity", f"{len(results)} cases: worst relative error", f"{worst:.2e}", "",
                 "ok" if not failures else f"{failures} FAIL (> {PARITY_RTOL:g} or not bit-identical)"))
    for r in results:
        if not r["ok"]:
            rows.append(("parity", "FAIL " + ", ".join(f"{k}={v}" for k, v in r.items() if k != "ok"), "", "", ""))
    return {"cases": results, "failures": failures}


def section_pytest(device, args, rows):
    if args.dry_run:
        rows.append(("pytest", "-m gpu", "skipped in the dry run", "", ""))
        return {}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "gpu",
                             "tests/test_gpu.py"], cwd=ROOT, capture_output=True, text=True, timeout=240)
    tail = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-200:]
    rows.append(("pytest", "-m gpu", tail, "", "ok" if result.returncode == 0 else "FAIL"))
    return {"returncode": result.returncode, "tail": result.stdout[-4000:] + result.stderr[-2000:]}


def section_ceilings(device, args, rows):
    if args.dry_run:
        rows.append(("ceilings", "bandwidth and FP64", "skipped in the dry run", "", ""))
        return {}
    cupy = device.xp
    out = {}
    n_bytes = args.transfer_mb * 2 ** 20
    pinned_memory = cupy.cuda.alloc_pinned_memory(n_bytes)
    pinned = np.frombuffer(pinned_memory, dtype=np.float64, count=n_bytes // 8)
    pinned[:] = 1.0
    pageable = np.ones(n_bytes // 8)
    target = cupy.empty(n_bytes // 8, dtype=cupy.float64)
    out["h2d_pinned_GBps"] = n_bytes / timed(device, lambda: target.set(pinned)) / 1e9
    out["h2d_pageable_GBps"] = n_bytes / timed(device, lambda: target.set(pageable)) / 1e9
    other = cupy.empty_like(target)
    out["d2d_GBps"] = 2 * n_bytes / timed(device, lambda: other.__setitem__(Ellipsis, target)) / 1e9
    m = args.gemm_n
    A = cupy.random.standard_normal((m, m))
    B = cupy.random.standard_normal((m, m))
    out["dgemm_TFLOPs"] = 2 * m ** 3 / timed(device, lambda: A @ B) / 1e12
    fma = cupy.ElementwiseKernel("float64 x", "float64 y",
                                 "double a = x; for (int i = 0; i < 256; ++i) a = fma(a, 0.999999, 1e-7); y = a;",
                                 "suffstats_fp64_fma")
    v = cupy.ones(n_bytes // 8)
    result = cupy.empty_like(v)
    out["fp64_fma_TFLOPs"] = 2 * 256 * v.size / timed(device, lambda: fma(v, result)) / 1e12
    for key, value in out.items():
        rows.append(("ceilings", key, f"{value:.1f}", key.rsplit("_", 1)[1], ""))
    return out


def section_kernels(device, args, rows, ceilings):
    if args.dry_run:
        rows.append(("kernels", "device-resident rates", "skipped in the dry run", "", ""))
        return {}
    cupy = device.xp
    out = {}
    rng = np.random.default_rng(1)
    n, d, k = args.kernel_rows, 50, 3
    X, w, means, prec, log_weights = problem(rng, n, d, k, "full")
    Xd, md, pd, lwd = (device.to_device(a) for a in (X, means, prec, log_weights))
    block = 16 * 4096

    def fused():
        for s in range(0, n, block):
            device.gaussian_vector(Xd[s:s + block], None, md, pd, lwd, "full")

    def array_api():
        for s in range(0, n, block):
            numpy_kernels.gaussian_block(Xd[s:s + block], None, md, pd, lwd, "full")

    flops = 2 * n * k * d * d * 2  # the whitening product and the second moments, as DGEMM would count them
    for name, function in (("fused E-step full d=50 k=3", fused), ("array-API E-step full d=50 k=3", array_api)):
        seconds = timed(device, function, repeats=2)
        rate = flops / seconds / 1e12
        share = rate / ceilings["dgemm_TFLOPs"] if ceilings.get("dgemm_TFLOPs") else float("nan")
        out[name] = {"rows_per_s": n / seconds, "TFLOPs": rate, "share_of_dgemm": share}
        rows.append(("kernels", name, f"{n / seconds / 1e6:.1f}", "M rows/s",
                     f"{rate:.2f} TFLOP/s = {share:.0%} of DGEMM (target >= 50%)"))
    centers = device.to_device(X[:8, :16])
    X16 = cupy.ascontiguousarray(Xd[:, :16])
    seconds = timed(device, lambda: [device.nearest_vector(X16[s:s + block], None, centers, None)
                                     for s in range(0, n, block)], repeats=2)
    out["nearest d=16 k=8"] = {"rows_per_s": n / seconds}
    rows.append(("kernels", "fused nearest step d=16 k=8", f"{n / seconds / 1e6:.1f}", "M rows/s", ""))
    return out


def section_streamed(device, args, rows, ceilings):
    out = {}
    d, k = 16, 4
    n = 20_000 if args.dry_run else int(args.memmap_gb * 2 ** 30 // (8 * d))
    rng = np.random.default_rng(2)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        path = os.path.join(tmp, "rows.npy")
        start = time.perf_counter()
        mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, d))
        chunk = 1 << 20
        noise = rng.normal(size=(min(chunk, n), d))  # drawn once: 8 GB of fresh normals would cost the budget
        for s in range(0, n, chunk):
            rows_ = min(chunk, n - s)
            mm[s:s + rows_] = noise[:rows_] + rng.normal(scale=0.1, size=d)
        mm.flush()
        del mm
        out["write_seconds"] = time.perf_counter() - start
        X = np.load(path, mmap_mode="r")
        _, _, means, prec, log_weights = problem(rng, 64, d, k, "diag")
        means = means - 100.0
        block_rows = 4096 if args.dry_run else 16 * 4096
        buffer_rows = 4 * block_rows if args.dry_run else 16 * block_rows
        params = [device.to_device(a) for a in (means, prec, log_weights)]

        def block_statistics(Xb, wb, stream):
            return device.gaussian_vector(Xb, wb, *params, "diag")

        # the memmap -> pinned (or plain host) copy on its own
        ops = device.stream_ops()
        host_X, _ = ops.host_buffer(buffer_rows, d)
        start = time.perf_counter()
        for s in range(0, n, buffer_rows):
            rows_ = min(buffer_rows, n - s)
            host_X[:rows_] = X[s:s + rows_]
        out["memmap_to_host_GBps"] = n * d * 8 / (time.perf_counter() - start) / 1e9
        rows.append(("streamed", f"memmap -> {'pinned' if not args.dry_run else 'host'} copy alone",
                     f"{out['memmap_to_host_GBps']:.2f}", "GB/s", ""))
        reference = None
        if args.dry_run:  # the same block values pushed over the block tree directly, on the host
            tree = BlockTree()
            for s in range(0, n, block_rows):
                tree.push(device.gaussian_vector(np.asarray(X[s:s + block_rows]), None, *params, "diag"))
            reference = tree.total()
        bound = ceilings.get("h2d_pinned_GBps", float("nan")) * 1e9 / (8 * d)
        for n_buffers, batch in ((2, 3 * buffer_rows + 7), (3, buffer_rows // 2 + 1)):
            def batches():
                for s in range(0, n, batch):
                    yield X[s:s + batch], None

            start = time.perf_counter()
            total = device.to_host(stream_pass(batches(), block_statistics, device.stream_ops(),
                                               buffer_rows=buffer_rows, n_buffers=n_buffers, block_rows=block_rows))
            seconds = time.perf_counter() - start
            rate = n / seconds
            reference = total if reference is None else reference
            entry = {"rows_per_s": rate, "seconds": seconds, "batch_rows": batch,
                     "transfer_bound_rows_per_s": bound, "share_of_bound": rate / bound if bound == bound else None,
                     "bit_identical": bool(np.array_equal(total, reference)), "weight_ok": float(total[0]) == n}
            out[f"{n_buffers} buffers"] = entry
            note = "" if bound != bound else f"{rate / bound:.0%} of the pinned H2D bound (target >= 70%); "
            note += "bit-identical" if entry["bit_identical"] and entry["weight_ok"] else "MISMATCH"
            rows.append(("streamed", f"{n:,} rows x {d} from a memmap, {n_buffers} buffers, batches of {batch:,}",
                         f"{rate / 1e6:.2f}", "M rows/s", note))
        if not args.dry_run:  # the two-core Numba path on the first rows, for the ">= 20x" comparison
            from suffstats.backends import get_backend, set_num_threads

            import numba as numba_package

            numba = get_backend("numba")
            set_num_threads(2)
            numba_package.set_num_threads(min(2, numba_package.config.NUMBA_NUM_THREADS))
            head = np.asarray(X[:min(n, 2_000_000)])
            seconds = timed(device, lambda: [numba.gaussian_block(head[s:s + 4096], None, means, prec, log_weights,
                                                                  "diag") for s in range(0, head.shape[0], 4096)],
                            repeats=1)
            out["numba_rows_per_s"] = head.shape[0] / seconds
            rows.append(("streamed", "Numba path, 2 threads, same rows", f"{out['numba_rows_per_s'] / 1e6:.2f}",
                         "M rows/s", ""))
    return out


def print_table(rows):
    widths = [max(len(str(r[i])) for r in rows) for i in range(5)]
    for r in rows:
        print("  ".join(str(v).ljust(widths[i]) for i, v in enumerate(r)).rstrip())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="run on the CPU with NumPy stand-ins, tiny sizes")
    parser.add_argument("--nvrtc", action="store_true", help="in the dry run, also run the NVRTC compile check")
    parser.add_argument("--out", default="device_check.json", help="JSON report path")
    parser.add_argument("--memmap-gb", type=float, default=8.0, help="size of the streamed memory map")
    parser.add_argument("--tmp", default=None, help="directory of the temporary memory map")
    parser.add_argument("--transfer-mb", type=int, default=1024)
    parser.add_argument("--gemm-n", type=int, default=8192)
    parser.add_argument("--kernel-rows", type=int, default=2_000_000)
    parser.add_argument("--skip", default="", help="comma-separated sections to skip")
    args = parser.parse_args(argv)
    device = HostStandIn() if args.dry_run else CupyDevice()
    skip = set(filter(None, args.skip.split(",")))
    rows, report = [], {"dry_run": args.dry_run}
    began = time.perf_counter()
    plan = [("environment", lambda: section_environment(device, args, rows)),
            ("compile", lambda: section_compile(device, args, rows)),
            ("parity", lambda: section_parity(device, args, rows)),
            ("pytest", lambda: section_pytest(device, args, rows)),
            ("ceilings", lambda: section_ceilings(device, args, rows)),
            ("kernels", lambda: section_kernels(device, args, rows, report.get("ceilings") or {})),
            ("streamed", lambda: section_streamed(device, args, rows, report.get("ceilings") or {}))]
    for name, run in plan:
        if name in skip:
            continue
        start = time.perf_counter()
        try:
            report[name] = run()
        except Exception as error:  # noqa: BLE001 -- one section's failure must not cost the others
            report[name] = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
            rows.append((name, "ERROR", f"{type(error).__name__}: {error}"[:160], "", "FAIL"))
        report.setdefault("seconds", {})[name] = time.perf_counter() - start
    report["seconds"]["total"] = time.perf_counter() - began
    rows.append(("total", "wall time", f"{report['seconds']['total']:.1f}", "s", ""))
    Path(args.out).write_text(json.dumps(report, indent=1, default=str))
    print_table(rows)
    failed = any(r[4] == "FAIL" or any(word in str(r[4]) for word in ("SPILLS", "MISMATCH", " FAIL")) for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
