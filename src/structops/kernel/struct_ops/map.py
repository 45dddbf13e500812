"""The struct_ops map (``BPF_MAP_TYPE_STRUCT_OPS``) and its state machine.

:class:`StructOpsMap` is ``struct bpf_struct_ops_map``: creation checks (C6), memory
accounting (M1), update (U1-U16: member by member, trampolines, ``reg`` for non-link
maps), lookup (L1-L7), delete (D1-D5), the INIT/INUSE/READY/TOBEFREE states (S*) and the
free path (F3).
"""

from __future__ import annotations

import errno
import struct
import threading
from typing import TYPE_CHECKING

from structops import btf as btflib
from structops.errors import bpf_error
from structops.kernel.maps.base import BpfMap
from structops.kernel.struct_ops.assoc import prog_assoc, prog_disassoc
from structops.kernel.struct_ops.kdata import KData
from structops.kernel.struct_ops.registry import BPF_MODULE_OWNER, StructOpsDesc, func_proto_of, is_module_ptr
from structops.kernel.struct_ops.trampoline import ImagePages, Trampoline
from structops.uapi import ENOTSUPP, PAGE_SIZE, MapFlags, MapType, ProgType, StructOpsState

if TYPE_CHECKING:
    from structops.kernel.attrs import MapCreateAttr
    from structops.kernel.btf_obj import BtfObject
    from structops.kernel.kmem import Allocation
    from structops.kernel.services import StructOpsServices

__all__ = ["INIT", "INUSE", "READY", "TOBEFREE", "QuirkReturn", "StructOpsMap", "valid_to_reg"]

INIT = StructOpsState.BPF_STRUCT_OPS_STATE_INIT
INUSE = StructOpsState.BPF_STRUCT_OPS_STATE_INUSE
TOBEFREE = StructOpsState.BPF_STRUCT_OPS_STATE_TOBEFREE
READY = StructOpsState.BPF_STRUCT_OPS_STATE_READY


