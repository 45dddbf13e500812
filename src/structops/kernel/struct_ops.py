"""The struct_ops subsystem: type registry, struct_ops maps, trampolines, links, association.

This mirrors ``kernel/bpf/bpf_struct_ops.c`` behaviour statement by statement; the ids
in comments and docstrings refer to ``struct_ops-kernel-spec.md`` (R* registration,
C*/M* map creation and memory, U* update, L* lookup, D* delete, S* states, K*/KU*/KD*/KP*
links, F* references, A* association).

Objects:

* :class:`StructOpsOps` — what a "module" hands to :func:`register_struct_ops`
  (``struct bpf_struct_ops``): name, cfi stub names, callbacks.
* :class:`StructOpsDesc` — a registered type (``struct bpf_struct_ops_desc``).
* :class:`StructOpsMap` — ``BPF_MAP_TYPE_STRUCT_OPS`` (``struct bpf_struct_ops_map``).
* :class:`KData` — the kernel-side struct handed to the subsystem callbacks.
* :class:`Trampoline` / :class:`ImagePages` — per-op entry points packed in pages (U9j).
* :class:`StructOpsLink` — ``BPF_LINK_TYPE_STRUCT_OPS`` (K1-KP3).
"""

from __future__ import annotations

import errno
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.errors import bpf_error
from structops.kernel.maps.base import BpfMap
from structops.kernel.objects import KObject
from structops.kernel.prog import POISON, CtxArg
from structops.uapi import (
    BPF_STRUCT_OPS_MAX_NR_MEMBERS,
    ENOTSUPP,
    MAX_BPF_FUNC_ARGS,
    MAX_TRAMP_IMAGE_PAGES,
    PAGE_SIZE,
    AttachType,
    LinkType,
    MapFlags,
    MapType,
    ProgType,
    StructOpsState,
)

if TYPE_CHECKING:
    from structops.kernel.attrs import MapCreateAttr
    from structops.kernel.btf_obj import BtfObject
    from structops.kernel.emulated import EmulatedKernel
    from structops.kernel.kmem import Allocation
    from structops.kernel.prog import BpfProg

__all__ = [
    "BPF_MODULE_OWNER",
    "ImagePages",
    "KData",
    "StructOpsDesc",
    "StructOpsLink",
    "StructOpsMap",
    "StructOpsOps",
    "Trampoline",
    "VerifierOps",
    "prog_assoc",
    "prog_disassoc",
    "prog_get_assoc",
    "register_struct_ops",
]

INIT = StructOpsState.BPF_STRUCT_OPS_STATE_INIT
INUSE = StructOpsState.BPF_STRUCT_OPS_STATE_INUSE
TOBEFREE = StructOpsState.BPF_STRUCT_OPS_STATE_TOBEFREE
READY = StructOpsState.BPF_STRUCT_OPS_STATE_READY

#: ``BPF_MODULE_OWNER`` sentinel written into ``struct module *`` members of kdata (1.8).
BPF_MODULE_OWNER = (0xEB9F << 2) + 0xDEAD000000000000
#: Prefix of value type names (R3.1).
VALUE_PREFIX = "bpf_struct_ops_"
#: Where trampoline images live in the emulated kernel's address space.
TRAMP_BASE = 0xFFFF_FFFF_A000_0000


# ---------------------------------------------------------------------------------------
# Registration (R1-R6)
# ---------------------------------------------------------------------------------------
@dataclass
class VerifierOps:
    """``struct bpf_verifier_ops`` of a struct_ops subsystem (V11, V16, V17).

    ``get_func_proto(helper_id, prog) -> bool`` says whether a helper is allowed (None: no
    helpers at all, DM4); ``btf_struct_access(type_name, off, size) -> int`` returns 0 or
    -errno for a write through a BTF pointer (T8, DM4); ``writable_types`` lists the struct
    names writes may target at all.
    """

    get_func_proto: Callable[[int, BpfProg], bool] | None = None
    btf_struct_access: Callable[[str, int, int], int] | None = None
    #: Promote ``struct sock *`` arguments to ``struct tcp_sock *`` (T9).
    promote_ptr: dict[str, str] = field(default_factory=dict)


