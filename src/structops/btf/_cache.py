"""On-disk cache of the record index of large BTF blobs (type offsets and name offsets).

Walking the 127k records of a vmlinux BTF is the one step of opening it that is linear in
Python; its result only depends on the bytes, so it is stored under
``$XDG_CACHE_HOME/structops`` (or ``~/.cache/structops``) and reused.  The key is a SHA-1
of the bytes (:func:`blob_key`), or for a file a SHA-1 of its identity (path, size,
mtime, inode, boot id: :func:`file_key`) which avoids hashing megabytes.  Each entry also
records a fingerprint of the blob (length, header, tail) that must match before use.  The
cache is an optimisation only: every failure to read or write it is ignored
(``STRUCTOPS_BTF_CACHE=0`` turns it off).
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
from array import array
from pathlib import Path

__all__ = ["MIN_CACHED_SIZE", "blob_key", "file_key", "fingerprint", "load", "store"]

#: Blobs smaller than this are parsed directly (the walk is faster than a file read).
MIN_CACHED_SIZE = 256 * 1024
_MAGIC = b"SOBTFIX3"
_HEAD = struct.Struct("<8s20sIIB3x")


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


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def file_key(path: Path, base_key: str = "") -> str | None:
    """Return a cache key for the file at ``path`` from its identity, None if it cannot stat."""
    try:
        st = os.stat(path)
        real = os.path.realpath(path)
    except OSError:
        return None
    ident = f"{real}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}|{st.st_dev}|{_boot_id()}|{base_key}"
    return "f" + hashlib.sha1(ident.encode(), usedforsecurity=False).hexdigest()


def fingerprint(data: bytes) -> bytes:
    """A cheap digest of the blob's length, header and tail, checked on every cache hit."""
    return hashlib.sha1(len(data).to_bytes(8, "little") + data[:64] + data[-4096:]).digest()


def load(key: str, nwords: int, check: bytes) -> tuple[array[int], array[int], bool] | None:
    """Return ``(type offsets, name offsets, validated)`` for ``key``, or None if unusable."""
    directory = cache_dir()
    if directory is None:
        return None
    try:
        raw = (directory / f"btf-{key}.idx").read_bytes()
        magic, fp, count, words, validated = _HEAD.unpack_from(raw)
        if magic != _MAGIC or fp != check or words != nwords or len(raw) != _HEAD.size + 8 * count:
            return None
        offs = array("I")
        offs.frombytes(raw[_HEAD.size : _HEAD.size + 4 * count])
        names = array("I")
        names.frombytes(raw[_HEAD.size + 4 * count :])
    except (OSError, struct.error, ValueError):
        return None
    return offs, names, bool(validated)


def store(key: str, nwords: int, check: bytes, offs: array[int], names: array[int], validated: bool) -> None:
    """Write the index for ``key`` atomically; silently does nothing when not writable."""
    directory = cache_dir()
    if directory is None or len(names) != len(offs):
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".btf-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_HEAD.pack(_MAGIC, check, len(offs), nwords, int(validated)))
                f.write(offs.tobytes())
                f.write(names.tobytes())
            os.replace(tmp, directory / f"btf-{key}.idx")
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        return
