"""``BPF_MAP_TYPE_SK_STORAGE``: per-socket local storage keyed by the socket itself.

Mirrors ``net/core/bpf_sk_storage.c`` / ``kernel/bpf/bpf_local_storage.c`` as far as a
struct_ops congestion control sees it:

* creation (``bpf_local_storage_map_alloc_check``): ``BPF_F_NO_PREALLOC`` is required,
  only it and ``BPF_F_CLONE`` are accepted, ``max_entries`` must be 0, ``key_size`` 4
  (an ``int`` socket fd), ``value_size`` non-zero; a value larger than
  :data:`MAX_VALUE_SIZE` is ``E2BIG``; key and value BTF type ids are required (for
  user-space dumps), ``EINVAL`` without them, as in Linux;
* programs use ``bpf_sk_storage_get(map, sk, value, flags)`` (helper 107) and
  ``bpf_sk_storage_delete(map, sk)`` (108).  The storage of one socket is one kernel
  allocation per map (its address is what ``get`` returns), created only with
  ``BPF_SK_STORAGE_GET_F_CREATE`` (copied from ``value`` or zeroed);
* the socket owning storage is identified by its kernel address (``struct sock *``);
  when the socket is destroyed (``bpf_sk_storage_free``) :func:`free_socket_storage`
  drops its elements from every map, and freeing the map frees every element;
* from user space the key is a socket fd.  The embedded kernel has no socket fds, so
  syscall lookups/updates/deletes fail with ``EBADF``; ``get_next_key`` is
  ``ENOTSUPP`` as in the kernel.

The same rules serve ``BPF_MAP_TYPE_TASK_STORAGE`` (:class:`TaskStorageMap`, keyed by
``struct task_struct`` addresses, ``bpf_task_storage_get/delete``) and
``BPF_MAP_TYPE_CGRP_STORAGE`` (:class:`CgrpStorageMap`, keyed by ``struct cgroup``,
``bpf_cgrp_storage_get/delete``): their user-space keys are pidfds and cgroup fds, which the
embedded kernel does not have (``EBADF``); when a simulated task exits or cgroup goes away,
``free_owner`` drops its elements.

Freed values are released after an RCU grace period, so a program still holding the
pointer inside its read section never touches unmapped memory.
"""

from __future__ import annotations

import errno
import threading
from typing import TYPE_CHECKING, ClassVar

from structops.errors import bpf_error
from structops.kernel.kmem import Allocation
from structops.kernel.maps.base import BpfMap, round_up
from structops.kernel.maps.memusage import local_storage_buckets, local_storage_mem_usage
from structops.kernel.maps.percpu_array import possible_cpus
from structops.uapi import ENOTSUPP, MapFlags, MapType

if TYPE_CHECKING:
    from structops.kernel.attrs import MapCreateAttr
    from structops.kernel.emulated import EmulatedKernel
    from structops.vm import HelperSpec

__all__ = [
    "BPF_SK_STORAGE_GET_F_CREATE",
    "MAX_VALUE_SIZE",
    "CgrpStorageMap",
    "FdKeyedStorageMap",
    "SkStorageMap",
    "TaskStorageMap",
    "free_local_storage",
    "free_socket_storage",
    "local_storage_helpers",
    "sk_storage_helpers",
]

#: ``BPF_SK_STORAGE_GET_F_CREATE`` (uapi): create the storage when absent.
BPF_SK_STORAGE_GET_F_CREATE = 1
#: ``BPF_LOCAL_STORAGE_MAX_VALUE_SIZE`` on x86-64 (KMALLOC_MAX_SIZE-bounded; the
#: practical limit is ``U16_MAX`` minus the element header).
MAX_VALUE_SIZE = 0xFFFF - 64
_U64 = 0xFFFF_FFFF_FFFF_FFFF