@dataclass
class StructOpsOps:
    """``struct bpf_struct_ops`` supplied by a subsystem or module (R1-R4, 2.1).

    ``cfi_stubs`` maps member name -> the name of a FUNC in the same BTF whose
    parameter names carry ``__nullable`` / ``__ref`` (R4); a function member missing
    from it (or mapped to None) is unsupported (R3.8d).  Callbacks use the kernel's
    convention: return 0 or a negative errno (``init_member``: 1 = handled).
    """

    name: str
    cfi_stubs: dict[str, str | None] | None
    init: Callable[[btflib.Spec], int]
    init_member: Callable[[btflib.Struct, btflib.Member, KData, bytes], int]
    reg: Callable[[KData, StructOpsLink | None], int]
    unreg: Callable[[KData, StructOpsLink | None], None]
    verifier_ops: VerifierOps = field(default_factory=VerifierOps)
    check_member: Callable[[btflib.Struct, btflib.Member, BpfProg], int] | None = None
    validate: Callable[[KData], int] | None = None
    update: Callable[[KData, KData, StructOpsLink], int] | None = None
    owner: str | None = None


@dataclass
class FuncModel:
    """``struct btf_func_model``: what the trampoline needs to know about an op."""

    nr_args: int
    ret_size: int
    arg_sizes: tuple[int, ...]


@dataclass
class StructOpsDesc:
    """``struct bpf_struct_ops_desc``: a registered struct_ops type in one BTF."""

    ops: StructOpsOps
    btf: BtfObject
    type: btflib.Struct
    type_id: int
    value_type: btflib.Struct
    value_id: int
    arg_info: list[tuple[CtxArg, ...]]
    func_models: dict[int, FuncModel]
    func_members: list[int]

    @property
    def name(self) -> str:
        """The struct name (``tcp_congestion_ops``)."""
        return self.ops.name

    def member_supported(self, index: int) -> bool:
        """``bpf_struct_ops_supported``: a function member with a non-NULL cfi stub."""
        return index in self.func_models


def _func_proto_of(t: btflib.Type) -> btflib.FuncProto | None:
    u = btflib.underlying(t)
    if isinstance(u, btflib.Pointer):
        target = btflib.underlying(u.target)
        if isinstance(target, btflib.FuncProto):
            return target
    return None


def _is_module_ptr(t: btflib.Type) -> bool:
    u = btflib.underlying(t)
    if not isinstance(u, btflib.Pointer):
        return False
    target = btflib.underlying(u.target)
    return isinstance(target, btflib.Struct | btflib.Fwd) and target.name == "module"


def _ptr_struct(t: btflib.Type) -> btflib.Struct | None:
    u = btflib.underlying(t)
    if isinstance(u, btflib.Pointer):
        target = btflib.underlying(u.target)
        if isinstance(target, btflib.Struct):
            return target
    return None


def _param_suffix(name: str, suffix: str) -> bool:
    """``btf_param_match_suffix``: non-empty, strictly longer than the suffix, ends with it (R4)."""
    return len(name) > len(suffix) and name.endswith(suffix)


def _arg_size(t: btflib.Type) -> int:
    try:
        return btflib.sizeof(t)
    except Exception:
        return 8


def _distill(proto: btflib.FuncProto) -> FuncModel | int:
    """``btf_distill_func_proto``: -EINVAL for >12 args or args that are not scalars/pointers."""
    if len(proto.params) > MAX_BPF_FUNC_ARGS:
        return -errno.EINVAL
    sizes = []
    for p in proto.params:
        u = btflib.underlying(p.type)
        if isinstance(u, btflib.Void) or p.type is None:
            return -errno.EINVAL
        if isinstance(u, btflib.Struct | btflib.Union) and btflib.sizeof(u) > 16:
            return -errno.EINVAL
        sizes.append(_arg_size(u))
    ret = btflib.underlying(proto.return_type)
    ret_size = 0 if isinstance(ret, btflib.Void) else _arg_size(ret)
    return FuncModel(len(proto.params), ret_size, tuple(sizes))


