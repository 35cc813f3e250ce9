"""JSON files read within limits and written atomically: the one place models and checkpoints touch disk.

:func:`parse_json` refuses a document larger than a size limit before reading
it, and one nested deeper than a depth limit before the parser recurses into
it (a hostile ``[[[[...`` raises a ``ValueError``, not a ``RecursionError``).
:func:`atomic_write_text` writes beside the target and renames, removing its
temporary file on any failure.
"""

from __future__ import annotations

import json
import os
import re
import tempfile

import numpy as np

__all__ = ["parse_json", "atomic_write_text", "MAX_JSON_BYTES", "MAX_JSON_DEPTH"]

#: Largest JSON document read (bytes); a model of a million parameters takes about 25 MB.
MAX_JSON_BYTES = 1 << 30
#: Deepest nesting of arrays and objects accepted (models need about 12).
MAX_JSON_DEPTH = 64

_OTHER_BYTES = bytes(b for b in range(256) if b not in b'[]{}"')
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')


def json_depth(text) -> int:
    """Deepest nesting of ``[`` and ``{`` in a JSON text (strings ignored), found without recursion."""
    data = text.encode() if isinstance(text, str) else bytes(text)
    if b"\\" not in data:  # no escapes: keep only brackets and quotes (fast, in C), then drop strings
        data = data.translate(None, _OTHER_BYTES)
    codes = np.frombuffer(_STRINGS.sub(b"", data), dtype=np.uint8)
    steps = np.zeros(256, dtype=np.int8)
    steps[[ord("["), ord("{")]], steps[[ord("]"), ord("}")]] = 1, -1
    return int(np.cumsum(steps[codes], dtype=np.int64).max(initial=0))


def parse_json(text, what="JSON document", *, max_bytes=None, max_depth=None):
    """Parse ``text`` after checking its size and nesting depth; every failure is a ``ValueError``.

    Parameters
    ----------
    text : str or bytes
    what : str
        Names the document in messages (``"model JSON"``, ``"checkpoint x.ckpt"``).
    max_bytes, max_depth : int, optional
        Default :data:`MAX_JSON_BYTES` and :data:`MAX_JSON_DEPTH`.

    Examples
    --------
    >>> parse_json('{"a": [1, 2]}')
    {'a': [1, 2]}
    >>> parse_json("[" * 100_000)
    Traceback (most recent call last):
    ...
    ValueError: JSON document is nested 100000 levels deep; refusing more than 64
    """
    max_bytes = MAX_JSON_BYTES if max_bytes is None else max_bytes
    max_depth = MAX_JSON_DEPTH if max_depth is None else max_depth
    if not isinstance(text, (str, bytes, bytearray)):
        raise TypeError(f"{what} must be text; got {type(text).__name__}")
    if len(text) > max_bytes:
        raise ValueError(f"{what} is {len(text):,} bytes; refusing more than {max_bytes:,}")
    depth = json_depth(text)
    if depth > max_depth:
        raise ValueError(f"{what} is nested {depth} levels deep; refusing more than {max_depth}")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"{what} is not valid JSON: {err}") from None


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: temporary file beside it, fsync, rename, fsync of the folder.

    On any failure (disk full, permission, Ctrl-C) the temporary file is
    removed and ``path`` keeps its old content.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     atomic_write_text(os.path.join(tmp, "a.json"), "{}")
    ...     sorted(os.listdir(tmp))
    ['a.json']
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    except OSError as error:  # name the file the caller asked for, not the temporary one
        raise type(error)(error.errno, f"cannot write {path}: {error.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # folders cannot be fsynced on every platform
        pass
