"""``BPF_MAP_TYPE_ARRAY``: preallocated values indexed by a u32 key.

Global data sections (``.data``, ``.rodata``, ``.bss``) are array maps with one entry.
Values are 8-byte aligned in one kernel allocation, so ``bpf_map_lookup_elem`` from a
program returns a real address into it.
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING

from structops.errors import bpf_error
from structops.kernel.maps.base import DATA_MAP_FLAGS, DataMap, round_up
from structops.kernel.maps.kptr_dtor import release_kptr_fields, zero_kptr_fields
from structops.kernel.maps.memusage import array_mem_usage
from structops.uapi import MapFlags, MapType, UpdateFlags

if TYPE_CHECKING:
    from structops.kernel.attrs import MapCreateAttr
    from structops.kernel.services import KernelServices

__all__ = ["ArrayMap", "array_next_key"]


def array_next_key(key: bytes | None, max_entries: int) -> bytes:
    """``array_map_get_next_key``: the first index for no key or one out of range, else the
    next one; ENOENT after the last."""
    idx = -1 if key is None else struct.unpack_from("<I", key)[0]
    if idx >= max_entries:
        return struct.pack("<I", 0)
    if idx + 1 >= max_entries:
        raise bpf_error(errno.ENOENT, "no next key")
    return struct.pack("<I", idx + 1)


class ArrayMap(DataMap):
    """An array map; ``elem_size`` is the value size rounded up to 8."""

    TYPE = MapType.BPF_MAP_TYPE_ARRAY
    ALLOWED_FLAGS = int(
        DATA_MAP_FLAGS | MapFlags.BPF_F_MMAPABLE | MapFlags.BPF_F_INNER_MAP | MapFlags.BPF_F_PRESERVE_ELEMS
    )

    @classmethod
    def alloc_check(cls, attr: MapCreateAttr) -> None:
        """Array rules: key_size 4, value_size > 0, max_entries > 0, known flags."""
        super().alloc_check(attr)
        if attr.max_entries == 0 or attr.key_size != 4 or attr.value_size == 0:
            raise bpf_error(errno.EINVAL, "array map needs key_size 4, value_size > 0, max_entries > 0")
        if attr.value_size >= (1 << 20) or attr.max_entries * round_up(attr.value_size, 8) > (1 << 31):
            raise bpf_error(errno.E2BIG, "array map too big")

    def __init__(self, kernel: KernelServices, attr: MapCreateAttr) -> None:
        super().__init__(kernel, attr)
        self.elem_size = round_up(self.value_size, 8)
        self.mem = kernel.kmem.alloc(
            self.elem_size * self.max_entries,
            f"map:{attr.map_name!s}",
            writable=not (self.map_flags & MapFlags.BPF_F_RDONLY_PROG),
        )

    def _index(self, key: bytes) -> int | None:
        (idx,) = struct.unpack_from("<I", key)
        return idx if idx < self.max_entries else None

    def value_addr(self, index: int) -> int:
        """Kernel address of element ``index``."""
        return self.mem.addr + index * self.elem_size

    def lookup(self, key: bytes) -> bytes:
        idx = self._index(key)
        if idx is None:
            raise bpf_error(errno.ENOENT, "index out of range")
        off = idx * self.elem_size
        return bytes(self.mem.buf[off : off + self.value_size])

    def update_index(self, key: bytes, flags: int) -> int:
        """The element an update writes: flags checked, -E2BIG past the end, -EEXIST for BPF_NOEXIST."""
        self.check_update_flags(flags)
        idx = self._index(key)
        if idx is None:
            raise bpf_error(errno.E2BIG, "index out of range")
        if flags == UpdateFlags.BPF_NOEXIST:
            raise bpf_error(errno.EEXIST, "array elements always exist")
        return idx

    def update(self, key: bytes, value: bytes, flags: int) -> None:
        idx = self.update_index(key, flags)
        off = idx * self.elem_size
        release_kptr_fields(self.kernel, self, self.mem.addr + off)  # check_and_free_fields
        self.mem.buf[off : off + self.value_size] = value[: self.value_size]
        zero_kptr_fields(self, self.mem.buf, off)

    def delete(self, key: bytes) -> None:
        raise bpf_error(errno.EINVAL, "array elements cannot be deleted")

    def get_next_key(self, key: bytes | None) -> bytes:
        return array_next_key(key, self.max_entries)

    # program side ----------------------------------------------------------------------
    def prog_lookup(self, key: bytes) -> int:
        """``bpf_map_lookup_elem`` from a program: value address or 0."""
        idx = self._index(key)
        return 0 if idx is None else self.value_addr(idx)

    def mem_usage(self) -> int:
        """``array_map_mem_usage``: header and values, page-aligned when BPF_F_MMAPABLE."""
        mmapable = bool(self.map_flags & MapFlags.BPF_F_MMAPABLE)
        return array_mem_usage(self.value_size, self.max_entries, percpu=False, mmapable=mmapable, ncpus=1)

    def release(self) -> None:
        from structops.verifier.kptr import kptr_fields

        if kptr_fields(self):  # bpf_obj_free_fields of every element
            for i in range(self.max_entries):
                release_kptr_fields(self.kernel, self, self.mem.addr + i * self.elem_size)
        self.kernel.rcu.call_rcu(lambda: self.kernel.kmem.free(self.mem))
        super().release()
