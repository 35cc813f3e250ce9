"""Resumable fits: the state of a fit written atomically, checked before it is used.

A checkpoint holds the model's parameters, the epoch, the position within the
epoch (rows already accumulated, always on a block boundary), the pending
statistics, the random generator's state and the run history, together with
a fingerprint of the data and of the settings and a SHA-256 checksum. Because
accumulation is block-aligned, a fit resumed from a checkpoint ends with the
same bits as one that was never interrupted. A checkpoint made for other
data or settings, or one that fails its checksum, is refused with an error,
never silently used.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

from .._json import atomic_write_text, parse_json
from ..data.files import same_file

__all__ = ["Checkpoint", "CHECKPOINT_VERSION", "CHECKPOINT_SECONDS"]

CHECKPOINT_VERSION = 1
#: Seconds of work between checkpoint writes when no batch count is given: a crash loses about this much.
CHECKPOINT_SECONDS = 60.0


def _now() -> float:
    return time.monotonic()


def _digest(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class Checkpoint:
    """A checkpoint file for one fit.

    Parameters
    ----------
    path : str or path-like
    every : int or None
        Write after every ``every`` batches; ``None``: after every
        ``seconds`` of work. Always after each epoch.
    data : dict
        Fingerprint of the data source.
    settings : dict
        The settings that determine the result.
    data_files : list of str, optional
        The files the data is read from: the checkpoint must be none of them.
    seconds : float
        Time between writes when ``every`` is ``None``.
    clock : callable, optional
        Returns seconds (default ``time.monotonic``).

    Raises
    ------
    ValueError
        When ``path`` is one of ``data_files`` (a checkpoint would be written over the data).
    """

    def __init__(self, path, every, data, settings, data_files=(), seconds=CHECKPOINT_SECONDS, clock=None):
        self.path = os.fspath(path)
        self.every = None if every is None else int(every)
        self.seconds, self.clock = float(seconds), clock or _now
        self._last_write = self.clock()
        self.data = json.loads(json.dumps(data))
        self.settings = json.loads(json.dumps(settings))
        for name in data_files:
            if same_file(self.path, name):
                raise ValueError(f"checkpoint {self.path} is the data file {name}; give the checkpoint its own path "
                                 "(the data is never written over)")
        _remove_stale_temporaries(self.path)

    def load(self):
        """The saved state, or ``None`` when there is no checkpoint yet."""
        if not os.path.exists(self.path):
            return None
        try:
            with open(self.path, "rb") as f:
                head = f.read(64)
                if head.startswith(b"\x93NUMPY") or b"\0" in head:
                    raise ValueError("it is not a JSON file but " + ("a .npy array" if head.startswith(b"\x93NUMPY")
                                                                     else "binary data"))
                record = parse_json(head + f.read(), f"checkpoint {self.path}", max_bytes=float("inf"))
            payload, checksum = record["payload"], record["sha256"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"checkpoint {self.path} is not a readable suffstats checkpoint ({err}); if it is a "
                             "damaged checkpoint of this fit, remove it to start the fit over") from None
        if _digest(payload) != checksum:
            raise ValueError(f"checkpoint {self.path} is damaged (checksum mismatch); remove it to start the fit over")
        _check_payload(payload, self.path)
        if payload["data"] != self.data:
            raise ValueError(f"checkpoint {self.path} was made on different data "
                             f"({_difference(payload['data'], self.data)}); refusing to resume from it")
        if payload["settings"] != self.settings:
            raise ValueError(f"checkpoint {self.path} was made with different settings "
                             f"({_difference(payload['settings'], self.settings)}); refusing to resume from it")
        return payload["state"]

    def due(self, chunks) -> bool:
        """Whether a part-done epoch should be written after its ``chunks``-th chunk."""
        if self.every is not None:
            return chunks % self.every == 0
        return self.clock() - self._last_write >= self.seconds

    def save(self, state) -> None:
        """Write ``state`` atomically (a failed write leaves the old checkpoint and no temporary file)."""
        self._last_write = self.clock()
        payload = {"version": CHECKPOINT_VERSION, "data": self.data, "settings": self.settings, "state": state}
        atomic_write_text(self.path, json.dumps({"payload": payload, "sha256": _digest(payload)}))


def _remove_stale_temporaries(path) -> None:
    """Remove temporary files a kill left beside the checkpoint while it was being written (see ``atomic_write_text``)."""
    folder = os.path.dirname(os.path.abspath(path))
    prefix = f".{os.path.basename(path)}."
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix) and n.endswith(".tmp")]
    except OSError:
        return
    for name in names:
        try:
            os.unlink(os.path.join(folder, name))
        except OSError:
            pass


def _check_payload(payload, path) -> None:
    """The fields of a payload, with their types: a forged checkpoint with a valid checksum is still refused."""
    if not isinstance(payload, dict):
        raise ValueError(f"checkpoint {path}: the payload must be an object; got {type(payload).__name__}")
    for field in ("version", "data", "settings", "state"):
        if field not in payload:
            raise ValueError(f"checkpoint {path}: missing field {field!r}; remove it to start the fit over")
    if type(payload["version"]) is not int or payload["version"] != CHECKPOINT_VERSION:
        raise ValueError(f"checkpoint {path} has version {payload['version']!r}; "
                         f"this suffstats writes version {CHECKPOINT_VERSION}")
    for field in ("data", "settings", "state"):
        if not isinstance(payload[field], dict):
            raise ValueError(f"checkpoint {path}: {field!r} must be an object; got {type(payload[field]).__name__}")


def _difference(saved, current):
    keys = sorted(set(saved) | set(current))
    differing = [k for k in keys if saved.get(k) != current.get(k)]
    return "differs in " + ", ".join(differing[:5]) if differing else "differs"
