"""Initialisation cost against one EM epoch, on a memory-mapped file (default 1.2 GB).

For each ``init_params`` the script times a fit with ``max_iter=0`` (the
initialisation alone) and a fit with ``max_iter=1`` of the same model; the
difference is one EM epoch. The file is read from the page cache after the
first run, so the ratio compares computation, not the disk. ``kmeans_full``
is the out-of-core Lloyd that was the default before ``kmeans`` moved its
iterations onto the sample.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from _common import blobs, table

from suffstats import GaussianMixture


def timed(X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tic = time.perf_counter()
        GaussianMixture(**kwargs).fit(X)
        return time.perf_counter() - tic


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_200_000)
    parser.add_argument("--features", type=int, default=48)
    parser.add_argument("--components", type=int, default=8)
    parser.add_argument("--inits", default="kmeans,kmeans_full")
    args = parser.parse_args()
    path = blobs("init", args.rows, args.features, args.components)
    X = np.load(path, mmap_mode="r")
    print(f"{args.rows:,} x {args.features} float64 ({X.nbytes / 1e9:.2f} GB), {args.components} components, full")
    common = dict(n_components=args.components, batch_size=65_536, random_state=0, tol=0)
    timed(X[:100_000], max_iter=1, **common)  # compilation and page cache
    rows = []
    for init in args.inits.split(","):
        init_s = timed(X, max_iter=0, init_params=init, **common)
        epoch_s = timed(X, max_iter=1, init_params=init, **common) - init_s
        rows.append([init, init_s, epoch_s, init_s / epoch_s])
    print(table(rows, ["init_params", "init s", "epoch s", "init / epoch"]))


if __name__ == "__main__":
    main()
