"""``BPF_OBJ_GET_INFO_BY_FD`` structures: bpf_map_info, bpf_prog_info, bpf_link_info, bpf_btf_info.

Layouts are Linux 6.18's (sizes 104, 232, 64 and 32 bytes; offsets checked against the
running kernel's BTF in the tests).  Array outputs (``map_ids``, ``xlated_prog_insns``,
BTF ``btf``/``name``) are written to the user pointers the caller put in the info,
when they are non-zero, like the kernel does.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from structops.kernel.maps.base import BpfMap
from structops.kernel.struct_ops import StructOpsLink, StructOpsMap

if TYPE_CHECKING:
    from structops.kernel.btf_obj import BtfObject
    from structops.kernel.prog import BpfProg
    from structops.kernel.services import ProcessServices

__all__ = ["MAP_INFO_SIZE", "btf_info", "link_info", "map_info", "prog_info"]

MAP_INFO_SIZE = 104
PROG_INFO_SIZE = 232
LINK_INFO_SIZE = 64
BTF_INFO_SIZE = 32


def _name16(name: str) -> bytes:
    return name.encode()[:15].ljust(16, b"\0")


def map_info(m: BpfMap) -> bytes:
    """``struct bpf_map_info`` (C16 for struct_ops maps)."""
    out = bytearray(MAP_INFO_SIZE)
    struct.pack_into(
        "<6I16sII",
        out,
        0,
        m.map_type,
        m.id,
        m.key_size,
        m.value_size,
        m.max_entries,
        m.map_flags,
        _name16(m.name),
        0,
        m.btf_vmlinux_value_type_id,
    )
    btf_vmlinux_id = m.st_btf.id if isinstance(m, StructOpsMap) else 0
    struct.pack_into(
        "<4IQ",
        out,
        64,
        m.btf.id if m.btf is not None else 0,
        m.btf_key_type_id,
        m.btf_value_type_id,
        btf_vmlinux_id,
        m.map_extra,
    )
    return bytes(out)


def _u64(data: bytes, off: int) -> int:
    return int(struct.unpack_from("<Q", data, off)[0]) if len(data) >= off + 8 else 0


def _u32(data: bytes, off: int) -> int:
    return int(struct.unpack_from("<I", data, off)[0]) if len(data) >= off + 4 else 0


def prog_info(proc: ProcessServices, p: BpfProg, user: bytes) -> bytes:
    """``struct bpf_prog_info``; copies map ids / xlated insns to user pointers given."""
    out = bytearray(PROG_INFO_SIZE)
    map_ids = [m.id for m in p.used_maps]
    xlated_len = len(p.insns)
    struct.pack_into("<II8sII", out, 0, p.prog_type, p.id, p.tag, p.jited_len, xlated_len)
    struct.pack_into("<QIi", out, 40, p.load_time_ns, p.uid, len(map_ids))
    struct.pack_into("<16sII", out, 64, _name16(p.name), 0, int(p.gpl_compatible))
    struct.pack_into("<I", out, 128, p.btf.id if p.btf is not None else 0)
    struct.pack_into("<QQQI", out, 192, p.stats.run_time_ns, p.stats.run_cnt, p.stats.misses, p.verified_insns)
    attach_btf_obj_id = p.attach_btf.id if p.attach_btf is not None else 0
    struct.pack_into("<II", out, 220, attach_btf_obj_id, p.attach_btf_id)
    # user buffers
    ptr = _u64(user, 56)
    cap = _u32(user, 52)
    if ptr and cap:
        data = struct.pack(f"<{min(cap, len(map_ids))}I", *map_ids[:cap])
        proc.umem.copy_to(ptr, data)
    struct.pack_into("<Q", out, 56, ptr)
    ptr = _u64(user, 32)
    cap = _u32(user, 20)
    if ptr and cap:
        proc.umem.copy_to(ptr, p.insns[: min(cap, xlated_len)])
    struct.pack_into("<Q", out, 32, ptr)
    return bytes(out)


def link_info(link: StructOpsLink, user: bytes) -> bytes:
    """``struct bpf_link_info`` of a struct_ops link (K8)."""
    out = bytearray(user[:LINK_INFO_SIZE].ljust(LINK_INFO_SIZE, b"\0"))
    struct.pack_into("<III", out, 0, int(link.link_type), link.id, 0)
    m = link.map
    if m is not None:
        struct.pack_into("<I", out, 16, m.id)
    return bytes(out)


def btf_info(proc: ProcessServices, b: BtfObject, user: bytes) -> bytes:
    """``struct bpf_btf_info``; copies the raw BTF and name when pointers are given."""
    out = bytearray(BTF_INFO_SIZE)
    ptr = _u64(user, 0)
    cap = _u32(user, 8)
    if ptr and cap:
        proc.umem.copy_to(ptr, b.raw[: min(cap, len(b.raw))])
    name_ptr = _u64(user, 16)
    name_cap = _u32(user, 24)
    name = b.name.encode() + b"\0"
    if name_ptr and name_cap:
        proc.umem.copy_to(name_ptr, name[:name_cap])
    struct.pack_into("<QIIQII", out, 0, ptr, len(b.raw), b.id, name_ptr, len(name) if b.name else 0, int(b.kernel_btf))
    return bytes(out)
