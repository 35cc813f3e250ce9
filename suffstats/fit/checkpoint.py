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

from .._json import atomic_write_text, parse_json

__all__ = ["Checkpoint", "CHECKPOINT_VERSION"]

CHECKPOINT_VERSION = 1


def _digest(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class Checkpoint:
    """A checkpoint file for one fit.

    Parameters
    ----------
    path : str or path-like
    every : int
        Write after every ``every`` batches (and after each epoch).
    data : dict
        Fingerprint of the data source.
    settings : dict
        The settings that determine the result.
    """

    def __init__(self, path, every, data, settings):
        self.path = os.fspath(path)
        self.every = int(every)
        self.data = json.loads(json.dumps(data))
        self.settings = json.loads(json.dumps(settings))

    def load(self):
        """The saved state, or ``None`` when there is no checkpoint yet."""
        if not os.path.exists(self.path):
            return None
        try:
            with open(self.path, "rb") as f:
                record = parse_json(f.read(), f"checkpoint {self.path}", max_bytes=float("inf"))
            payload, checksum = record["payload"], record["sha256"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"checkpoint {self.path} is unreadable or corrupted ({err}); "
                             "delete it to start the fit over") from None
        if _digest(payload) != checksum:
            raise ValueError(f"checkpoint {self.path} is corrupted (checksum mismatch); delete it to start over")
        _check_payload(payload, self.path)
        if payload["data"] != self.data:
            raise ValueError(f"checkpoint {self.path} was made on different data "
                             f"({_difference(payload['data'], self.data)}); refusing to resume from it")
        if payload["settings"] != self.settings:
            raise ValueError(f"checkpoint {self.path} was made with different settings "
                             f"({_difference(payload['settings'], self.settings)}); refusing to resume from it")
        return payload["state"]

    def save(self, state) -> None:
        """Write ``state`` atomically (a failed write leaves the old checkpoint and no temporary file)."""
        payload = {"version": CHECKPOINT_VERSION, "data": self.data, "settings": self.settings, "state": state}
        atomic_write_text(self.path, json.dumps({"payload": payload, "sha256": _digest(payload)}))


def _check_payload(payload, path) -> None:
    """The fields of a payload, with their types: a forged checkpoint with a valid checksum is still refused."""
    if not isinstance(payload, dict):
        raise ValueError(f"checkpoint {path}: the payload must be an object; got {type(payload).__name__}")
    for field in ("version", "data", "settings", "state"):
        if field not in payload:
            raise ValueError(f"checkpoint {path}: missing field {field!r}; delete it to start over")
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