class StructOpsMap(BpfMap):
    """``struct bpf_struct_ops_map``."""

    TYPE = MapType.BPF_MAP_TYPE_STRUCT_OPS
    ALLOWED_FLAGS = int(MapFlags.BPF_F_LINK | MapFlags.BPF_F_VTYPE_BTF_OBJ_FD)
    kernel: StructOpsServices

    @classmethod
    def alloc_check(cls, attr: MapCreateAttr) -> None:
        """C6: key_size 4, max_entries 1, a value type id, only LINK / VTYPE_BTF_OBJ_FD flags."""
        if (
            attr.key_size != 4
            or attr.max_entries != 1
            or (attr.map_flags & ~cls.ALLOWED_FLAGS)
            or not attr.btf_vmlinux_value_type_id
        ):
            raise bpf_error(errno.EINVAL, "struct_ops map needs key_size 4, max_entries 1 and a value type")

    def __init__(self, kernel: StructOpsServices, attr: MapCreateAttr, btf: BtfObject, desc: StructOpsDesc) -> None:
        super().__init__(kernel, attr)
        self.st_btf = btf
        self.desc = desc
        vt = desc.value_type
        self.data_offset = vt.member("data").offset
        self.common_offset = vt.member("common").offset
        self.uvalue = bytearray(vt.size)
        self.kvalue: Allocation = kernel.kmem.alloc(vt.size, f"struct_ops:{desc.name}:kvalue")
        self.kdata = KData(self)
        self.trampolines: dict[int, Trampoline] = {}
        self.images = ImagePages(kernel)
        self.ksyms: list[str] = []
        self.lock = threading.Lock()
        self.holds_module = False

    # -- state ------------------------------------------------------------------------
    @property
    def state(self) -> StructOpsState:
        """``kvalue.common.state`` (load-acquire, S7)."""
        return StructOpsState(struct.unpack_from("<I", self.kvalue.buf, self.common_offset + 4)[0])

    def _set_state(self, state: StructOpsState) -> None:
        struct.pack_into("<I", self.kvalue.buf, self.common_offset + 4, int(state))

    def _cmpxchg_state(self, old: StructOpsState, new: StructOpsState) -> StructOpsState:
        with self._lock:
            cur = self.state
            if cur == old:
                self._set_state(new)
            return cur

    # -- memory (M1) --------------------------------------------------------------------
    def mem_usage(self) -> int:
        """M1: sizeof(st_map) + vt size - H + vt size + funcs_cnt * 16 + PAGE_SIZE."""
        k = self.kernel
        vt_size = self.desc.value_type.size
        funcs = len(self.desc.func_members)
        return k.sizeof_st_map + vt_size - k.sizeof_st_value + vt_size + funcs * 8 * 2 + PAGE_SIZE

    # -- update (U1-U16) ------------------------------------------------------------------
    def _check_zero_holes(self, t: btflib.Struct, data: bytes | memoryview, base: int) -> None:
        """U3/U4: padding between top-level members and trailing padding must be zero."""
        pos = 0
        for m in t.members:
            moff = m.bit_offset // 8
            if any(data[base + pos : base + moff]):
                raise bpf_error(errno.EINVAL, f"non-zero padding before {t.name}.{m.name}")
            pos = moff + btflib.sizeof(m.type)
        if any(data[base + pos : base + t.size]):
            raise bpf_error(errno.EINVAL, f"non-zero trailing padding in {t.name}")

    def update(self, key: bytes, value: bytes, flags: int) -> None:
        """``bpf_struct_ops_map_update_elem`` (U1-U16).  May return 1 (U9a quirk) via QuirkReturn."""
        if flags:  # U1
            raise bpf_error(errno.EINVAL, "flags must be 0")
        if struct.unpack_from("<I", key)[0] != 0:  # U2
            raise bpf_error(errno.E2BIG, "struct_ops map has only key 0")
        desc = self.desc
        value = bytes(value[: self.value_size]).ljust(self.value_size, b"\0")
        self._check_zero_holes(desc.value_type, value, 0)  # U3
        self._check_zero_holes(desc.type, value, self.data_offset)  # U4
        refcnt, state = struct.unpack_from("<II", value, self.common_offset)
        if refcnt or state:  # U5
            raise bpf_error(errno.EINVAL, "common.refcnt and common.state must be 0")
        with self.lock:
            if self.state != INIT:  # U7
                raise bpf_error(errno.EBUSY, f"struct_ops map is {self.state.name}")
            self._populate(value)

    def _populate(self, value: bytes) -> None:
        kernel = self.kernel
        desc = self.desc
        t = desc.type
        self.uvalue[:] = value  # U8
        udata = value[self.data_offset : self.data_offset + t.size]
        kbuf = self.kvalue.buf
        doff = self.data_offset
        err = 0
        try:
            for i, m in enumerate(t.members):  # U9
                moff = m.offset
                msize = btflib.sizeof(m.type)
                if is_module_ptr(m.type):  # U9a
                    if any(udata[moff : moff + 8]):
                        raise _QuirkReturn(err)
                    struct.pack_into("<Q", kbuf, doff + moff, BPF_MODULE_OWNER)
                    continue
                err = desc.ops.init_member(t, m, self.kdata, udata)  # U9b
                if err < 0:
                    raise bpf_error(-err, f"init_member {m.name}")
                if err > 0:
                    continue
                proto = func_proto_of(m.type)
                if proto is None:  # U9c
                    if any(udata[moff : moff + msize]):
                        raise bpf_error(errno.EINVAL, f"member {m.name} must be zero")
                    continue
                prog_fd = struct.unpack_from("<Q", udata, moff)[0] & 0xFFFFFFFF  # U9d
                if prog_fd == 0:
                    continue
                prog = kernel.current_process().get_prog(_s32(prog_fd))  # U9e
                if (  # U9f
                    prog.prog_type != ProgType.BPF_PROG_TYPE_STRUCT_OPS
                    or prog.attach_btf_id != desc.type_id
                    or prog.expected_attach_type != i
                ):
                    prog.put()
                    raise bpf_error(errno.EINVAL, f"prog {prog.id} does not implement {desc.name}.{m.name}")
                model = desc.func_models.get(i)
                if model is None:
                    prog.put()
                    raise bpf_error(ENOTSUPP, f"member {m.name} is not supported")
                prog_assoc(prog, self)  # U9h (return value ignored)
                size = kernel.trampoline_size(model, model.ret_size > 0)  # U9j
                try:
                    addr = self.images.place(size)
                except OSError:
                    prog.put()
                    raise
                ksym = f"bpf__{desc.name}_{m.name}"  # U9l
                tr = Trampoline(prog, i, m.name, model, addr, size, ksym)
                self.trampolines[i] = tr  # U9g: owns the prog ref
                kernel.trampolines[addr] = tr
                struct.pack_into("<Q", kbuf, doff + moff, addr)  # U9k
                struct.pack_into("<Q", self.uvalue, doff + moff, prog.id)
            if desc.ops.validate is not None:  # U10
                err = desc.ops.validate(self.kdata)
                if err:
                    raise bpf_error(-err, "validate")
            if self.is_link_map:  # U12
                self._set_state(READY)
                self.ksyms = [tr.ksym for tr in self.trampolines.values()]
                return
            err = desc.ops.reg(self.kdata, None)  # U13
            if err:
                raise bpf_error(-err, f"register {desc.name}")
            self.get()
            self._set_state(INUSE)
            self.ksyms = [tr.ksym for tr in self.trampolines.values()]
        except _QuirkReturn as q:
            self._reset()
            raise q from None
        except OSError:
            self._reset()
            raise

    def _reset(self) -> None:
        """U14: free images, dissociate (newest), put trampoline links, zero both values."""
        self.ksyms = []
        for tr in self.trampolines.values():
            self.kernel.trampolines.pop(tr.addr, None)
        self.images.free()
        self.dissoc_progs()
        for tr in self.trampolines.values():
            tr.release()
        self.trampolines = {}
        self.uvalue[:] = bytes(len(self.uvalue))
        self.kvalue.buf[:] = bytes(len(self.kvalue.buf))
        self.kdata.state.clear()

    def dissoc_progs(self) -> None:
        """``bpf_struct_ops_map_dissoc_progs`` (A3b/c)."""
        for tr in self.trampolines.values():
            prog_disassoc(tr.prog)

    # -- lookup (L1-L6) ----------------------------------------------------------------
    def lookup(self, key: bytes) -> bytes:
        """``bpf_struct_ops_map_sys_lookup_elem`` (L2-L4)."""
        if struct.unpack_from("<I", key)[0] != 0:  # L2
            raise bpf_error(errno.ENOENT, "struct_ops map has only key 0")
        state = self.state
        if state == INIT:  # L3
            return bytes(self.value_size)
        out = bytearray(self.uvalue)
        refcnt = max(self.refcnt - self.usercnt, 0)
        struct.pack_into("<II", out, self.common_offset, refcnt, int(state))
        return bytes(out)

    def get_next_key(self, key: bytes | None) -> bytes:
        """L6: NULL key -> 0; key 0 -> -ENOENT; any other -> 0."""
        if key is not None and struct.unpack_from("<I", key)[0] == 0:
            raise bpf_error(errno.ENOENT, "no next key")
        return struct.pack("<I", 0)

    def freeze(self) -> None:
        """L7: -ENOTSUPP."""
        raise bpf_error(ENOTSUPP, "struct_ops maps cannot be frozen")

    # -- delete (D1-D5) ------------------------------------------------------------------
    def delete(self, key: bytes) -> None:
        """``bpf_struct_ops_map_delete_elem``: the unregister of a non-link map."""
        if self.is_link_map:  # D2
            raise bpf_error(errno.EOPNOTSUPP, "delete on a BPF_F_LINK struct_ops map")
        prev = self._cmpxchg_state(INUSE, TOBEFREE)  # D3
        if prev == INUSE:
            self.desc.ops.unreg(self.kdata, None)
            self.put()
            return
        if prev == TOBEFREE:
            raise bpf_error(errno.EINPROGRESS, "struct_ops map is already being freed")
        raise bpf_error(errno.ENOENT, "struct_ops map is not registered")

    # -- program side (L5) -------------------------------------------------------------
    def prog_lookup(self, key: bytes) -> int:
        """L5: lookups from programs fail (ERR_PTR(-EINVAL) -> treated as NULL here)."""
        return 0

    # -- free path (F3) -------------------------------------------------------------------
    def release(self) -> None:
        """``bpf_struct_ops_map_free`` (F3): module put, dissoc, ksyms, grace period, free."""
        if self.holds_module and self.st_btf.module is not None:
            self.kernel.module_put(self.st_btf.module)
            self.holds_module = False
        self.dissoc_progs()
        self.ksyms = []
        trampolines = list(self.trampolines.values())
        for tr in trampolines:
            self.kernel.trampolines.pop(tr.addr, None)

        def free() -> None:
            for tr in trampolines:
                tr.release()
            self.trampolines = {}
            self.images.free()
            self.kernel.kmem.free(self.kvalue)

        self.kernel.rcu.call_rcu(free)
        super().release()

    # -- introspection ------------------------------------------------------------------
    def info_extra(self) -> dict[str, int]:
        """C16: ``btf_vmlinux_id`` is the id of the BTF the type lives in."""
        return {"btf_vmlinux_id": self.st_btf.id}

    def func_slots(self) -> list[tuple[str, int]]:
        """(member name, prog id or 0) for each function member, for bpftool-style dumps."""
        out = []
        for i in self.desc.func_members:
            m = self.desc.type.members[i]
            pid = struct.unpack_from("<Q", self.uvalue, self.data_offset + m.offset)[0]
            out.append((m.name, pid))
        return out


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


class _QuirkReturn(Exception):
    """U9a: the update resets and returns the stale ``err`` (0 or 1), not an errno."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value


QuirkReturn = _QuirkReturn


def valid_to_reg(m: BpfMap) -> bool:
    """``bpf_struct_ops_valid_to_reg`` (K3)."""
    return isinstance(m, StructOpsMap) and m.is_link_map and m.state == READY
