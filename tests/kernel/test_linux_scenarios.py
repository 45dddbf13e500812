"""Oracle scenarios for struct_ops, written once against the ``Kernel`` protocol.

Each ``scenario_*`` function takes a :class:`~structops.kernel.protocol.Kernel`, an
:class:`Env` (kernel type ids and layouts, resolved from the kernel's own BTF) and a
:class:`Tracker` (which owns everything the scenario creates and tears it down), and
asserts the behaviour the real Linux 6.18 kernel shows (kernel-6.18-observed.md §4-§6,
spec §4-§13).  ``test_linux_kernel.py`` runs them on :class:`structops.linux.LinuxKernel`;
the differential conformance suite can run the same functions on the embedded kernel.

Support pieces, deliberately tiny and private to the tests:

* :func:`resolve_env` - the ONE place BTF lookups happen (through ``structops.btf``).
* :func:`insn` and friends - an 8-byte eBPF instruction encoder.
* :func:`minimal_btf` - the 45-byte user BTF (one INT "int") map_create needs.
"""

from __future__ import annotations

import errno
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from structops import btf
from structops.errors import BpfError
from structops.kernel.attrs import (
    BtfLoadAttr,
    GetIdAttr,
    InfoAttr,
    LinkCreateAttr,
    LinkDetachAttr,
    LinkUpdateAttr,
    MapCreateAttr,
    MapElemAttr,
    MapFreezeAttr,
    ProgLoadAttr,
    TestRunAttr,
)
from structops.kernel.protocol import Kernel
from structops.uapi import (
    BPF_F_REPLACE,
    BPF_PSEUDO_KFUNC_CALL,
    ENOTSUPP,
    Cmd,
    MapFlags,
    MapType,
    ProgLoadFlags,
    ProgType,
    StructOpsState,
)

INIT = StructOpsState.BPF_STRUCT_OPS_STATE_INIT
INUSE = StructOpsState.BPF_STRUCT_OPS_STATE_INUSE
TOBEFREE = StructOpsState.BPF_STRUCT_OPS_STATE_TOBEFREE
READY = StructOpsState.BPF_STRUCT_OPS_STATE_READY
STRUCT_OPS_MAP = MapType.BPF_MAP_TYPE_STRUCT_OPS
STRUCT_OPS_PROG = ProgType.BPF_PROG_TYPE_STRUCT_OPS
F_LINK = MapFlags.BPF_F_LINK


# --------------------------------------------------------------------------------------
# BTF: the one lookup helper (switch to structops.btf once it lands)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StructLayout:
    """A BTF struct: type id, byte size, and member name -> (index, byte offset)."""

    type_id: int
    size: int
    members: dict[str, tuple[int, int]]

    def offset(self, member: str) -> int:
        """Byte offset of ``member``."""
        return self.members[member][1]

    def index(self, member: str) -> int:
        """Member index of ``member`` (the struct_ops ``expected_attach_type``)."""
        return self.members[member][0]


@dataclass(frozen=True)
class Env:
    """Kernel facts a scenario needs, resolved by name from the kernel's BTF (never hard-coded)."""

    tcp_ops: StructLayout
    tcp_value: StructLayout
    dummy_ops: StructLayout
    dummy_value: StructLayout
    tcp_sock: StructLayout
    kfuncs: dict[str, int]

    @property
    def tcp_data(self) -> int:
        """Offset of ``data`` in ``bpf_struct_ops_tcp_congestion_ops`` (64 on 6.18, observed §2)."""
        return self.tcp_value.offset("data")

    @property
    def dummy_data(self) -> int:
        """Offset of ``data`` in ``bpf_struct_ops_bpf_dummy_ops``."""
        return self.dummy_value.offset("data")


KFUNCS = ("tcp_reno_ssthresh", "tcp_reno_cong_avoid", "tcp_reno_undo_cwnd")


class MissingKernelTypes(LookupError):
    """The kernel's BTF lacks a type or kfunc the scenarios need (a reason to skip)."""


def _layout(spec: btf.Spec, name: str) -> StructLayout:
    st = spec.find(name, btf.Struct)
    members = {m.name: (i, m.bit_offset // 8) for i, m in enumerate(st.members)}
    return StructLayout(spec.type_id(st), st.size, members)


def resolve_env(vmlinux_btf: bytes) -> Env:
    """Resolve :class:`Env` from raw kernel BTF with ``structops.btf``.

    Raises :class:`MissingKernelTypes` naming what the kernel lacks.

    This is the one place the scenarios look at BTF.
    """
    spec = btf.parse(vmlinux_btf)
    names = (
        "tcp_congestion_ops",
        "bpf_struct_ops_tcp_congestion_ops",
        "bpf_dummy_ops",
        "bpf_struct_ops_bpf_dummy_ops",
        "tcp_sock",
    )
    layouts, kfuncs, missing = {}, {}, []
    for name in names:
        try:
            layouts[name] = _layout(spec, name)
        except KeyError:
            missing.append(name)
    for name in KFUNCS:
        try:
            kfuncs[name] = spec.type_id(spec.find(name, btf.Func))
        except KeyError:
            missing.append(name)
    if missing:
        raise MissingKernelTypes(f"kernel BTF lacks {', '.join(missing)}")
    return Env(
        tcp_ops=layouts["tcp_congestion_ops"],
        tcp_value=layouts["bpf_struct_ops_tcp_congestion_ops"],
        dummy_ops=layouts["bpf_dummy_ops"],
        dummy_value=layouts["bpf_struct_ops_bpf_dummy_ops"],
        tcp_sock=layouts["tcp_sock"],
        kfuncs=kfuncs,
    )


def minimal_btf() -> bytes:
    """A 45-byte user BTF: header + one INT ``int`` (4 bytes, signed) + strings (observed §5)."""
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, 16, 16, 5)
    int_type = struct.pack("<IIII", 1, 1 << 24, 4, (1 << 24) | 32)
    return header + int_type + b"\0int\0"


def empty_btf() -> bytes:
    """A BTF with a valid header and string section but no types (BTF_LOAD -> EINVAL, observed §5)."""
    return struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, 0, 0, 1) + b"\0"


