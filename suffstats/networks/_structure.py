"""Network structures: parent lists checked (no cycle, no missing column), ordered, learned as a Chow–Liu tree.

A structure follows pomegranate's convention: a tuple with, for each column,
the tuple of its parents' column indices. :func:`check_structure` refuses a
parent that names a missing column, a column that is its own parent, a
repeated parent and a cycle (naming the columns on it). :func:`chow_liu` finds
the maximum spanning tree over pairwise mutual information from pairwise
count tables (Prim's algorithm from ``root``; among equal weights the edge met
first in column order wins) and directs it away from the root.
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_structure", "topological_order", "chow_liu", "mutual_information", "bic_score"]


def check_structure(structure, n_columns=None, name="structure") -> tuple:
    """``structure`` as a tuple of tuples of ints, or a ``ValueError`` naming what is wrong.

    Examples
    --------
    >>> check_structure([[], [0], [0, 1]])
    ((), (0,), (0, 1))
    >>> check_structure(((1,), (2,), (0,)))
    Traceback (most recent call last):
    ...
    ValueError: structure has a cycle through columns [0, 1, 2]: a Bayesian network must be acyclic
    """
    if isinstance(structure, (str, bytes)) or not hasattr(structure, "__len__"):
        raise TypeError(f"{name} must be a tuple with, for each column, the tuple of its parents' column "
                        f"indices; got {type(structure).__name__}")
    d = len(structure)
    if d == 0:
        raise ValueError(f"{name} is empty: a network needs at least one column")
    if n_columns is not None and d != n_columns:
        raise ValueError(f"{name} lists parents of {d} columns, but the data has {n_columns} columns")
    out = []
    for i, parents in enumerate(structure):
        if isinstance(parents, (str, bytes)) or not hasattr(parents, "__iter__"):
            raise TypeError(f"{name}[{i}] must be a tuple of parent column indices; got {parents!r}")
        checked = []
        for p in parents:
            if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, np.integer)):
                raise TypeError(f"{name}[{i}] has parent {p!r}; parents are integer column indices")
            p = int(p)
            if not 0 <= p < d:
                raise ValueError(f"{name}[{i}] names parent {p}, but there are only columns 0..{d - 1}")
            if p == i:
                raise ValueError(f"{name}[{i}] names column {i} as its own parent")
            if p in checked:
                raise ValueError(f"{name}[{i}] names parent {p} twice")
            checked.append(p)
        out.append(tuple(checked))
    out = tuple(out)
    topological_order(out)
    return out


def topological_order(structure) -> list:
    """Columns with every parent before its children (Kahn's algorithm, lowest index first); refuses a cycle."""
    d = len(structure)
    waiting = [len(set(parents)) for parents in structure]
    children = [[] for _ in range(d)]
    for i, parents in enumerate(structure):
        for p in set(parents):
            children[p].append(i)
    ready = sorted(i for i in range(d) if waiting[i] == 0)
    order = []
    while ready:
        i = ready.pop(0)
        order.append(i)
        for c in children[i]:
            waiting[c] -= 1
            if waiting[c] == 0:
                ready.append(c)
        ready.sort()
    if len(order) < d:
        left = sorted(set(range(d)) - set(order))
        raise ValueError(f"structure has a cycle through columns {left}: a Bayesian network must be acyclic")
    return order


def mutual_information(pair) -> float:
    """Mutual information (nats) of two columns from their table of joint counts."""
    pair = np.asarray(pair, dtype=np.float64)
    n = pair.sum()
    if n <= 0:
        return 0.0
    a, b = pair.sum(axis=1), pair.sum(axis=0)
    nz = pair > 0
    expected = np.outer(a, b)[nz]
    return float(np.sum(pair[nz] * (np.log(pair[nz]) + np.log(n) - np.log(expected))) / n)


def chow_liu(pairs, n_columns, root=0) -> tuple:
    """The Chow–Liu tree as a structure: ``pairs[(i, j)]`` (``i < j``) are joint count tables.

    Prim's algorithm from ``root`` grows the maximum spanning tree over the
    mutual information of each pair; each column's parent is its neighbour on
    the path to the root.
    """
    weights = np.zeros((n_columns, n_columns))
    for (i, j), table in pairs.items():
        weights[i, j] = weights[j, i] = mutual_information(table)
    parents = [()] * n_columns
    in_tree = np.zeros(n_columns, dtype=bool)
    in_tree[root] = True
    best = weights[root].copy()
    link = np.full(n_columns, root)
    for _ in range(n_columns - 1):
        candidates = np.where(in_tree, -np.inf, best)
        j = int(np.argmax(candidates))
        in_tree[j] = True
        parents[j] = (int(link[j]),)
        closer = ~in_tree & (weights[j] > best)
        best[closer] = weights[j][closer]
        link[closer] = j
    return tuple(parents)


def bic_score(family_counts, structure, cards) -> float:
    """BIC of a structure from its family count tables (maximum-likelihood log-likelihood - log(N)/2 · parameters).

    ``family_counts[i]`` has the shape of column ``i``'s table: its parents' categories, then its own.
    """
    total = 0.0
    n = float(np.sum(family_counts[0]))
    for i, counts in enumerate(family_counts):
        counts = np.asarray(counts, dtype=np.float64)
        context = counts.sum(axis=-1, keepdims=True)
        nz = counts > 0
        total += float(np.sum(counts[nz] * np.log((counts / np.where(context > 0, context, 1.0))[nz])))
        q = int(np.prod([cards[p] for p in structure[i]], dtype=np.int64))
        total -= 0.5 * np.log(n) * q * (cards[i] - 1)
    return total
