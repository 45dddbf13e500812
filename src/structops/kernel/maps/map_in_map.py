"""``BPF_MAP_TYPE_ARRAY_OF_MAPS`` and ``BPF_MAP_TYPE_HASH_OF_MAPS``: maps whose values are maps.

Creation takes ``inner_map_fd``, a map used only as a template (``bpf_map_meta_alloc``):
the outer map records its type, key/value sizes, flags and max_entries in an
:class:`InnerMeta` and keeps no reference to it.  Every map stored later must match the
template (``map_meta_equal``: same type, key_size, value_size and map_flags; for an array
template also the same max_entries unless it was created with ``BPF_F_INNER_MAP``), else
-EINVAL.  A map-in-map cannot be an inner map (-EINVAL), nor can a map type without
``map_meta_equal`` (struct_ops, prog arrays: -ENOTSUPP).

User space stores an inner map by writing its fd as the 4-byte value and reads back the
inner map's *id* (not an fd).  Programs may only look up: ``bpf_map_lookup_elem`` returns
the inner map itself (``struct bpf_map *``), which after a NULL check the verifier types
as a map pointer described by the template, usable as the map argument of the map
helpers.  The outer map holds a reference on each stored map; a replaced or deleted inner
map is released after an RCU grace period (programs may still be using it).
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING, Any

from structops.errors import bpf_error
from structops.kernel.maps.array import array_next_key
from structops.kernel.maps.base import BpfMap, DataMap
from structops.kernel.maps.memusage import array_mem_usage, htab_mem_usage
from structops.kernel.maps.percpu_array import possible_cpus
from structops.uapi import ENOTSUPP, MapFlags, MapType, UpdateFlags

if TYPE_CHECKING:
    from structops.kernel.attrs import MapCreateAttr
    from structops.kernel.services import KernelServices, ProcessServices

__all__ = ["ArrayOfMaps", "HashOfMaps", "InnerMeta", "MapInMap", "meta_alloc"]

#: Map types whose ops have no ``map_meta_equal`` (cannot be inner maps: -ENOTSUPP).
_NO_META_EQUAL = frozenset({int(MapType.BPF_MAP_TYPE_STRUCT_OPS), int(MapType.BPF_MAP_TYPE_PROG_ARRAY)})
_ARRAY_LIKE = frozenset({int(MapType.BPF_MAP_TYPE_ARRAY), int(MapType.BPF_MAP_TYPE_PERCPU_ARRAY)})


class InnerMeta:
    """The template of a map-in-map's inner maps (the kernel's ``inner_map_meta``).

    It answers the attribute questions the verifier asks of a map (type, sizes, flags),
    so a register holding an inner map looked up by a program is typed by it.
    """

    def __init__(self, inner: BpfMap) -> None:
        self.map_type = inner.map_type
        self.key_size = inner.key_size
        self.value_size = inner.value_size
        self.max_entries = inner.max_entries
        self.map_flags = inner.map_flags
        self.timer_off = inner.timer_off
        self.name = inner.name
        self.inner_meta: InnerMeta | None = None

    def matches(self, m: BpfMap) -> bool:
        """``map_meta_equal``: whether ``m`` may be stored in a map with this template."""
        if getattr(m, "inner_meta", None) is not None:
            return False
        same = (
            m.map_type == self.map_type
            and m.key_size == self.key_size
            and m.value_size == self.value_size
            and m.map_flags == self.map_flags
            and m.timer_off == self.timer_off
        )
        if not same:
            return False
        if self.map_type in _ARRAY_LIKE and not self.map_flags & MapFlags.BPF_F_INNER_MAP:
            return m.max_entries == self.max_entries
        return True


def meta_alloc(proc: ProcessServices, inner_map_fd: int) -> InnerMeta:
    """``bpf_map_meta_alloc``: the template from ``inner_map_fd`` (-EBADF, -EINVAL, -ENOTSUPP)."""
    inner, _ = proc.get_map(inner_map_fd)
    if getattr(inner, "inner_meta", None) is not None:
        raise bpf_error(errno.EINVAL, f"inner_map_fd {inner_map_fd}: a map-in-map cannot be an inner map")
    if inner.map_type in _NO_META_EQUAL:
        raise bpf_error(ENOTSUPP, f"inner_map_fd {inner_map_fd}: map type {inner.map_type} cannot be an inner map")
    return InnerMeta(inner)


class MapInMap(DataMap):
    """What both map-in-map types share: the template, resolving fds, releasing inner maps."""

    def __init__(self, kernel: KernelServices, attr: MapCreateAttr, meta: InnerMeta) -> None:
        super().__init__(kernel, attr)
        self.inner_meta: InnerMeta | None = meta

    @classmethod
    def alloc_check(cls, attr: MapCreateAttr) -> None:
        """``fd_*_map_alloc_check``: the value is a 4-byte fd (-EINVAL)."""
        super().alloc_check(attr)
        if attr.value_size != 4:
            raise bpf_error(errno.EINVAL, "map-in-map value_size must be 4 (an inner map fd)")

    def fd_get_ptr(self, proc: ProcessServices, value: bytes) -> BpfMap:
        """``bpf_map_fd_get_ptr``: the map behind the fd in ``value``, with a new reference."""
        (fd,) = struct.unpack_from("<i", value)
        inner, _ = proc.get_map(fd)
        assert self.inner_meta is not None
        if not self.inner_meta.matches(inner):
            raise bpf_error(
                errno.EINVAL,
                f"map {self.name}: map fd {fd} ({inner.name or 'unnamed'}) does not match the inner map template "
                "(type, key/value size, flags and, for arrays, max_entries must be the same)",
            )
        inner.get()
        return inner

    def fd_put_ptr(self, inner: BpfMap) -> None:
        """``bpf_map_fd_put_ptr``: drop the reference once running programs are done with it."""
        self.kernel.rcu.call_rcu(inner.put)

    def update_fd(self, proc: ProcessServices, key: bytes, value: bytes, flags: int) -> None:
        """BPF_MAP_UPDATE_ELEM: store the map whose fd is ``value``."""
        raise NotImplementedError

    def update(self, key: bytes, value: bytes, flags: int) -> None:
        raise bpf_error(errno.EINVAL, f"map {self.name}: map-in-map elements are updated with a map fd")

    def inner_at(self, key: bytes) -> BpfMap | None:
        """The inner map stored under ``key`` (None when empty or out of range)."""
        raise NotImplementedError

    def lookup(self, key: bytes) -> bytes:
        """BPF_MAP_LOOKUP_ELEM: the inner map's id (-ENOENT when empty)."""
        inner = self.inner_at(key)
        if inner is None:
            raise bpf_error(errno.ENOENT, "no inner map under this key")
        return struct.pack("<I", inner.id)

    def prog_lookup(self, key: bytes) -> int:
        """``bpf_map_lookup_elem`` from a program: the inner map's object address, or 0."""
        inner = self.inner_at(key)
        executor: Any = getattr(self.kernel, "executor", None)
        if inner is None or executor is None:
            return 0
        return int(executor.map_object_addr(inner))

    def prog_update(self, key: bytes, value: bytes, flags: int) -> int:
        return -errno.EINVAL  # the verifier refuses it; programs cannot store maps

    def prog_delete(self, key: bytes) -> int:
        return -errno.EINVAL

    def inner_maps(self) -> list[BpfMap]:
        """Every stored inner map."""
        raise NotImplementedError

    def release(self) -> None:
        for inner in self.inner_maps():
            self.fd_put_ptr(inner)
        super().release()


