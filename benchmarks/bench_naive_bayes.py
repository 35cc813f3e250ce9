"""GaussianNB over a memory map: a ``partial_fit`` loop (scikit-learn's and ours) against one ``fit`` pass.

The labels come from a second memory map. scikit-learn's ``GaussianNB`` has
no out-of-core ``fit``; its ``partial_fit`` over batches is the way to use it
on a file. The table reports seconds per full pass and the largest relative
difference of ``theta_`` and ``var_`` to scikit-learn's in-memory ``fit``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from _common import table


def timed(function):
    tic = time.perf_counter()
    result = function()
    return result, time.perf_counter() - tic


def main(argv=None):
    from sklearn.naive_bayes import GaussianNB as Reference

    from suffstats import GaussianNB

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100_000)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(dir=os.environ.get("SUFFSTATS_BENCH_CACHE")) as tmp:
        X = np.lib.format.open_memmap(os.path.join(tmp, "X.npy"), "w+", np.float64, (args.rows, args.features))
        y = np.lib.format.open_memmap(os.path.join(tmp, "y.npy"), "w+", np.int64, (args.rows,))
        for start in range(0, args.rows, args.batch_size):
            stop = min(start + args.batch_size, args.rows)
            y[start:stop] = rng.integers(0, args.classes, stop - start)
            X[start:stop] = rng.normal(size=(stop - start, args.features)) + y[start:stop, None]
        X.flush(), y.flush()
        X, y = np.load(os.path.join(tmp, "X.npy"), mmap_mode="r"), np.load(os.path.join(tmp, "y.npy"), mmap_mode="r")
        classes = np.arange(args.classes)
        reference = Reference().fit(np.asarray(X), np.asarray(y))

        def loop(model):
            for start in range(0, args.rows, args.batch_size):
                model.partial_fit(X[start:start + args.batch_size], y[start:start + args.batch_size], classes)
            return model

        runs = [("scikit-learn partial_fit loop", lambda: loop(Reference())),
                ("suffstats partial_fit loop", lambda: loop(GaussianNB())),
                ("suffstats fit (one pass, memory maps)", lambda: GaussianNB(batch_size=args.batch_size).fit(X, y))]
        rows = []
        for name, run in runs:
            model, seconds = timed(run)
            theta = np.max(np.abs(model.theta_ - reference.theta_)) / np.max(np.abs(reference.theta_))
            var = np.max(np.abs(model.var_ - model.epsilon_ - (reference.var_ - reference.epsilon_))
                         / (reference.var_ - reference.epsilon_))
            rows.append([name, seconds, theta, var])
    print(f"{args.rows:,} rows x {args.features} features, {args.classes} classes, batches of {args.batch_size:,}")
    print(table(rows, ["method", "seconds", "theta_ rel. diff", "var_ rel. diff"]))


if __name__ == "__main__":
    main()
