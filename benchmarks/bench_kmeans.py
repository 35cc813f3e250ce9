"""K-means Lloyd iterations: suffstats against scikit-learn, in one process, same data, same initial centres.

Every peer starts from the same ``k`` rows of the data and runs ``--iters``
Lloyd iterations; the time of each iteration is taken on its own (suffstats:
the epoch time its driver reports; scikit-learn: one call of the Lloyd step
``lloyd_iter_chunked_dense`` that ``KMeans.fit`` runs, with the label
comparison of its loop, on the same array), so set-up (validation, copies,
seeding) is left out of both. ``--repeats`` rounds run the peers interleaved,
round after round, and the table gives the median and the fastest per-iteration
time over every iteration of every round: on a shared machine the median is
what a user sees and the minimum what the code can do. Also printed: the
product rate this machine reaches now for the distance product of the case
(``n × d`` by ``d × k``, float64, all threads) and the fraction of it each
peer's iteration achieves counting ``2nkd`` floating-point operations, and
how far each peer's final centres are from scikit-learn's (relative to the
spread of the data; the labels are the exact float64 nearest centre on our
side).

``--fit-iters N`` adds a second table per case: whole fits, ``KMeans.fit``
with the same initial centres and ``tol=0`` for at most ``N`` iterations, each
peer's wall time divided by the iterations it ran (scikit-learn stops early
once no label changes). Short runs from random rows are the centres' big
jumps; a fit to convergence spends most of its iterations in small moves,
where suffstats' rows skip the distances (bounds carried per row, the same
labels bit for bit), and the table says how many rows did.

Cases (``--scale`` multiplies the row counts; the smoke test runs a tiny scale):

A   557,100 x 25, k=8
B   2,000,000 x 50, k=16
C   1,000,000 x 20, k=64
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np

from _common import blobs, gemm_gflops, table

CASES = {"A": (557_100, 25, 8), "B": (2_000_000, 50, 16), "C": (1_000_000, 20, 64)}


def suffstats_peer(data, centres, batch_size=None, kernel=None):
    """A function running ``iters`` Lloyd epochs of :class:`suffstats.KMeans`: (seconds per epoch, centres)."""
    import suffstats as ss
    from suffstats.backends import numba_kernels

    def run(iters):
        seconds = []
        model = ss.KMeans(centres.shape[0], init=centres, max_iter=iters, tol=0, batch_size=batch_size,
                          callbacks=[lambda model, logs: seconds.append(logs["seconds"])])
        original = numba_kernels.nearest_block
        if kernel is not None:
            numba_kernels.nearest_block = kernel
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(data)
        finally:
            numba_kernels.nearest_block = original
        return seconds, model.cluster_centers_

    return run


def sklearn_peer(X, centres, threads=None):
    """scikit-learn's Lloyd loop (``_kmeans_single_lloyd``'s body), each iteration timed on its own."""
    from sklearn.cluster._k_means_lloyd import lloyd_iter_chunked_dense
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    n_threads = threads or _openmp_effective_n_threads()
    weights = np.ones(X.shape[0])

    def run(iters):
        centers, centers_new = centres.copy(), np.zeros_like(centres)
        labels = np.full(X.shape[0], -1, dtype=np.int32)
        labels_old = labels.copy()
        in_clusters = np.zeros(centres.shape[0])
        shift = np.zeros(centres.shape[0])
        seconds = []
        for _ in range(iters):
            tic = time.perf_counter()
            lloyd_iter_chunked_dense(X, weights, centers, centers_new, in_clusters, labels, shift, n_threads)
            centers, centers_new = centers_new, centers
            np.array_equal(labels, labels_old)
            labels_old[:] = labels
            seconds.append(time.perf_counter() - tic)
        return seconds, centers

    return run


def whole_fits(X, X_map, batch_size, centres, iters, repeats):
    """Table rows: each peer's whole fit of at most ``iters`` Lloyd iterations, best wall time of ``repeats``."""
    import suffstats as ss
    from sklearn.cluster import KMeans as SKMeans
    from suffstats.mixture import kmeans as ss_kmeans

    made, row_bounds = [], ss_kmeans.RowBounds

    def bounds(n_rows):  # the fit's own bounds, kept to report how many rows they settled
        made.append(row_bounds(n_rows))
        return made[-1]

    ss_kmeans.RowBounds = bounds
    k = centres.shape[0]
    peers = {
        "suffstats KMeans.fit (in memory)": lambda: ss.KMeans(k, init=centres, max_iter=iters, tol=0).fit(X),
        f"suffstats KMeans.fit (memory map, batch_size={batch_size:,})":
            lambda: ss.KMeans(k, init=centres, max_iter=iters, tol=0, batch_size=batch_size).fit(X_map),
        "scikit-learn KMeans.fit (lloyd)": lambda: SKMeans(k, init=centres, n_init=1, max_iter=iters, tol=0,
                                                           algorithm="lloyd").fit(X),
    }
    best, models, settled = {label: np.inf for label in peers}, {}, {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(repeats):
                for label, fit in peers.items():
                    made.clear()
                    tic = time.perf_counter()
                    models[label] = fit()
                    best[label] = min(best[label], time.perf_counter() - tic)
                    if label.startswith("suffstats"):
                        settled[label] = made[0].settled / (X.shape[0] * max(models[label].n_iter_ - 1, 1))
    finally:
        ss_kmeans.RowBounds = row_bounds
    sk = best["scikit-learn KMeans.fit (lloyd)"] / models["scikit-learn KMeans.fit (lloyd)"].n_iter_
    rows = []
    for label, model in models.items():
        per_iter = best[label] / model.n_iter_
        rows.append([label, model.n_iter_, best[label], per_iter, sk / per_iter,
                     f"{settled[label]:.0%}" if label in settled else "-"])
    return rows


def run_case(name, scale, iters, repeats, with_direct, threads=None, fit_iters=0):
    n, d, k = CASES[name]
    n = max(int(n * scale), 50 * k)
    path = blobs("kmeans", n, d, k)
    X_map = np.load(path, mmap_mode="r")
    X = np.load(path)
    centres = X[np.random.default_rng(0).choice(n, k, replace=False)].copy()
    batch_size = min(131_072, n)
    peers = {
        "suffstats (in memory)": suffstats_peer(X, centres),
        f"suffstats (memory map, batch_size={batch_size:,})": suffstats_peer(X_map, centres, batch_size),
        "scikit-learn (Lloyd, same process)": sklearn_peer(X, centres, threads),
    }
    if with_direct:
        from suffstats.backends import numba_kernels

        peers["suffstats, direct distances (before)"] = suffstats_peer(
            X, centres, kernel=lambda X, w, c, layout=None: numba_kernels.nearest_block_direct(X, w, c))
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        ceiling = gemm_gflops(min(n, 500_000), d, k)
    times = {label: [] for label in peers}
    finals = {}
    for label, run in peers.items():  # warm-up: compilation, thread pools, page cache
        run(1)
    for _ in range(repeats):  # interleaved rounds
        for label, run in peers.items():
            seconds, finals[label] = run(iters)
            times[label].extend(seconds[1:] if len(seconds) > 1 else seconds)
    reference = finals["scikit-learn (Lloyd, same process)"]
    spread = float(np.sqrt(np.mean(np.var(X, axis=0))))
    sk_median = float(np.median(times["scikit-learn (Lloyd, same process)"]))
    sk_min = float(np.min(times["scikit-learn (Lloyd, same process)"]))
    rows = []
    for label, seconds in times.items():
        median, best = float(np.median(seconds)), float(np.min(seconds))
        gflops = 2.0 * n * k * d / median / 1e9
        rows.append([label, median, best, sk_median / median, sk_min / best, gflops, gflops / ceiling,
                     f"{np.max(np.abs(finals[label] - reference)) / spread:.1e}"])
    print(f"\ncase {name}: {n:,} x {d}, k={k}, float64, {iters} Lloyd iterations x {repeats} interleaved rounds "
          f"(first iteration of each round left out), {threads or 'all'} thread(s) each; distance product ceiling "
          f"measured now: {ceiling:.1f} GFLOP/s")
    print(table(rows, ["peer", "s/iter median", "s/iter min", "speed vs sklearn (median)", "(min)", "GFLOP/s",
                       "of ceiling", "centres vs sklearn / spread"]))
    if fit_iters:
        print(f"\ncase {name}, whole fits of at most {fit_iters} iterations from the same centres (tol=0), "
              f"best of {repeats}:")
        print(table(whole_fits(X, X_map, batch_size, centres, fit_iters, repeats),
                    ["peer", "iterations", "fit s", "s/iter", "speed vs sklearn", "rows settled (iter. 2+)"]))
    worst = max(np.max(np.abs(finals[label] - reference)) / spread for label in finals)
    if worst > 1e-9:
        print(f"WARNING: final centres differ from scikit-learn's by {worst:.2e} of the spread", file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="A,B,C")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--iters", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both peers (default: all); 1 compares the work per core, which a busy "
                             "shared machine measures more steadily than its share of several cores")
    parser.add_argument("--fit-iters", type=int, default=0,
                        help="also time whole fits of at most this many iterations (0: none)")
    parser.add_argument("--with-direct", action="store_true",
                        help="also time the direct-distance pass (every distance summed over (x - c)^2)")
    args = parser.parse_args(argv)
    import os

    print(f"{os.cpu_count()} CPUs; load average now {os.getloadavg()[0]:.1f} (timings on a shared machine are noisy)")
    if args.threads:
        from suffstats.backends import set_num_threads

        set_num_threads(args.threads)
    return max(run_case(c, args.scale, args.iters, args.repeats, args.with_direct, args.threads, args.fit_iters)
               for c in args.cases.split(","))


if __name__ == "__main__":
    sys.exit(main())
