"""EM per-iteration speed: suffstats against scikit-learn (and pomegranate 1.x when importable).

All peers run in this one process, on the same data, from the same initial
weights, means and precisions; the table reports seconds per EM iteration
(median of ``--repeats``, set-up removed by differencing 1 and ``--iters``
iterations), the speed ratio, achieved GFLOP/s, the fraction of this
machine's measured matrix-product rate, peak traced memory, and the final
mean log-likelihood of each peer (they must agree).

Cases (``--scale`` multiplies the row counts; CI runs a tiny scale):

A     557,100 x 25, k=4, full covariance (pomegranate's out-of-core example)
B     2,000,000 x 50, k=3, full covariance
diag  1,000,000 x 64, k=64, diagonal covariance
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc
import warnings

import numpy as np

from _common import blobs, gemm_gflops, per_iteration, table

CASES = {
    "A": (557_100, 25, 4, "full"),
    "B": (2_000_000, 50, 3, "full"),
    "diag": (1_000_000, 64, 64, "diag"),
    "spherical": (557_100, 25, 4, "spherical"),
    "tied": (557_100, 25, 4, "tied"),
}


def flops(n, d, k, kind):
    """Floating-point operations of one EM iteration (the products that dominate)."""
    return 4.0 * n * k * d * d if kind in ("full", "tied") else 8.0 * n * k * d


def peak_mb(fit):
    tracemalloc.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def peers(X, X_map, k, kind, init, batch_size):
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    import suffstats as ss

    out = {
        "suffstats (numba, memory map)": lambda it: ss.GaussianMixture(
            k, covariance_type=kind, max_iter=it, tol=0, batch_size=batch_size, **init).fit(X_map),
        "suffstats (numba, in memory)": lambda it: ss.GaussianMixture(
            k, covariance_type=kind, max_iter=it, tol=0, **init).fit(X),
        "suffstats (numba, float32 products)": lambda it: ss.GaussianMixture(
            k, covariance_type=kind, max_iter=it, tol=0, compute_dtype="float32", **init).fit(X),
        "suffstats (numpy reference)": lambda it: ss.GaussianMixture(
            k, covariance_type=kind, max_iter=it, tol=0, backend="numpy", batch_size=batch_size, **init).fit(X_map),
        "scikit-learn": lambda it: SkGaussianMixture(
            k, covariance_type=kind, max_iter=it, tol=0, **init).fit(X),
    }
    pomegranate = _pomegranate(X, k, kind, init)
    if pomegranate is not None:
        out["pomegranate 1.x"] = pomegranate
    return out


def _pomegranate(X, k, kind, init):
    try:
        import torch
        from pomegranate.distributions import Normal
        from pomegranate.gmm import GeneralMixtureModel
    except ImportError:
        return None
    if kind != "full":  # pomegranate's diagonal path takes minutes per iteration at k=64
        return None
    Xt = torch.from_numpy(np.ascontiguousarray(X))
    precisions = init["precisions_init"]
    covs = np.linalg.inv(precisions) if kind == "full" else 1.0 / precisions

    def fit(iters):
        comps = [Normal(torch.from_numpy(init["means_init"][j].copy()), torch.from_numpy(covs[j].copy()),
                        covariance_type=kind) for j in range(k)]
        model = GeneralMixtureModel(comps, priors=torch.from_numpy(init["weights_init"].copy()),
                                    max_iter=iters, tol=-np.inf, init="first-k")
        model.fit(Xt)
        return model

    return fit


def _final_log_likelihood(model, X):
    """Mean log-likelihood of the data under the fitted parameters, whoever fitted them."""
    if hasattr(model, "score"):
        return model.score(X)
    import torch

    return float(model.log_probability(torch.from_numpy(np.ascontiguousarray(X))).mean())


def run_case(name, scale, iters, repeats):
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    n, d, k, kind = CASES[name]
    n = max(int(n * scale), 50 * k)
    path = blobs(name, n, d, k)
    X_map = np.load(path, mmap_mode="r")
    X = np.load(path)
    batch_size = min(100_000, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = SkGaussianMixture(k, covariance_type=kind, max_iter=1, init_params="random_from_data",
                                  random_state=0).fit(X[: min(n, 50_000)])
    init = dict(weights_init=start.weights_, means_init=start.means_, precisions_init=start.precisions_)
    ceiling = gemm_gflops(min(n, 200_000), d, k * d if kind in ("full", "tied") else k)
    rows, results = [], {}
    for label, fit in peers(X, X_map, k, kind, init, batch_size).items():
        seconds, model = per_iteration(fit, iters, repeats)
        results[label] = (seconds, model)
    reference = results["scikit-learn"][0]
    ours = results["suffstats (numba, in memory)"][0]
    for label, (seconds, model) in results.items():
        gflops = flops(n, d, k, kind) / seconds / 1e9
        rows.append([label, seconds, reference / seconds, ours / seconds, gflops, gflops / ceiling,
                     peak_mb(lambda it, f=dict(peers(X, X_map, k, kind, init, batch_size))[label]: f(it)),
                     f"{_final_log_likelihood(model, X):.10f}"])
    print(f"\ncase {name}: {n:,} x {d}, k={k}, {kind} covariance, float64, {iters} iterations, "
          f"batch_size={batch_size:,}; product ceiling measured now: {ceiling:.1f} GFLOP/s")
    print(table(rows, ["peer", "s/iter", "speed vs sklearn", "speed vs suffstats", "GFLOP/s",
                       "of ceiling", "peak MB", "mean log-lik, final parameters"]))
    print("peak MB: largest traced Python/numpy allocation during a 1-iteration fit (torch memory is not traced); "
          "pomegranate has no reg_covar, so its log-likelihood may differ in the last digits")
    lls = [float(r[-1]) for r in rows if "float32" not in r[0]]
    single = [float(r[-1]) for r in rows if "float32" in r[0]]
    if max(lls) - min(lls) > 1e-6 * abs(lls[0]) or any(abs(v - lls[0]) > 1e-5 * abs(lls[0]) for v in single):
        print("WARNING: final log-likelihoods disagree", file=sys.stderr)
        return 1
    return 0


def compile_seconds():
    """Seconds for a tiny fit in a fresh process: with an empty Numba cache, then with it filled."""
    import os
    import subprocess
    import tempfile
    import time

    code = ("import numpy as np, suffstats as ss, warnings; warnings.simplefilter('ignore'); "
            "X = np.random.default_rng(0).normal(size=(5000, 3)); "
            "[ss.GaussianMixture(2, covariance_type=c, max_iter=1).fit(X) for c in ('full', 'diag')]")
    times = []
    with tempfile.TemporaryDirectory() as cache:
        for _ in range(2):
            tic = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "NUMBA_CACHE_DIR": cache})
            times.append(time.perf_counter() - tic)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="A,B,diag")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    cold, warm = compile_seconds()
    print(f"numba kernels, first fit in a fresh process: {cold:.1f} s with an empty cache (compilation), "
          f"{warm:.1f} s once cached (cache=True: compiled once per machine)")
    return max(run_case(c, args.scale, args.iters, args.repeats) for c in args.cases.split(","))


if __name__ == "__main__":
    sys.exit(main())