def _prepare_arg_info(spec: btflib.Spec, proto: btflib.FuncProto, stub_name: str) -> tuple[CtxArg, ...] | int:
    """R4: find ``__nullable`` / ``__ref`` parameters of the cfi stub."""
    try:
        stub = spec.find(stub_name, btflib.Func)
    except KeyError:
        return -errno.ENOENT
    stub_proto = stub.type
    if len(stub_proto.params) != len(proto.params):
        return -errno.EINVAL
    out: list[CtxArg] = []
    offset = 0
    for sp, mp in zip(stub_proto.params, proto.params, strict=True):
        nullable = _param_suffix(sp.name, "__nullable")
        ref = not nullable and _param_suffix(sp.name, "__ref")
        if nullable or ref:
            target = _ptr_struct(mp.type)
            if target is None:
                return -errno.EINVAL
            if spec.type_id(mp.type) != spec.type_id(sp.type):
                return -errno.EINVAL
            out.append(CtxArg(offset, spec.type_id(target), nullable, ref))
        offset += (_arg_size(mp.type) + 7) // 8 * 8
    return tuple(out)


def register_struct_ops(kernel: EmulatedKernel, btf: BtfObject, ops: StructOpsOps) -> int:
    """``__register_bpf_struct_ops``: validate and add ``ops`` to ``btf``'s table (R1-R3).

    Returns 0 or a negative errno, like the kernel.  The desc lands in
    ``kernel.struct_ops_descs[btf.id]``.
    """
    table = kernel.struct_ops_descs.setdefault(btf.id, [])
    if any(d.ops is ops for d in table):
        return -errno.EEXIST  # R2
    spec = btf.spec
    log = kernel.log
    if len(ops.name) + len(VALUE_PREFIX) >= 128:  # R3.1
        log(f"struct_ops name {ops.name} is too long")
        return -errno.EINVAL
    if ops.cfi_stubs is None:  # R3.2
        log(f"struct_ops for {ops.name} has no cfi_stubs")
        return -errno.EINVAL
    try:
        t = spec.find(ops.name, btflib.Struct)  # R3.3
    except KeyError:
        log(f"struct_ops type {ops.name} is not found")
        return -errno.EINVAL
    if len(t.members) > BPF_STRUCT_OPS_MAX_NR_MEMBERS:  # R3.4
        log(f"Cannot support #{len(t.members)} members")
        return -errno.EINVAL
    try:
        vt = spec.find(VALUE_PREFIX + ops.name, btflib.Struct)  # R3.5
    except KeyError:
        log(f"value type {VALUE_PREFIX}{ops.name} is not found")
        return -errno.EINVAL
    common = kernel.vmlinux.spec.find("bpf_struct_ops_common_value", btflib.Struct)
    if (  # R3.6
        len(vt.members) != 2
        or btflib.underlying(vt.members[0].type) is not common
        or btflib.underlying(vt.members[1].type) is not t
    ):
        log(f"value type {vt.name} is invalid")
        return -errno.EINVAL
    arg_info: list[tuple[CtxArg, ...]] = []
    models: dict[int, FuncModel] = {}
    func_members: list[int] = []
    for i, m in enumerate(t.members):  # R3.8
        arg_info.append(())
        if not m.name:
            return -errno.EOPNOTSUPP
        if m.bitfield_size:
            return -errno.EOPNOTSUPP
        if _is_module_ptr(m.type) and not kernel.config_modules:
            return -errno.EOPNOTSUPP
        proto = _func_proto_of(m.type)
        if proto is not None:
            func_members.append(i)
        stub = ops.cfi_stubs.get(m.name)
        if proto is None or stub is None:
            continue
        ret = btflib.underlying(proto.return_type)
        if isinstance(ret, btflib.Pointer) and _ptr_struct(ret) is None:
            return -errno.EOPNOTSUPP  # R3.8e
        model = _distill(proto)
        if isinstance(model, int):
            return model
        info = _prepare_arg_info(spec, proto, stub)
        if isinstance(info, int):
            return info
        models[i] = model
        arg_info[i] = info
    if ops.init(spec) != 0:  # R3.9
        log(f"Error in init bpf_struct_ops {ops.name}")
        return -errno.EINVAL
    table.append(
        StructOpsDesc(
            ops=ops,
            btf=btf,
            type=t,
            type_id=spec.type_id(t),
            value_type=vt,
            value_id=spec.type_id(vt),
            arg_info=arg_info,
            func_models=models,
            func_members=func_members,
        )
    )
    return 0


