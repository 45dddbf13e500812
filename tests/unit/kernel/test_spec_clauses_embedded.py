"""Numbered sub-clauses of the struct_ops spec that only the embedded kernel can show.

Type registration by modules (R3, R6), link update across types (KU2.2, KU2.5), the map
free sequence (F3, F6), program association (A1, A2; Linux 6.18 here has no
BPF_PROG_ASSOC_STRUCT_OPS) and module-typed map creation (C10).
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Iterator

import pytest
import test_linux_scenarios as S

from structops import btf
from structops.kernel.attrs import GetIdAttr, MapCreateAttr, ProgAssocStructOpsAttr, ProgLoadAttr, TestRunAttr
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.kbtf import testmod_btf_bytes as _testmod_btf
from structops.kernel.modules import Module
from structops.kernel.struct_ops import StructOpsMap, StructOpsOps, register_struct_ops
from structops.kernel.subsys.testmod import make_module
from structops.uapi import ENOTSUPP, Cmd, MapFlags, MapType, ProgType


@pytest.fixture
def k() -> EmulatedKernel:
    return EmulatedKernel()


@pytest.fixture
def env(k: EmulatedKernel) -> S.Env:
    return S.resolve_env(k.vmlinux_btf())


@pytest.fixture
def t(k: EmulatedKernel) -> Iterator[S.Tracker]:
    with S.tracked(k) as tr:
        yield tr


# --- R3: registration of a module's struct_ops type ------------------------------------------
def _ops(name: str, stubs: dict[str, str | None], *, init_ret: int = 0, update: bool = True) -> StructOpsOps:
    regs: list[object] = []
    return StructOpsOps(
        name=name,
        cfi_stubs=stubs,
        init=lambda spec: init_ret,
        init_member=lambda *a: 0,
        reg=lambda kd, link: regs.append(kd) or 0,  # type: ignore[func-returns-value]
        unreg=lambda kd, link: None,
        update=(lambda new, old, link: 0) if update else None,
    )


class _Mod:
    """A module BTF on top of the embedded vmlinux with one struct_ops type ``name``."""

    def __init__(self, k: EmulatedKernel, name: str) -> None:
        self.k = k
        self.name = name
        base = k.vmlinux.spec
        self.int = base.find("int", btf.Int)
        self.common = base.find("bpf_struct_ops_common_value", btf.Struct)
        self.members: list[btf.Member] = []
        self.funcs: list[btf.Func] = []
        self.value_members: list[btf.Member] | None = None

    def fn(self, mname: str, nargs: int = 1, ret: btf.Type | None = None) -> _Mod:
        proto = btf.FuncProto(ret or self.int, tuple(btf.Param(f"a{i}", self.int) for i in range(nargs)))
        self.members.append(btf.Member(mname, btf.Pointer(proto), 64 * len(self.members)))
        self.funcs.append(btf.Func(f"{self.name}__{mname}", proto, btf.FuncLinkage.GLOBAL))
        return self

    def field(self, mname: str, t: btf.Type | None = None, bitfield: int = 0) -> _Mod:
        self.members.append(btf.Member(mname, t or self.int, 64 * len(self.members), bitfield))
        return self

    def load(self) -> btf.Struct:
        st = btf.Struct(self.name, 8 * max(len(self.members), 1), tuple(self.members))
        vt_members = self.value_members or [
            btf.Member("common", self.common, 0),
            btf.Member("data", st, 64 * 8),
        ]
        vt = btf.Struct("bpf_struct_ops_" + self.name, 64 + st.size, tuple(vt_members))
        b = btf.Builder(self.k.vmlinux.spec)
        for x in (st, vt, *self.funcs):
            b.add(x)
        self.k.load_module(Module(name="m_" + self.name, btf=b.build()))
        self.obj = self.k.modules["m_" + self.name].btf_obj
        return st

    def register(self, ops: StructOpsOps) -> int:
        return register_struct_ops(self.k, self.obj, ops)

    def stubs(self) -> dict[str, str | None]:
        return {f.name.split("__", 1)[1]: f.name for f in self.funcs}


@pytest.mark.spec("R3.4")
def test_r3_4_more_than_64_members_is_einval(k: EmulatedKernel) -> None:
    for count, want in ((64, 0), (65, -errno.EINVAL)):
        m = _Mod(k, f"wide{count}")
        for i in range(count):
            m.fn(f"op{i}")
        m.load()
        assert m.register(_ops(m.name, m.stubs())) == want


@pytest.mark.spec("R3.6")
def test_r3_6_value_type_must_be_common_then_the_struct(k: EmulatedKernel) -> None:
    good = _Mod(k, "vgood").fn("op")
    good.load()
    assert good.register(_ops("vgood", good.stubs())) == 0
    lookalike = btf.Struct("bpf_struct_ops_common_value", 8, ())  # same name, not vmlinux's type
    bad = _Mod(k, "vbad").fn("op")
    bad.value_members = [btf.Member("common", lookalike, 0), btf.Member("data", btf.Struct("x", 8, ()), 64 * 8)]
    bad.load()
    assert bad.register(_ops("vbad", bad.stubs())) == -errno.EINVAL
    three = _Mod(k, "vthree").fn("op")
    three.value_members = [
        btf.Member("common", three.common, 0),
        btf.Member("data", btf.Struct("y", 8, ()), 64 * 8),
        btf.Member("extra", three.int, 64 * 9),
    ]
    three.load()
    assert three.register(_ops("vthree", three.stubs())) == -errno.EINVAL


@pytest.mark.spec("R3.7")
def test_r3_7_desc_records_type_and_value_ids(k: EmulatedKernel) -> None:
    m = _Mod(k, "ids").fn("op")
    st = m.load()
    assert m.register(_ops("ids", m.stubs())) == 0
    d = k.find_struct_ops("ids")
    assert d is not None
    spec = m.obj.spec
    assert d.type_id == spec.type_id(spec.find("ids", btf.Struct)) and d.type.name == st.name
    assert d.value_id == spec.type_id(spec.find("bpf_struct_ops_ids", btf.Struct)) != d.type_id


@pytest.mark.spec("R3.8")
def test_r3_8_member_rules(k: EmulatedKernel) -> None:
    """Anonymous and bitfield members, module pointers without CONFIG_MODULES, pointer returns
    to non-structs → EOPNOTSUPP; too many arguments → EINVAL; non-functions and NULL stubs skip."""
    cases: list[tuple[str, _Mod, int]] = []
    anon = _Mod(k, "anon").fn("op").field("")
    cases.append(("anon", anon, -errno.EOPNOTSUPP))
    bits = _Mod(k, "bits").fn("op").field("b", bitfield=3)
    cases.append(("bits", bits, -errno.EOPNOTSUPP))
    ptr = _Mod(k, "ptrret")
    ptr.fn("op", ret=btf.Pointer(ptr.int))
    cases.append(("ptrret", ptr, -errno.EOPNOTSUPP))
    many = _Mod(k, "many").fn("op", nargs=13)
    cases.append(("many", many, -errno.EINVAL))
    skip = _Mod(k, "skip").fn("op").field("plain").fn("nostub")
    cases.append(("skip", skip, 0))
    for name, m, want in cases:
        m.load()
        stubs = m.stubs()
        if name == "skip":
            stubs["nostub"] = None
        assert m.register(_ops(name, stubs)) == want, name
    d = k.find_struct_ops("skip")
    assert d is not None
    names = [x.name for x in d.type.members]
    assert d.member_supported(names.index("op"))
    assert not d.member_supported(names.index("plain")) and not d.member_supported(names.index("nostub"))

    k2 = EmulatedKernel()
    k2.config_modules = False
    mod = _Mod(k2, "modptr").fn("op").field("owner", btf.Pointer(k2.vmlinux.spec.find("module", btf.Struct)))
    mod.load()
    assert mod.register(_ops("modptr", mod.stubs())) == -errno.EOPNOTSUPP


@pytest.mark.spec("R3.9", "R3.10")
def test_r3_9_init_failure_and_r3_10_nothing_left(k: EmulatedKernel) -> None:
    m = _Mod(k, "initfail").fn("op")
    m.load()
    assert m.register(_ops("initfail", m.stubs(), init_ret=-errno.ENOMEM)) == -errno.EINVAL
    assert k.find_struct_ops("initfail") is None  # R3.10: nothing of the failed desc remains
    assert m.register(_ops("initfail", m.stubs())) == 0
    assert k.find_struct_ops("initfail") is not None


@pytest.mark.spec("R6")
def test_r6_registration_holds_no_module_reference(k: EmulatedKernel) -> None:
    k.load_module(make_module())
    mod = k.modules["bpf_testmod"]
    assert k.find_struct_ops("bpf_testmod_ops") is not None
    assert mod.refcnt == 0
    k.unload_module("bpf_testmod")  # nothing pins it
    assert k.find_struct_ops("bpf_testmod_ops") is None


# --- module-typed maps: C10, KU2.2, KU2.5 ---------------------------------------------------
def _mod_map(k: EmulatedKernel, t: S.Tracker, name: str, *, link: bool = True, vtype: bool = True) -> int:
    d = k.find_struct_ops(name)
    assert d is not None
    btf_fd = S.load_user_btf(k, t)
    mod_fd = t.own(k.bpf(Cmd.BPF_BTF_GET_FD_BY_ID, GetIdAttr(id=d.btf.id)), S.OBJ_BTF, track_id=False)
    flags = (MapFlags.BPF_F_LINK if link else 0) | (MapFlags.BPF_F_VTYPE_BTF_OBJ_FD if vtype else 0)
    attr = MapCreateAttr(
        MapType.BPF_MAP_TYPE_STRUCT_OPS,
        4,
        d.value_type.size,
        1,
        map_flags=int(flags),
        btf_fd=btf_fd,
        btf_vmlinux_value_type_id=d.value_id,
        value_type_btf_obj_fd=mod_fd,
    )
    return t.own(k.bpf(Cmd.BPF_MAP_CREATE, attr), S.OBJ_MAP)


RET0 = S.insn(0xB7, 0) + S.insn(0x95)


def _fill(k: EmulatedKernel, t: S.Tracker, name: str, fd: int, member: str = "test_1") -> None:
    d = k.find_struct_ops(name)
    assert d is not None
    mod_fd = t.own(k.bpf(Cmd.BPF_BTF_GET_FD_BY_ID, GetIdAttr(id=d.btf.id)), S.OBJ_BTF, track_id=False)
    idx = [m.name for m in d.type.members].index(member)
    prog = t.own(
        k.bpf(
            Cmd.BPF_PROG_LOAD,
            ProgLoadAttr(
                ProgType.BPF_PROG_TYPE_STRUCT_OPS,
                RET0,
                expected_attach_type=idx,
                attach_btf_id=d.type_id,
                attach_btf_obj_fd=mod_fd,
            ),
        ),
        S.OBJ_PROG,
    )
    value = bytearray(d.value_type.size)
    struct.pack_into("<Q", value, d.value_type.member("data").offset + d.type.member(member).offset, prog)
    S.update(k, fd, bytes(value))


@pytest.mark.spec("C10", "F3.1")
def test_c10_module_value_types(k: EmulatedKernel, t: S.Tracker) -> None:
    """C10a/c/d/f: the flag needs a module BTF; the value id must be the value struct's; size must match."""
    k.load_module(make_module())
    mod = k.modules["bpf_testmod"]
    d = k.find_struct_ops("bpf_testmod_ops")
    assert d is not None
    S.expect_errno(ENOTSUPP, lambda: _mod_map(k, t, "bpf_testmod_ops", vtype=False))  # C10c
    btf_fd = S.load_user_btf(k, t)

    def create(value_id: int, size: int, obj_fd: int) -> int:
        attr = MapCreateAttr(
            MapType.BPF_MAP_TYPE_STRUCT_OPS,
            4,
            size,
            1,
            map_flags=int(MapFlags.BPF_F_VTYPE_BTF_OBJ_FD),
            btf_fd=btf_fd,
            btf_vmlinux_value_type_id=value_id,
            value_type_btf_obj_fd=obj_fd,
        )
        return t.own(k.bpf(Cmd.BPF_MAP_CREATE, attr), S.OBJ_MAP)

    mod_fd = t.own(k.bpf(Cmd.BPF_BTF_GET_FD_BY_ID, GetIdAttr(id=d.btf.id)), S.OBJ_BTF, track_id=False)
    S.expect_errno(errno.EINVAL, lambda: create(d.value_id, d.value_type.size, btf_fd))  # a user BTF (C10a)
    S.expect_errno(errno.EBADF, lambda: create(d.value_id, d.value_type.size, 999))
    S.expect_errno(ENOTSUPP, lambda: create(d.type_id, d.value_type.size, mod_fd))  # struct id, not value id
    S.expect_errno(errno.EINVAL, lambda: create(d.value_id, d.value_type.size + 8, mod_fd))  # C10d
    assert mod.refcnt == 0  # C10f: failures keep no module reference
    fd = create(d.value_id, d.value_type.size, mod_fd)
    assert mod.refcnt == 1  # C10a: the map holds the module
    t.close(fd)
    k.rcu.synchronize()
    assert mod.refcnt == 0  # F3.1


