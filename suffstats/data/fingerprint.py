"""Fingerprints of the files behind a source: enough to notice the common ways a file changes.

A file's fingerprint is its size, its modification time (nanoseconds), a hash
of its first 4 KiB (the header of ``.npy``, HDF5, Parquet and CSV files) and a
hash of 4 KiB read at eight places spread over the file. A folder (Zarr,
Parquet datasets) is fingerprinted by the list of its files with their sizes
and times. Sources add a sample of rows spread over the data
(:meth:`~suffstats.data.BatchSource.fingerprint`).
"""

from __future__ import annotations

import hashlib
import os

__all__ = ["file_fingerprint", "describe_change"]

_CHUNK = 4096
_SPOTS = 8


def file_fingerprint(path, *, sample=True) -> dict:
    """Size, mtime_ns and hashes of the header and of sampled spots of ``path`` (a file or a folder)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        listing, total = hashlib.sha256(), 0
        for folder, dirs, files in sorted(os.walk(path)):
            dirs.sort()
            for name in sorted(files):
                st = os.stat(os.path.join(folder, name))
                total += st.st_size
                listing.update(f"{os.path.relpath(os.path.join(folder, name), path)}\0{st.st_size}\0"
                               f"{st.st_mtime_ns}\n".encode())
        return {"name": os.path.basename(path.rstrip("/")), "size": total, "listing": listing.hexdigest()}
    st = os.stat(path)
    out = {"name": os.path.basename(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    with open(path, "rb") as f:
        out["header"] = hashlib.sha256(f.read(_CHUNK)).hexdigest()
        if sample and st.st_size > _CHUNK:
            spots = hashlib.sha256()
            for i in range(1, _SPOTS + 1):
                f.seek(max(st.st_size * i // (_SPOTS + 1) - _CHUNK // 2, 0))
                spots.update(f.read(_CHUNK))
            out["spots"] = spots.hexdigest()
    return out


def describe_change(old: dict, new: dict) -> str:
    """What differs between two fingerprints of one file, in words."""
    if old.get("size") != new.get("size"):
        return f"its size changed from {old.get('size'):,} to {new.get('size'):,} bytes"
    if old.get("header") != new.get("header"):
        return "its header or first bytes changed"
    if old.get("listing") != new.get("listing"):
        return "the files in it changed"
    if old.get("spots") != new.get("spots"):
        return "its content changed"
    if old.get("mtime_ns") != new.get("mtime_ns"):
        return "it was written again (modification time changed)"
    return "it changed"