def find_desc_by_value(kernel: EmulatedKernel, btf: BtfObject, value_id: int) -> StructOpsDesc | None:
    """``bpf_struct_ops_find_value`` (R5)."""
    if not value_id:
        return None
    for d in kernel.struct_ops_descs.get(btf.id, []):
        if d.value_id == value_id:
            return d
    return None


def find_desc(kernel: EmulatedKernel, btf: BtfObject, type_id: int) -> StructOpsDesc | None:
    """``bpf_struct_ops_find`` (R5)."""
    if not type_id:
        return None
    for d in kernel.struct_ops_descs.get(btf.id, []):
        if d.type_id == type_id:
            return d
    return None


# ---------------------------------------------------------------------------------------
# Trampolines and image pages (U9j, M2)
# ---------------------------------------------------------------------------------------
def default_trampoline_size(model: FuncModel, returns_value: bool) -> int:
    """Size model of an x86-64 struct_ops trampoline for ``model``.

    The real size is arch- and signature-dependent and was not found in the sources
    (spec Q7); this model (prologue/epilogue, per-argument save/restore, the fentry
    return-value store) gives ~100-170 bytes, so about 40 trampolines fill a page as the
    selftests' multi-page test expects.
    """
    size = 96 + 8 * model.nr_args * 2
    if returns_value:
        size += 16
    return (size + 15) // 16 * 16


class ImagePages:
    """The trampoline image pages of one map: at most 8, charged to the JIT limit."""

    def __init__(self, kernel: EmulatedKernel) -> None:
        self.kernel = kernel
        self.pages: list[int] = []
        self.offset = 0

    def place(self, size: int) -> int:
        """Reserve ``size`` bytes (packed); a new page only when it does not fit (U9j)."""
        if size <= 0:
            raise bpf_error(errno.EFAULT, "bad trampoline size")
        if not self.pages or size > PAGE_SIZE - self.offset:
            if len(self.pages) >= MAX_TRAMP_IMAGE_PAGES:
                raise bpf_error(errno.E2BIG, "struct_ops trampolines need more than 8 pages")
            self.pages.append(self.kernel.alloc_tramp_page())
            self.offset = 0
        addr = self.pages[-1] + self.offset
        self.offset += size
        return addr

    def free(self) -> None:
        """Free all pages (uncharges)."""
        for p in self.pages:
            self.kernel.free_tramp_page(p)
        self.pages = []
        self.offset = 0


@dataclass(eq=False)
class Trampoline:
    """One op's entry point: calling it runs ``prog`` inside an RCU read section.

    It also stands for the internal ``bpf_tramp_link`` that owns the prog reference (F4, F6).
    """

    prog: BpfProg
    member_index: int
    member_name: str
    model: FuncModel
    addr: int
    size: int
    ksym: str
    released: bool = False

    def release(self) -> None:
        """``bpf_link_put`` of the trampoline link: drop the prog reference (F6)."""
        if not self.released:
            self.released = True
            self.prog.put()