class SkStorageMap(BpfMap):
    """``struct bpf_local_storage_map`` for sockets: ``{sk address: value allocation}``."""

    TYPE = MapType.BPF_MAP_TYPE_SK_STORAGE
    ALLOWED_FLAGS = int(MapFlags.BPF_F_NO_PREALLOC | MapFlags.BPF_F_CLONE)
    #: Enforce the kernel's "key and value BTF required" rule.
    REQUIRE_BTF: ClassVar[bool] = True

    @classmethod
    def alloc_check(cls, attr: MapCreateAttr) -> None:
        """``bpf_local_storage_map_alloc_check``: the rules listed in the module docstring."""
        if (
            attr.map_flags & ~cls.ALLOWED_FLAGS
            or not attr.map_flags & MapFlags.BPF_F_NO_PREALLOC
            or attr.max_entries
            or attr.key_size != 4
            or not attr.value_size
            or (cls.REQUIRE_BTF and not (attr.btf_key_type_id and attr.btf_value_type_id))
        ):
            raise bpf_error(
                errno.EINVAL,
                "sk_storage map needs BPF_F_NO_PREALLOC, max_entries 0, key_size 4 and a value size",
            )
        if attr.value_size > MAX_VALUE_SIZE:
            raise bpf_error(errno.E2BIG, f"sk_storage value_size {attr.value_size} is too big")

    def __init__(self, kernel: EmulatedKernel, attr: MapCreateAttr) -> None:
        super().__init__(kernel, attr)
        self._elems: dict[int, Allocation] = {}
        self._lock = threading.RLock()
        #: Buckets of the kernel's storage hash, sized by the possible CPUs at creation.
        self.nbuckets = local_storage_buckets(possible_cpus(kernel))

    # -- program side (helpers 107/108) ---------------------------------------------------
    def storage_get(self, sk: int, init: bytes | None, flags: int) -> int:
        """``bpf_sk_storage_get``: the value address of ``sk``'s storage, or 0 (NULL).

        Unknown flag bits or a NULL socket give NULL; without ``F_CREATE`` an absent
        storage gives NULL; with it a new value is allocated (copy of ``init`` or zeros).
        """
        if flags & ~BPF_SK_STORAGE_GET_F_CREATE or not sk:
            return 0
        with self._lock:
            elem = self._elems.get(sk)
            if elem is not None:
                return elem.addr
            if not flags & BPF_SK_STORAGE_GET_F_CREATE or self.freed:
                return 0
            elem = self.kernel.kmem.alloc(round_up(self.value_size, 8), f"sk_storage:{self.name}")
            if init is not None:
                elem.buf[: self.value_size] = init[: self.value_size]
            self._elems[sk] = elem
            return elem.addr

    def storage_delete(self, sk: int) -> int:
        """``bpf_sk_storage_delete``: 0, or ``-ENOENT`` when ``sk`` has no storage here."""
        if not sk:
            return -errno.EINVAL
        with self._lock:
            elem = self._elems.pop(sk, None)
        if elem is None:
            return -errno.ENOENT
        self._free_later([elem])
        return 0

    def owner_gone(self, sk: int) -> bool:
        """``bpf_sk_storage_free`` for one map: drop ``sk``'s element; True if it had one."""
        return self.storage_delete(sk) == 0 if sk else False

    def owners(self) -> list[int]:
        """Socket addresses that currently own storage in this map."""
        with self._lock:
            return list(self._elems)

    def value_of(self, sk: int) -> bytes | None:
        """The value bytes of ``sk``'s storage (None when absent), for tests and tools."""
        with self._lock:
            elem = self._elems.get(sk)
            return None if elem is None else bytes(elem.buf[: self.value_size])

    def __len__(self) -> int:
        return len(self._elems)

    # -- syscall side ---------------------------------------------------------------------
    def lookup(self, key: bytes) -> bytes:
        """The key is a socket fd; the embedded kernel has none: ``EBADF``."""
        raise bpf_error(errno.EBADF, "sk_storage key must be a socket fd (the embedded kernel has no sockets)")

    def update(self, key: bytes, value: bytes, flags: int) -> None:
        """See :meth:`lookup`."""
        raise bpf_error(errno.EBADF, "sk_storage key must be a socket fd (the embedded kernel has no sockets)")

    def delete(self, key: bytes) -> None:
        """See :meth:`lookup`."""
        raise bpf_error(errno.EBADF, "sk_storage key must be a socket fd (the embedded kernel has no sockets)")

    def get_next_key(self, key: bytes | None) -> bytes:
        """``notsupp_get_next_key``: ``ENOTSUPP``."""
        raise bpf_error(ENOTSUPP, "sk_storage maps cannot be iterated by key")

    def prog_lookup(self, key: bytes) -> int:
        """``bpf_map_lookup_elem`` on local storage from a program is refused: NULL."""
        return 0

    def mem_usage(self) -> int:
        """``bpf_local_storage_map_mem_usage``: the header and the buckets; like Linux 6.18 the
        storage elements are not counted."""
        return local_storage_mem_usage(self.nbuckets)

    def _free_later(self, elems: list[Allocation]) -> None:
        kmem = self.kernel.kmem
        from structops.kernel.maps.kptr_dtor import release_kptr_fields

        for e in elems:  # bpf_obj_free_fields: referenced kptrs in the value are released now
            release_kptr_fields(self.kernel, self, e.addr)

        def free() -> None:
            for e in elems:
                kmem.free(e)

        self.kernel.rcu.call_rcu(free)

    def release(self) -> None:
        """``bpf_local_storage_map_free``: every socket loses its element of this map."""
        with self._lock:
            elems = list(self._elems.values())
            self._elems.clear()
        self._free_later(elems)
        super().release()


