"""``BPF_OBJ_GET_INFO_BY_FD`` structures: bpf_map_info, bpf_prog_info, bpf_link_info, bpf_btf_info.

The layouts are the tables of :mod:`structops.abi.tables` (Linux 6.18: 104, 232, 64 and
32 bytes), the same ones the real-kernel side (:mod:`structops.introspect`) unpacks with.
Array outputs (``map_ids``, ``xlated_prog_insns``, BTF ``btf``/``name``) are written to
the user pointers the caller put in the info, when they are non-zero, like the kernel does.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from structops.abi.tables import BTF_INFO, LINK_INFO, MAP_INFO, PROG_INFO
from structops.kernel.maps.base import BpfMap
from structops.kernel.struct_ops import StructOpsLink, StructOpsMap

if TYPE_CHECKING:
    from structops.kernel.btf_obj import BtfObject
    from structops.kernel.prog import BpfProg
    from structops.kernel.services import ProcessServices

__all__ = ["MAP_INFO_SIZE", "btf_info", "link_info", "map_info", "prog_info"]

MAP_INFO_SIZE = MAP_INFO.size


def _obj_name(name: str) -> bytes:
    """An object name as the kernel keeps it: at most 15 bytes, then NUL."""
    return name.encode()[:15]


def _id(obj: BtfObject | None) -> int:
    return obj.id if obj is not None else 0


def map_info(m: BpfMap) -> bytes:
    """``struct bpf_map_info`` (C16 for struct_ops maps)."""
    return MAP_INFO.pack({
        "type": m.map_type,
        "id": m.id,
        "key_size": m.key_size,
        "value_size": m.value_size,
        "max_entries": m.max_entries,
        "map_flags": m.map_flags,
        "name": _obj_name(m.name),
        "btf_vmlinux_value_type_id": m.btf_vmlinux_value_type_id,
        "btf_id": _id(m.btf),
        "btf_key_type_id": m.btf_key_type_id,
        "btf_value_type_id": m.btf_value_type_id,
        "btf_vmlinux_id": m.st_btf.id if isinstance(m, StructOpsMap) else 0,
        "map_extra": m.map_extra,
    })  # fmt: skip


def prog_info(proc: ProcessServices, p: BpfProg, user: bytes) -> bytes:
    """``struct bpf_prog_info``; copies map ids / xlated insns to user pointers given."""
    map_ids = [m.id for m in p.used_maps]
    ptr, cap = PROG_INFO.read_int("map_ids", user), PROG_INFO.read_int("nr_map_ids", user)
    if ptr and cap:
        proc.umem.copy_to(ptr, struct.pack(f"<{min(cap, len(map_ids))}I", *map_ids[:cap]))
    xptr, xcap = PROG_INFO.read_int("xlated_prog_insns", user), PROG_INFO.read_int("xlated_prog_len", user)
    if xptr and xcap:
        proc.umem.copy_to(xptr, p.insns[:xcap])
    return PROG_INFO.pack({
        "type": p.prog_type,
        "id": p.id,
        "tag": p.tag,
        "jited_prog_len": p.jited_len,
        "xlated_prog_len": len(p.insns),
        "xlated_prog_insns": xptr,
        "load_time": p.load_time_ns,
        "created_by_uid": p.uid,
        "nr_map_ids": len(map_ids),
        "map_ids": ptr,
        "name": _obj_name(p.name),
        "gpl_compatible": int(p.gpl_compatible),
        "btf_id": _id(p.btf),
        "run_time_ns": p.stats.run_time_ns,
        "run_cnt": p.stats.run_cnt,
        "recursion_misses": p.stats.misses,
        "verified_insns": p.verified_insns,
        "attach_btf_obj_id": _id(p.attach_btf),
        "attach_btf_id": p.attach_btf_id,
    })  # fmt: skip


def link_info(link: StructOpsLink, user: bytes) -> bytes:
    """``struct bpf_link_info`` of a struct_ops link (K8).

    Like the kernel, the caller's bytes are the starting point: a struct_ops link has no
    program, so ``prog_id`` is left as given, and so is ``map_id`` once detached.
    """
    out = bytearray(user[: LINK_INFO.size].ljust(LINK_INFO.size, b"\0"))
    LINK_INFO.write(out, "type", int(link.link_type))
    LINK_INFO.write(out, "id", link.id)
    if link.map is not None:
        LINK_INFO.write(out, "map_id", link.map.id)
    return bytes(out)


def btf_info(proc: ProcessServices, b: BtfObject, user: bytes) -> bytes:
    """``struct bpf_btf_info``; copies the raw BTF and name when pointers are given."""
    ptr, cap = BTF_INFO.read_int("btf", user), BTF_INFO.read_int("btf_size", user)
    if ptr and cap:
        proc.umem.copy_to(ptr, b.raw[:cap])
    name = b.name.encode() + b"\0"
    name_ptr, name_cap = BTF_INFO.read_int("name", user), BTF_INFO.read_int("name_len", user)
    if name_ptr and name_cap:
        proc.umem.copy_to(name_ptr, name[:name_cap])
    return BTF_INFO.pack({
        "btf": ptr,
        "btf_size": len(b.raw),
        "id": b.id,
        "name": name_ptr,
        "name_len": len(name) if b.name else 0,
        "kernel_btf": int(b.kernel_btf),
    })  # fmt: skip
