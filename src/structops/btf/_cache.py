"""On-disk cache of the record index of large BTF blobs (type offsets, name offsets, name index).

Walking the 127k records of a vmlinux BTF and indexing their names are the steps of
opening it that are linear in Python; their result only depends on the bytes, so it is
stored under ``$XDG_CACHE_HOME/structops`` (or ``~/.cache/structops``) as flat 32-bit
arrays that load with one ``frombytes`` each, and reused.  The key is a SHA-1
of the bytes (:func:`blob_key`), or for a file a SHA-1 of its identity (path, size,
mtime, inode, boot id: :func:`file_key`) which avoids hashing megabytes.  Each entry also
records a fingerprint of the blob (length, header, tail) that must match before use, and a
CRC-32 of its own body (a damaged entry is ignored, never trusted).  The
cache is an optimisation only: every failure to read or write it is ignored
(``STRUCTOPS_BTF_CACHE=0`` turns it off).
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import zlib
from array import array
from pathlib import Path
from typing import NamedTuple

__all__ = ["MIN_CACHED_SIZE", "Entry", "blob_key", "file_key", "fingerprint", "load", "store"]

#: Blobs smaller than this are parsed directly (the walk is faster than a file read).
MIN_CACHED_SIZE = 256 * 1024
_MAGIC = b"SOBTFIX4"
#: magic, fingerprint, records, words, validated, has index, index keys, CRC-32 of the body.
_HEAD = struct.Struct("<8s20sIIBB2xII")


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


class Entry(NamedTuple):
    """A cache entry: record offsets, name offsets, whether validated, the name index.

    ``name_index`` is the persisted :class:`~structops.btf._index.NameIndex`: its name offsets
    sorted, and the first and last own index using each (None if not stored yet).
    """

    offs: array[int]
    names: array[int]
    validated: bool
    name_index: tuple[array[int], array[int], array[int]] | None


def _arrays(raw: bytes, start: int, *counts: int) -> list[array[int]]:
    out = []
    for count in counts:
        a = array("I")
        a.frombytes(raw[start : start + 4 * count])
        out.append(a)
        start += 4 * count
    return out


def load(key: str, nwords: int, check: bytes) -> Entry | None:
    """Return the entry for ``key``, or None if absent, stale, damaged or unreadable."""
    directory = cache_dir()
    if directory is None:
        return None
    try:
        raw = (directory / f"btf-{key}.idx").read_bytes()
        magic, fp, count, words, validated, has_index, nkeys, crc = _HEAD.unpack_from(raw)
        if magic != _MAGIC or fp != check or words != nwords or len(raw) != _HEAD.size + 8 * count + 12 * nkeys:
            return None
        if (nkeys and not has_index) or zlib.crc32(memoryview(raw)[_HEAD.size :]) != crc:
            return None
        offs, names, keys, firsts, lasts = _arrays(raw, _HEAD.size, count, count, nkeys, nkeys, nkeys)
    except (OSError, struct.error, ValueError):
        return None
    return Entry(offs, names, bool(validated), (keys, firsts, lasts) if has_index else None)


def store(
    key: str,
    nwords: int,
    check: bytes,
    offs: array[int],
    names: array[int],
    validated: bool,
    index: tuple[array[int], array[int], array[int]] | None = None,
) -> None:
    """Write the entry for ``key`` atomically; silently does nothing when not writable."""
    directory = cache_dir()
    if directory is None or len(names) != len(offs):
        return
    parts = [offs.tobytes(), names.tobytes()]
    nkeys = 0
    if index is not None:
        nkeys = len(index[0])
        if any(len(a) != nkeys for a in index):
            return
        parts += [a.tobytes() for a in index]
    body = b"".join(parts)
    head = _HEAD.pack(_MAGIC, check, len(offs), nwords, int(validated), int(index is not None), nkeys, zlib.crc32(body))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".btf-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(head)
                f.write(body)
            os.replace(tmp, directory / f"btf-{key}.idx")
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        return
