"""On-disk cache of the type-offset index of large BTF blobs, keyed by a hash of the bytes.

Walking the 127k records of a vmlinux BTF is the one step of opening it that is linear in
Python; the result (the word offset of every record) only depends on the bytes, so it is
stored under ``$XDG_CACHE_HOME/structops`` (or ``~/.cache/structops``) and reused.  The
cache is an optimisation only: every failure to read or write it is ignored, and a cache
entry is checked against the blob before use.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
from array import array
from pathlib import Path

__all__ = ["MIN_CACHED_SIZE", "blob_key", "load", "store"]

#: Blobs smaller than this are parsed directly (the walk is faster than a file read).
MIN_CACHED_SIZE = 256 * 1024
_MAGIC = b"SOBTFIX2"
_HEAD = struct.Struct("<8sIIB3x")


def cache_dir() -> Path | None:
    """Return the cache directory, or None when caching is disabled (STRUCTOPS_BTF_CACHE=0)."""
    if os.environ.get("STRUCTOPS_BTF_CACHE", "1") == "0":
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "structops"


def blob_key(data: bytes, base_key: str = "") -> str:
    """Return the cache key of ``data`` (on top of a base blob with key ``base_key``)."""
    h = hashlib.sha1(data, usedforsecurity=False)
    h.update(base_key.encode())
    return h.hexdigest()


def load(key: str, nwords: int) -> tuple[array[int], bool] | None:
    """Return ``(offsets, validated)`` stored for ``key``, or None if absent or unusable."""
    directory = cache_dir()
    if directory is None:
        return None
    try:
        raw = (directory / f"btf-{key}.idx").read_bytes()
        magic, count, words, validated = _HEAD.unpack_from(raw)
        if magic != _MAGIC or words != nwords or len(raw) != _HEAD.size + 4 * count:
            return None
        offs = array("I")
        offs.frombytes(raw[_HEAD.size :])
    except (OSError, struct.error, ValueError):
        return None
    return offs, bool(validated)


def store(key: str, nwords: int, offs: array[int], validated: bool) -> None:
    """Write the index for ``key`` atomically; silently does nothing when not writable."""
    directory = cache_dir()
    if directory is None:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".btf-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_HEAD.pack(_MAGIC, len(offs), nwords, int(validated)))
                f.write(offs.tobytes())
            os.replace(tmp, directory / f"btf-{key}.idx")
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        return