# ---------------------------------------------------------------------------------------
# KData: the kernel struct handed to subsystems
# ---------------------------------------------------------------------------------------
class KData:
    """``kvalue.data`` of a struct_ops map as the subsystem sees it.

    ``buf`` is the kernel struct's bytes (function slots hold trampoline addresses);
    :meth:`call` invokes an op through its trampoline; :meth:`has` tells whether an op is
    set.  Subsystems keep per-registration state in ``state``.
    """

    def __init__(self, st_map: StructOpsMap) -> None:
        self.map = st_map
        self.state: dict[str, Any] = {}

    @property
    def desc(self) -> StructOpsDesc:
        """The registered type."""
        return self.map.desc

    @property
    def buf(self) -> bytearray:
        """The kernel struct bytes (``kvalue.data``)."""
        off = self.map.data_offset
        return memoryview(self.map.kvalue.buf)[off : off + self.map.desc.type.size]  # type: ignore[return-value]

    @property
    def addr(self) -> int:
        """Kernel address of kdata (what ``bpf_prog_get_assoc_struct_ops`` returns)."""
        return self.map.kvalue.addr + self.map.data_offset

    def member(self, name: str) -> btflib.Member:
        """The BTF member ``name``."""
        return self.desc.type.member(name)

    def read(self, name: str) -> bytes:
        """Raw bytes of member ``name``."""
        m = self.member(name)
        off = m.offset
        return bytes(self.buf[off : off + btflib.sizeof(m.type)])

    def write(self, name: str, data: bytes) -> None:
        """Overwrite member ``name`` (``init_member`` copying a handled field)."""
        m = self.member(name)
        off = m.offset
        size = btflib.sizeof(m.type)
        self.buf[off : off + size] = data[:size].ljust(size, b"\0")

    def read_str(self, name: str) -> str:
        """A ``char[]`` member as a string (up to the NUL)."""
        return self.read(name).split(b"\0", 1)[0].decode(errors="replace")

    def read_int(self, name: str) -> int:
        """An integer member (little-endian, unsigned)."""
        return int.from_bytes(self.read(name), "little")

    def trampoline(self, name: str) -> Trampoline | None:
        """The trampoline installed for op ``name`` (None when the op is NULL)."""
        idx = self.desc.type.members.index(self.member(name))
        return self.map.trampolines.get(idx)

    def has(self, name: str) -> bool:
        """The op ``name`` is set (non-NULL function pointer)."""
        return self.trampoline(name) is not None

    def call(self, name: str, *args: int) -> int:
        """Call op ``name`` with u64 ``args``; returns r0 (0 for a NULL op)."""
        tr = self.trampoline(name)
        if tr is None:
            return 0
        return self.map.kernel.run_trampoline(tr, list(args))


# ---------------------------------------------------------------------------------------
# The struct_ops map (C*, M1, U*, L*, D*, S*)
# ---------------------------------------------------------------------------------------
class StructOpsMap(BpfMap):
    """``struct bpf_struct_ops_map``."""

    TYPE = MapType.BPF_MAP_TYPE_STRUCT_OPS
    ALLOWED_FLAGS = int(MapFlags.BPF_F_LINK | MapFlags.BPF_F_VTYPE_BTF_OBJ_FD)

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

    def __init__(self, kernel: EmulatedKernel, attr: MapCreateAttr, btf: BtfObject, desc: StructOpsDesc) -> None:
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
                if _is_module_ptr(m.type):  # U9a
                    if any(udata[moff : moff + 8]):
                        raise _QuirkReturn(err)
                    struct.pack_into("<Q", kbuf, doff + moff, BPF_MODULE_OWNER)
                    continue
                err = desc.ops.init_member(t, m, self.kdata, udata)  # U9b
                if err < 0:
                    raise bpf_error(-err, f"init_member {m.name}")
                if err > 0:
                    continue
                proto = _func_proto_of(m.type)
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


