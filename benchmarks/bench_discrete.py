"""Discrete networks from a memory-mapped file of category codes: suffstats against pgmpy (and pomegranate 1.x).

Times a Bayesian network's tables for a given structure (a chain over the
columns) and a Chow–Liu tree, fitted by suffstats from the memory map and by
pgmpy (``MaximumLikelihoodEstimator``, ``TreeSearch``) from an in-memory
DataFrame of the same rows, and checks that the tables and the tree agree.
pgmpy may be given fewer rows (``--peer-rows``) when the full file would take
too long; its time is then scaled linearly to the full size and marked ``*``.
"""

from __future__ import annotations

import argparse
import logging
import os
import time

import numpy as np

from _common import CACHE, table


def codes_file(n, d, c, seed=0):
    """A chain-structured categorical file (int8 codes), written once to the cache; returns its path."""
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"codes-{n}x{d}-c{c}-s{seed}.npy")
    if not os.path.exists(path):
        rng = np.random.default_rng(seed)
        flip = rng.dirichlet(np.ones(c) * 0.5, size=(d, c))
        out = np.lib.format.open_memmap(path + ".tmp.npy", mode="w+", dtype=np.int8, shape=(n, d))
        for start in range(0, n, 500_000):
            m = min(start + 500_000, n) - start
            block = np.empty((m, d), dtype=np.int8)
            block[:, 0] = rng.integers(0, c, m)
            for j in range(1, d):
                cum = np.cumsum(flip[j][block[:, j - 1]], axis=1)
                block[:, j] = np.minimum((cum < rng.random(m)[:, None]).sum(axis=1), c - 1)
            out[start:start + m] = block
        out.flush()
        del out
        os.replace(path + ".tmp.npy", path)
    return path


def timed(function):
    tic = time.perf_counter()
    result = function()
    return time.perf_counter() - tic, result


def main(argv=None):
    from suffstats import BayesianNetwork

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--categories", type=int, default=4)
    parser.add_argument("--peer-rows", type=int, default=None, help="rows given to pgmpy (default: all)")
    parser.add_argument("--batch-size", type=int, default=1 << 20)
    args = parser.parse_args(argv)
    logging.getLogger("pgmpy").setLevel(logging.WARNING)
    n, d, c = args.rows, args.columns, args.categories
    path = codes_file(n, d, c)
    X = np.load(path, mmap_mode="r")
    chain = tuple(() if j == 0 else (j - 1,) for j in range(d))
    BayesianNetwork(chain, n_categories=c).fit(X[:1000])  # compile the counting kernel
    BayesianNetwork(algorithm="chow-liu", n_categories=c).fit(X[:1000])
    rows = []
    t_given, given = timed(lambda: BayesianNetwork(chain, n_categories=c).fit(path, batch_size=args.batch_size))
    t_tree, tree = timed(lambda: BayesianNetwork(algorithm="chow-liu", n_categories=c).fit(
        path, batch_size=args.batch_size))
    peer = {}
    try:
        import pandas as pd
        from pgmpy.estimators import MaximumLikelihoodEstimator, TreeSearch
        from pgmpy.models import DiscreteBayesianNetwork
    except ImportError:
        pd = None
    m = min(args.peer_rows or n, n)
    scale = n / m
    if pd is not None:
        frame = pd.DataFrame(np.asarray(X[:m]), columns=[str(j) for j in range(d)])
        model = DiscreteBayesianNetwork([(str(j - 1), str(j)) for j in range(1, d)])
        t, _ = timed(lambda: model.fit(frame, estimator=MaximumLikelihoodEstimator))
        peer["given"] = t * scale
        if m == n:
            for j in range(d):
                cpd = model.get_cpds(str(j))
                order = [str(p) for p in chain[j]] + [str(j)]
                ref = np.transpose(cpd.values, [cpd.variables.index(v) for v in order])
                assert np.allclose(ref, given.cpts_[j], rtol=0, atol=1e-12), f"tables of column {j} differ"
        t, dag = timed(lambda: TreeSearch(frame, root_node="0").estimate(estimator_type="chow-liu",
                                                                         show_progress=False))
        peer["tree"] = t * scale
        if m == n:
            ours = {(str(p), str(j)) for j, ps in enumerate(tree.structure_) for p in ps}
            assert ours == set(dag.edges()), "Chow–Liu trees differ"
    pomegranate = _pomegranate_times(X, m, chain, given, tree, scale)
    mark = "" if m == n else "*"
    for task, ours_t in (("tables, given chain structure", t_given), ("Chow–Liu tree + tables", t_tree)):
        key = "given" if task.startswith("tables") else "tree"
        row = [task, ours_t]
        for theirs in (peer.get(key), None if pomegranate is None else pomegranate[key]):
            row += ["n/a", "n/a"] if theirs is None else [f"{theirs:.3g}{mark}", f"{theirs / ours_t:.1f}x"]
        rows.append(row)
    print(f"{n:,} rows x {d} columns, {c} categories (int8 memory map, {os.path.getsize(path) / 2**20:,.0f} MiB); "
          f"pgmpy and pomegranate on {m:,} rows{' (* scaled to the full size)' if mark else ''}"
          f"{'; pomegranate 1.x not installed (pip install pomegranate torch)' if pomegranate is None else ''}")
    print(table(rows, ["task", "suffstats s (memmap)", "pgmpy s (in memory)", "speed-up", "pomegranate 1.x s",
                       "speed-up"]))


def _pomegranate_times(X, m, chain, given, tree, scale):
    """Seconds of pomegranate 1.x (float32 tensors, in memory) for both tasks, checked against ours; or None."""
    try:
        import torch
        from pomegranate.bayesian_network import BayesianNetwork as PomegranateNetwork
    except ImportError:
        return None
    codes = torch.from_numpy(np.asarray(X[:m], dtype=np.int64))
    t_given, model = timed(lambda: PomegranateNetwork(structure=chain).fit(codes))
    t_tree, learned = timed(lambda: PomegranateNetwork(algorithm="chow-liu").fit(codes))
    if m == X.shape[0]:  # its tables are float32: equal to float32 rounding
        for j, distribution in enumerate(model.distributions):
            assert np.allclose(distribution.probs[0].detach().numpy(), given.cpts_[j], rtol=1e-5, atol=1e-7), \
                f"pomegranate's table of column {j} differs"
        edges = {frozenset((p, j)) for j, ps in enumerate(learned.structure) for p in ps}
        assert edges == {frozenset((p, j)) for j, ps in enumerate(tree.structure_) for p in ps}, \
            "pomegranate's Chow–Liu tree differs"
    return {"given": t_given * scale, "tree": t_tree * scale}


if __name__ == "__main__":
    main()
