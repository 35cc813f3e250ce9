"""A memory-mapped file larger than this machine's memory, fitted out of core (not run by CI).

Writes (once) a float64 ``.npy`` of ``--gigabytes`` GB, drops it from the page
cache, and reports: the time to read it cold, the pure compute time of an
epoch (measured on an in-memory slice and scaled to the file), each epoch's
time, read throughput and the peak resident *anonymous* memory of this
process (file-backed pages of the memory map excluded), sampled every 20 ms.
The file is fitted by path, its batches read with ``O_DIRECT`` (``--reads
direct``, what the library does for a file this size), through the memory map
(``--reads mmap``), or both one after the other (``--reads both``).
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import warnings

import numpy as np

from _common import CACHE, table


def rss_anon_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class PeakAnon:
    """Samples RssAnon on a thread; ``peak`` is the largest value seen."""

    def __init__(self):
        self.peak, self._stop = rss_anon_mb(), threading.Event()

    def __enter__(self):
        def run():
            while not self._stop.wait(0.02):
                self.peak = max(self.peak, rss_anon_mb())
        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def drop_from_cache(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def cold_read_seconds(path, chunk=64 << 20):
    drop_from_cache(path)
    buf = bytearray(chunk)
    tic = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass
    return time.perf_counter() - tic


def write_file(path, n, d, k, seed=0):
    if os.path.exists(path):
        return
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-10, 10, size=(k, d))
    out = np.lib.format.open_memmap(path + ".tmp.npy", mode="w+", dtype=np.float64, shape=(n, d))
    for start in range(0, n, 500_000):
        stop = min(start + 500_000, n)
        out[start:stop] = centers[rng.integers(0, k, stop - start)] + 4.0 * rng.normal(size=(stop - start, d))
        out.flush()
        drop_from_cache(path + ".tmp.npy")
    del out
    os.replace(path + ".tmp.npy", path)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gigabytes", type=float, default=30.0)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--components", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=100_000)
    parser.add_argument("--iters", type=int, default=2)
    parser.add_argument("--reads", choices=["direct", "mmap", "both"], default="both")
    args = parser.parse_args()
    import suffstats as ss

    d, k = args.features, args.components
    n = int(args.gigabytes * 1e9 / (8 * d))
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"large-{n}x{d}.npy")
    write_file(path, n, d, k)
    X = np.load(path, mmap_mode="r")
    size_gb = os.path.getsize(path) / 1e9
    read_s = cold_read_seconds(path)

    means = np.asarray(X[:k], dtype=np.float64)
    init = dict(weights_init=np.full(k, 1 / k), means_init=means, precisions_init=np.array([np.eye(d) / 16.0] * k))
    sample = np.array(X[: min(n, 1_000_000)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ss.GaussianMixture(k, max_iter=1, **init).fit(sample[:10_000])
        tic = time.perf_counter()
        ss.GaussianMixture(k, max_iter=2, tol=0, **init).fit(sample)
        t2 = time.perf_counter() - tic
        tic = time.perf_counter()
        ss.GaussianMixture(k, max_iter=1, tol=0, **init).fit(sample)
        t1 = time.perf_counter() - tic
    compute_s = (t2 - t1) * n / sample.shape[0]
    del sample

    import suffstats.data.npy as npy

    runs = {}
    for reads in (["direct", "mmap"] if args.reads == "both" else [args.reads]):
        npy.DIRECT_READ_BYTES = 0 if reads == "direct" else None
        drop_from_cache(path)
        epochs = []
        with PeakAnon() as peak, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ss.GaussianMixture(k, max_iter=args.iters, tol=0, batch_size=args.batch_size,
                               callbacks=[lambda m, log: epochs.append(log["seconds"])], **init).fit(path)
        runs[reads] = (epochs, peak.peak)
    bound = max(compute_s, read_s)
    rows = [[reads, i + 1, sec, size_gb / sec, sec / bound, f"{peak_mb:.0f}"]
            for reads, (epochs, peak_mb) in runs.items() for i, sec in enumerate(epochs)]
    print(f"file: {path}, {n:,} x {d} float64, {size_gb:.1f} GB; machine memory "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1e9:.1f} GB")
    print(f"cold read: {read_s:.1f} s ({size_gb / read_s:.2f} GB/s); pure compute per epoch: {compute_s:.1f} s")
    print(table(rows, ["reads", "epoch", "seconds", "GB/s", "/ max(compute, cold read)", "peak anon MB"]))
    print(f"batch_size={args.batch_size:,}")


if __name__ == "__main__":
    main()