class ArrayOfMaps(MapInMap):
    """``BPF_MAP_TYPE_ARRAY_OF_MAPS``: ``max_entries`` slots indexed by a u32."""

    TYPE = MapType.BPF_MAP_TYPE_ARRAY_OF_MAPS
    ALLOWED_FLAGS = int(MapFlags.BPF_F_NUMA_NODE | MapFlags.BPF_F_RDONLY | MapFlags.BPF_F_WRONLY)

    @classmethod
    def alloc_check(cls, attr: MapCreateAttr) -> None:
        """Array rules on top: key_size 4, max_entries > 0 (-EINVAL)."""
        super().alloc_check(attr)
        if attr.key_size != 4 or attr.max_entries == 0:
            raise bpf_error(errno.EINVAL, "array-of-maps needs key_size 4 and max_entries > 0")

    def __init__(self, kernel: KernelServices, attr: MapCreateAttr, meta: InnerMeta) -> None:
        super().__init__(kernel, attr, meta)
        self.slots: list[BpfMap | None] = [None] * self.max_entries

    def _index(self, key: bytes) -> int | None:
        (idx,) = struct.unpack_from("<I", key)
        return idx if idx < self.max_entries else None

    def inner_at(self, key: bytes) -> BpfMap | None:
        idx = self._index(key)
        return None if idx is None else self.slots[idx]

    def update_fd(self, proc: ProcessServices, key: bytes, value: bytes, flags: int) -> None:
        """``bpf_fd_array_map_update_elem``: BPF_ANY only (-EINVAL), in range (-E2BIG), then the fd."""
        if flags != UpdateFlags.BPF_ANY:
            raise bpf_error(errno.EINVAL, f"map {self.name}: array-of-maps updates take BPF_ANY only")
        idx = self._index(key)
        if idx is None:
            raise bpf_error(errno.E2BIG, f"map {self.name}: index out of range")
        new = self.fd_get_ptr(proc, value)
        old, self.slots[idx] = self.slots[idx], new
        if old is not None:
            self.fd_put_ptr(old)

    def delete(self, key: bytes) -> None:
        """``fd_array_map_delete_elem``: -E2BIG out of range, -ENOENT when empty."""
        idx = self._index(key)
        if idx is None:
            raise bpf_error(errno.E2BIG, f"map {self.name}: index out of range")
        old, self.slots[idx] = self.slots[idx], None
        if old is None:
            raise bpf_error(errno.ENOENT, f"map {self.name}: slot {idx} is empty")
        self.fd_put_ptr(old)

    def get_next_key(self, key: bytes | None) -> bytes:
        return array_next_key(key, self.max_entries)

    def inner_maps(self) -> list[BpfMap]:
        out = [m for m in self.slots if m is not None]
        self.slots = [None] * self.max_entries
        return out

    def mem_usage(self) -> int:
        """``array_map_mem_usage``: the header and an 8-byte pointer slot per entry."""
        return array_mem_usage(self.value_size, self.max_entries, percpu=False, mmapable=False, ncpus=1)


