"""Arrow columns (Parquet, CSV) as rows of float64."""

from __future__ import annotations

import numpy as np

__all__ = ["arrow_to_rows"]


def arrow_to_rows(columns, names, where, row_offset=0):
    """Arrow columns as a float64 (n, len(names)) array; a missing value is an error naming its row."""
    out = np.empty((len(columns[0]) if columns else 0, len(names)))
    for j, (col, name) in enumerate(zip(columns, names)):
        if col.null_count:
            row = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
            raise ValueError(f"{where}: column {name!r} has a missing value at data row {row_offset + row}")
        out[:, j] = col.to_numpy(zero_copy_only=False)
    return out
