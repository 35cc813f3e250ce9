"""Labels aligned with the rows of a source: an array, a memory map or a ``.npy`` file, read in step with ``X``.

Labels are never read whole: a pass slices ``y[start:stop]`` for the rows it
reads, and :class:`LabelCodes` turns each slice into class indices (``-1`` for
an unlabelled row when the model learns from unlabelled rows), naming the row
of the first label it refuses.
"""

from __future__ import annotations

import os

import numpy as np

from .._validation import as_numeric_array, check_batch
from ..data.blocks import batch_ranges
from ..data.source import as_source

__all__ = ["UNLABELLED", "label_array", "check_labels", "check_label_values", "unique_labels", "LabelCodes", "map_rows"]

#: The label of a row without one (semi-supervised fits).
UNLABELLED = -1
#: Labels read at a time when scanning them alone.
LABEL_CHUNK = 1 << 20
#: Rows scored at a time by the prediction methods.
SCORING_ROWS = 65_536


def label_array(y, n_rows, name="y"):
    """``y`` as a 1-D array of ``n_rows`` labels; a memory map stays one, a ``.npy`` path is opened as one."""
    if isinstance(y, (str, os.PathLike)):
        y = np.load(y, mmap_mode="r", allow_pickle=False)
    elif not isinstance(y, np.ndarray):
        y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per row); got shape {y.shape}")
    if y.shape[0] != n_rows:
        raise ValueError(f"{name} has {y.shape[0]} labels but X has {n_rows} rows")
    if y.dtype.kind == "c":
        raise ValueError(f"{name} holds complex numbers; labels must be integers or strings")
    return y


def _check_no_nan(chunk, start, name):
    if chunk.dtype.kind == "f" and not np.isfinite(chunk).all():
        row = int(np.argmax(~np.isfinite(chunk)))
        raise ValueError(f"{name} holds {chunk[row].item()} at row {start + row}: labels must be finite")


def _check_label_values(chunk, start, name):
    """A label must be finite, and a float one a whole number (scikit-learn's rule: else the target is continuous)."""
    _check_no_nan(chunk, start, name)
    if chunk.dtype.kind == "f":
        fractional = chunk != np.round(chunk)
        if fractional.any():
            row = int(np.argmax(fractional))
            raise ValueError(f"Unknown label type: continuous ({name} holds {chunk[row].item()} at row "
                             f"{start + row}; class labels are whole numbers or strings)")


def check_label_values(y, name="y"):
    """Refuse a NaN, infinite or fractional label of 1-D ``y``, naming its row; ``y`` is read a chunk at a time."""
    for start, stop in batch_ranges(len(y), LABEL_CHUNK):
        _check_label_values(np.asarray(y[start:stop]), start, name)


def check_labels(y, n_rows, name="y"):
    """``y`` as :func:`label_array` gives it, every label checked by :func:`check_label_values`."""
    y = label_array(y, n_rows, name)
    check_label_values(y, name)
    return y


def _mixed_types(values, name):
    kinds = sorted({type(v).__name__ for v in np.asarray(values).tolist()})
    return f"{name} mixes labels of types {kinds}: labels must be all numbers or all strings"


def unique_labels(y, name="y", skip=None):
    """The sorted distinct labels of ``y``, read a chunk at a time (``skip``: a label left out, e.g. -1)."""
    found = None
    for start, stop in batch_ranges(len(y), LABEL_CHUNK):
        chunk = np.asarray(y[start:stop])
        _check_no_nan(chunk, start, name)
        try:
            values = np.unique(chunk)
            found = values if found is None else np.union1d(found, values)
        except TypeError:  # objects that cannot be ordered together: numbers mixed with strings, say
            raise ValueError(_mixed_types(chunk, name)) from None
    found = np.empty(0, dtype=y.dtype) if found is None else found
    if skip is not None and found.dtype.kind in "iuf":
        found = found[found != skip]
    return found


class LabelCodes:
    """Class indices of slices of ``y`` for the classes ``classes`` (sorted).

    With ``unlabelled=True``, the label ``-1`` marks a row without a class
    (index ``-1``); otherwise every label must be one of ``classes``.
    """

    def __init__(self, y, classes, *, unlabelled=False, name="y"):
        self.y, self.classes, self.unlabelled, self.name = y, np.asarray(classes), unlabelled, name

    def codes(self, start, stop):
        """Class index of each row in ``start:stop`` (``-1``: unlabelled); refuses unknown labels, naming the row."""
        chunk = np.asarray(self.y[start:stop])
        _check_no_nan(chunk, start, self.name)
        index = np.searchsorted(self.classes, chunk)
        index[index >= len(self.classes)] = 0
        known = self.classes[index] == chunk if len(self.classes) else np.zeros(len(chunk), bool)
        if self.unlabelled:
            missing = chunk == UNLABELLED if chunk.dtype.kind in "iuf" else np.zeros(len(chunk), bool)
            index[missing] = -1
            known |= missing
        if not known.all():
            row = int(np.argmax(~known))
            raise ValueError(f"The target label(s) [{chunk[row].item()!r}] in {self.name} do not exist in the initial "
                             f"classes {self.classes.tolist()} (first at row {start + row})")
        return index.astype(np.intp)


def map_rows(X, n_features, function, owner):
    """``function`` applied to validated batches of ``X`` (read batch by batch), the results concatenated."""
    source = as_source(X)
    if source.n_rows == 0:
        check_batch(as_numeric_array(source.read(0, 0)).reshape(0, source.n_features), n_features=n_features,
                    owner=owner)
    outputs = [function(check_batch(source.read(start, stop), n_features=n_features, row_offset=start, owner=owner))
               for start, stop in batch_ranges(source.n_rows, SCORING_ROWS)]
    return np.concatenate(outputs)
