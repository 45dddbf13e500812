"""The generic map object and the checks every map type shares.

``BpfMap`` mirrors ``struct bpf_map``: type, key/value sizes, max_entries, flags, name,
BTF references, ``refcnt``/``usercnt`` (F1), ``frozen``.  Map types subclass it and
implement the syscall-side element operations; programs reach the same storage through
:class:`structops.kernel.kmem.KernelMemory` addresses.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, ClassVar

from structops import btf as btflib
from structops.errors import bpf_error
from structops.kernel.objects import KObject
from structops.uapi import ENOTSUPP, MapFlags, MapType, UpdateFlags

if TYPE_CHECKING:
    from structops.kernel.attrs import MapCreateAttr
    from structops.kernel.btf_obj import BtfObject
    from structops.kernel.services import KernelServices

__all__ = ["DATA_MAP_FLAGS", "BpfMap", "DataMap", "check_obj_name", "round_up"]

#: ``sizeof(struct bpf_map)`` on x86-64 Linux 6.18 (vmlinux BTF).
SIZEOF_BPF_MAP = 296

_NAME_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.")


def round_up(value: int, align: int) -> int:
    """Round ``value`` up to a multiple of ``align``."""
    return (value + align - 1) // align * align


def check_obj_name(raw: str | bytes, what: str = "name") -> str:
    """``bpf_obj_name_cpy``: ``[A-Za-z0-9_.]`` and a NUL within 16 bytes, else -EINVAL (C11)."""
    data = raw.encode() if isinstance(raw, str) else bytes(raw)
    data = data[:16] if len(data) > 16 else data
    nul = data.find(b"\0")
    if nul < 0:
        if len(data) >= 16:
            raise bpf_error(errno.EINVAL, f"{what} has no NUL within 16 bytes")
        nul = len(data)
    name = data[:nul]
    if any(c not in _NAME_CHARS for c in name):
        raise bpf_error(errno.EINVAL, f"{what} {name!r} has characters outside [A-Za-z0-9_.]")
    return name.decode()


class BpfMap(KObject):
    """``struct bpf_map``: the state every map type shares."""

    KIND = "map"
    TYPE: ClassVar[MapType] = MapType.BPF_MAP_TYPE_UNSPEC
    #: map_flags this type accepts (others -> EINVAL in alloc_check).
    ALLOWED_FLAGS: ClassVar[int] = 0

    def __init__(self, kernel: KernelServices, attr: MapCreateAttr) -> None:
        super().__init__(kernel)
        self.map_type = int(attr.map_type)
        self.key_size = attr.key_size
        self.value_size = attr.value_size
        self.max_entries = attr.max_entries
        self.map_flags = attr.map_flags
        self.map_extra = attr.map_extra
        self.name = ""
        self.btf: BtfObject | None = None
        self.btf_key_type_id = attr.btf_key_type_id
        self.btf_value_type_id = attr.btf_value_type_id
        self.btf_vmlinux_value_type_id = attr.btf_vmlinux_value_type_id
        self.frozen = False
        self.usercnt = 0
        #: Offset of the ``struct bpf_timer`` in the value (found in its BTF), or None.
        self.timer_off: int | None = None

    # -- creation ---------------------------------------------------------------------
    @classmethod
    def alloc_check(cls, attr: MapCreateAttr) -> None:
        """Type-specific attribute checks (``map_alloc_check``); -EINVAL by default."""
        if attr.map_flags & ~cls.ALLOWED_FLAGS:
            raise bpf_error(errno.EINVAL, f"map flags {attr.map_flags:#x} not supported by this map type")

    def check_btf(self, btf: BtfObject) -> None:
        """``map_check_btf``: key/value BTF types must have the map's sizes."""
        spec = btf.spec
        for type_id, size, what in (
            (self.btf_key_type_id, self.key_size, "key"),
            (self.btf_value_type_id, self.value_size, "value"),
        ):
            if not type_id:
                continue
            try:
                t = spec.type_by_id(type_id)
                actual = btflib.sizeof(t)
            except Exception as exc:
                raise bpf_error(errno.EINVAL, f"btf {what} type id {type_id}: {exc}") from None
            if actual != size:
                raise bpf_error(errno.EINVAL, f"btf {what} type size {actual} != map {what}_size {size}")
        if self.btf_value_type_id:
            from structops.kernel.maps.spin_lock import check_spin_lock_map
            from structops.kernel.maps.timer import find_timer

            self.timer_off = find_timer(self, spec.type_by_id(self.btf_value_type_id))
            check_spin_lock_map(self, spec.type_by_id(self.btf_value_type_id))

    # -- syscall-side element operations ----------------------------------------------
    def lookup(self, key: bytes) -> bytes:
        """BPF_MAP_LOOKUP_ELEM: the value bytes, -ENOENT when absent."""
        raise bpf_error(ENOTSUPP, "lookup not supported by this map type")

    def update(self, key: bytes, value: bytes, flags: int) -> None:
        """BPF_MAP_UPDATE_ELEM."""
        raise bpf_error(ENOTSUPP, "update not supported by this map type")

    def delete(self, key: bytes) -> None:
        """BPF_MAP_DELETE_ELEM."""
        raise bpf_error(ENOTSUPP, "delete not supported by this map type")

    def get_next_key(self, key: bytes | None) -> bytes:
        """BPF_MAP_GET_NEXT_KEY."""
        raise bpf_error(ENOTSUPP, "get_next_key not supported by this map type")

    def freeze(self) -> None:
        """BPF_MAP_FREEZE: further syscall writes get -EPERM."""
        self.frozen = True

    # -- introspection ----------------------------------------------------------------
    def mem_usage(self) -> int:
        """The fdinfo ``memlock`` value (``map->ops->map_mem_usage``): each map type gives the
        kernel's count (``memusage.py``); a type without one counts its ``struct bpf_map``."""
        return SIZEOF_BPF_MAP

    def fdinfo(self) -> str:
        """``/proc/<pid>/fdinfo/<fd>`` text of a map (C17)."""
        return (
            f"map_type:\t{self.map_type}\n"
            f"key_size:\t{self.key_size}\n"
            f"value_size:\t{self.value_size}\n"
            f"max_entries:\t{self.max_entries}\n"
            f"map_flags:\t{self.map_flags:#x}\n"
            f"map_extra:\t{self.map_extra:#x}\n"
            f"memlock:\t{self.mem_usage()}\n"
            f"map_id:\t{self.id}\n"
            f"frozen:\t{int(self.frozen)}\n"
        )

    @property
    def is_link_map(self) -> bool:
        """The map was created with BPF_F_LINK."""
        return bool(self.map_flags & MapFlags.BPF_F_LINK)

    def release(self) -> None:
        """Drop the BTF reference (generic part of the free path, F3 step 6)."""
        executor = getattr(self.kernel, "executor", None)
        if executor is not None:
            executor.forget_map(self)
        if self.btf is not None:
            self.btf.put()
            self.btf = None


