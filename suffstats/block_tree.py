"""The fixed summation tree over block index: one sum, however the blocks were shared out.

Statistics are computed per block of rows and added over a fixed binary tree
whose leaves are the blocks in order: streaming pairwise summation with a
carry stack. Every aligned power-of-two run of blocks is one subtree, so one
process walking the blocks in order, and many workers each summing an aligned
run whose subtrees a client then pushes in order, produce the same bits.
Rounding error grows with ``log(n)`` rather than ``n``.

Values are anything with ``+`` (arrays, statistics values, block tuples).

Examples
--------
>>> from suffstats.block_tree import BlockTree
>>> one = BlockTree()
>>> for v in [0.1, 0.2, 0.3, 0.4, 0.5]:
...     one.push(v)
>>> left, right = BlockTree(), BlockTree()
>>> for v in [0.1, 0.2, 0.3, 0.4]:
...     left.push(v)
>>> right.push(0.5)
>>> shared = BlockTree()
>>> shared.push(left.total(), size=4)   # a worker's aligned run of 4 blocks
>>> shared.push(right.total())
>>> shared.total() == one.total()
True
"""

from __future__ import annotations

__all__ = ["BlockTree", "aligned_runs"]


class BlockTree:
    """A carry stack of ``(size, value)`` subtrees; sizes are powers of two, decreasing from the bottom.

    ``push`` replaces the stack rather than editing it, so a transaction's
    snapshot of the tree stays valid.
    """

    _transactional = True

    def __init__(self, stack=None):
        self.stack = [] if stack is None else [(int(size), value) for size, value in stack]

    @property
    def blocks(self) -> int:
        """How many blocks have been pushed."""
        return sum(size for size, _ in self.stack)

    def push(self, value, size=1):
        """Add the subtree of ``size`` blocks (a power of two, aligned at :attr:`blocks`)."""
        if size & (size - 1) or size < 1 or (self.stack and self.stack[-1][0] < size):
            raise ValueError(f"a subtree of {size} blocks cannot be pushed after {self.blocks} blocks: "
                             "runs must be aligned powers of two")
        stack = self.stack + [(size, value)]
        while len(stack) > 1 and stack[-1][0] == stack[-2][0]:
            size_b, b = stack.pop()
            size_a, a = stack.pop()
            stack.append((size_a + size_b, a + b))
        self.stack = stack

    def subtree(self):
        """The value of an aligned power-of-two run of blocks: the stack's single subtree (what a worker returns)."""
        if len(self.stack) != 1 or self.stack[0][0] & (self.stack[0][0] - 1):
            raise ValueError(f"{self.blocks} blocks are not one aligned power-of-two run")
        return self.stack[0][1]

    def total(self):
        """The sum over every block pushed (``None`` when empty): smaller subtrees folded into larger ones."""
        if not self.stack:
            return None
        total = self.stack[-1][1]
        for _, value in reversed(self.stack[:-1]):
            total = value + total
        return total


def aligned_runs(first_block, n_blocks, most):
    """Sizes of the aligned power-of-two runs, of at most ``most`` blocks, that cover blocks ``first_block`` onwards.

    Pushing each run's sum with its size gives the tree the bits of pushing
    the ``n_blocks`` blocks one by one (``most`` a power of two).

    >>> aligned_runs(3, 12, 8)
    [1, 4, 4, 2, 1]
    """
    sizes, block, end = [], first_block, first_block + n_blocks
    while block < end:
        size = most
        while size > 1 and (block % size or block + size > end):
            size //= 2
        sizes.append(size)
        block += size
    return sizes