# --------------------------------------------------------------------------------------
# eBPF instruction encoder (switch to structops.isa once it lands)
# --------------------------------------------------------------------------------------


def insn(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One 8-byte eBPF instruction: opcode, dst/src nibbles, s16 offset, s32 immediate."""
    if imm > 0x7FFFFFFF:
        imm -= 1 << 32
    return struct.pack("<BBhi", op, (src << 4) | dst, off, imm)


def ldx_dw(dst: int, src: int, off: int) -> bytes:
    """``dst = *(u64 *)(src + off)`` (BPF_LDX|BPF_MEM|BPF_DW)."""
    return insn(0x79, dst, src, off)


def ldx_w(dst: int, src: int, off: int) -> bytes:
    """``dst = *(u32 *)(src + off)``."""
    return insn(0x61, dst, src, off)


def st_w(dst: int, off: int, imm: int) -> bytes:
    """``*(u32 *)(dst + off) = imm``."""
    return insn(0x62, dst, 0, off, imm)


def stx_w(dst: int, src: int, off: int) -> bytes:
    """``*(u32 *)(dst + off) = src``."""
    return insn(0x63, dst, src, off)


def mov32_imm(dst: int, imm: int) -> bytes:
    """``w_dst = imm`` (zero-extends)."""
    return insn(0xB4, dst, imm=imm)


def add64_reg(dst: int, src: int) -> bytes:
    """``dst += src``."""
    return insn(0x0F, dst, src)


def jne_imm(dst: int, imm: int, off: int) -> bytes:
    """``if dst != imm goto +off``."""
    return insn(0x55, dst, 0, off, imm)


def call_kfunc(btf_id: int) -> bytes:
    """Call a kernel function by vmlinux BTF id (src = BPF_PSEUDO_KFUNC_CALL, observed §5)."""
    return insn(0x85, 0, BPF_PSEUDO_KFUNC_CALL, 0, btf_id)


EXIT = insn(0x95)


def prog_ssthresh(env: Env) -> bytes:
    """``ssthresh(sk)``: ``return tcp_reno_ssthresh(ctx[0])`` (3 insns, observed §5)."""
    return ldx_dw(1, 1, 0) + call_kfunc(env.kfuncs["tcp_reno_ssthresh"]) + EXIT


def prog_undo_cwnd(env: Env) -> bytes:
    """``undo_cwnd(sk)``: ``return tcp_reno_undo_cwnd(ctx[0])``."""
    return ldx_dw(1, 1, 0) + call_kfunc(env.kfuncs["tcp_reno_undo_cwnd"]) + EXIT


def prog_cong_avoid(env: Env) -> bytes:
    """``cong_avoid(sk, ack, acked)``: ``tcp_reno_cong_avoid(ctx[0], ctx[1], ctx[2])`` (5 insns)."""
    body = ldx_dw(3, 1, 16) + ldx_dw(2, 1, 8) + ldx_dw(1, 1, 0)
    return body + call_kfunc(env.kfuncs["tcp_reno_cong_avoid"]) + EXIT


def prog_write_tcp_sock(off: int) -> bytes:
    """``ssthresh(sk)``: ``*(u32 *)((void *)sk + off) = 10; return 10`` (T8 write windows)."""
    return ldx_dw(1, 1, 0) + st_w(1, off, 10) + mov32_imm(0, 10) + EXIT


def prog_return(value: int) -> bytes:
    """``return value`` without touching the ctx."""
    return mov32_imm(0, value) + EXIT


def prog_bare_exit() -> bytes:
    """Just ``exit``: valid for a void op (init), refused for ssthresh (``R0 !read_ok``)."""
    return EXIT


def prog_dummy_test_1() -> bytes:
    """``test_1(state)``: NULL -> 0xf2f3f4f5, else return state->val and set it to 0x5a (DM6)."""
    return (
        ldx_dw(1, 1, 0) + jne_imm(1, 0, 2) + mov32_imm(0, 0xF2F3F4F5) + EXIT + ldx_w(0, 1, 0) + st_w(1, 0, 0x5A) + EXIT
    )


def prog_dummy_test_1_no_null_check() -> bytes:
    """``test_1(state)``: ``return state->val`` with no NULL check (refused: arg is __nullable, DM2)."""
    return ldx_dw(1, 1, 0) + ldx_w(0, 1, 0) + EXIT


def prog_dummy_test_2() -> bytes:
    """``test_2(state, a1, a2, a3, a4)``: ``state->val = a1 + a2 + a3 + a4``; return it."""
    return (
        ldx_dw(6, 1, 0)
        + ldx_dw(0, 1, 8)
        + ldx_dw(2, 1, 16)
        + add64_reg(0, 2)
        + ldx_dw(2, 1, 24)
        + add64_reg(0, 2)
        + ldx_dw(2, 1, 32)
        + add64_reg(0, 2)
        + stx_w(6, 0, 0)
        + EXIT
    )


# --------------------------------------------------------------------------------------
# Object tracking and cleanup
# --------------------------------------------------------------------------------------

OBJ_MAP, OBJ_PROG, OBJ_LINK, OBJ_BTF = "map", "prog", "link", "btf"
_NEXT_ID_CMD = {
    OBJ_MAP: Cmd.BPF_MAP_GET_NEXT_ID,
    OBJ_PROG: Cmd.BPF_PROG_GET_NEXT_ID,
    OBJ_LINK: Cmd.BPF_LINK_GET_NEXT_ID,
    OBJ_BTF: Cmd.BPF_BTF_GET_NEXT_ID,
}


def obj_id(k: Kernel, fd: int, kind: str) -> int:
    """The kernel id of the object behind ``fd`` (OBJ_GET_INFO_BY_FD; btf id is at 12, others at 4)."""
    info = InfoAttr(fd, bytearray(256 if kind != OBJ_BTF else 32))
    k.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, info)
    return int(struct.unpack_from("<I", info.info, 12 if kind == OBJ_BTF else 4)[0])


def live_ids(k: Kernel, kind: str) -> set[int]:
    """Every id of ``kind`` the kernel currently lists (``*_GET_NEXT_ID`` walk until ENOENT)."""
    ids: set[int] = set()
    start = 0
    while True:
        attr = GetIdAttr(id=start)
        try:
            k.bpf(_NEXT_ID_CMD[kind], attr)
        except BpfError as exc:
            if exc.errno == errno.ENOENT:
                return ids
            raise
        ids.add(attr.next_id)
        start = attr.next_id


@dataclass
class Tracker:
    """Owns what a scenario creates: fds, non-link registrations; tears it all down.

    ``teardown`` unregisters still-INUSE maps (delete_elem), closes every fd in reverse
    order, then waits until none of the recorded object ids is listed by ``GET_NEXT_ID``
    (the struct_ops map free runs after RCU grace periods, spec F3).
    """

    k: Kernel
    fds: list[int] = field(default_factory=list)
    registered: list[int] = field(default_factory=list)
    ids: dict[str, set[int]] = field(
        default_factory=lambda: {OBJ_MAP: set(), OBJ_PROG: set(), OBJ_LINK: set(), OBJ_BTF: set()}
    )
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def own(self, fd: int, kind: str, *, track_id: bool = True) -> int:
        """Record ``fd`` (and, unless ``track_id`` is false, its object id) for teardown."""
        self.fds.append(fd)
        if track_id:
            self.ids[kind].add(obj_id(self.k, fd, kind))
        return fd

    def close(self, fd: int) -> None:
        """Close an owned fd now (its id stays recorded for the leak check)."""
        self.fds.remove(fd)
        self.k.close(fd)

    def teardown(self, leak_timeout: float = 5.0) -> None:
        """Undo everything, then check nothing created is still alive; AssertionError if it is."""
        errors: list[BaseException] = []
        for map_fd in reversed(self.registered):
            try:
                self.k.bpf(Cmd.BPF_MAP_DELETE_ELEM, MapElemAttr(map_fd, key=bytes(4)))
            except BpfError as exc:
                if exc.errno not in (errno.EINPROGRESS, errno.ENOENT):
                    errors.append(exc)
        for fd in reversed(self.fds):
            try:
                self.k.close(fd)
            except OSError as exc:
                errors.append(exc)
        self.fds.clear()
        self.registered.clear()
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as exc:
                errors.append(exc)
        self.cleanups.clear()
        if errors:
            raise errors[0]
        deadline = time.monotonic() + leak_timeout
        while True:
            leaked = {kind: ids & live_ids(self.k, kind) for kind, ids in self.ids.items()}
            leaked = {kind: ids for kind, ids in leaked.items() if ids}
            if not leaked:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"objects still alive after teardown: {leaked}")
            time.sleep(0.02)


@contextmanager
def tracked(k: Kernel) -> Iterator[Tracker]:
    """A :class:`Tracker` whose teardown runs however the block exits."""
    t = Tracker(k)
    try:
        yield t
    finally:
        t.teardown()


# --------------------------------------------------------------------------------------
# Building blocks shared by the scenarios
# --------------------------------------------------------------------------------------


def expect_errno(code: int, fn: Callable[[], object]) -> BpfError:
    """Run ``fn``; assert it raises a BpfError with ``code``; return the error."""
    try:
        result = fn()
    except BpfError as exc:
        assert exc.errno == code, f"expected errno {code}, got {exc.errno}: {exc} / log: {exc.log!r}"
        return exc
    raise AssertionError(f"expected errno {code}, call succeeded with {result!r}")


def load_user_btf(k: Kernel, t: Tracker) -> int:
    """BTF_LOAD the minimal user BTF (map_create needs one, observed §5)."""
    return t.own(k.bpf(Cmd.BPF_BTF_LOAD, BtfLoadAttr(btf=minimal_btf())), OBJ_BTF)


def create_tcp_map(k: Kernel, t: Tracker, env: Env, btf_fd: int, *, link: bool = False) -> int:
    """A struct_ops map for tcp_congestion_ops (LD2), optionally BPF_F_LINK."""
    attr = MapCreateAttr(
        STRUCT_OPS_MAP,
        4,
        env.tcp_value.size,
        1,
        map_flags=F_LINK if link else 0,
        btf_fd=btf_fd,
        btf_vmlinux_value_type_id=env.tcp_value.type_id,
    )
    return t.own(k.bpf(Cmd.BPF_MAP_CREATE, attr), OBJ_MAP)


def load_struct_ops_prog(
    k: Kernel,
    t: Tracker,
    ops: StructLayout,
    member: str | int,
    code: bytes,
    *,
    license: str = "GPL",
    log: bytearray | None = None,
) -> int:
    """BPF_PROG_LOAD a struct_ops prog for ``member`` of ``ops`` (LD1)."""
    idx = member if isinstance(member, int) else ops.index(member)
    attr = ProgLoadAttr(
        STRUCT_OPS_PROG,
        code,
        license=license,
        expected_attach_type=idx,
        attach_btf_id=ops.type_id,
        log_buf=log,
        log_level=1 if log is not None else 0,
    )
    return t.own(k.bpf(Cmd.BPF_PROG_LOAD, attr), OBJ_PROG)


@dataclass
class RenoProgs:
    """The four reno-via-kfuncs programs of a BPF TCP CC (observed §5)."""

    ssthresh: int
    cong_avoid: int
    undo_cwnd: int
    init: int

    def slots(self) -> dict[str, int]:
        """Member name -> prog fd."""
        return {
            "ssthresh": self.ssthresh,
            "cong_avoid": self.cong_avoid,
            "undo_cwnd": self.undo_cwnd,
            "init": self.init,
        }


def load_reno(k: Kernel, t: Tracker, env: Env) -> RenoProgs:
    """Load ssthresh / cong_avoid / undo_cwnd (kfuncs) and a bare-exit init."""
    ops = env.tcp_ops
    return RenoProgs(
        ssthresh=load_struct_ops_prog(k, t, ops, "ssthresh", prog_ssthresh(env)),
        cong_avoid=load_struct_ops_prog(k, t, ops, "cong_avoid", prog_cong_avoid(env)),
        undo_cwnd=load_struct_ops_prog(k, t, ops, "undo_cwnd", prog_undo_cwnd(env)),
        init=load_struct_ops_prog(k, t, ops, "init", prog_bare_exit()),
    )


def tcp_value(env: Env, name: str, slots: dict[str, int]) -> bytes:
    """The map value: zeros, ``name`` at data+off(name), each prog fd as u64 in its slot (LD3)."""
    value = bytearray(env.tcp_value.size)
    base = env.tcp_data
    raw = name.encode()
    value[base + env.tcp_ops.offset("name") : base + env.tcp_ops.offset("name") + len(raw)] = raw
    for member, fd in slots.items():
        struct.pack_into("<Q", value, base + env.tcp_ops.offset(member), fd)
    return bytes(value)


def update(k: Kernel, map_fd: int, value: bytes, key: int = 0) -> int:
    """BPF_MAP_UPDATE_ELEM with a u32 key."""
    return k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, MapElemAttr(map_fd, key=struct.pack("<I", key), value=value))


def delete(k: Kernel, map_fd: int) -> int:
    """BPF_MAP_DELETE_ELEM key 0 (the non-link unregister, D3)."""
    return k.bpf(Cmd.BPF_MAP_DELETE_ELEM, MapElemAttr(map_fd, key=bytes(4)))


def lookup(k: Kernel, map_fd: int, size: int) -> bytearray:
    """BPF_MAP_LOOKUP_ELEM key 0 into a fresh ``size``-byte buffer."""
    out = bytearray(size)
    k.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(map_fd, key=bytes(4), value=out))
    return out


def common(value: bytes | bytearray) -> tuple[int, int]:
    """``(refcnt, state)`` from ``bpf_struct_ops_common_value`` at offset 0 (spec 2.2)."""
    refcnt, state = struct.unpack_from("<iI", value, 0)
    return refcnt, state


def link_create(k: Kernel, t: Tracker, map_fd: int) -> int:
    """BPF_LINK_CREATE attach type BPF_STRUCT_OPS (44) of ``map_fd`` (K1)."""
    return t.own(k.bpf(Cmd.BPF_LINK_CREATE, LinkCreateAttr.struct_ops(map_fd)), OBJ_LINK)


def link_info(k: Kernel, link_fd: int) -> tuple[int, int, int, int]:
    """``(type, id, prog_id, struct_ops.map_id)`` of a link (K8; map_id at offset 16)."""
    info = InfoAttr(link_fd, bytearray(64))
    k.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, info)
    ltype, lid, prog_id = struct.unpack_from("<III", info.info, 0)
    (map_id,) = struct.unpack_from("<I", info.info, 16)
    return ltype, lid, prog_id, map_id


def link_update(k: Kernel, link_fd: int, new_map: int, *, old_map: int = 0, replace: bool = False) -> int:
    """BPF_LINK_UPDATE to ``new_map`` (KU1), optionally BPF_F_REPLACE with ``old_map``."""
    attr = LinkUpdateAttr(link_fd, new_fd=new_map, flags=BPF_F_REPLACE if replace else 0, old_fd=old_map)
    return k.bpf(Cmd.BPF_LINK_UPDATE, attr)


def link_detach(k: Kernel, link_fd: int) -> int:
    """BPF_LINK_DETACH (KD2)."""
    return k.bpf(Cmd.BPF_LINK_DETACH, LinkDetachAttr(link_fd))


# --------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------


def scenario_btf_load(k: Kernel, env: Env, t: Tracker) -> None:
    """BTF_LOAD: the minimal user BTF loads; a BTF without types is EINVAL (observed §5)."""
    fd = load_user_btf(k, t)
    assert fd > 0
    log = bytearray(1024)
    err = expect_errno(
        errno.EINVAL,
        lambda: k.bpf(Cmd.BPF_BTF_LOAD, BtfLoadAttr(btf=empty_btf(), btf_log_buf=log, btf_log_level=1)),
    )
    assert "No type found" in err.log, "BTF_LOAD log text must be captured in the error"


def scenario_map_create(k: Kernel, env: Env, t: Tracker) -> None:
    """MAP_CREATE struct_ops: btf_fd rules and size checks (observed §5 map table, LD2)."""
    btf_fd = load_user_btf(k, t)
    vt, vsize = env.tcp_value.type_id, env.tcp_value.size

    def create(**kw: int) -> int:
        base = MapCreateAttr(STRUCT_OPS_MAP, 4, vsize, 1, btf_fd=btf_fd, btf_vmlinux_value_type_id=vt)
        fd = k.bpf(Cmd.BPF_MAP_CREATE, base.replace(**kw))
        return t.own(fd, OBJ_MAP)

    expect_errno(errno.EINVAL, lambda: create(btf_fd=0))
    vmlinux_fd = t.own(k.bpf(Cmd.BPF_BTF_GET_FD_BY_ID, GetIdAttr(id=1)), OBJ_BTF, track_id=False)
    expect_errno(errno.EACCES, lambda: create(btf_fd=vmlinux_fd))
    assert create() > 0
    assert create(map_flags=F_LINK) > 0
    expect_errno(errno.EINVAL, lambda: create(value_size=vsize - 8))
    expect_errno(errno.EINVAL, lambda: create(key_size=8))
    expect_errno(errno.EINVAL, lambda: create(max_entries=2))
    expect_errno(errno.EINVAL, lambda: create(btf_vmlinux_value_type_id=0))
    expect_errno(ENOTSUPP, lambda: create(btf_vmlinux_value_type_id=env.tcp_ops.type_id))
    expect_errno(
        errno.EINVAL,
        lambda: k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1, map_flags=F_LINK)),
    )


def scenario_prog_load(k: Kernel, env: Env, t: Tracker) -> None:
    """PROG_LOAD struct_ops: V4, V5, V7, V8, V15 (observed §5 programs table)."""
    progs = load_reno(k, t, env)
    assert min(progs.slots().values()) > 0
    ops = env.tcp_ops

    def load(code_: int, member: str | int, code: bytes, license: str = "GPL") -> BpfError:
        log = bytearray(8192)
        return expect_errno(code_, lambda: load_struct_ops_prog(k, t, ops, member, code, license=license, log=log))

    err = load(errno.EINVAL, "ssthresh", prog_ssthresh(env), license="Proprietary")
    assert "GPL" in err.log
    err = load(errno.EINVAL, 99, prog_bare_exit())
    assert "invalid member idx 99" in err.log
    err = load(errno.EINVAL, "name", prog_bare_exit())
    assert "name" in err.log
    err = load(errno.EACCES, "ssthresh", prog_bare_exit())
    assert "R0 !read_ok" in err.log
    attr = ProgLoadAttr(STRUCT_OPS_PROG, prog_bare_exit(), expected_attach_type=ops.index("init"))
    expect_errno(ENOTSUPP, lambda: k.bpf(Cmd.BPF_PROG_LOAD, attr))
    wrapper = ProgLoadAttr(
        STRUCT_OPS_PROG,
        prog_bare_exit(),
        expected_attach_type=ops.index("init"),
        attach_btf_id=env.tcp_value.type_id,
        log_buf=bytearray(4096),
        log_level=1,
    )
    err = expect_errno(ENOTSUPP, lambda: k.bpf(Cmd.BPF_PROG_LOAD, wrapper))
    assert "not a supported struct" in err.log


def scenario_legacy_registration(
    k: Kernel,
    env: Env,
    t: Tracker,
    name: str,
    *,
    on_registered: Callable[[str], None] | None = None,
    available: Callable[[], list[str]] | None = None,
) -> None:
    """Non-link registration lifecycle: U7, U13, D3, D5, S1/S4/S6, T5, L3/L4 (observed §5 legacy)."""
    btf_fd = load_user_btf(k, t)
    progs = load_reno(k, t, env)
    map_fd = create_tcp_map(k, t, env, btf_fd)
    size = env.tcp_value.size
    fresh = lookup(k, map_fd, size)
    assert fresh == bytes(size), "an INIT map looks up as all zeros (L3)"
    expect_errno(errno.EINVAL, lambda: update(k, map_fd, bytes(size)))  # empty name (T3)
    expect_errno(errno.E2BIG, lambda: update(k, map_fd, tcp_value(env, name, progs.slots()), key=1))
    assert common(lookup(k, map_fd, size)) == (0, INIT), "failed updates leave INIT (S3)"

    assert update(k, map_fd, tcp_value(env, name, progs.slots())) == 0
    t.registered.append(map_fd)
    got = lookup(k, map_fd, size)
    assert common(got) == (1, INUSE)
    assert got[env.tcp_data + env.tcp_ops.offset("name") :].startswith(name.encode() + b"\0")
    prog_id = obj_id(k, progs.ssthresh, OBJ_PROG)
    (slot,) = struct.unpack_from("<Q", got, env.tcp_data + env.tcp_ops.offset("ssthresh"))
    assert slot == prog_id, "function slots read back as prog ids (L4)"
    if available is not None:
        assert name in available()
    if on_registered is not None:
        on_registered(name)

    expect_errno(errno.EBUSY, lambda: update(k, map_fd, tcp_value(env, name, progs.slots())))
    expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_LINK_CREATE, LinkCreateAttr.struct_ops(map_fd)))
    assert delete(k, map_fd) == 0
    t.registered.remove(map_fd)
    assert common(lookup(k, map_fd, size)) == (0, TOBEFREE)
    if available is not None:
        assert name not in available()
    expect_errno(errno.EINPROGRESS, lambda: delete(k, map_fd))
    expect_errno(errno.EBUSY, lambda: update(k, map_fd, tcp_value(env, name, progs.slots())))

    other = create_tcp_map(k, t, env, btf_fd)
    expect_errno(errno.ENOENT, lambda: delete(k, other))  # INIT (D3)
    expect_errno(errno.EEXIST, lambda: update(k, other, tcp_value(env, "reno", progs.slots())))
    assert common(lookup(k, other, size)) == (0, INIT), "reg failure resets to INIT (U14)"
    swapped = progs.slots() | {"cong_avoid": progs.ssthresh}
    expect_errno(errno.EINVAL, lambda: update(k, other, tcp_value(env, name, swapped)))
    missing = {m: fd for m, fd in progs.slots().items() if m != "undo_cwnd"}
    expect_errno(errno.EINVAL, lambda: update(k, other, tcp_value(env, name, missing)))


def scenario_link_mode(
    k: Kernel,
    env: Env,
    t: Tracker,
    name: str,
    *,
    available: Callable[[], list[str]] | None = None,
    on_registered: Callable[[str], None] | None = None,
) -> None:
    """BPF_F_LINK maps and struct_ops links: S2, K3, K5, K8, KU2, KD2, KD3, KP2 (observed §5 link)."""
    btf_fd = load_user_btf(k, t)
    progs = load_reno(k, t, env)
    size = env.tcp_value.size
    map_a = create_tcp_map(k, t, env, btf_fd, link=True)
    expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_LINK_CREATE, LinkCreateAttr.struct_ops(map_a)))
    expect_errno(errno.EOPNOTSUPP, lambda: delete(k, map_a))
    assert update(k, map_a, tcp_value(env, name, progs.slots())) == 0
    assert common(lookup(k, map_a, size)) == (0, READY)
    if available is not None:
        assert name not in available(), "READY is not registered yet (U12)"
    expect_errno(errno.EBUSY, lambda: update(k, map_a, tcp_value(env, name, progs.slots())))
    expect_errno(errno.EOPNOTSUPP, lambda: delete(k, map_a))

    link = link_create(k, t, map_a)
    assert common(lookup(k, map_a, size)) == (1, READY), "link mode never goes INUSE (S5)"
    if available is not None:
        assert name in available()
    if on_registered is not None:
        on_registered(name)
    ltype, lid, prog_id, map_id = link_info(k, link)
    assert (ltype, prog_id, map_id) == (9, 0, obj_id(k, map_a, OBJ_MAP))
    assert lid == obj_id(k, link, OBJ_LINK)
    expect_errno(errno.EEXIST, lambda: k.bpf(Cmd.BPF_LINK_CREATE, LinkCreateAttr.struct_ops(map_a)))

    map_b = create_tcp_map(k, t, env, btf_fd, link=True)
    expect_errno(errno.EINVAL, lambda: link_update(k, link, map_b))  # INIT map (KU2.1)
    assert update(k, map_b, tcp_value(env, name, progs.slots())) == 0
    map_c = create_tcp_map(k, t, env, btf_fd, link=True)
    assert update(k, map_c, tcp_value(env, name + "x", progs.slots())) == 0
    expect_errno(errno.EINVAL, lambda: link_update(k, link, map_c))  # name differs (T7)
    expect_errno(errno.EPERM, lambda: link_update(k, link, map_b, old_map=map_c, replace=True))
    expect_errno(errno.EINVAL, lambda: link_update(k, link, map_b, old_map=map_a))  # old w/o REPLACE
    assert link_update(k, link, map_b) == 0
    assert common(lookup(k, map_a, size)) == (0, READY)
    assert common(lookup(k, map_b, size)) == (1, READY)
    assert link_info(k, link)[3] == obj_id(k, map_b, OBJ_MAP)
    assert link_update(k, link, map_a, old_map=map_b, replace=True) == 0
    assert link_info(k, link)[3] == obj_id(k, map_a, OBJ_MAP)

    assert link_detach(k, link) == 0
    if available is not None:
        assert name not in available()
    assert common(lookup(k, map_a, size)) == (0, READY)
    assert link_info(k, link)[3] == 0, "no map id after detach (KD3)"
    assert link_detach(k, link) == 0, "second detach is a no-op (KD2)"
    expect_errno(errno.ENOLINK, lambda: link_update(k, link, map_b))

    again = link_create(k, t, map_a)
    if available is not None:
        assert name in available()
    t.close(again)
    if available is not None:
        assert name not in available(), "closing the only link fd unregisters (KP2)"
    assert common(lookup(k, map_a, size)) == (0, READY)


def scenario_dummy_ops(k: Kernel, env: Env, t: Tracker) -> None:
    """bpf_dummy_ops test_run: DM1, DM2, DM6, and a dummy map never registers (observed §4)."""
    ops = env.dummy_ops
    p1 = load_struct_ops_prog(k, t, ops, "test_1", prog_dummy_test_1())
    p2 = load_struct_ops_prog(k, t, ops, "test_2", prog_dummy_test_2())
    state = k.alloc_user(4)
    state.write(struct.pack("<i", 7))

    run = TestRunAttr(p1, ctx_in=struct.pack("<Q", state.addr))
    assert k.bpf(Cmd.BPF_PROG_TEST_RUN, run) == 0
    assert run.retval == 7
    assert struct.unpack("<i", state.read(0, 4))[0] == 0x5A
    run = TestRunAttr(p1, ctx_in=bytes(8))
    k.bpf(Cmd.BPF_PROG_TEST_RUN, run)
    assert run.retval == 0xF2F3F4F5
    expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_PROG_TEST_RUN, TestRunAttr(p1, ctx_in=bytes(16))))
    expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_PROG_TEST_RUN, TestRunAttr(p1)))

    state.write(struct.pack("<i", 0))
    run = TestRunAttr(p2, ctx_in=struct.pack("<5Q", state.addr, 1, 2, 3, 4))
    k.bpf(Cmd.BPF_PROG_TEST_RUN, run)
    assert run.retval == 10
    assert struct.unpack("<i", state.read(0, 4))[0] == 10
    expect_errno(
        errno.EINVAL,
        lambda: k.bpf(Cmd.BPF_PROG_TEST_RUN, TestRunAttr(p2, ctx_in=struct.pack("<5Q", 0, 1, 2, 3, 4))),
    )

    btf_fd = load_user_btf(k, t)
    for flags in (0, F_LINK):
        attr = MapCreateAttr(
            STRUCT_OPS_MAP,
            4,
            env.dummy_value.size,
            1,
            map_flags=flags,
            btf_fd=btf_fd,
            btf_vmlinux_value_type_id=env.dummy_value.type_id,
        )
        map_fd = t.own(k.bpf(Cmd.BPF_MAP_CREATE, attr), OBJ_MAP)
        value = bytearray(env.dummy_value.size)
        struct.pack_into("<Q", value, env.dummy_data + ops.offset("test_1"), p1)
        expect_errno(errno.EOPNOTSUPP, lambda m=map_fd, v=bytes(value): update(k, m, v))  # type: ignore[misc]
        assert common(lookup(k, map_fd, env.dummy_value.size)) == (0, INIT)


def scenario_ids_and_info(k: Kernel, env: Env, t: Tracker) -> None:
    """GET_NEXT_ID / GET_FD_BY_ID / OBJ_GET_INFO_BY_FD for btf, map, prog and link (K8, LD2)."""
    btf_fd = load_user_btf(k, t)
    progs = load_reno(k, t, env)
    map_fd = create_tcp_map(k, t, env, btf_fd, link=True)
    update(k, map_fd, tcp_value(env, f"ids{len(t.fds)}", progs.slots()))
    link = link_create(k, t, map_fd)
    for kind, fd, by_id in (
        (OBJ_BTF, btf_fd, Cmd.BPF_BTF_GET_FD_BY_ID),
        (OBJ_MAP, map_fd, Cmd.BPF_MAP_GET_FD_BY_ID),
        (OBJ_PROG, progs.init, Cmd.BPF_PROG_GET_FD_BY_ID),
        (OBJ_LINK, link, Cmd.BPF_LINK_GET_FD_BY_ID),
    ):
        oid = obj_id(k, fd, kind)
        assert oid in live_ids(k, kind)
        nxt = GetIdAttr(id=oid - 1)
        k.bpf(_NEXT_ID_CMD[kind], nxt)
        assert nxt.next_id == oid
        fd2 = t.own(k.bpf(by_id, GetIdAttr(id=oid)), kind)
        assert fd2 != fd and obj_id(k, fd2, kind) == oid
    info = InfoAttr(map_fd, bytearray(88))
    k.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, info)
    mtype, _mid, ksize, vsize, maxent, flags = struct.unpack_from("<6I", info.info, 0)
    assert (mtype, ksize, vsize, maxent, flags) == (26, 4, env.tcp_value.size, 1, F_LINK)
    (vmlinux_vt,) = struct.unpack_from("<I", info.info, 44)
    assert vmlinux_vt == env.tcp_value.type_id
    assert info.info_len == 88
    pinfo = InfoAttr(progs.init, bytearray(232))
    k.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, pinfo)
    assert struct.unpack_from("<I", pinfo.info, 0)[0] == STRUCT_OPS_PROG
    expect_errno(errno.ENOENT, lambda: k.bpf(Cmd.BPF_MAP_GET_FD_BY_ID, GetIdAttr(id=0x7FFFFFF0)))


def scenario_update_value_checks(k: Kernel, env: Env, t: Tracker, name: str) -> None:
    """Value checks of MAP_UPDATE_ELEM before registration: U1, U2, U3, U5, U9c, U9e, T3, S3
    (observed §5 update/lookup table and legacy table)."""
    btf_fd = load_user_btf(k, t)
    progs = load_reno(k, t, env)
    size, data = env.tcp_value.size, env.tcp_data
    good = tcp_value(env, name, progs.slots())
    for flags in (0, F_LINK):
        map_fd = create_tcp_map(k, t, env, btf_fd, link=bool(flags))
        expect_errno(errno.EINVAL, lambda m=map_fd: update(k, m, bytes(size)))  # type: ignore[misc]
        name_only = tcp_value(env, name, {})
        expect_errno(errno.EINVAL, lambda m=map_fd, v=name_only: update(k, m, v))  # type: ignore[misc]
        assert common(lookup(k, map_fd, size)) == (0, INIT)
    map_fd = create_tcp_map(k, t, env, btf_fd)

    def bad(value: bytes | bytearray, code: int = errno.EINVAL, flags: int = 0) -> None:
        attr = MapElemAttr(map_fd, key=bytes(4), value=bytes(value), flags=flags)
        expect_errno(code, lambda: k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, attr))

    bad(good, flags=1)  # U1
    v = bytearray(good)
    struct.pack_into("<i", v, 0, 1)
    bad(v)  # U5 refcnt
    v = bytearray(good)
    v[8] = 1
    bad(v)  # U3 hole between common and data
    v = bytearray(good)
    struct.pack_into("<I", v, data + env.tcp_ops.offset("key"), 7)
    bad(v)  # U9c non-function member
    bad(tcp_value(env, name, progs.slots() | {"set_state": map_fd}))  # U9e map fd in a slot
    bad(tcp_value(env, "bpf-cubic", progs.slots()))  # T3 name charset
    bad(tcp_value(env, name, progs.slots() | {"cong_avoid": 0x7FFF}), errno.EBADF)  # U9e closed fd
    assert common(lookup(k, map_fd, size)) == (0, INIT)
    assert update(k, map_fd, good) == 0, "the map is still INIT and usable after failures (S3)"
    t.registered.append(map_fd)
    assert common(lookup(k, map_fd, size)) == (1, INUSE)


def scenario_map_misc_ops(k: Kernel, env: Env, t: Tracker) -> None:
    """Other map commands on a struct_ops map: L2, L6, L7, D4 (spec §7-§8)."""
    btf_fd = load_user_btf(k, t)
    map_fd = create_tcp_map(k, t, env, btf_fd)
    size = env.tcp_value.size
    out = bytearray(size)
    expect_errno(
        errno.ENOENT,
        lambda: k.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(map_fd, key=struct.pack("<I", 1), value=out)),
    )
    nxt = bytearray(b"\xff" * 4)
    k.bpf(Cmd.BPF_MAP_GET_NEXT_KEY, MapElemAttr(map_fd, key=struct.pack("<I", 5), value=nxt))
    assert nxt == bytes(4)
    expect_errno(ENOTSUPP, lambda: k.bpf(Cmd.BPF_MAP_FREEZE, MapFreezeAttr(map_fd)))
    expect_errno(errno.ENOENT, lambda: k.bpf(Cmd.BPF_MAP_DELETE_ELEM, MapElemAttr(map_fd, key=struct.pack("<I", 5))))


def scenario_verifier_extras(k: Kernel, env: Env, t: Tracker) -> None:
    """Load-time rules beyond the basics: V13 (nullable), V18 (sleepable), T8 (tcp_sock writes),
    DM6 test_run errors (observed §4 raw ctypes table, §5 programs table)."""
    tcp, dummy = env.tcp_ops, env.dummy_ops
    log = bytearray(8192)
    err = expect_errno(
        errno.EACCES,
        lambda: load_struct_ops_prog(k, t, dummy, "test_1", prog_dummy_test_1_no_null_check(), log=log),
    )
    assert "invalid mem access" in err.log
    load_struct_ops_prog(k, t, tcp, "ssthresh", prog_write_tcp_sock(env.tcp_sock.offset("snd_cwnd")))
    err = expect_errno(
        errno.EACCES,
        lambda: load_struct_ops_prog(
            k, t, tcp, "ssthresh", prog_write_tcp_sock(env.tcp_sock.offset("snd_una")), log=bytearray(8192)
        ),
    )
    assert "no write support to tcp_sock" in err.log

    sleepable = ProgLoadAttr(
        STRUCT_OPS_PROG,
        prog_return(42),
        expected_attach_type=dummy.index("test_1"),
        attach_btf_id=dummy.type_id,
        prog_flags=ProgLoadFlags.BPF_F_SLEEPABLE,
        log_buf=bytearray(4096),
        log_level=1,
    )
    err = expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_PROG_LOAD, sleepable))
    assert "unsupported member test_1" in err.log
    attr = sleepable.replace(expected_attach_type=dummy.index("test_sleepable"))
    p_sleep = t.own(k.bpf(Cmd.BPF_PROG_LOAD, attr), OBJ_PROG)
    state = k.alloc_user(4)
    run = TestRunAttr(p_sleep, ctx_in=struct.pack("<Q", state.addr))
    k.bpf(Cmd.BPF_PROG_TEST_RUN, run)
    assert run.retval == 42
    expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_PROG_TEST_RUN, TestRunAttr(p_sleep, ctx_in=bytes(8))))

    p1 = load_struct_ops_prog(k, t, dummy, "test_1", prog_dummy_test_1())
    expect_errno(errno.EFAULT, lambda: k.bpf(Cmd.BPF_PROG_TEST_RUN, TestRunAttr(p1, ctx_in=struct.pack("<Q", 0x10))))
    p_tcp = load_struct_ops_prog(k, t, tcp, "init", prog_bare_exit())
    expect_errno(errno.EOPNOTSUPP, lambda: k.bpf(Cmd.BPF_PROG_TEST_RUN, TestRunAttr(p_tcp, ctx_in=bytes(8))))
