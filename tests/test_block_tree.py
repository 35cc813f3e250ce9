"""The fixed block tree: any aligned sharing of the blocks gives the sum of one walk, bit for bit."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import suffstats as ss
from suffstats.block_tree import BlockTree


def _aligned_runs(n_blocks, sizes):
    """Cut ``range(n_blocks)`` into aligned power-of-two runs, the largest that fit at each position."""
    runs, start = [], 0
    for wanted in sizes:
        if start >= n_blocks:
            break
        size = 1 << wanted
        while start % size or start + size > n_blocks:
            size //= 2
        runs.append((start, size))
        start += size
    while start < n_blocks:
        runs.append((start, 1))
        start += 1
    return runs


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=70), sizes=st.lists(st.integers(0, 5)))
def test_any_aligned_sharing_equals_one_walk(values, sizes):
    walk = BlockTree()
    for v in values:
        walk.push(v)
    shared = BlockTree()
    for start, size in _aligned_runs(len(values), sizes):
        worker = BlockTree()
        for v in values[start:start + size]:
            worker.push(v)
        shared.push(worker.total(), size)
    assert shared.total() == walk.total()


def test_misaligned_runs_are_refused():
    tree = BlockTree()
    tree.push(1.0)
    try:
        tree.push(2.0, size=2)
    except ValueError as error:
        assert "aligned" in str(error)
    else:
        raise AssertionError("a run of 2 blocks after 1 block was accepted")


def test_pairwise_sum_is_more_accurate_than_a_running_sum():
    """Ten million equal blocks: the running sum drifts by n·eps, the tree by log(n)·eps."""
    values = np.full(2**20, 0.1)
    tree = BlockTree()
    running = 0.0
    for v in values:
        tree.push(float(v))
        running += float(v)
    exact = 0.1 * 2**20
    assert abs(tree.total() - exact) <= abs(running - exact)
    assert abs(tree.total() - exact) < 1e-9 * exact


def test_mixture_statistics_of_aligned_runs_rebuild_the_epoch_total():
    """Aligned runs computed separately (as workers would) give the one-pass pending total bit for bit."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(m, 1.0, size=(7000, 3)) for m in (0.0, 5.0, 10.0)])  # blocks 0-4, 5 partial
    model = ss.GaussianMixture(3, random_state=0, max_iter=2).fit(X)
    model.summarize(X)
    walk = model.pending
    acc = model._new_accumulator()
    for start, size in [(0, 4), (4, 1), (5, 1)]:
        run = model.statistics(X[start * 4096:(start + size) * 4096])
        acc.add(model._accumulator_from_statistics(run).total(), size)
    assert acc.to_statistics() == walk
