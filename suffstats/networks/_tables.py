"""Conditional probability tables from counts: maximum likelihood, a pseudocount, or a Dirichlet prior (BDeu, K2).

A table has the shape of its column's *family*: its parents' categories in the
order of the structure, then its own; ``table[parent codes]`` is the
distribution of the column. Contexts never seen (no counts and no prior) get the
uniform distribution.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PRIORS", "cpt_from_counts", "check_prior"]

#: Priors a network accepts: ``None`` (maximum likelihood plus ``pseudocount``), ``"bdeu"`` and ``"k2"``.
PRIORS = (None, "bdeu", "k2")


def check_prior(prior, equivalent_sample_size, pseudocount):
    """Refuse an unknown prior or a negative / non-finite prior strength."""
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {list(PRIORS)}; got {prior!r}")
    for name, value in (("equivalent_sample_size", equivalent_sample_size), ("pseudocount", pseudocount)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    if prior == "bdeu" and not equivalent_sample_size > 0:
        raise ValueError("equivalent_sample_size must be > 0 for the BDeu prior")


def cpt_from_counts(counts, prior=None, equivalent_sample_size=1.0, pseudocount=0.0) -> np.ndarray:
    """A conditional table from family counts (parents' axes first, the column's own last).

    Examples
    --------
    >>> import numpy as np
    >>> cpt_from_counts(np.array([[3.0, 1.0], [0.0, 0.0]])).tolist()
    [[0.75, 0.25], [0.5, 0.5]]
    >>> cpt_from_counts(np.array([[3.0, 1.0], [0.0, 0.0]]), "bdeu", equivalent_sample_size=4.0).tolist()
    [[0.6666666666666666, 0.3333333333333333], [0.5, 0.5]]
    """
    counts = np.asarray(counts, dtype=np.float64)
    if prior == "bdeu":
        alpha = equivalent_sample_size / counts.size
    elif prior == "k2":
        alpha = 1.0
    else:
        alpha = pseudocount
    table = counts + alpha
    total = table.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, table / np.where(total > 0, total, 1.0), 1.0 / counts.shape[-1])