@pytest.mark.spec("KU2.2")
def test_ku2_2_type_without_update_is_eopnotsupp(k: EmulatedKernel, t: S.Tracker) -> None:
    ops = _ops("bpf_testmod_ops2", {"test_1": "bpf_testmod_test_1"}, update=False)
    k.load_module(Module(name="bpf_testmod", btf=_testmod_btf(), struct_ops=[ops]))
    a = _mod_map(k, t, "bpf_testmod_ops2")
    _fill(k, t, "bpf_testmod_ops2", a)
    link = S.link_create(k, t, a)  # type: ignore[arg-type]
    b = _mod_map(k, t, "bpf_testmod_ops2")
    _fill(k, t, "bpf_testmod_ops2", b)
    S.expect_errno(errno.EOPNOTSUPP, lambda: S.link_update(k, link, b))
    S.link_detach(k, link)


@pytest.mark.spec("KU2.5")
def test_ku2_5_new_map_of_another_type_is_einval(k: EmulatedKernel, t: S.Tracker) -> None:
    """Both types have an update that accepts anything: only the type check refuses (EINVAL)."""
    ops2 = _ops("bpf_testmod_ops2", {"test_1": "bpf_testmod_test_1"})
    ops3 = _ops("bpf_testmod_ops3", {"test_1": "bpf_testmod_ops3__test_1", "test_2": "bpf_testmod_ops3__test_2"})
    k.load_module(Module(name="bpf_testmod", btf=_testmod_btf(), struct_ops=[ops2, ops3]))
    a = _mod_map(k, t, "bpf_testmod_ops2")
    _fill(k, t, "bpf_testmod_ops2", a)
    link = S.link_create(k, t, a)  # type: ignore[arg-type]
    other = _mod_map(k, t, "bpf_testmod_ops3")
    _fill(k, t, "bpf_testmod_ops3", other)
    S.expect_errno(errno.EINVAL, lambda: S.link_update(k, link, other))
    assert S.link_info(k, link)[3] == S.obj_id(k, a, S.OBJ_MAP)
    same = _mod_map(k, t, "bpf_testmod_ops2")
    _fill(k, t, "bpf_testmod_ops2", same)
    assert S.link_update(k, link, same) == 0  # the same type goes through
    S.link_detach(k, link)


