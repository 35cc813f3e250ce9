"""Shared helpers for the benchmark scripts: cached data sets, timing, peers."""

from __future__ import annotations

import os
import time
import warnings

import numpy as np

CACHE = os.environ.get("SUFFSTATS_BENCH_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "suffstats-bench"))


def blobs(name, n, d, k, seed=0, std=4.0):
    """make_blobs-like data written once to a cached .npy; returns its path."""
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"{name}-{n}x{d}-k{k}-s{seed}.npy")
    if not os.path.exists(path):
        rng = np.random.default_rng(seed)
        centers = rng.uniform(-10, 10, size=(k, d))
        out = np.lib.format.open_memmap(path + ".tmp.npy", mode="w+", dtype=np.float64, shape=(n, d))
        for start in range(0, n, 200_000):
            stop = min(start + 200_000, n)
            labels = rng.integers(0, k, stop - start)
            out[start:stop] = centers[labels] + std * rng.normal(size=(stop - start, d))
        out.flush()
        del out
        os.replace(path + ".tmp.npy", path)
    return path


def per_iteration(fit, iters=5, repeats=2):
    """Seconds per EM iteration: (t(iters) - t(1)) / (iters - 1), median over ``repeats``.

    Differencing removes set-up costs (validation, initialisation, a final E-step).
    """
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(1)  # warm-up: compilation, thread pools, page cache
    for _ in range(repeats):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tic = time.perf_counter()
            fit(1)
            t1 = time.perf_counter() - tic
            tic = time.perf_counter()
            model = fit(iters)
            tn = time.perf_counter() - tic
        times.append((tn - t1) / (iters - 1))
    return float(np.median(times)), model


def gemm_gflops(n, d, width, repeats=3):
    """Measured GFLOP/s of the tall-and-skinny product (n x d) @ (d x width) on this machine."""
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(n, d)), rng.normal(size=(d, width))
    A @ B
    best = np.inf
    for _ in range(repeats):
        tic = time.perf_counter()
        A @ B
        best = min(best, time.perf_counter() - tic)
    return 2.0 * n * d * width / best / 1e9


def table(rows, headers):
    """Format rows (lists) as a fixed-width text table."""
    cells = [headers] + [[f"{c:.3g}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
