"""One sequence of 2 GB fitted from a memory map: peak anonymous memory, and the same bits for two batch sizes.

Writes (once, cached) 50,000,000 steps x 5 features of a regime-switching
signal with 8 regimes (float64, 2 GB), then runs ``--iters`` Baum–Welch
iterations of a diagonal ``GaussianHMM`` with K = 8 from the same start, once
per batch size, in fresh processes. Each run reports its seconds per iteration
and its peak anonymous memory (``RssAnon`` of ``/proc/self/status``, polled
every 20 ms: memory the process allocated itself, not the file's pages in the
page cache). The two fits must have the same bits.

    python benchmarks/bench_hmm_large.py                  # 50M steps (2 GB)
    python benchmarks/bench_hmm_large.py --rows 2000000   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np

from _common import CACHE, table

K, D = 8, 5


def signal_file(n, seed=0):
    """Regimes held for geometric run lengths (mean 200 steps), Gaussian noise around each regime's centre."""
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"hmm-regimes-{n}x{D}-k{K}-s{seed}.npy")
    if os.path.exists(path):
        return path
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-4, 4, size=(K, D))
    out = np.lib.format.open_memmap(path + ".tmp.npy", mode="w+", dtype=np.float64, shape=(n, D))
    state, left = 0, 0
    for start in range(0, n, 1_000_000):
        stop = min(start + 1_000_000, n)
        states = np.empty(stop - start, dtype=np.int64)
        i = 0
        while i < len(states):
            if left == 0:
                state, left = int(rng.integers(K)), int(rng.geometric(1 / 200))
            take = min(left, len(states) - i)
            states[i:i + take], i, left = state, i + take, left - take
        out[start:stop] = centres[states] + rng.normal(size=(stop - start, D))
    out.flush()
    del out
    os.replace(path + ".tmp.npy", path)
    return path


def _peak_anonymous_kb(stop, peak):
    while not stop.is_set():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    peak[0] = max(peak[0], int(line.split()[1]))
        time.sleep(0.02)


def one_fit(path, batch_size, iters):
    """Fit in this process; print a JSON line with seconds per iteration, peak anonymous MB and the parameters."""
    from suffstats.hmm import GaussianHMM

    def started(n_iter):
        model = GaussianHMM(K, "diag", init_params="", n_iter=n_iter, tol=0.0, batch_size=batch_size)
        model.startprob_ = np.full(K, 1 / K)
        model.transmat_ = np.full((K, K), 0.01 / K) + np.eye(K) * 0.99
        model.means_, model.covars_ = np.random.default_rng(1).uniform(-4, 4, size=(K, D)), np.ones((K, D))
        return model

    started(1).fit(np.load(path, mmap_mode="r")[:5000])  # compile the kernels outside the measurement
    model = started(iters)
    stop, peak = threading.Event(), [0]
    watcher = threading.Thread(target=_peak_anonymous_kb, args=(stop, peak), daemon=True)
    baseline = _read_anonymous_kb()
    watcher.start()
    tic = time.perf_counter()
    model.fit(path)
    seconds = (time.perf_counter() - tic) / iters
    stop.set()
    watcher.join()
    print(json.dumps({"seconds": seconds, "peak_mb": peak[0] / 1024, "baseline_mb": baseline / 1024,
                      "means": model.means_.tolist(), "transmat": model.transmat_.tolist(),
                      "history": [float(v) for v in model.monitor_.history]}))


def _read_anonymous_kb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--iters", type=int, default=1)
    parser.add_argument("--batch-sizes", default="1048576,262144")
    parser.add_argument("--one-fit", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one_fit:
        one_fit(args.one_fit[0], int(args.one_fit[1]), args.iters)
        return 0
    path = signal_file(args.rows)
    runs = []
    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        proc = subprocess.run([sys.executable, __file__, "--iters", str(args.iters), "--one-fit", path,
                               str(batch_size)], capture_output=True, text=True, check=True)
        runs.append((batch_size, json.loads(proc.stdout.strip().splitlines()[-1])))
    same = all(r["means"] == runs[0][1]["means"] and r["transmat"] == runs[0][1]["transmat"]
               and r["history"] == runs[0][1]["history"] for _, r in runs)
    size = os.path.getsize(path) / 2**30
    print(f"GaussianHMM diag K={K}: one sequence of {args.rows:,} steps x {D} features ({size:.2f} GiB memory map), "
          f"{args.iters} iteration(s), each batch size in a fresh process")
    print(table([[f"{b:,}", r["seconds"], f"{r['peak_mb']:.0f}", f"{r['baseline_mb']:.0f}"] for b, r in runs],
                ["batch_size", "s/iter", "peak anonymous MB", "before the fit MB"]))
    print(f"the same bits for every batch size: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
