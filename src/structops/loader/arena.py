"""BPF arena globals (``__arena`` variables in section ``.addr_space.1``), as libbpf >= 1.4.

An object may declare one ``BPF_MAP_TYPE_ARENA`` map in ``.maps``; its global variables
marked ``__arena`` live in ``.addr_space.1`` and are placed inside that arena:

* at open, the section must fit in the arena (rounded up to pages), and an object with
  arena globals must declare exactly one arena map;
* an ``ld_imm64`` of such a variable becomes a direct value load of the arena map at
  ``arena_data_off + symbol offset`` (:data:`~structops.loader.spec.RelocKind.ARENA`);
* ``arena_data_off`` is the arena's size minus the pages the globals need (the globals sit
  at its end) when the kernel takes direct offsets of any size, else 0 — the kernel is
  probed the way libbpf probes it (a load at offset 1 << 30 into a one-byte array is
  refused with "direct value offset of ..." by kernels that cap it, Linux 6.18 included);
* after the map is created, user space maps the arena (at ``map_extra`` when it is set)
  and the initial contents of the globals are copied to ``arena_data_off``.
"""

from __future__ import annotations

import struct
from typing import Any, Protocol

from structops.abi.attrs import MapCreateAttr, ProgLoadAttr
from structops.abi.consts import Cmd, MapType, ProgType
from structops.abi.protocol import Kernel
from structops.errors import BpfError, ELFError
from structops.loader.spec import MapSpec

__all__ = ["ARENA_SEC", "PAGE_SIZE", "ArenaMapping", "arena_data_offset", "arena_map", "map_arena"]

ARENA_SEC = ".addr_space.1"
PAGE_SIZE = 4096


class ArenaMapping(Protocol):
    """User memory mapping an arena (what a kernel's ``map_mmap`` returns)."""

    def write(self, data: bytes, offset: int = 0) -> None: ...

    def read(self, offset: int = 0, length: int | None = None) -> bytes: ...

    def close(self) -> None: ...


def _round_pages(n: int) -> int:
    return -(-n // PAGE_SIZE) * PAGE_SIZE


def arena_map(maps: dict[str, MapSpec], data: bytes | None) -> MapSpec | None:
    """The object's arena map (libbpf's checks at open); None when it has none."""
    arenas = [m for m in maps.values() if m.type == MapType.BPF_MAP_TYPE_ARENA]
    if len(arenas) > 1:
        raise ELFError(
            f"map '{arenas[1].real_name}': only a single ARENA map is supported "
            f"(map '{arenas[0].real_name}' is also ARENA)"
        )
    if data is not None and not arenas:
        raise ELFError(
            f"sec '{ARENA_SEC}': to use global __arena variables the ARENA map should be "
            'explicitly declared in SEC(".maps")'
        )
    if arenas and data is not None:
        size = PAGE_SIZE * arenas[0].max_entries
        if _round_pages(len(data)) > size:
            raise ELFError(
                f"sec '{ARENA_SEC}': declared ARENA map size ({size}) is too small to hold global "
                f"__arena variables of size {len(data)}"
            )
    return arenas[0] if arenas else None


def _full_range_direct_offsets(kernel: Kernel) -> bool:
    """libbpf's FEAT_LDIMM64_FULL_RANGE_OFF probe against ``kernel``."""
    fd = kernel.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 1, 1))
    try:
        code = struct.pack("<BBhiBBhiBBhi", 0x18, 0x21, 0, fd, 0, 0, 0, 1 << 30, 0x95, 0, 0, 0)
        log = bytearray(1024)
        attr = ProgLoadAttr(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, code, log_buf=log, log_level=1)
        try:
            kernel.close(kernel.bpf(Cmd.BPF_PROG_LOAD, attr))
        except BpfError:
            return b"direct value offset of" not in bytes(log)
        return False  # loading it should never succeed
    finally:
        kernel.close(fd)


def arena_data_offset(kernel: Kernel, m: MapSpec, data_size: int) -> int:
    """Where the globals start inside the arena (libbpf ``arena_data_off``)."""
    if not _full_range_direct_offsets(kernel):
        return 0
    return PAGE_SIZE * m.max_entries - _round_pages(data_size)


def map_arena(kernel: Kernel, m: MapSpec, fd: int, data: bytes, offset: int) -> Any:
    """Map the created arena into user memory and copy the globals' initial values."""
    mapper = getattr(kernel, "map_mmap", None)
    if not callable(mapper):
        from structops.loader.externs import LoadError

        raise LoadError(f"map '{m.real_name}': this kernel cannot map an arena into user memory")
    mapping: ArenaMapping = mapper(fd, PAGE_SIZE * m.max_entries, m.map_extra)
    if data:
        mapping.write(data, offset)
    return mapping
