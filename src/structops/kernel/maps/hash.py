"""``BPF_MAP_TYPE_HASH``: key -> value with preallocation semantics of the kernel.

Each element's value is its own kernel allocation, so a program holding a value
pointer keeps valid memory until its RCU read section ends even when the element is
deleted meanwhile (the free is deferred with ``call_rcu``).
"""

from __future__ import annotations

import errno
import threading
from typing import TYPE_CHECKING

from structops.errors import bpf_error
from structops.kernel.kmem import Allocation
from structops.kernel.maps.base import DATA_MAP_FLAGS, DataMap, round_up
from structops.kernel.maps.kptr_dtor import release_kptr_fields, zero_kptr_fields
from structops.kernel.maps.memusage import htab_mem_usage
from structops.kernel.maps.percpu_array import possible_cpus
from structops.uapi import MapFlags, MapType, UpdateFlags

if TYPE_CHECKING:
    from structops.kernel.attrs import MapCreateAttr
    from structops.kernel.services import KernelServices

__all__ = ["HashMap"]


class HashMap(DataMap):
    """A hash map keyed by the raw key bytes; iteration follows insertion order."""

    TYPE = MapType.BPF_MAP_TYPE_HASH
    ALLOWED_FLAGS = (
        DATA_MAP_FLAGS | MapFlags.BPF_F_NO_PREALLOC | MapFlags.BPF_F_NO_COMMON_LRU | MapFlags.BPF_F_ZERO_SEED
    )

    @classmethod
    def alloc_check(cls, attr: MapCreateAttr) -> None:
        """Hash rules: key_size > 0, value_size > 0, max_entries > 0."""
        super().alloc_check(attr)
        if attr.max_entries == 0 or attr.key_size == 0 or attr.value_size == 0:
            raise bpf_error(errno.EINVAL, "hash map needs key_size, value_size and max_entries > 0")
        if attr.key_size > 512 or attr.value_size >= (1 << 20):
            raise bpf_error(errno.E2BIG, "hash map key or value too big")

    def __init__(self, kernel: KernelServices, attr: MapCreateAttr) -> None:
        super().__init__(kernel, attr)
        self._elems: dict[bytes, Allocation] = {}
        self._lock = threading.RLock()
        #: ``num_possible_cpus()`` when the map was created (per-CPU locks and spare elements).
        self.nr_cpus = possible_cpus(kernel)

    def lookup(self, key: bytes) -> bytes:
        elem = self._elems.get(bytes(key[: self.key_size]))
        if elem is None:
            raise bpf_error(errno.ENOENT, "no such key")
        return bytes(elem.buf[: self.value_size])

    def update(self, key: bytes, value: bytes, flags: int) -> None:
        self.check_update_flags(flags)
        k = bytes(key[: self.key_size])
        with self._lock:
            old = self._elems.get(k)
            if old is not None and flags == UpdateFlags.BPF_NOEXIST:
                raise bpf_error(errno.EEXIST, "key exists")
            if old is None and flags == UpdateFlags.BPF_EXIST:
                raise bpf_error(errno.ENOENT, "no such key")
            if old is None and len(self._elems) >= self.max_entries:
                raise bpf_error(errno.E2BIG, "map is full")
            new = self.kernel.kmem.alloc(round_up(self.value_size, 8), "hash-elem", data=None)
            new.buf[: self.value_size] = value[: self.value_size]
            zero_kptr_fields(self, new.buf)
            self._elems[k] = new
        if old is not None:
            release_kptr_fields(self.kernel, self, old.addr)  # bpf_obj_free_fields of the old value
            self.kernel.rcu.call_rcu(lambda: self.kernel.kmem.free(old))

    def delete(self, key: bytes) -> None:
        with self._lock:
            old = self._elems.pop(bytes(key[: self.key_size]), None)
        if old is None:
            raise bpf_error(errno.ENOENT, "no such key")
        release_kptr_fields(self.kernel, self, old.addr)
        self.kernel.rcu.call_rcu(lambda: self.kernel.kmem.free(old))

    def get_next_key(self, key: bytes | None) -> bytes:
        with self._lock:
            keys = list(self._elems)
        if not keys:
            raise bpf_error(errno.ENOENT, "map is empty")
        if key is None:
            return keys[0]
        k = bytes(key[: self.key_size])
        if k not in self._elems:
            return keys[0]
        i = keys.index(k)
        if i + 1 >= len(keys):
            raise bpf_error(errno.ENOENT, "no next key")
        return keys[i + 1]

    def prog_lookup(self, key: bytes) -> int:
        """``bpf_map_lookup_elem`` from a program: value address or 0."""
        elem = self._elems.get(bytes(key[: self.key_size]))
        return 0 if elem is None else elem.addr

    def __len__(self) -> int:
        return len(self._elems)

    def mem_usage(self) -> int:
        """``htab_map_mem_usage``: all elements when preallocated, the live ones with BPF_F_NO_PREALLOC."""
        return htab_mem_usage(
            self.key_size,
            self.value_size,
            self.max_entries,
            prealloc=not self.map_flags & MapFlags.BPF_F_NO_PREALLOC,
            fd_values=False,
            count=len(self._elems),
            ncpus=self.nr_cpus,
        )

    def release(self) -> None:
        elems = list(self._elems.values())
        self._elems.clear()
        for e in elems:
            release_kptr_fields(self.kernel, self, e.addr)

        def free_all() -> None:
            for e in elems:
                self.kernel.kmem.free(e)

        self.kernel.rcu.call_rcu(free_all)
        super().release()
