"""A held-out share of rows chosen by a seeded hash of the row index: stable out of core, never stored.

Which rows are held out depends only on (row index, seed, fraction), so every
batch size, every worker and every resumed run agrees, and no mask as long as
the data is ever kept: the weights of a range of rows are computed when the
range is read.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["HeldOutSplit"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _unit_hash(rows, seed):
    """SplitMix64 of ``rows + seed·golden``, as floats in [0, 1)."""
    with np.errstate(over="ignore"):
        z = np.asarray(rows, dtype=np.uint64) + np.uint64(seed) * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


class HeldOutSplit:
    """Row weights of one side of a seeded split: ``split[start:stop]`` or ``split[rows]`` gives the weights.

    Parameters
    ----------
    n_rows : int
    fraction : float in (0, 1)
        Share of rows held out.
    seed : int
    held_out : bool
        Which side: the held-out rows (weight 1, or the user's weight) or the training rows.
    base : array of shape (n_rows,), optional
        The user's sample weights, multiplied in.

    Examples
    --------
    >>> from suffstats.mixture._holdout import HeldOutSplit
    >>> train = HeldOutSplit(10_000, 0.2, seed=0, held_out=False)
    >>> test = train.other_side()
    >>> bool(((train[0:10_000] + test[0:10_000]) == 1).all()), round(float(test[0:10_000].mean()), 1)
    (True, 0.2)
    """

    ndim = 1

    def __init__(self, n_rows, fraction, seed, held_out, base=None):
        self.n_rows, self.fraction, self.seed, self.held_out, self.base = n_rows, float(fraction), int(seed), \
            bool(held_out), base
        self.shape = (n_rows,)

    def other_side(self):
        return HeldOutSplit(self.n_rows, self.fraction, self.seed, not self.held_out, self.base)

    def __len__(self):
        return self.n_rows

    def __getitem__(self, key):
        rows = np.arange(self.n_rows)[key] if isinstance(key, slice) else np.asarray(key)
        inside = _unit_hash(rows, self.seed) < self.fraction
        weights = (inside if self.held_out else ~inside).astype(np.float64)
        return weights if self.base is None else weights * self.base[key]

    def sum(self):
        total, step = 0.0, 1 << 20
        for start in range(0, self.n_rows, step):
            total += float(self[start:start + step].sum())
        return total

    def tobytes(self):
        """What a checkpoint fingerprint hashes: the split's definition and the user's weights."""
        base = b"" if self.base is None else hashlib.sha256(np.asarray(self.base).tobytes()).digest()
        return repr((self.n_rows, self.fraction, self.seed, self.held_out)).encode() + base
