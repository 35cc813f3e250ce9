"""Hidden Markov models: suffstats (from a memory map, chunked) vs hmmlearn (in memory), same initial parameters.

Prints seconds per EM iteration and how far the two log-likelihood histories
are apart (relative). Both fit the same one long sequence from the same
starting parameters (``init_params=""``).

    python bench_hmm.py --rows 1000000 --iters 3
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _common import CACHE  # noqa: E402

from suffstats.hmm import CategoricalHMM, GaussianHMM  # noqa: E402


def regimes(n, d, k, seed=0):
    """A long sequence that switches between ``k`` regimes every ~2,000 rows, cached as .npy."""
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"hmm-{n}x{d}-k{k}-s{seed}.npy")
    if not os.path.exists(path):
        rng = np.random.default_rng(seed)
        states = np.repeat(rng.integers(0, k, n // 2000 + 1), 2000)[:n]
        centers = rng.uniform(-5, 5, size=(k, d))
        np.save(path, centers[states] + rng.normal(size=(n, d)))
    return path


def symbols(n, m, seed=0):
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"hmm-symbols-{n}-m{m}-s{seed}.npy")
    if not os.path.exists(path):
        rng = np.random.default_rng(seed)
        states = np.repeat(rng.integers(0, 2, n // 2000 + 1), 2000)[:n]
        np.save(path, np.where(rng.random(n) < 0.7, states * (m // 2), rng.integers(0, m, n))[:, None])
    return path


def start(model, k, d, kind, rng):
    model.startprob_ = np.full(k, 1 / k)
    model.transmat_ = np.full((k, k), 0.1 / k) + np.eye(k) * 0.9
    if kind == "categorical":
        probs = rng.random((k, d))
        model.emissionprob_ = probs / probs.sum(axis=1, keepdims=True)
        return model
    model.means_ = rng.uniform(-5, 5, size=(k, d))
    model.covars_ = np.tile(np.eye(d), (k, 1, 1)) if model.covariance_type == "full" else np.ones((k, d))
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=5)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=100_000)
    args = parser.parse_args()
    try:
        import hmmlearn.hmm as peer
    except ImportError:
        peer = None
    cases = [("gaussian", "diag", 4), ("gaussian", "full", 4), ("gaussian", "diag", 16), ("gaussian", "full", 16),
             ("categorical", None, 4)]
    print(f"{'model':<26} {'rows':>10} {'suffstats s/iter':>17} {'hmmlearn s/iter':>16} {'speed-up':>9} "
          f"{'max rel. Δ log-lik':>19}")
    for kind, cov, k in cases:
        if kind == "gaussian":
            path, d = regimes(args.rows, args.features, k), args.features
            ours = GaussianHMM(k, cov, init_params="", n_iter=args.iters, tol=0.0, batch_size=args.batch_size)
            ref = peer and peer.GaussianHMM(k, cov, init_params="", n_iter=args.iters, tol=0.0)
            name = f"GaussianHMM {cov} K={k}"
        else:
            path, d = symbols(args.rows, 8), 8
            ours = CategoricalHMM(k, init_params="", n_iter=args.iters, tol=0.0, batch_size=args.batch_size)
            ref = peer and peer.CategoricalHMM(k, init_params="", n_iter=args.iters, tol=0.0)
            name = f"CategoricalHMM K={k}"
        start(ours, k, d, kind, np.random.default_rng(1))
        ours.n_iter = 1
        ours.fit(np.load(path, mmap_mode="r")[:5000])  # compile the kernels outside the timing
        start(ours, k, d, kind, np.random.default_rng(1))
        ours.n_iter = args.iters
        t = time.perf_counter()
        ours.fit(np.load(path, mmap_mode="r"))
        ours_s = (time.perf_counter() - t) / args.iters
        ref_s, delta = float("nan"), float("nan")
        if ref is not None:
            start(ref, k, d, kind, np.random.default_rng(1))
            X = np.load(path)
            t = time.perf_counter()
            ref.fit(X)
            ref_s = (time.perf_counter() - t) / args.iters
            a, b = np.array(ours.monitor_.history), np.array(ref.monitor_.history)
            delta = float(np.max(np.abs(a - b) / np.abs(b)))
        print(f"{name:<26} {args.rows:>10,} {ours_s:>17.3f} {ref_s:>16.3f} {ref_s / ours_s:>8.2f}x {delta:>19.1e}")


if __name__ == "__main__":
    main()