# --- F3 / F6: freeing a struct_ops map -----------------------------------------------------
def _reno(k: EmulatedKernel, env: S.Env, t: S.Tracker, name: str) -> tuple[int, S.RenoProgs]:
    btf_fd = S.load_user_btf(k, t)
    progs = S.load_reno(k, t, env)
    fd = S.create_tcp_map(k, t, env, btf_fd, link=True)
    S.update(k, fd, S.tcp_value(env, name, progs.slots()))
    return fd, progs


@pytest.mark.spec("F3.2", "F3.3", "F3.4", "F3.5", "F3.6")
def test_f3_free_sequence(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    """The id goes at once; memory, ksyms, trampoline pages, prog refs and the user BTF after the GPs."""
    fd, progs = _reno(k, env, t, "f3cc")
    m, _ = k.root.get_map(fd)
    assert isinstance(m, StructOpsMap)
    map_id = S.obj_id(k, fd, S.OBJ_MAP)
    prog = next(iter(m.trampolines.values())).prog
    assert prog.assoc_map() is m and m.ksyms and k.tramp_pages == 1
    btf_id = m.btf.id
    for pfd in progs.slots().values():
        t.close(pfd)
    t.close(t.fds[0])  # the user BTF fd: the map still holds the BTF
    assert btf_id in S.live_ids(k, S.OBJ_BTF)
    with k.rcu.read_lock():  # a program may be running (F3.4)
        t.close(fd)
        assert map_id not in S.live_ids(k, S.OBJ_MAP)  # bpf_map_free_id first
        assert not m.kvalue.freed and k.tramp_pages == 1
    k.rcu.synchronize()
    assert m.kvalue.freed
    assert prog.assoc_map() is None  # F3.2: dissociated
    assert m.ksyms == []  # F3.3
    assert k.tramp_pages == 0  # F3.5: pages freed and uncharged
    assert S.live_ids(k, S.OBJ_PROG) & t.ids[S.OBJ_PROG] == set()  # F3.5: prog refs dropped
    assert btf_id not in S.live_ids(k, S.OBJ_BTF)  # F3.6: btf_put of the user BTF


@pytest.mark.spec("F6")
def test_f6_trampoline_links_are_internal(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    """Trampoline links have no id or fd; each holds one prog reference until the map goes."""
    fd, _ = _reno(k, env, t, "f6cc")
    assert S.live_ids(k, S.OBJ_LINK) == set()  # populated, never linked: no user-visible link
    m, _ = k.root.get_map(fd)
    prog = next(iter(m.trampolines.values())).prog
    before = prog.refcnt
    assert before == 2  # the loader's fd + the trampoline link
    t.close(fd)
    k.rcu.synchronize()
    assert prog.refcnt == before - 1


# --- A1 / A2: BPF_PROG_ASSOC_STRUCT_OPS ------------------------------------------------------
def _socket_filter(k: EmulatedKernel, t: S.Tracker) -> int:
    attr = ProgLoadAttr(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, RET0)
    return t.own(k.bpf(Cmd.BPF_PROG_LOAD, attr), S.OBJ_PROG)


def _assoc(k: EmulatedKernel, map_fd: int, prog_fd: int, flags: int = 0, tail: bytes = b"") -> int:
    return k.bpf(Cmd.BPF_PROG_ASSOC_STRUCT_OPS, ProgAssocStructOpsAttr(map_fd, prog_fd, flags=flags, tail=tail))


@pytest.mark.spec("A1.1", "A1.2", "A1.3", "A1.4", "A1.5", "A1.6", "A1.7")
def test_a1_checks_in_order(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    fd, progs = _reno(k, env, t, "a1cc")
    sf = _socket_filter(k, t)
    array = t.own(k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1)), S.OBJ_MAP)
    S.expect_errno(errno.EINVAL, lambda: _assoc(k, fd, sf, tail=b"\x01"))  # A1.1
    S.expect_errno(errno.EINVAL, lambda: _assoc(k, fd, sf, flags=1))  # A1.2
    S.expect_errno(errno.EBADF, lambda: _assoc(k, fd, 999))  # A1.3
    S.expect_errno(errno.EINVAL, lambda: _assoc(k, fd, array))  # A1.3: not a program
    S.expect_errno(errno.EINVAL, lambda: _assoc(k, 999, progs.init))  # A1.4 before the map fd
    S.expect_errno(errno.EBADF, lambda: _assoc(k, 999, sf))  # A1.5
    S.expect_errno(errno.EINVAL, lambda: _assoc(k, array, sf))  # A1.6
    init_map = S.create_tcp_map(k, t, env, S.load_user_btf(k, t))
    assert _assoc(k, init_map, sf) == 0  # A1.7: any state, INIT included


@pytest.mark.spec("A2")
def test_a2_same_map_again_is_free_another_is_ebusy(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    fd, _ = _reno(k, env, t, "a2cc")
    other, _ = _reno(k, env, t, "a2cd")
    sf = _socket_filter(k, t)
    m, _ = k.root.get_map(fd)
    refs = m.refcnt
    assert _assoc(k, fd, sf) == 0
    assert m.refcnt == refs + 1  # the association holds the map
    assert _assoc(k, fd, sf) == 0
    assert m.refcnt == refs + 1  # no second reference
    S.expect_errno(errno.EBUSY, lambda: _assoc(k, other, sf))
    prog = k.get_prog(sf) if hasattr(k, "get_prog") else k.root.get_prog(sf)
    try:
        assert prog.assoc_map() is m  # unchanged
    finally:
        prog.put()


# --- DM7 steps only the embedded kernel can reach ---------------------------------------------
@pytest.mark.spec("DM7.1", "DM7.4")
def test_dm7_1_and_dm7_4(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    p1 = S.load_struct_ops_prog(k, t, env.dummy_ops, "test_1", S.prog_dummy_test_1())
    short = TestRunAttr(p1, ctx_in=b"", ctx_size_in=8)
    S.expect_errno(errno.EFAULT, lambda: k.bpf(Cmd.BPF_PROG_TEST_RUN, short))  # DM7.4
    buf = k.alloc_user(4)
    S.expect_errno(  # DM7.5: the state pointer does not point at user memory
        errno.EFAULT, lambda: k.bpf(Cmd.BPF_PROG_TEST_RUN, TestRunAttr(p1, ctx_in=struct.pack("<Q", buf.addr + 4096)))
    )
    descs = k.struct_ops_descs[k.vmlinux.id]
    dummy = next(d for d in descs if d.name == "bpf_dummy_ops")
    descs.remove(dummy)  # as if bpf_dummy_ops were not in the kernel's BTF
    try:
        S.expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_PROG_TEST_RUN, TestRunAttr(p1, ctx_in=bytes(8))))
    finally:
        descs.append(dummy)
