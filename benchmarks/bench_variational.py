"""BayesianGaussianMixture: suffstats (in memory and from a memory map) against scikit-learn (in memory).

Both start from the same initial responsibilities (every row to the nearest of
the first k rows: ``init_params="first-k"`` here, the same rule written into a
scikit-learn subclass), so besides seconds per iteration the table shows how
far apart the two lower-bound histories are. Seconds per iteration are
differenced (``t(iters) - t(1)``), which removes the priors' pass, the
initialisation and set-up.

    python benchmarks/bench_variational.py                 # 2M x 50, k=3, full: the issue's case
    python benchmarks/bench_variational.py --scale 0.05    # a quick look
"""

from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np

from _common import blobs, per_iteration, table

#: name: (rows, features, components, covariance type)
CASES = {"B": (2_000_000, 50, 3, "full"), "diag": (1_000_000, 64, 16, "diag")}


def _first_rows_start():
    from sklearn.mixture import BayesianGaussianMixture

    class FirstRowsStart(BayesianGaussianMixture):
        """scikit-learn's estimator, started from each row's nearest of the first k rows."""

        def _initialize_parameters(self, X, random_state, xp=None):
            centres = X[: self.n_components]
            distances = (X**2).sum(1)[:, None] - 2 * X @ centres.T + (centres**2).sum(1)[None]
            resp = np.zeros((len(X), self.n_components))
            resp[np.arange(len(X)), np.argmin(distances, axis=1)] = 1
            self._initialize(X, resp)

    return FirstRowsStart


def variational_section(case="B", scale=1.0, iters=3, repeats=1):
    """Time the fits of one case; print the table and return rows of it."""
    import suffstats as ss

    n, d, k, kind = CASES[case]
    n = max(int(n * scale), 50 * k)
    path = blobs(f"bgm{case}", n, d, k)
    X_map, X = np.load(path, mmap_mode="r"), np.load(path)
    batch_size = min(100_000, n)
    settings = dict(n_components=k, covariance_type=kind, tol=0)
    # Every row in the initial moments (no sample), as the scikit-learn subclass does.
    start = dict(init_params="first-k", init_sample_size=None, random_state=0)
    fits = {
        "suffstats (memory map)": lambda it: ss.BayesianGaussianMixture(
            max_iter=it, batch_size=batch_size, **start, **settings).fit(X_map),
        "suffstats (in memory)": lambda it: ss.BayesianGaussianMixture(max_iter=it, **start, **settings).fit(X),
        "scikit-learn (in memory)": lambda it: _first_rows_start()(max_iter=it, **settings).fit(X),
    }
    results = {label: per_iteration(fit, iters, repeats) for label, fit in fits.items()}
    reference_seconds, reference = results["scikit-learn (in memory)"]
    reference_bounds = np.ravel(reference.lower_bounds_)
    rows = []
    for label, (seconds, model) in results.items():
        gap = np.max(np.abs(np.ravel(model.lower_bounds_) - reference_bounds) / np.abs(reference_bounds))
        rows.append([label, seconds, reference_seconds / seconds, f"{gap:.1e}"])
    print(f"\nBayesianGaussianMixture, case {case}: {n:,} x {d}, k={k}, {kind} covariance, float64, "
          f"{iters} iterations, batch_size={batch_size:,} for the memory map")
    print(table(rows, ["peer", "s/iter", "speed-up vs scikit-learn", "max rel. Δ lower bound per epoch"]))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="B")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for case in args.cases.split(","):
            rows = variational_section(case, args.scale, args.iters, args.repeats)
            if any(float(r[-1]) > 1e-8 for r in rows):
                print("WARNING: lower bounds disagree with scikit-learn", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
