"""Forging saved fit states for tests: edit a checkpoint's state and write it back with a recomputed checksum."""

import json

from suffstats.fit.checkpoint import _digest


def forge(path, change):
    """Edit the checkpoint at ``path`` with ``change(state)``, which may also return a whole new state."""
    record = json.loads(path.read_text())
    replaced = change(record["payload"]["state"])
    if replaced is not None:
        record["payload"]["state"] = replaced
    record["sha256"] = _digest(record["payload"])
    path.write_text(json.dumps(record))
