"""Univariate ``summarize`` throughput against ``np.sum`` over the same array (the floor of any pass)."""

from __future__ import annotations

import argparse
import time

import numpy as np

from _common import table


def best_of(function, repeats=5):
    best = np.inf
    for _ in range(repeats):
        tic = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - tic)
    return best


def main(argv=None):
    import suffstats as ss

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    n = args.rows
    data = {
        "Normal": (ss.Normal, rng.normal(3.0, 2.0, n)),
        "LogNormal": (ss.LogNormal, rng.lognormal(0.0, 1.0, n)),
        "Exponential": (ss.Exponential, rng.exponential(2.0, n)),
        "Gamma": (ss.Gamma, rng.gamma(2.0, 1.0, n)),
        "Beta": (ss.Beta, rng.beta(2.0, 3.0, n)),
        "Poisson": (ss.Poisson, rng.poisson(3.0, n).astype(float)),
        "Bernoulli": (ss.Bernoulli, (rng.random(n) < 0.3).astype(float)),
        "Categorical": (lambda: ss.Categorical(n_categories=5), rng.integers(0, 5, n).astype(float)),
        "Uniform": (ss.Uniform, rng.uniform(0, 1, n)),
        "Geometric": (ss.Geometric, rng.geometric(0.3, n).astype(float)),
    }
    rows = []
    for name, (make, x) in data.items():
        floor = best_of(lambda: np.sum(x))
        seconds = best_of(lambda: make().summarize(x))
        rows.append([name, seconds * 1e3, floor * 1e3, floor / seconds])
    log_ms = best_of(lambda: np.log(data["Normal"][1] ** 2 + 1.0)) * 1e3
    print(f"{n:,} float64 rows, best of 5; for scale, np.log over the same rows takes {log_ms:.1f} ms "
          "(LogNormal, Gamma and Beta need at least one logarithm per row)")
    print(table(rows, ["family", "summarize ms", "np.sum ms", "fraction of np.sum speed"]))


if __name__ == "__main__":
    main()
