"""Cost of missing values: seconds per EM iteration of GaussianMixture with and without holes.

Rows are read from a memory-mapped ``.npy`` (blobs, k centres). Each case is
timed as in ``bench_em.py`` (``per_iteration``: set-up removed by differencing
1 and ``--iters`` iterations, median of ``--repeats``):

complete / error        no NaN, ``missing="error"`` (today's path)
complete / marginalize  no NaN, ``missing="marginalize"`` (must cost the same: same kernels)
MCAR p / marginalize    a fraction p of the values removed completely at random
patterns / marginalize  every row missing one of 5 fixed sets of d/5 columns (repeated patterns:
                        rows with the same holes share their factorisations)

Run with ``--n 2000000 --d 50 --k 3`` for the case of the missing-values issue
(a 2M x 50 memory map, k = 3, full covariance).

``--blocks`` instead times one block of rows per covariance type on one
thread: the complete-row kernel against the missing-value pass on the same
rows with holes (the kernels' cost, free of reading and of other load).

``--quality`` instead compares imputers on data sets that ship with
scikit-learn (standardised, a fraction of the values removed completely at
random): RMSE on the removed values of ``GaussianMixtureImputer`` against
``SimpleImputer`` (column means), ``KNNImputer`` and ``IterativeImputer``, all
in the same run on the same holes.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

from _common import CACHE, blobs, per_iteration, table


def with_holes(path, fraction, seed=1):
    """A copy of the memory map at ``path`` with ``fraction`` of the values set to NaN (cached .npy)."""
    out_path = path.replace(".npy", f"-mcar{fraction:g}.npy")
    if not os.path.exists(out_path):
        X = np.load(path, mmap_mode="r")
        out = np.lib.format.open_memmap(out_path + ".tmp.npy", mode="w+", dtype=np.float64, shape=X.shape)
        rng = np.random.default_rng(seed)
        for start in range(0, X.shape[0], 200_000):
            block = np.array(X[start:start + 200_000])
            block[rng.random(block.shape) < fraction] = np.nan
            out[start:start + block.shape[0]] = block
        out.flush()
        del out
        os.replace(out_path + ".tmp.npy", out_path)
    return out_path


def with_patterns(path, n_patterns=5, seed=2):
    """A copy of the memory map at ``path`` where each row misses one of ``n_patterns`` disjoint column sets."""
    out_path = path.replace(".npy", f"-patterns{n_patterns}.npy")
    if not os.path.exists(out_path):
        X = np.load(path, mmap_mode="r")
        d = X.shape[1]
        out = np.lib.format.open_memmap(out_path + ".tmp.npy", mode="w+", dtype=np.float64, shape=X.shape)
        rng = np.random.default_rng(seed)
        sets = np.array_split(np.arange(d), n_patterns)
        for start in range(0, X.shape[0], 200_000):
            block = np.array(X[start:start + 200_000])
            which = rng.integers(0, n_patterns, block.shape[0])
            for p, columns in enumerate(sets):
                block[np.ix_(which == p, columns)] = np.nan
            out[start:start + block.shape[0]] = block
        out.flush()
        del out
        os.replace(out_path + ".tmp.npy", out_path)
    return out_path


def per_block(d, k, fractions, repeats=15, seed=0):
    """Milliseconds for one block of rows (one thread): the complete-row kernel against the same rows with holes."""
    from threadpoolctl import threadpool_limits

    from suffstats.backends import get_backend
    from suffstats.data.blocks import BLOCK_ROWS
    from suffstats.mixture._missing import marginal_block

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(BLOCK_ROWS, d))
    means = 0.1 * rng.normal(size=(k, d))
    A = rng.normal(size=(d, d))
    P = np.linalg.cholesky(np.linalg.inv(A @ A.T / d + np.eye(d)))
    log_weights = np.log(np.full(k, 1.0 / k))
    kernels = get_backend("numba", "gaussian")
    holes = {f"MCAR {p:g}": rng.random(X.shape) < p for p in fractions}
    sets = np.array_split(np.arange(d), 5)
    which = rng.integers(0, 5, BLOCK_ROWS)
    holes["5 patterns"] = np.zeros(X.shape, dtype=bool)
    for p, columns in enumerate(sets):
        holes["5 patterns"][np.ix_(which == p, columns)] = True

    def best(f):
        f()
        times = []
        for _ in range(repeats):
            tic = time.perf_counter()
            f()
            times.append(time.perf_counter() - tic)
        return 1e3 * min(times)

    rows = []
    with threadpool_limits(1):
        for covariance_type, layout in (("full", "full"), ("diag", "diag"), ("spherical", "trace")):
            prec = {"full": np.stack([P] * k), "diag": np.ones((k, d)), "spherical": np.ones(k)}[covariance_type]

            def block(B, w, prec=prec, covariance_type=covariance_type):
                return kernels.gaussian_block(B, w, means, prec, log_weights, covariance_type, np.float64)

            complete = best(lambda: block(X, None))
            for name, mask in holes.items():
                Xm = np.where(mask, np.nan, X)
                seconds = best(lambda: marginal_block(block, Xm, None, means, prec, log_weights, covariance_type,
                                                      layout))
                rows.append([covariance_type, name, complete, seconds, seconds / complete])
    print(f"One block of {BLOCK_ROWS} rows x {d}, k={k}, one thread (best of {repeats})")
    print(table(rows, ["covariance", "holes", "complete ms", "with holes ms", "x complete"]))


def quality(fractions, seed=0):
    """RMSE of each imputer on the removed values of each data set (standardised columns)."""
    from sklearn import datasets
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer

    from suffstats import GaussianMixtureImputer

    imputers = {
        "mean (SimpleImputer)": lambda: SimpleImputer(),
        "KNNImputer": lambda: KNNImputer(),
        "IterativeImputer": lambda: IterativeImputer(max_iter=20, random_state=0),
        "GaussianMixtureImputer k=1": lambda: GaussianMixtureImputer(1, random_state=0, reg_covar=1e-3),
        "GaussianMixtureImputer k=3": lambda: GaussianMixtureImputer(3, random_state=0, reg_covar=1e-3),
    }
    rows = []
    for name in ("diabetes", "wine", "breast_cancer", "digits"):
        X = getattr(datasets, f"load_{name}")().data.astype(np.float64)
        X = X[:, X.std(axis=0) > 0]
        X = (X - X.mean(axis=0)) / X.std(axis=0)
        for fraction in fractions:
            rng = np.random.default_rng(seed)
            holes = rng.random(X.shape) < fraction
            holes[holes.all(axis=1), 0] = False
            Xm = np.where(holes, np.nan, X)
            row = [name, f"{X.shape[0]}x{X.shape[1]}", fraction]
            for make in imputers.values():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    filled = make().fit_transform(Xm)
                row.append(float(np.sqrt(np.mean((filled[holes] - X[holes]) ** 2))))
            rows.append(row)
            print(table(rows[-1:], ["data", "shape", "missing", *imputers]).splitlines()[-1], flush=True)
    print("\nRMSE on the removed values (standardised columns; lower is better)")
    print(table(rows, ["data", "shape", "missing", *imputers]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--d", type=int, default=50)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--covariance-type", default="full")
    parser.add_argument("--fractions", type=float, nargs="*", default=[0.1, 0.3])
    parser.add_argument("--iters", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=65_536)
    parser.add_argument("--quality", action="store_true", help="compare imputers on scikit-learn's data sets")
    parser.add_argument("--blocks", action="store_true",
                        help="time one block of rows per covariance type instead (kernel cost, one thread)")
    args = parser.parse_args(argv)
    if args.quality:
        quality(args.fractions)
        return
    if args.blocks:
        per_block(args.d, args.k, args.fractions)
        return

    import suffstats as ss

    path = blobs("missing", args.n, args.d, args.k)
    complete = np.load(path, mmap_mode="r")
    rng = np.random.default_rng(0)
    init = dict(means_init=np.asarray(complete[rng.choice(args.n, args.k, replace=False)]),
                weights_init=np.full(args.k, 1.0 / args.k))

    def fit(data, missing):
        return lambda it: ss.GaussianMixture(args.k, covariance_type=args.covariance_type, max_iter=it, tol=0,
                                             batch_size=args.batch_size, missing=missing, **init).fit(data)

    cases = [("complete / error", complete, "error"), ("complete / marginalize", complete, "marginalize")]
    cases += [(f"MCAR {p:g} / marginalize", np.load(with_holes(path, p), mmap_mode="r"), "marginalize")
              for p in args.fractions]
    cases.append(("patterns / marginalize", np.load(with_patterns(path), mmap_mode="r"), "marginalize"))
    rows, base = [], None
    for name, data, missing in cases:
        seconds, model = per_iteration(fit(data, missing), args.iters, args.repeats)
        base = seconds if base is None else base
        rows.append([name, seconds, seconds / base, model.lower_bounds_[-1]])
    print(f"GaussianMixture, {args.n:,} x {args.d}, k={args.k}, {args.covariance_type} covariance, "
          f"memory map ({CACHE})")
    print(table(rows, ["case", "s/iteration", "x complete", "mean log-lik."]))


if __name__ == "__main__":
    main()
