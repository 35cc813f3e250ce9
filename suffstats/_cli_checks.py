"""What the ``suffstats`` command refuses before any work: argument values and input/output paths.

Argument types raise ``argparse.ArgumentTypeError`` (argparse prints them:
exit status 2, no traceback); path checks raise :class:`UsageError`. An output
path must be writable and never a file the input names: the file before
``:DATASET``, every shard of a directory or glob, anything inside a store.
"""

from __future__ import annotations

__all__ = ["UsageError", "int_at_least", "number", "int_range", "choices", "same_file",
           "check_output", "check_columns"]

import argparse
import fnmatch
import glob
import math
import os
import tempfile

from .data.files import FORMATS, format_class, input_files, same_file, split_location, suffix_of


class UsageError(Exception):
    """A command line that cannot work, found before any work is done (exit status 2)."""


# -- argument types: refused by argparse itself, so exit status 2 and no traceback ----------------
def int_at_least(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}")
        return value

    parse.__name__ = "integer"
    return parse


def number(positive):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise argparse.ArgumentTypeError(f"must be a {'positive' if positive else 'non-negative'} number, "
                                             f"got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


#: Most values a ``--components`` range may name (a search fits its candidates together).
MAX_RANGE_VALUES = 10_000


def int_range(text):
    """``"1-12"``, ``"2,4,8"`` or ``"1-4,8"`` as a sorted list of positive ints."""
    values = set()
    for part in text.split(","):
        low, dash, high = part.partition("-")
        try:
            low, high = int(low), int(high) if dash else int(low)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a range like 1-12 or a list like 2,4,8; got {text!r}") from None
        if low < 1:
            raise argparse.ArgumentTypeError(f"numbers of components must be >= 1; got {part!r}")
        if high < low:
            raise argparse.ArgumentTypeError(f"{part!r} is an empty range (it starts above where it ends); "
                                             f"write {high}-{low}")
        if high - low + 1 + len(values) > MAX_RANGE_VALUES:
            raise argparse.ArgumentTypeError(f"{text!r} names more than {MAX_RANGE_VALUES:,} numbers of components; "
                                             "a search fits its candidates together: narrow the range")
        values.update(range(low, high + 1))
    return sorted(values)


def choices(allowed):
    def parse(text):
        chosen = [t.strip() for t in text.split(",") if t.strip()]
        wrong = [t for t in chosen if t not in allowed]
        if wrong or not chosen:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(allowed)}; got {text!r}")
        return chosen
    return parse


# -- checks made before any work ---------------------------------------------------------------
def _is_pattern(path):
    return not os.path.exists(path) and glob.has_magic(path)


def check_output(path, option, data):
    """Refuse an output path that cannot be written, or that would overwrite the input data."""
    if not path:
        raise UsageError(f"{option}: empty path")
    for name in input_files(data):
        if same_file(path, name):
            raise UsageError(f"{option} {path} is the input data file {name}; refusing to overwrite it")
    real = os.path.realpath(path)
    base, _ = split_location(data)
    if os.path.isdir(base):
        folder = os.path.realpath(base)
        one_data_set = getattr(format_class(suffix_of(base)), "directory_is_one_data_set", False)
        if one_data_set and real.startswith(folder + os.sep):
            raise UsageError(f"{option} {path} is inside the input data set {base}; refusing to write there")
        if not one_data_set and os.path.dirname(real) == folder and real.endswith(".npy"):
            raise UsageError(f"{option} {path} would become a shard of the input directory {base}")
    elif _is_pattern(base) and fnmatch.fnmatch(real, os.path.realpath(os.path.abspath(base))):
        raise UsageError(f"{option} {path} matches the input pattern {base!r}; it would be read as data")
    if os.path.isdir(path):
        raise UsageError(f"{option} {path} is a directory")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        problem = "is not a directory" if os.path.exists(parent) else "does not exist"
        raise UsageError(f"{option} {path}: {parent} {problem}")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise UsageError(f"{option} {path} is not writable")
    # Files are written to a temporary file beside the target, then renamed over it. Permission bits do not
    # tell (root passes every os.access check; /proc, read-only mounts and full disks refuse anyway): create
    # and remove such a file now.
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: directory {parent} is not writable")
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    except OSError as error:
        raise UsageError(f"{option} {path} cannot be written: {error.strerror or error}") from None
    os.close(fd)
    os.unlink(probe)


def check_columns(args):
    if args.columns is None:
        return None
    base, _ = split_location(args.data)
    suffix = suffix_of(base)
    named = [s for s in FORMATS if format_class(s).named_columns]
    if _is_pattern(base) or suffix not in named or (os.path.isdir(base) and not format_class(suffix).
                                                    directory_is_one_data_set):
        kind = f".{suffix} file" if suffix and not _is_pattern(base) else "input"
        raise UsageError(f"--columns applies to {', '.join('.' + s for s in named)} files only; {args.data} is a "
                         f"{kind} whose columns have no names")
    columns = [c.strip() for c in args.columns.split(",")]
    if not all(columns):
        raise UsageError(f"--columns {args.columns!r}: a column name is empty")
    return columns
