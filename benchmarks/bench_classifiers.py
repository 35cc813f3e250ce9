"""Classifiers and the variational mixture, each against its scikit-learn peer in the same run.

Two sections, each a script of its own that can also run alone:

* ``bench_naive_bayes.py``: scikit-learn's ``GaussianNB.partial_fit`` over the
  batches of a memory map against this library's one-pass ``GaussianNB().fit``
  over the same memory maps (rows and labels);
* ``bench_variational.py``: ``BayesianGaussianMixture`` from a memory map and
  in memory against scikit-learn's in memory, from the same start.

    python benchmarks/bench_classifiers.py                    # the issue's sizes (2M x 50 for both)
    python benchmarks/bench_classifiers.py --scale 0.05       # a quick look
"""

from __future__ import annotations

import argparse
import sys

import bench_naive_bayes
import bench_variational


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the rows of every section")
    parser.add_argument("--iters", type=int, default=3, help="variational epochs timed")
    args = parser.parse_args(argv)
    print("== GaussianNB: partial_fit loop against one pass over the memory maps")
    status = bench_naive_bayes.main(["--rows", str(max(10_000, int(2_000_000 * args.scale)))]) or 0
    print("\n== BayesianGaussianMixture against scikit-learn")
    status |= bench_variational.main(["--cases", "B", "--scale", str(args.scale), "--iters", str(args.iters)]) or 0
    return status


if __name__ == "__main__":
    sys.exit(main())
