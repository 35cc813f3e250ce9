"""Choosing k: the shared search against the loop of separate fits, on a memory-mapped file.

k = 1..K x n_init initialisations, full covariance. Three ways, in one process
on the same file and the same candidate seeds:

* ``GaussianMixtureSearch``: one read of the data per epoch for all candidates;
* the loop of separate ``GaussianMixture`` fits (ours), one per candidate;
* the loop of scikit-learn ``GaussianMixture`` fits on the array in memory.

Rows read are counted at the source (sample reads included); bytes are rows x
row size. The page cache is not dropped between runs (that needs root): after
the first run the file is read from memory, so the wall-time ratio here is the
compute ratio, and the bytes ratio is what a cold disk would see.

The products are counted too: each EM iteration of a candidate with k
components whitens every row for every component (``2·n·d²·k`` floating-point
operations) and forms every component's second moment (``2·n·d²·k`` again), so
``4·n·d²·Σ(k·iterations)`` over the candidates, against the rate this machine
reaches now for the product of all the candidates' whitening matrices side by
side, ``(n × d) @ (d × d·Σk)`` -- the one product a search sharing its compute
would run: the share of that limit each way runs at bounds how much faster any
sharing of compute could make it.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from _common import blobs, gemm_gflops, table
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from suffstats import GaussianMixture, GaussianMixtureSearch
from suffstats.data import ArraySource


class Counting(ArraySource):
    """A memory-mapped array source that counts the rows it reads."""

    def __init__(self, X):
        super().__init__(X)
        self.rows = 0

    def read(self, start, stop):
        self.rows += stop - start
        return super().read(start, stop)

    def take(self, rows):
        self.rows += len(rows)
        return super().take(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--max-k", type=int, default=10)
    parser.add_argument("--n-init", type=int, default=3)
    parser.add_argument("--max-iter", type=int, default=30)
    parser.add_argument("--no-sklearn", action="store_true")
    args = parser.parse_args()
    path = blobs("select", args.rows, args.features, 6)
    X = np.load(path, mmap_mode="r")
    row_bytes = X.dtype.itemsize * X.shape[1]
    common = dict(batch_size=65_536, max_iter=args.max_iter, tol=1e-3, init_sample_size=50_000)
    print(f"{args.rows:,} x {args.features} float64 ({X.nbytes / 1e6:.0f} MB), k = 1..{args.max_k} x "
          f"{args.n_init} inits, full covariance, max_iter={args.max_iter}")
    warnings.simplefilter("ignore")
    GaussianMixture(2, **{**common, "max_iter": 1}).fit(X[:50_000])  # compilation and page cache

    source = Counting(X)
    tic = time.perf_counter()
    search = GaussianMixtureSearch(range(1, args.max_k + 1), n_init=args.n_init, random_state=0, **common).fit(source)
    shared = (time.perf_counter() - tic, source.rows)

    source = Counting(X)
    tic = time.perf_counter()
    for row in search.results_:
        GaussianMixture(row["n_components"], random_state=row["random_state"], **common).fit(source)
    separate = (time.perf_counter() - tic, source.rows)

    rows = [["GaussianMixtureSearch (shared reads)", shared[0], shared[1] * row_bytes / 1e9, 1.0, 1.0],
            [f"{len(search.results_)} separate GaussianMixture fits", separate[0], separate[1] * row_bytes / 1e9,
             separate[0] / shared[0], separate[1] / shared[1]]]
    if not args.no_sklearn:
        data = np.asarray(X)
        tic = time.perf_counter()
        for row in search.results_:
            SkGaussianMixture(row["n_components"], random_state=row["random_state"], max_iter=args.max_iter,
                              tol=1e-3).fit(data)
        elapsed = time.perf_counter() - tic
        rows.append([f"{len(search.results_)} scikit-learn fits (in memory)", elapsed, float("nan"),
                     elapsed / shared[0], float("nan")])
    flops = 4.0 * args.rows * args.features ** 2 * sum(r["n_components"] * r["n_iter"] for r in search.results_)
    width = args.features * sum(r["n_components"] for r in search.results_)
    ceiling = gemm_gflops(min(args.rows, 200_000), args.features, width)
    for row in rows:
        row += [flops / row[1] / 1e9, flops / row[1] / 1e9 / ceiling]
    print(table(rows, ["way", "seconds", "GB read", "time / shared", "bytes / shared", "GFLOP/s (products)",
                       "of ceiling"]))
    print(f"products counted: {flops / 1e9:.1f} GFLOP (4·n·d²·Σ k·iterations); product ceiling measured now "
          f"for ({min(args.rows, 200_000):,} x {args.features}) @ ({args.features} x {width}): "
          f"{ceiling:.1f} GFLOP/s")
    print(f"epochs of the shared search: {search.n_iter_}; best k by BIC: {search.best_params_['n_components']}")


if __name__ == "__main__":
    main()
