"""The fit on a Dask LocalCluster against the single-process fit of the same .npy (not run by CI).

Per-epoch seconds are differenced (``t(iters) - t(1)``, so set-up and
initialisation drop out) for: the local numba fit, then a ``LocalCluster`` of
1 and 2 worker processes (``--threads`` each, default 1; a task computes its
blocks on ``cores // (workers * threads)`` threads). Also printed: tasks per epoch, bytes sent per
epoch (the parameters, once to each worker) and returned (the tasks'
statistics values), and whether the model is bit-identical to the local one.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

from _common import blobs, table


def fit(path, k, iters, client=None):
    import suffstats as ss

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ss.GaussianMixture(k, max_iter=iters, tol=0, random_state=0, init_params="k-means++")
        tic = time.perf_counter()
        model.fit(path, client=client)
        return time.perf_counter() - tic, model


def per_epoch(path, k, iters, make_client=lambda: None):
    fit(path, k, 1, make_client())  # warm-up: numba caches, page cache
    t1, _ = fit(path, k, 1, make_client())
    client = make_client()
    tn, model = fit(path, k, iters, client)
    return (tn - t1) / (iters - 1), model, client


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--components", type=int, default=3)
    parser.add_argument("--iters", type=int, default=6)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker process")
    parser.add_argument("--blocks-per-task", type=int, default=None)
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    from suffstats.backends import set_num_threads
    from suffstats.distributed import DaskAccumulation

    path = blobs("dask", args.rows, args.features, args.components)
    size = os.path.getsize(path) / 2**20
    local, reference, _ = per_epoch(path, args.components, args.iters)
    rows = [["local (numba)", local, 1.0, "-", "-", "-", "yes"]]
    cores = os.cpu_count() or 1
    for n in (int(w) for w in args.workers.split(",")):
        with LocalCluster(n_workers=n, threads_per_worker=args.threads, processes=True, dashboard_address=":0") as cluster, \
                Client(cluster) as client:
            client.run(set_num_threads, max(cores // (n * args.threads), 1))
            seconds, model, strategy = per_epoch(
                path, args.components, args.iters,
                lambda: DaskAccumulation(client, blocks_per_task=args.blocks_per_task))
            epoch = strategy.last_epoch
            same = all(np.array_equal(getattr(model, a), getattr(reference, a))
                       for a in ("weights_", "means_", "covariances_"))
            rows.append([f"LocalCluster {n} x {args.threads}", seconds, seconds / local, epoch["tasks"],
                         epoch["parameter_bytes"] * n, epoch["statistics_bytes"], "yes" if same else "NO"])
    print(f"{args.rows:,} x {args.features} float64 ({size:.0f} MiB), k={args.components} full, {cores} cores")
    print(table(rows, ["fit", "s/epoch", "vs local", "tasks", "bytes out", "bytes back", "bit-identical"]))


if __name__ == "__main__":
    main()
