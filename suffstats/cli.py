"""The ``suffstats`` command: ``fit`` a mixture to a file, or run the out-of-core ``demo``."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .data.source import as_source
from .io import save
from .mixture import GaussianMixture

__all__ = ["main"]


def _fit(args):
    X = as_source(args.data, columns=args.columns.split(",") if args.columns else None)
    model = GaussianMixture(
        args.components, covariance_type=args.covariance, batch_size=args.batch_size,
        batches_per_epoch=args.batches_per_epoch, max_iter=args.max_iter, tol=args.tol, init_params=args.init,
        random_state=args.seed, verbose=0 if args.quiet else 2, verbose_interval=1, progress=not args.quiet,
    )
    print(f"fitting {args.components} components ({args.covariance}) to {X.describe()}", flush=True)
    model.fit(X, checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every)
    save(model, args.out)
    print(f"converged: {model.converged_} after {model.n_iter_} epochs; "
          f"mean log-likelihood {model.lower_bound_:.6f}; written to {args.out}")
    return 0


def write_blobs(path, n_rows, n_features, n_components, seed=0, chunk=100_000):
    """Write a synthetic ``.npy`` of Gaussian blobs chunk by chunk (never whole in memory)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 1.5, size=(n_components, n_features))
    scales = rng.uniform(0.5, 2.0, size=(n_components, n_features))
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n_rows, n_features))
    for start in range(0, n_rows, chunk):
        stop = min(start + chunk, n_rows)
        labels = rng.integers(0, n_components, stop - start)
        out[start:stop] = centers[labels] + rng.normal(size=(stop - start, n_features)) * scales[labels]
    out.flush()
    del out


def _demo(args):
    n_rows = int(args.megabytes * 1e6 / (8 * args.features))
    folder = args.dir or tempfile.mkdtemp(prefix="suffstats-demo-")
    path = os.path.join(folder, "demo.npy")
    print(f"writing {n_rows:,} x {args.features} float64 rows ({args.megabytes:.0f} MB) to {path}", flush=True)
    write_blobs(path, n_rows, args.features, args.components, seed=args.seed)
    settings = dict(n_components=args.components, max_iter=args.max_iter, tol=1e-6, random_state=args.seed,
                    init_params="k-means++")
    warnings.simplefilter("ignore", ConvergenceWarning)
    X = np.load(path, mmap_mode="r", allow_pickle=False)
    print(f"\nout of core: memory map, batch_size={args.batch_size:,}", flush=True)
    tic = time.perf_counter()
    batched = GaussianMixture(batch_size=args.batch_size, verbose=2, verbose_interval=1, progress=not args.quiet,
                              **settings).fit(X)
    t_batched = time.perf_counter() - tic
    print("\nin memory: the whole array at once", flush=True)
    tic = time.perf_counter()
    full = GaussianMixture(verbose=2, verbose_interval=1, **settings).fit(np.load(path, allow_pickle=False))
    t_full = time.perf_counter() - tic
    print("\nepoch  log-likelihood (out of core)  log-likelihood (in memory)")
    for i, (a, b) in enumerate(zip(batched.lower_bounds_, full.lower_bounds_), 1):
        print(f"{i:>5}  {a:>28.12f}  {b:>26.12f}")
    print("\nparameter      max |difference|   bit-identical")
    identical = True
    for name in ("weights_", "means_", "covariances_"):
        a, b = getattr(batched, name), getattr(full, name)
        same = np.array_equal(a, b)
        identical &= same
        print(f"{name:<14} {np.max(np.abs(a - b)):>16.3g}   {'yes' if same else 'no'}")
    print(f"\ntime: out of core {t_batched:.1f} s, in memory {t_full:.1f} s")
    print("the batched fit equals the in-memory fit" if identical else "the fits differ")
    if not args.keep and not args.dir:
        os.remove(path)
        os.rmdir(folder)
    return 0 if identical else 1


def main(argv=None):
    """Entry point of the ``suffstats`` command."""
    parser = argparse.ArgumentParser(prog="suffstats", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    fit = sub.add_parser("fit", help="fit a Gaussian mixture to a file out of core")
    fit.add_argument("data", help="a .npy file (memory-mapped), a directory or glob of .npy shards, FILE.h5:DATASET, "
                                  "a .zarr array, a .parquet or a .csv file")
    fit.add_argument("--columns", default=None, help="comma-separated columns (Parquet and CSV)")
    fit.add_argument("--checkpoint", default=None, help="checkpoint file: written during the fit, resumed from if present")
    fit.add_argument("--checkpoint-every", type=int, default=100, help="batches between checkpoint writes")
    fit.add_argument("--components", type=int, default=8)
    fit.add_argument("--covariance", default="full", choices=["full", "tied", "diag", "spherical"])
    fit.add_argument("--batch-size", type=int, default=100_000)
    fit.add_argument("--batches-per-epoch", type=int, default=None)
    fit.add_argument("--max-iter", type=int, default=100)
    fit.add_argument("--tol", type=float, default=1e-3)
    fit.add_argument("--init", default="kmeans",
                     choices=["kmeans", "k-means++", "random", "random_from_data", "first-k"])
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--out", required=True, help="where to write the model JSON")
    fit.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch log")
    fit.set_defaults(run=_fit)

    demo = sub.add_parser("demo", help="write a synthetic memory-mapped file and fit it out of core")
    demo.add_argument("--megabytes", type=float, default=300.0, help="size of the generated file")
    demo.add_argument("--features", type=int, default=20)
    demo.add_argument("--components", type=int, default=4)
    demo.add_argument("--batch-size", type=int, default=100_000)
    demo.add_argument("--max-iter", type=int, default=8)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--dir", default=None, help="folder for the file (default: a temporary one)")
    demo.add_argument("--keep", action="store_true", help="keep the generated file")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(run=_demo)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
