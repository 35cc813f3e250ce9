"""Where rows come from: batch sources and block-aligned iteration."""

from .blocks import BLOCK_ROWS, aligned_chunks, batch_ranges
from .source import ArraySource, BatchSource, as_source

__all__ = ["BLOCK_ROWS", "aligned_chunks", "batch_ranges", "ArraySource", "BatchSource", "as_source"]
