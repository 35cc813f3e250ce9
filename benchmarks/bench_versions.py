"""EM per-iteration speed of this checkout against another commit, interleaved on the same data.

Each measurement is a fresh process importing one version of suffstats (the
other commit is checked out once into a temporary git worktree); versions
alternate within every repeat, so load on a shared machine falls on both
alike. A measurement fits from the same initial parameters for 1 and for
``1 + --iters`` iterations and differences the times, so set-up (import,
JIT cache load, opening the file) is removed. The table reports the median
seconds per iteration of each version and ``old / new`` (above 1: this
checkout is faster). Both versions must reach the same final log-likelihood.

Usage::

    python benchmarks/bench_versions.py --old ed153d2 --cases A,B,diag,tied,spherical
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from _common import blobs

CASES = {
    "A": (557_100, 25, 4, "full"),
    "B": (2_000_000, 50, 3, "full"),
    "diag": (1_000_000, 64, 64, "diag"),
    "spherical": (557_100, 25, 4, "spherical"),
    "tied": (557_100, 25, 4, "tied"),
}

# Run in the measuring process: time 1 and 1 + iters EM iterations from the same initial parameters.
MEASURE = r"""
import json, sys, time, warnings
import numpy as np
import suffstats
from suffstats import GaussianMixture
path, init_path, k, cov = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
iters, batch = int(sys.argv[5]), int(sys.argv[6])
X = np.load(path, mmap_mode="r")
init = np.load(init_path)
warnings.simplefilter("ignore")
def fit(n):
    model = GaussianMixture(k, covariance_type=cov, max_iter=n, tol=0, batch_size=batch,
                            weights_init=init["weights"], means_init=init["means"],
                            precisions_init=init["precisions_" + cov])
    tic = time.perf_counter()
    model.fit(X)
    return time.perf_counter() - tic, model.lower_bound_
fit(1)  # warm: JIT cache, page cache
t1, _ = fit(1)
tn, ll = fit(1 + iters)
print(json.dumps({"s_per_iter": (tn - t1) / iters, "log_likelihood": ll, "module": suffstats.__file__}))
"""


def _initial(X, k, rng):
    """Initial weights, means and precisions for each covariance type: rows as means, the data's spread."""
    d = X.shape[1]
    sample = np.asarray(X[np.sort(rng.choice(X.shape[0], size=min(20_000, X.shape[0]), replace=False))])
    means = sample[rng.choice(sample.shape[0], size=k, replace=False)]
    var = sample.var(axis=0)
    return {"weights": np.full(k, 1.0 / k), "means": means,
            "precisions_full": np.repeat(np.diag(1.0 / var)[None], k, axis=0),
            "precisions_tied": np.diag(1.0 / var),
            "precisions_diag": np.repeat((1.0 / var)[None], k, axis=0),
            "precisions_spherical": np.full(k, 1.0 / var.mean()),
            "d": d}


def _measure(root, path, init_path, k, cov, iters, batch):
    env = dict(os.environ, PYTHONPATH=root)
    out = subprocess.run([sys.executable, "-c", MEASURE, path, init_path, str(k), cov, str(iters), str(batch)],
                         cwd=root,
                         env=env, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["module"].startswith(root), f"measured {result['module']}, expected a module under {root}"
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", required=True, help="the commit to compare with")
    parser.add_argument("--cases", default="A,B,diag,tied,spherical")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the row counts")
    parser.add_argument("--iters", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=100_000)
    args = parser.parse_args(argv)

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tmp = tempfile.mkdtemp(prefix="suffstats-versions-")
    old_root = os.path.join(tmp, "old")
    subprocess.run(["git", "-C", here, "worktree", "add", "--detach", old_root, args.old], check=True,
                   capture_output=True)
    try:
        roots = {"new": here, "old": old_root}
        commit = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        print(f"old = {args.old}, new = {commit} (working tree); {args.repeats} interleaved repeats, "
              f"{args.iters} iterations differenced, batch_size={args.batch_size:,}, memory-mapped float64 file\n")
        rows = []
        for name in args.cases.split(","):
            n, d, k, cov = CASES[name]
            n = max(int(n * args.scale), 10 * k)
            rng = np.random.default_rng(0)
            path = blobs(name, n, d, k)
            init_path = os.path.join(tmp, f"{name}.init.npz")
            np.savez(init_path, **_initial(np.load(path, mmap_mode="r"), k, rng))
            times = {"old": [], "new": []}
            lls = {}
            for r in range(args.repeats):
                for version in (("old", "new") if r % 2 == 0 else ("new", "old")):
                    res = _measure(roots[version], path, init_path, k, cov, args.iters, args.batch_size)
                    times[version].append(res["s_per_iter"])
                    lls[version] = res["log_likelihood"]
            old, new = np.median(times["old"]), np.median(times["new"])
            rows.append((f"{name}: {n:,} x {d}, k={k}, {cov}", old, new, old / new, lls["old"] == lls["new"],
                         min(times["new"]) / max(times["new"])))
        head = ("case", "old s/iter", "new s/iter", "old/new", "same log-lik", "new min/max")
        widths = [max(len(head[0]), *(len(r[0]) for r in rows)), 10, 10, 7, 12, 11]
        print("  ".join(h.rjust(w) for h, w in zip(head, widths)))
        print("  ".join("-" * w for w in widths))
        for case, old, new, ratio, same, spread in rows:
            print("  ".join([case.rjust(widths[0]), f"{old:.3f}".rjust(widths[1]), f"{new:.3f}".rjust(widths[2]),
                             f"{ratio:.3f}".rjust(widths[3]), ("yes" if same else "NO").rjust(widths[4]),
                             f"{spread:.2f}".rjust(widths[5])]))
        print("\nold/new above 1: this checkout is faster; 'new min/max' near 1 means quiet timings")
    finally:
        subprocess.run(["git", "-C", here, "worktree", "remove", "--force", old_root], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
