"""Batch sources for tests: one that is interrupted at a chosen read, one that counts rows read."""

import suffstats as ss


class Interrupting(ss.data.ArraySource):
    """Raises ``KeyboardInterrupt`` at its ``at_read``-th ``read`` (as Ctrl-C would), counting from 1."""

    def __init__(self, X, at_read):
        super().__init__(X)
        self.at_read, self.reads = at_read, 0

    def read(self, start, stop):
        self.reads += 1
        if self.reads == self.at_read:
            raise KeyboardInterrupt
        return super().read(start, stop)


class Counting(ss.data.ArraySource):
    """Counts the rows read by position (epochs and passes)."""

    def __init__(self, X):
        super().__init__(X)
        self.rows_read = 0

    def read(self, start, stop):
        self.rows_read += stop - start
        return super().read(start, stop)
