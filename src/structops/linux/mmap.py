"""User mappings of map fds (``mmap(2)`` of a BPF map), for BPF arenas.

An arena becomes visible to user space at the address the first mapping takes, or at its
``map_extra`` address when the map was created with one (then the mapping is placed
exactly there, as libbpf does with MAP_FIXED).  The mapping stays until :meth:`close`.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os

from structops.errors import bpf_error

__all__ = ["MapMapping", "map_mmap"]

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
_libc.munmap.restype = ctypes.c_int
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_MAP_FAILED = ctypes.c_void_p(-1).value
_MAP_FIXED = 0x10


class MapMapping:
    """``size`` bytes of a map mapped shared and writable at ``addr``."""

    def __init__(self, addr: int, size: int) -> None:
        self.addr = addr
        self.size = size

    def _check(self, offset: int, length: int) -> None:
        if self.addr == 0:
            raise ValueError("the mapping is closed")
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ValueError(f"[{offset}, {offset + length}) is outside the {self.size}-byte mapping")

    def read(self, offset: int = 0, length: int | None = None) -> bytes:
        """Bytes of the mapping (the rest of it by default)."""
        n = self.size - offset if length is None else length
        self._check(offset, n)
        return ctypes.string_at(self.addr + offset, n)

    def write(self, data: bytes, offset: int = 0) -> None:
        """Store ``data`` at ``offset``."""
        self._check(offset, len(data))
        ctypes.memmove(self.addr + offset, data, len(data))

    def close(self) -> None:
        """Unmap (idempotent)."""
        if self.addr:
            _libc.munmap(self.addr, self.size)
            self.addr = 0

    def __del__(self) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<MapMapping {self.size} bytes at {self.addr:#x}>"


def map_mmap(fd: int, size: int, addr: int = 0) -> MapMapping:
    """Map ``size`` bytes of map ``fd`` shared and writable (at ``addr`` exactly when non-zero)."""
    flags = mmap.MAP_SHARED | (_MAP_FIXED if addr else 0)
    got = _libc.mmap(addr or None, size, mmap.PROT_READ | mmap.PROT_WRITE, flags, fd, 0)
    if got is None or got == _MAP_FAILED:
        code = ctypes.get_errno() or errno.EINVAL
        raise bpf_error(code, f"mmap of map fd {fd}: {os.strerror(code)}", op="map mmap")
    return MapMapping(int(got), size)
