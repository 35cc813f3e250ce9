"""Views of a source: the same rows, shaped for a model that reads them differently."""

from __future__ import annotations

__all__ = ["SingleColumn"]


class SingleColumn:
    """A one-column source read as 1-D rows, for a univariate model (``source`` is the underlying source).

    Everything else (shape, fingerprint, files, how a worker reopens it) is the source's.
    """

    def __init__(self, source):
        self.source = source

    def __getattr__(self, name):
        return getattr(self.source, name)

    def read(self, start, stop):
        return self.source.read(start, stop)[:, 0]

    def take(self, rows):
        return self.source.take(rows)[:, 0]

    def batches(self, ranges):
        for start, X in self.source.batches(ranges):
            yield start, X[:, 0]
