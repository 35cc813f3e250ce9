"""Where rows come from: batch sources, block-aligned iteration, read-ahead, minibatches."""

from .blocks import BLOCK_ROWS, aligned_chunks, batch_ranges
from .categorical_parquet import CategoricalParquetSource
from .csv import CsvSource
from .minibatches import iter_minibatches, iter_shuffled_blocks
from .prefetch import prefetch
from .source import ArraySource, BatchSource, as_source
from .stream import StreamSource

__all__ = ["BLOCK_ROWS", "aligned_chunks", "batch_ranges", "prefetch", "iter_minibatches", "iter_shuffled_blocks",
           "ArraySource", "BatchSource", "StreamSource", "CsvSource",
           "CategoricalParquetSource", "as_source"]
