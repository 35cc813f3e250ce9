"""The one running total: block values summed over the fixed block tree, with the fit's bookkeeping.

Every model keeps an epoch's (or a ``summarize`` loop's) statistics in a
:class:`RunningTotal`: a :class:`~suffstats.block_tree.BlockTree` of block
values, the total weight and log-likelihood the driver reports, a run value
that a cluster worker returns, and a JSON-safe state that a checkpoint resumes
with its summation tree intact. A model whose blocks are plain statistics
values (:class:`~suffstats.statistics.Statistics`) uses it as it is; one with a
faster in-memory block format (tuples of arrays) subclasses it and says how a
block becomes a statistics value and back (:meth:`RunningTotal.as_statistics`,
:meth:`RunningTotal.as_block`).

Examples
--------
>>> import numpy as np
>>> from suffstats.fit.running_total import RunningTotal
>>> from suffstats.statistics import Additive
>>> total = RunningTotal()
>>> for x in ([1.0, 2.0], [3.0]):
...     total.add(Additive({"weight": len(x), "sum": np.sum(x)}))
>>> total.weight, float(total.to_statistics().fields["sum"])
(3.0, 6.0)
>>> again = RunningTotal.from_state(total.to_state())
>>> again.to_statistics() == total.to_statistics(), again.blocks
(True, 2)
"""

from __future__ import annotations

from ..block_tree import BlockTree
from ..statistics import Statistics

__all__ = ["RunningTotal"]


class RunningTotal:
    """Block values over the fixed block tree: what every model accumulates into.

    Parameters
    ----------
    weight_of : callable, optional
        ``weight_of(value) -> float``: the total weight of a statistics value
        (default: its ``weight`` field or attribute, else the ``weight`` field
        of its first part -- a mixture's totals).
    """

    _transactional = True

    def __init__(self, weight_of=None):
        self._tree = BlockTree()
        self._weight_of = weight_of

    # -- what a subclass with its own block format overrides ------------------------------
    def as_statistics(self, block) -> Statistics:
        """A block (or a sum of blocks) as a statistics value."""
        return block

    def as_block(self, stats: Statistics):
        """A statistics value as a block of this total (inverse of :meth:`as_statistics`)."""
        return stats

    def empty(self):
        """The value of a total with no blocks (``None``: no value)."""
        return None

    def fresh(self) -> "RunningTotal":
        """An empty total of the same kind and shifts."""
        clone = self.copy()
        clone._tree = BlockTree()
        return clone

    # -- the tree ----------------------------------------------------------------------------
    def add(self, block, size=1) -> None:
        """Add one block's value; ``size`` > 1 adds an aligned run of that many blocks, summed elsewhere."""
        self._tree.push(block, size)

    @property
    def blocks(self) -> int:
        """Blocks summed so far (subtrees of a shared tree count as their size)."""
        return self._tree.blocks

    _pinned = None

    @property
    def reference(self):
        """The first block's value (its shift is the one every later block is computed around), or ``None``.

        A total that will be added to another (a cluster task's) is given that
        one's reference with :meth:`pin_reference`, so its blocks are computed
        around the same shift as if they were added in place.
        """
        return self._tree.stack[0][1] if self._tree.stack else self._pinned

    def pin_reference(self, value) -> None:
        """Compute blocks around ``value``'s shift until this total holds a block of its own."""
        self._pinned = value

    def total(self):
        """The sum of every block (or :meth:`empty`)."""
        total = self._tree.total()
        return self.empty() if total is None else total

    def run_value(self):
        """The total of an aligned power-of-two run of blocks, to be pushed elsewhere with ``add(value, size)``."""
        return self._tree.subtree()

    def copy(self) -> "RunningTotal":
        """A total that shares this one's blocks but not its future: adding to one leaves the other alone."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._tree = BlockTree(self._tree.stack)
        return clone

    def centred_on(self, shifts) -> bool:
        """Whether blocks computed around ``shifts`` add in place (values that carry their shift always do)."""
        return True

    def merge(self, other: "RunningTotal") -> None:
        """Add another total as one more entry."""
        value = other._tree.total()
        if value is not None:
            self.add(value)

    # -- what the driver reads ------------------------------------------------------------------
    @property
    def weight(self) -> float:
        """Total weight ``Σw`` of the rows summed."""
        value = self.to_statistics()
        if value is None:
            return 0.0
        if self._weight_of is not None:
            return float(self._weight_of(value))
        return float(_field(value, "weight"))

    @property
    def log_likelihood(self) -> float:
        """``Σw·log p`` of the rows summed (0 for a value that keeps none)."""
        value = self.to_statistics()
        return 0.0 if value is None else float(_field(value, "log_likelihood", 0.0))

    def to_statistics(self):
        """The total as a statistics value (``None`` when nothing was added and there is no empty value)."""
        total = self._tree.total()
        if total is None:
            total = self.empty()
        return None if total is None else self.as_statistics(total)

    # -- persistence ------------------------------------------------------------------------------
    def to_state(self) -> list:
        """The carry stack as JSON-safe data: a checkpoint resumes the same tree."""
        return [{"size": size, "value": self.as_statistics(block).to_dict()} for size, block in self._tree.stack]

    def from_value(self, stats: Statistics) -> "RunningTotal":
        """A total of the same kind holding one value."""
        total = self.fresh()
        total.add(total.as_block(stats))
        return total

    def restored(self, state) -> "RunningTotal":
        """A total of the same kind rebuilt from :meth:`to_state` (the summation tree included)."""
        if not isinstance(state, list) or not state or not all(isinstance(e, dict) for e in state):
            raise ValueError("a running total's state must be a non-empty list of {size, value} entries")
        entries = [(entry["size"], Statistics.from_dict(entry["value"])) for entry in state]
        total = self.from_value(entries[0][1])
        total._tree = BlockTree([(size, total.as_block(stats)) for size, stats in entries])
        return total

    @classmethod
    def from_state(cls, state, **kwargs) -> "RunningTotal":
        """Rebuild a total written by :meth:`to_state`; ``kwargs`` go to the constructor."""
        return cls(**kwargs).restored(state)


def _field(value, name, default=None):
    """``name`` of a statistics value: its own field or attribute, else its first part's (a mixture's totals)."""
    fields = getattr(value, "fields", None)
    if fields is not None and name in fields:
        return fields[name]
    if hasattr(value, name) and not callable(getattr(value, name)):
        return getattr(value, name)
    parts = getattr(value, "parts", None)
    if parts:
        return _field(parts[0], name, default)
    if default is None:
        raise ValueError(f"a {type(value).__name__} value has no {name!r}: give the running total a weight_of")
    return default