#: map_flags every plain data map (array, hash) accepts.
DATA_MAP_FLAGS = int(
    MapFlags.BPF_F_NUMA_NODE
    | MapFlags.BPF_F_RDONLY
    | MapFlags.BPF_F_WRONLY
    | MapFlags.BPF_F_RDONLY_PROG
    | MapFlags.BPF_F_WRONLY_PROG
    | MapFlags.BPF_F_TOKEN_FD
)


class DataMap(BpfMap):
    """A map programs update and delete through the syscall-side element operations."""

    ALLOWED_FLAGS = DATA_MAP_FLAGS

    @staticmethod
    def check_update_flags(flags: int) -> None:
        """Update flags: BPF_ANY / BPF_NOEXIST / BPF_EXIST, optionally with BPF_F_LOCK (-EINVAL)."""
        if (flags & ~int(UpdateFlags.BPF_F_LOCK)) > UpdateFlags.BPF_EXIST:
            raise bpf_error(errno.EINVAL, f"bad update flags {flags:#x}")

    def prog_update(self, key: bytes, value: bytes, flags: int) -> int:
        """``bpf_map_update_elem`` from a program: 0 or -errno."""
        try:
            self.update(key, value, flags)
        except OSError as exc:
            return -(exc.errno or errno.EINVAL)
        return 0

    def prog_delete(self, key: bytes) -> int:
        """``bpf_map_delete_elem`` from a program: 0 or -errno."""
        try:
            self.delete(key)
        except OSError as exc:
            return -(exc.errno or errno.EINVAL)
        return 0