# ---------------------------------------------------------------------------------------
# Links (K1-KP3)
# ---------------------------------------------------------------------------------------
class StructOpsLink(KObject):
    """``struct bpf_struct_ops_link``: a link holding a READY map registered (K*)."""

    KIND = "link"

    def __init__(self, kernel: EmulatedKernel) -> None:
        super().__init__(kernel)
        self.map: StructOpsMap | None = None
        self.link_type = LinkType.BPF_LINK_TYPE_STRUCT_OPS
        self.attach_type = AttachType.BPF_STRUCT_OPS
        self.wait_hup = threading.Condition()
        self.prog = None

    def poll(self, timeout: float | None = 0) -> int:
        """KP1: 0 while a map is attached, EPOLLHUP (0x10) afterwards; waits up to ``timeout``."""
        with self.wait_hup:
            if timeout:
                self.wait_hup.wait_for(lambda: self.map is None, timeout=timeout)
            return 0 if self.map is not None else EPOLLHUP

    def detach(self) -> None:
        """KD2: unreg, drop the map, wake pollers; idempotent."""
        kernel = self.kernel
        with kernel.update_mutex:
            st_map = self.map
            if st_map is None:
                return
            st_map.desc.ops.unreg(st_map.kdata, self)
            self.map = None
        st_map.put()
        with self.wait_hup:
            self.wait_hup.notify_all()

    def update_map(self, new_map: BpfMap, expected_old: BpfMap | None) -> None:
        """KU2: swap the registered map for ``new_map`` through the subsystem's ``update``."""
        if not valid_to_reg(new_map):  # KU2.1
            raise bpf_error(errno.EINVAL, "new map is not a READY BPF_F_LINK struct_ops map")
        assert isinstance(new_map, StructOpsMap)
        update = new_map.desc.ops.update
        if update is None:  # KU2.2
            raise bpf_error(errno.EOPNOTSUPP, f"{new_map.desc.name} does not support link update")
        with self.kernel.update_mutex:
            old = self.map
            if old is None:  # KU2.3
                raise bpf_error(errno.ENOLINK, "link is detached")
            if expected_old is not None and old is not expected_old:  # KU2.4
                raise bpf_error(errno.EPERM, "old map does not match")
            if new_map.desc is not old.desc:  # KU2.5
                raise bpf_error(errno.EINVAL, "struct_ops type differs")
            err = update(new_map.kdata, old.kdata, self)  # KU2.6
            if err:
                raise bpf_error(-err, f"update {new_map.desc.name}")
            new_map.get()  # KU2.7
            self.map = new_map
        old.put()

    def fdinfo(self) -> str:
        """K7."""
        text = f"link_type:\tstruct_ops\nlink_id:\t{self.id}\n"
        m = self.map
        if m is not None:
            text += f"map_id:\t{m.id}\n"
        return text

    def release(self) -> None:
        """KP2: dealloc unregisters if still attached."""
        st_map = self.map
        if st_map is not None:
            with self.kernel.update_mutex:
                st_map.desc.ops.unreg(st_map.kdata, self)
                self.map = None
            st_map.put()
        with self.wait_hup:
            self.wait_hup.notify_all()


EPOLLHUP = 0x10


def link_create(kernel: EmulatedKernel, m: BpfMap) -> StructOpsLink:
    """K3-K5: create a link for a READY link-map and register it (``reg``)."""
    if not valid_to_reg(m):  # K3
        raise bpf_error(errno.EINVAL, "map is not a READY BPF_F_LINK struct_ops map")
    assert isinstance(m, StructOpsMap)
    m.get()  # the bpf_map_get reference the link keeps
    link = StructOpsLink(kernel)
    with kernel.update_mutex:
        err = m.desc.ops.reg(m.kdata, link)  # K5
        if err:
            m.put()
            raise bpf_error(-err, f"register {m.desc.name}")
        link.map = m
    return link


# ---------------------------------------------------------------------------------------
# Association (A1-A5)
# ---------------------------------------------------------------------------------------
_assoc_lock = threading.Lock()


def prog_assoc(prog: BpfProg, st_map: StructOpsMap) -> int:
    """``bpf_prog_assoc_struct_ops`` (A2): 0, or -EBUSY for a second map."""
    with _assoc_lock:
        cur = prog.st_ops_assoc
        if prog.prog_type == ProgType.BPF_PROG_TYPE_STRUCT_OPS:
            if cur is None:
                prog.st_ops_assoc = st_map
            elif cur is not st_map:
                prog.st_ops_assoc = POISON
            return 0
        if cur is st_map:
            return 0
        if cur is not None:
            return -errno.EBUSY
        st_map.get()
        prog.st_ops_assoc = st_map
        return 0


def prog_disassoc(prog: BpfProg) -> None:
    """``bpf_prog_disassoc_struct_ops`` (A3)."""
    with _assoc_lock:
        cur = prog.st_ops_assoc
        if cur is None or cur is POISON:
            return
        prog.st_ops_assoc = None
    if prog.prog_type != ProgType.BPF_PROG_TYPE_STRUCT_OPS and isinstance(cur, StructOpsMap):
        cur.put()


def prog_get_assoc(prog: BpfProg) -> KData | None:
    """``bpf_prog_get_assoc_struct_ops`` (A4): the kdata, or None (no association / POISON)."""
    cur = prog.st_ops_assoc
    return cur.kdata if isinstance(cur, StructOpsMap) else None
