"""A CSV file read in chunks of rows (``pyarrow.csv``), with column selection and explicit header handling."""

from __future__ import annotations

import csv as _csv

from .arrow import arrow_to_rows
from .optional import require
from .stream import StreamSource

__all__ = ["CsvSource"]


class CsvSource(StreamSource):
    """Numeric ``columns`` (default: all) of a CSV file, read in order in chunks; every column read as float64.

    Parameters
    ----------
    path : str
        The CSV file.
    columns : sequence of str or int, optional
        Column names (or positions, for a file without a header).
    delimiter : str, default=","
        The character between fields.
    header : {None, True, False}
        ``True``: the first line holds the column names. ``False``: there is
        no header; every line is data and columns are named ``"0"``, ``"1"``,
        ... ``None`` (default): the first line must be names -- a first line
        of numbers only is refused as ambiguous rather than dropped, so a
        file without a header never silently loses its first row.
    block_bytes : int
        Bytes parsed at a time.

    Notes
    -----
    A cell that is not a number raises an error naming the file, the column
    and the data row (counted from 0, header excluded). Columns are read as
    float64 throughout, so a column of integers that later holds ``2.5``
    keeps its fraction.
    """

    named_columns = True

    def __init__(self, path, columns=None, delimiter=",", header=None, block_bytes=8 << 20):
        require("pyarrow", "parquet")
        if header not in (None, True, False):
            raise ValueError(f"header must be None, True or False; got {header!r}")
        self.path, self.delimiter, self.header, self.block_bytes = path, delimiter, header, block_bytes
        self.names = self._column_names()
        if columns is None:
            self.columns = self.names
        else:
            self.columns = [str(c) for c in columns]
            missing = [c for c in self.columns if c not in self.names]
            if missing:
                raise ValueError(f"{path} has no column(s) {missing}; it has {self.names}")
        super().__init__(self._chunks)

    @classmethod
    def from_path(cls, path, *, columns=None, suffix="csv", **_):
        """The source :func:`~suffstats.data.as_source` makes for a ``.csv`` or ``.tsv`` path.

        Parameters
        ----------
        path : str
            The file.
        columns : sequence of str or int, optional
            Columns to read (default: all).
        suffix : {"csv", "tsv"}, default="csv"
            ``"tsv"`` reads tab-separated fields, ``"csv"`` comma-separated ones.
        """
        return cls(path, columns=columns, delimiter="\t" if suffix == "tsv" else ",")

    def files(self):
        return [self.path]

    def _column_names(self):
        try:
            with open(self.path, newline="", encoding="utf-8") as f:
                first = next(_csv.reader(f, delimiter=self.delimiter), None)
        except (OSError, UnicodeDecodeError, _csv.Error) as err:
            raise ValueError(f"{self.path}: cannot be read as CSV ({err})") from None
        if not first:
            raise ValueError(f"{self.path}: the file is empty (no header and no rows)")
        if self.header is False:
            return [str(j) for j in range(len(first))]
        if self.header is None and all(_is_number(cell) for cell in first):
            raise ValueError(f"{self.path}: the first line {self.delimiter.join(first)[:60]!r} holds only numbers: "
                             "pass CsvSource(path, header=False) if the file has no header row (or header=True "
                             "if these are the column names)")
        return [cell.strip() for cell in first]

    def _reader(self, types):
        import pyarrow as pa
        from pyarrow import csv

        return csv.open_csv(
            self.path,
            read_options=csv.ReadOptions(block_size=self.block_bytes, column_names=self.names,
                                         skip_rows=0 if self.header is False else 1),
            parse_options=csv.ParseOptions(delimiter=self.delimiter),
            convert_options=csv.ConvertOptions(include_columns=self.columns,
                                               column_types={c: getattr(pa, types)() for c in self.columns}),
        )

    def _chunks(self):
        import pyarrow as pa

        offset = 0
        try:
            reader = self._reader("float64")
            for batch in reader:
                out = arrow_to_rows(batch.columns, self.columns, self.path, offset)
                offset += batch.num_rows
                yield out
        except pa.ArrowInvalid as err:
            raise ValueError(self._bad_cell(err)) from None

    def _bad_cell(self, err):
        """The message for a cell that is not a number: found again by reading the file as text."""
        offset = 0
        for batch in self._reader("string"):
            for name, col in zip(self.columns, batch.columns):
                for row, cell in enumerate(col.to_pylist()):
                    if cell is not None and not _is_number(cell):
                        return (f"{self.path}: column {name!r}, data row {offset + row}: {cell!r} is not a number "
                                "(select numeric columns)")
            offset += batch.num_rows
        return f"{self.path}: a cell is not a number ({err})"


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True