class FdKeyedStorageMap(SkStorageMap):
    """Local storage whose user-space key is a kind of fd the embedded kernel does not have
    (a pidfd, a cgroup fd): every syscall element operation is ``EBADF`` with ``NO_FD``."""

    NO_FD = "the key must be an fd the embedded kernel does not have"
    #: ``(name prefix, id of the _get helper)``: ``<prefix>_get`` and ``<prefix>_delete`` (id + 1).
    HELPERS = ("", 0)

    @classmethod
    def free_owner(cls, kernel: EmulatedKernel, owner: int) -> int:
        """``bpf_<kind>_storage_free``: drop ``owner``'s storage from every map of this kind; count."""
        return free_local_storage(kernel, cls, owner)

    @classmethod
    def helpers(cls, kernel: EmulatedKernel) -> list[HelperSpec]:
        """The VM helpers ``bpf_<kind>_storage_get`` and ``bpf_<kind>_storage_delete``."""
        return local_storage_helpers(kernel, cls, *cls.HELPERS)

    def lookup(self, key: bytes) -> bytes:
        """The key is an fd of a kind the embedded kernel has none of: ``EBADF``."""
        raise bpf_error(errno.EBADF, self.NO_FD)

    def update(self, key: bytes, value: bytes, flags: int) -> None:
        """See :meth:`lookup`."""
        raise bpf_error(errno.EBADF, self.NO_FD)

    def delete(self, key: bytes) -> None:
        """See :meth:`lookup`."""
        raise bpf_error(errno.EBADF, self.NO_FD)


class TaskStorageMap(FdKeyedStorageMap):
    """``BPF_MAP_TYPE_TASK_STORAGE``: keyed by ``struct task_struct`` (helpers 156/157)."""

    TYPE = MapType.BPF_MAP_TYPE_TASK_STORAGE
    NO_FD = "task_storage key must be a pidfd (the embedded kernel has no pidfds)"
    HELPERS = ("bpf_task_storage", 156)


class CgrpStorageMap(FdKeyedStorageMap):
    """``BPF_MAP_TYPE_CGRP_STORAGE``: keyed by ``struct cgroup`` (helpers 210/211)."""

    TYPE = MapType.BPF_MAP_TYPE_CGRP_STORAGE
    NO_FD = "cgrp_storage key must be a cgroup fd (the embedded kernel has no cgroupfs)"
    HELPERS = ("bpf_cgrp_storage", 210)


def free_socket_storage(kernel: EmulatedKernel, sk: int) -> int:
    """``bpf_sk_storage_free``: drop ``sk``'s storage from every sk_storage map; count."""
    return free_local_storage(kernel, SkStorageMap, sk)


def free_local_storage(kernel: EmulatedKernel, map_cls: type[SkStorageMap], owner: int) -> int:
    """Drop ``owner``'s element from every ``map_cls`` map; the number of maps that had one."""
    return sum(1 for obj in list(kernel.ids["map"]) if isinstance(obj, map_cls) and obj.owner_gone(owner))


def sk_storage_helpers(kernel: EmulatedKernel, prog_types: frozenset[int]) -> list[HelperSpec]:
    """The VM helpers ``bpf_sk_storage_get`` (107) and ``bpf_sk_storage_delete`` (108).

    ``r1`` is the map's object address (ld_imm64 of the map fd); any other map type or
    address gives NULL / ``-EINVAL`` as a mismatched map would not pass the verifier.
    """
    # Their verifier prototypes are in the kernel's helper registry (kernel.helpers.BASE_PROTOS).
    return local_storage_helpers(kernel, SkStorageMap, "bpf_sk_storage", 107, prog_types)


def local_storage_helpers(
    kernel: EmulatedKernel,
    map_cls: type[SkStorageMap],
    prefix: str,
    first_id: int,
    prog_types: frozenset[int] | None = None,
) -> list[HelperSpec]:
    """The VM helpers ``<prefix>_get`` (``first_id``) and ``<prefix>_delete`` (``first_id + 1``) of a local storage.

    ``r1`` is the map's object address (ld_imm64 of the map fd); a map that is not a
    ``map_cls`` gives NULL / ``-EINVAL`` as a mismatched map would not pass the verifier.
    """
    from structops.vm import ArgType, HelperSpec, RetType

    def storage_map(addr: int) -> SkStorageMap | None:
        backend = kernel.executor.vm.map_at(addr) if kernel.executor is not None else None
        m = getattr(backend, "m", None)
        return m if isinstance(m, map_cls) else None

    def get(run: object, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        m = storage_map(r1)
        if m is None:
            return 0
        init = kernel.kmem.space.read(r3, m.value_size) if r3 else None
        return m.storage_get(r2, init, r4)

    def delete(run: object, r1: int, r2: int, *_: int) -> int:
        m = storage_map(r1)
        if m is None:
            return -errno.EINVAL & _U64
        return m.storage_delete(r2) & _U64

    return [
        HelperSpec(
            first_id,
            f"{prefix}_get",
            get,
            (ArgType.CONST_MAP_PTR, ArgType.PTR_TO_BTF_ID, ArgType.ANYTHING, ArgType.ANYTHING),
            RetType.PTR_TO_MAP_VALUE_OR_NULL,
            prog_types,
        ),
        HelperSpec(
            first_id + 1,
            f"{prefix}_delete",
            delete,
            (ArgType.CONST_MAP_PTR, ArgType.PTR_TO_BTF_ID),
            RetType.INTEGER,
            prog_types,
        ),
    ]
