"""Hidden Markov models: suffstats (from a memory map, chunked) vs hmmlearn (in memory), same initial parameters.

Prints seconds per EM iteration and how far the two log-likelihood histories
are apart (relative). Both fit the same one long sequence from the same
starting parameters (``init_params=""``). ``GMMHMM`` starts its two
Gaussians per state around the regimes' centres; ``HiddenMarkovModel`` rows
give its states as ``MultivariateNormal`` (full) or ``IndependentComponents``
of ``Normal`` (diag) distributions and compare with hmmlearn's ``GaussianHMM``
without covariance prior (the same maximum-likelihood M-step). Where
pomegranate 1.x is installed (``pip install pomegranate torch``), its
``DenseHMM`` fits the same sequence in memory from the same start for the
``GaussianHMM`` and ``CategoricalHMM`` rows (float32, as pomegranate computes).

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

from suffstats import IndependentComponents, MultivariateNormal, Normal  # noqa: E402
from suffstats.hmm import CategoricalHMM, GaussianHMM, GMMHMM, HiddenMarkovModel  # noqa: E402


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


def regime_centers(n, d, k, seed=0):
    """The regimes' centres of :func:`regimes` (the same draws)."""
    rng = np.random.default_rng(seed)
    rng.integers(0, k, n // 2000 + 1)
    return rng.uniform(-5, 5, size=(k, d))


def symbols(n, m, seed=0):
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"hmm-symbols-{n}-m{m}-s{seed}.npy")
    if not os.path.exists(path):
        rng = np.random.default_rng(seed)
        states = np.repeat(rng.integers(0, 2, n // 2000 + 1), 2000)[:n]
        np.save(path, np.where(rng.random(n) < 0.7, states * (m // 2), rng.integers(0, m, n))[:, None])
    return path


def start(model, k, d, kind, rng, centers=None):
    model.startprob_ = np.full(k, 1 / k)
    model.transmat_ = np.full((k, k), 0.1 / k) + np.eye(k) * 0.9
    if kind == "gmm":
        model.weights_ = np.full((k, 2), 0.5)
        model.means_ = centers[:, None, :] + np.array([-0.5, 0.5])[None, :, None] * rng.uniform(0.5, 1, (k, 1, d))
        model.covars_ = np.ones((k, 2, d)) if model.covariance_type == "diag" else np.tile(np.eye(d), (k, 2, 1, 1))
        return model
    if kind == "general":
        return model  # its states carry their starting parameters
    if kind == "categorical":
        probs = rng.random((k, d))
        model.emissionprob_ = probs / probs.sum(axis=1, keepdims=True)
        return model
    model.means_ = rng.uniform(-5, 5, size=(k, d))
    model.covars_ = np.tile(np.eye(d), (k, 1, 1)) if model.covariance_type == "full" else np.ones((k, d))
    return model


def _general(k, d, cov, args):
    """A HiddenMarkovModel whose states start where :func:`start` starts a GaussianHMM (the same draws)."""
    means = np.random.default_rng(1).uniform(-5, 5, size=(k, d))
    if cov == "full":
        states = [MultivariateNormal(means[j], np.eye(d), reg_covar=0.0) for j in range(k)]
    else:
        states = [IndependentComponents([Normal(m, 1.0) for m in means[j]]) for j in range(k)]
    return HiddenMarkovModel(states, np.full(k, 1 / k), np.full((k, k), 0.1 / k) + np.eye(k) * 0.9, init_params="",
                             n_iter=args.iters, tol=0.0, batch_size=args.batch_size)


def _pomegranate(kind, cov, k, d, path, iters):
    """Seconds per iteration of pomegranate 1.x's DenseHMM from the start :func:`start` gives; None without it."""
    if kind not in ("gaussian", "categorical"):
        return None
    try:
        import torch
        from pomegranate.distributions import Categorical, Normal as PomegranateNormal
        from pomegranate.hmm import DenseHMM
    except ImportError:
        return None
    model = start(GaussianHMM(k, cov or "diag") if kind == "gaussian" else CategoricalHMM(k), k, d, kind,
                  np.random.default_rng(1))
    if kind == "gaussian":  # start() gives unit covariances
        covariance = np.eye(d, dtype=np.float32) if cov == "full" else np.ones(d, np.float32)
        states = [PomegranateNormal(model.means_[j].astype(np.float32), covariance, covariance_type=cov)
                  for j in range(k)]
        X = torch.from_numpy(np.load(path).astype(np.float32)[None])
    else:
        states = [Categorical(model.emissionprob_[j:j + 1].astype(np.float32)) for j in range(k)]
        X = torch.from_numpy(np.load(path).astype(np.int64)[None])
    hmm = DenseHMM(states, edges=model.transmat_.astype(np.float32), starts=model.startprob_.astype(np.float32),
                   max_iter=iters, tol=0.0)
    t = time.perf_counter()
    hmm.fit(X)
    return (time.perf_counter() - t) / iters


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=5)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=100_000)
    parser.add_argument("--models", default="gaussian,categorical,gmm,general",
                        help="comma-separated model kinds to run (default: all)")
    args = parser.parse_args()
    try:
        import hmmlearn.hmm as peer
    except ImportError:
        peer = None
    cases = [("gaussian", "diag", 4), ("gaussian", "full", 4), ("gaussian", "diag", 16), ("gaussian", "full", 16),
             ("categorical", None, 4), ("gmm", "diag", 4), ("gmm", "full", 4), ("general", "diag", 4),
             ("general", "full", 4)]
    print(f"{'model':<32} {'rows':>10} {'suffstats s/iter':>17} {'hmmlearn s/iter':>16} {'speed-up':>9} "
          f"{'max rel. Δ log-lik':>19} {'pomegranate s/iter':>19} {'speed-up':>9}")
    cases = [case for case in cases if case[0] in args.models.split(",")]
    for kind, cov, k in cases:
        centers = None
        if kind == "gmm":
            path, d = regimes(args.rows, args.features, k), args.features
            centers = regime_centers(args.rows, d, k)
            ours = GMMHMM(k, 2, covariance_type=cov, init_params="", n_iter=args.iters, tol=0.0,
                          batch_size=args.batch_size)
            ref = peer and peer.GMMHMM(k, 2, covariance_type=cov, init_params="", n_iter=args.iters, tol=0.0)
            name = f"GMMHMM {cov} K={k} n_mix=2"
        elif kind == "general":
            path, d = regimes(args.rows, args.features, k), args.features
            ours = _general(k, d, cov, args)
            ref = peer and peer.GaussianHMM(k, cov, init_params="", n_iter=args.iters, tol=0.0, covars_prior=0.0,
                                            covars_weight=0.0 if cov == "full" else 1.0)
            name = f"HiddenMarkovModel {'MVN' if cov == 'full' else 'indep.'} K={k}"
        elif kind == "gaussian":
            path, d = regimes(args.rows, args.features, k), args.features
            ours = GaussianHMM(k, cov, init_params="", n_iter=args.iters, tol=0.0, batch_size=args.batch_size)
            ref = peer and peer.GaussianHMM(k, cov, init_params="", n_iter=args.iters, tol=0.0)
            name = f"GaussianHMM {cov} K={k}"
        else:
            path, d = symbols(args.rows, 8), 8
            ours = CategoricalHMM(k, init_params="", n_iter=args.iters, tol=0.0, batch_size=args.batch_size)
            ref = peer and peer.CategoricalHMM(k, init_params="", n_iter=args.iters, tol=0.0)
            name = f"CategoricalHMM K={k}"
        start(ours, k, d, kind, np.random.default_rng(1), centers)
        ours.n_iter = 1
        ours.fit(np.load(path, mmap_mode="r")[:5000])  # compile the kernels outside the timing
        if kind == "general":
            ours = _general(k, d, cov, args)
        start(ours, k, d, kind, np.random.default_rng(1), centers)
        ours.n_iter = args.iters
        t = time.perf_counter()
        ours.fit(np.load(path, mmap_mode="r"))
        ours_s = (time.perf_counter() - t) / args.iters
        ref_s, delta = float("nan"), float("nan")
        if ref is not None:
            if kind == "general":
                start(ref, k, d, "gaussian", np.random.default_rng(1))  # the draws _general's states start from
            else:
                start(ref, k, d, kind, np.random.default_rng(1), centers)
            X = np.load(path)
            t = time.perf_counter()
            ref.fit(X)
            ref_s = (time.perf_counter() - t) / args.iters
            a, b = np.array(ours.monitor_.history), np.array(ref.monitor_.history)
            delta = float(np.max(np.abs(a - b) / np.abs(b)))
        pom_s = _pomegranate(kind, cov, k, d, path, args.iters)
        pom = f"{'n/a':>19} {'n/a':>9}" if pom_s is None else f"{pom_s:>19.3f} {pom_s / ours_s:>8.2f}x"
        print(f"{name:<32} {args.rows:>10,} {ours_s:>17.3f} {ref_s:>16.3f} {ref_s / ours_s:>8.2f}x {delta:>19.1e} {pom}")


if __name__ == "__main__":
    main()