class HashOfMaps(MapInMap):
    """``BPF_MAP_TYPE_HASH_OF_MAPS``: any key -> inner map, hash update flags."""

    TYPE = MapType.BPF_MAP_TYPE_HASH_OF_MAPS
    ALLOWED_FLAGS = int(
        MapFlags.BPF_F_NUMA_NODE
        | MapFlags.BPF_F_RDONLY
        | MapFlags.BPF_F_WRONLY
        | MapFlags.BPF_F_RDONLY_PROG
        | MapFlags.BPF_F_WRONLY_PROG
        | MapFlags.BPF_F_NO_PREALLOC
        | MapFlags.BPF_F_ZERO_SEED
    )

    @classmethod
    def alloc_check(cls, attr: MapCreateAttr) -> None:
        """Hash rules on top: key_size > 0, max_entries > 0 (-EINVAL), key_size <= 512 (-E2BIG)."""
        super().alloc_check(attr)
        if attr.key_size == 0 or attr.max_entries == 0:
            raise bpf_error(errno.EINVAL, "hash-of-maps needs key_size > 0 and max_entries > 0")
        if attr.key_size > 512:
            raise bpf_error(errno.E2BIG, "hash-of-maps key too big")

    def __init__(self, kernel: KernelServices, attr: MapCreateAttr, meta: InnerMeta) -> None:
        super().__init__(kernel, attr, meta)
        self.elems: dict[bytes, BpfMap] = {}
        #: ``num_possible_cpus()`` when the map was created (the hash table's per-CPU locks).
        self.nr_cpus = possible_cpus(kernel)

    def inner_at(self, key: bytes) -> BpfMap | None:
        return self.elems.get(bytes(key[: self.key_size]))

    def update_fd(self, proc: ProcessServices, key: bytes, value: bytes, flags: int) -> None:
        """``bpf_fd_htab_map_update_elem``: the fd first, then the hash flags (EINVAL/EEXIST/ENOENT/E2BIG)."""
        new = self.fd_get_ptr(proc, value)
        k = bytes(key[: self.key_size])
        old = self.elems.get(k)
        try:
            self.check_update_flags(flags)
            if old is not None and flags == UpdateFlags.BPF_NOEXIST:
                raise bpf_error(errno.EEXIST, f"map {self.name}: key exists")
            if old is None and flags == UpdateFlags.BPF_EXIST:
                raise bpf_error(errno.ENOENT, f"map {self.name}: no such key")
            if old is None and len(self.elems) >= self.max_entries:
                raise bpf_error(errno.E2BIG, f"map {self.name}: map is full")
        except OSError:
            new.put()
            raise
        self.elems[k] = new
        if old is not None:
            self.fd_put_ptr(old)

    def delete(self, key: bytes) -> None:
        old = self.elems.pop(bytes(key[: self.key_size]), None)
        if old is None:
            raise bpf_error(errno.ENOENT, f"map {self.name}: no such key")
        self.fd_put_ptr(old)

    def get_next_key(self, key: bytes | None) -> bytes:
        keys = list(self.elems)
        if not keys:
            raise bpf_error(errno.ENOENT, "map is empty")
        if key is None or bytes(key[: self.key_size]) not in self.elems:
            return keys[0]
        i = keys.index(bytes(key[: self.key_size]))
        if i + 1 >= len(keys):
            raise bpf_error(errno.ENOENT, "no next key")
        return keys[i + 1]

    def inner_maps(self) -> list[BpfMap]:
        out = list(self.elems.values())
        self.elems.clear()
        return out

    def mem_usage(self) -> int:
        """``htab_map_mem_usage`` of an fd hash: no spare per-CPU elements; BPF_F_NO_PREALLOC
        counts the stored maps."""
        return htab_mem_usage(
            self.key_size,
            self.value_size,
            self.max_entries,
            prealloc=not self.map_flags & MapFlags.BPF_F_NO_PREALLOC,
            fd_values=True,
            count=len(self.elems),
            ncpus=self.nr_cpus,
        )
