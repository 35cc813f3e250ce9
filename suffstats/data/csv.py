"""A CSV file read in chunks of rows (``pyarrow.csv``), with column selection."""

from __future__ import annotations

from .files import arrow_to_rows, require
from .stream import StreamSource


class CsvSource(StreamSource):
    """Numeric ``columns`` (default: all) of a CSV file with a header row, read in order in chunks.

    A cell that is not a number raises an error naming the file, column and row.
    """

    def __init__(self, path, columns=None, delimiter=",", block_bytes=8 << 20):
        require("pyarrow", "parquet")
        self.path, self.columns, self.delimiter, self.block_bytes = path, columns, delimiter, block_bytes
        super().__init__(self._chunks)

    def _chunks(self):
        import pyarrow as pa
        from pyarrow import csv

        reader = csv.open_csv(
            self.path,
            read_options=csv.ReadOptions(block_size=self.block_bytes),
            parse_options=csv.ParseOptions(delimiter=self.delimiter),
            convert_options=csv.ConvertOptions(include_columns=self.columns),
        )
        names = reader.schema.names
        for field in reader.schema:
            if not (pa.types.is_integer(field.type) or pa.types.is_floating(field.type)):
                raise ValueError(f"{self.path}: column {field.name!r} is not numeric ({field.type}); "
                                 "select numeric columns")
        offset = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowInvalid as err:
                raise ValueError(f"{self.path}: a cell is not a number after data row {offset}: {err}") from None
            out = arrow_to_rows(batch.columns, names, self.path, offset)
            offset += batch.num_rows
            yield out
