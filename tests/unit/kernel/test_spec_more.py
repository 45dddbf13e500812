"""More struct_ops statements on the embedded kernel: syscall-layer checks, links, association, loading."""

from __future__ import annotations

import errno
import struct
from collections.abc import Iterator

import pytest
import test_linux_scenarios as S

from structops.kernel.attrs import (
    GetIdAttr,
    InfoAttr,
    LinkCreateAttr,
    LinkDetachAttr,
    MapCreateAttr,
    MapElemAttr,
    ProgAssocStructOpsAttr,
    ProgLoadAttr,
)
from structops.kernel.emulated import CAP_BPF, CAP_NET_ADMIN, EmulatedKernel
from structops.kernel.struct_ops import StructOpsMap, find_desc, prog_get_assoc
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


def _tcp_attr(env: S.Env, btf_fd: int, **kw: int) -> MapCreateAttr:
    return MapCreateAttr(
        MapType.BPF_MAP_TYPE_STRUCT_OPS,
        4,
        env.tcp_value.size,
        1,
        btf_fd=btf_fd,
        btf_vmlinux_value_type_id=env.tcp_value.type_id,
        **kw,
    )


def test_C2_token_flag_is_stripped(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    fd = t.own(k.bpf(Cmd.BPF_MAP_CREATE, _tcp_attr(env, btf_fd, map_flags=int(MapFlags.BPF_F_TOKEN_FD))), S.OBJ_MAP)
    m, _ = k.root.get_map(fd)
    assert m.map_flags == 0


def test_C5_rdonly_and_wronly_together(k: EmulatedKernel) -> None:
    flags = int(MapFlags.BPF_F_RDONLY | MapFlags.BPF_F_WRONLY)
    attr = MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1, map_flags=flags)
    S.expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_MAP_CREATE, attr))
    S.expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(99, 4, 8, 1)))


def test_C12_btf_fd_must_be_a_user_btf(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    arr = t.own(k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1)), S.OBJ_MAP)
    S.expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_MAP_CREATE, _tcp_attr(env, arr)))  # not a BTF
    S.expect_errno(errno.EBADF, lambda: k.bpf(Cmd.BPF_MAP_CREATE, _tcp_attr(env, 777)))  # not open
    vml = t.own(k.bpf(Cmd.BPF_BTF_GET_FD_BY_ID, GetIdAttr(id=1)), S.OBJ_BTF, track_id=False)
    S.expect_errno(errno.EACCES, lambda: k.bpf(Cmd.BPF_MAP_CREATE, _tcp_attr(env, vml)))
    assert k.live_objects()["map"] == [S.obj_id(k, arr, S.OBJ_MAP)]  # failed creates leave nothing


def test_C14_ids_and_lowest_free_fd(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    a = t.own(k.bpf(Cmd.BPF_MAP_CREATE, _tcp_attr(env, btf_fd)), S.OBJ_MAP)
    b = t.own(k.bpf(Cmd.BPF_MAP_CREATE, _tcp_attr(env, btf_fd)), S.OBJ_MAP)
    assert b == a + 1 and S.obj_id(k, b, S.OBJ_MAP) > S.obj_id(k, a, S.OBJ_MAP)
    t.close(a)
    c = t.own(k.bpf(Cmd.BPF_MAP_CREATE, _tcp_attr(env, btf_fd)), S.OBJ_MAP)
    assert c == a  # the lowest free fd is reused; ids are not


def test_U10_validate_runs_for_link_maps(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    progs = S.load_reno(k, t, env)
    fd = S.create_tcp_map(k, t, env, btf_fd, link=True)
    slots = progs.slots()
    del slots["ssthresh"]
    S.expect_errno(errno.EINVAL, lambda: S.update(k, fd, S.tcp_value(env, "u10", slots)))


def test_L1_D1_access_modes(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    fd = S.create_tcp_map(k, t, env, btf_fd)
    map_id = S.obj_id(k, fd, S.OBJ_MAP)
    wo = t.own(k.bpf(Cmd.BPF_MAP_GET_FD_BY_ID, GetIdAttr(id=map_id, open_flags=1 << 4)), S.OBJ_MAP)
    S.expect_errno(errno.EPERM, lambda: S.lookup(k, wo, env.tcp_value.size))  # L1: needs read
    out = bytearray(env.tcp_value.size)
    S.expect_errno(
        errno.EINVAL, lambda: k.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(fd, key=bytes(4), value=out, flags=4))
    )
    S.expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_MAP_DELETE_ELEM, MapElemAttr(fd, key=bytes(4), tail=b"\1")))


def test_K2_K6_link_create_fd_errors_and_properties(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    S.expect_errno(errno.EBADF, lambda: k.bpf(Cmd.BPF_LINK_CREATE, LinkCreateAttr.struct_ops(999)))
    S.expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_LINK_CREATE, LinkCreateAttr.struct_ops(btf_fd)))
    progs = S.load_reno(k, t, env)
    fd = S.create_tcp_map(k, t, env, btf_fd, link=True)
    S.update(k, fd, S.tcp_value(env, "k6cc", progs.slots()))
    # K1: flags and target_fd are not checked for struct_ops
    link_fd = t.own(
        k.bpf(Cmd.BPF_LINK_CREATE, LinkCreateAttr(prog_fd=fd, target_fd=12345, attach_type=44, flags=7)), S.OBJ_LINK
    )
    ltype, _lid, prog_id, map_id = S.link_info(k, link_fd)
    assert (ltype, prog_id, map_id) == (9, 0, S.obj_id(k, fd, S.OBJ_MAP))
    link, _ = k.root.get_obj(link_fd, object, "link")  # type: ignore[arg-type]
    assert int(link.attach_type) == 44 and link.prog is None


def test_KD1_detach_tail_must_be_zero(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    progs = S.load_reno(k, t, env)
    fd = S.create_tcp_map(k, t, env, btf_fd, link=True)
    S.update(k, fd, S.tcp_value(env, "kd1cc", progs.slots()))
    link_fd = S.link_create(k, t, fd)
    S.expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_LINK_DETACH, LinkDetachAttr(link_fd, tail=b"\1")))
    assert "kd1cc" in k.tcp_congestion.available()


def test_KU3_update_to_the_same_map(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    """KU3: not special-cased by the core; tcp_ca's update (T7) accepts it, refcounts stay balanced."""
    btf_fd = S.load_user_btf(k, t)
    progs = S.load_reno(k, t, env)
    fd = S.create_tcp_map(k, t, env, btf_fd, link=True)
    S.update(k, fd, S.tcp_value(env, "ku3cc", progs.slots()))
    link_fd = S.link_create(k, t, fd)
    before = S.common(S.lookup(k, fd, env.tcp_value.size))
    S.link_update(k, link_fd, fd)
    assert S.common(S.lookup(k, fd, env.tcp_value.size)) == before
    assert k.tcp_congestion.available().count("ku3cc") == 1


def test_L5_struct_ops_map_lookup_from_programs_is_null(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    fd = S.create_tcp_map(k, t, env, btf_fd)
    m, _ = k.root.get_map(fd)
    assert isinstance(m, StructOpsMap)
    assert m.prog_lookup(bytes(4)) == 0


def test_R5_desc_lookup_by_type_and_value_id(k: EmulatedKernel, env: S.Env) -> None:
    d = find_desc(k, k.vmlinux, env.tcp_ops.type_id)
    assert d is not None and d.value_id == env.tcp_value.type_id
    assert find_desc(k, k.vmlinux, env.tcp_value.type_id) is None  # the value id is not a type id
    assert find_desc(k, k.vmlinux, 0) is None


def test_V1_capabilities(k: EmulatedKernel, env: S.Env) -> None:
    attr = ProgLoadAttr(
        27, S.prog_bare_exit(), expected_attach_type=env.tcp_ops.index("init"), attach_btf_id=env.tcp_ops.type_id
    )
    S.expect_errno(errno.EPERM, lambda: k.process({CAP_NET_ADMIN}).bpf(Cmd.BPF_PROG_LOAD, attr))
    S.expect_errno(errno.EPERM, lambda: k.process({CAP_BPF}).bpf(Cmd.BPF_PROG_LOAD, attr))  # no CAP_PERFMON
    p = k.process({CAP_BPF, 38})
    fd = p.bpf(Cmd.BPF_PROG_LOAD, attr)
    p.close(fd)


def test_V2_attach_target_errors(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    base = ProgLoadAttr(
        27, S.prog_bare_exit(), expected_attach_type=env.tcp_ops.index("init"), attach_btf_id=env.tcp_ops.type_id
    )
    user_btf = S.load_user_btf(k, t)
    S.expect_errno(ENOTSUPP, lambda: k.bpf(Cmd.BPF_PROG_LOAD, base.replace(attach_btf_obj_fd=user_btf)))
    prog = S.load_struct_ops_prog(k, t, env.tcp_ops, "init", S.prog_bare_exit())
    S.expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_PROG_LOAD, base.replace(attach_btf_obj_fd=prog)))
    S.expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_PROG_LOAD, base.replace(attach_btf_id=1 << 24)))


def test_V3_V18_sleepable_struct_ops_passes_generic_check(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    """V3: STRUCT_OPS can be sleepable; tcp_ca has no check_member, so the load succeeds (T11)."""
    attr = ProgLoadAttr(
        27,
        S.prog_bare_exit(),
        expected_attach_type=env.tcp_ops.index("init"),
        attach_btf_id=env.tcp_ops.type_id,
        prog_flags=1 << 4,
    )
    fd = t.own(k.bpf(Cmd.BPF_PROG_LOAD, attr), S.OBJ_PROG)
    prog = k.root.get_prog(fd)
    assert prog.sleepable
    prog.put()


def test_V11_attach_info_recorded(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    fd = S.load_struct_ops_prog(k, t, env.tcp_ops, "cong_avoid", S.prog_cong_avoid(env))
    prog = k.root.get_prog(fd)
    try:
        assert prog.st_ops is not None
        assert prog.st_ops.member_name == "cong_avoid"
        assert prog.st_ops.member_off == env.tcp_ops.offset("cong_avoid")
        assert len(prog.st_ops.func_proto.params) == 3
        info = InfoAttr(fd, bytearray(232))
        k.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, info)
        assert struct.unpack_from("<II", info.info, 220) == (1, env.tcp_ops.type_id)
    finally:
        prog.put()


def test_A3_A4_assoc_of_tracing_like_prog(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    """A1 (i), A4, A5 (vi): a non-struct_ops prog keeps the map alive and sees its kdata."""
    btf_fd = S.load_user_btf(k, t)
    a = S.create_tcp_map(k, t, env, btf_fd, link=True)
    b = S.create_tcp_map(k, t, env, btf_fd, link=True)
    sock = t.own(
        k.bpf(Cmd.BPF_PROG_LOAD, ProgLoadAttr(ProgType.BPF_PROG_TYPE_SOCKET_FILTER, S.prog_return(0))), S.OBJ_PROG
    )
    assert k.bpf(Cmd.BPF_PROG_ASSOC_STRUCT_OPS, ProgAssocStructOpsAttr(a, sock)) == 0
    assert k.bpf(Cmd.BPF_PROG_ASSOC_STRUCT_OPS, ProgAssocStructOpsAttr(a, sock)) == 0  # same map again
    S.expect_errno(errno.EBUSY, lambda: k.bpf(Cmd.BPF_PROG_ASSOC_STRUCT_OPS, ProgAssocStructOpsAttr(b, sock)))
    arr = t.own(k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1)), S.OBJ_MAP)
    S.expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_PROG_ASSOC_STRUCT_OPS, ProgAssocStructOpsAttr(arr, sock)))
    prog = k.root.get_prog(sock)
    m, _ = k.root.get_map(a)
    try:
        kdata = prog_get_assoc(prog)
        assert kdata is not None and kdata.map is m
        assert m.refcnt - m.usercnt == 1  # +1 for the association (F1; shown by L4 once populated)
    finally:
        prog.put()
    a_id = S.obj_id(k, a, S.OBJ_MAP)
    t.close(a)
    assert a_id in k.live_objects()["map"]  # A5 (vi): the prog keeps it alive
    t.close(sock)
    assert a_id not in k.live_objects()["map"]  # A3 (a): freed with the prog


def test_V6_module_going_away(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    from structops.kernel.subsys.testmod import make_module

    k.load_module(make_module())
    d = k.find_struct_ops("bpf_testmod_ops")
    assert d is not None
    mod_fd = t.own(k.bpf(Cmd.BPF_BTF_GET_FD_BY_ID, GetIdAttr(id=d.btf.id)), S.OBJ_BTF, track_id=False)
    k.modules["bpf_testmod"].going = True
    attr = ProgLoadAttr(
        27,
        S.insn(0xB7, 0) + S.insn(0x95),
        expected_attach_type=0,
        attach_btf_id=d.type_id,
        attach_btf_obj_fd=mod_fd,
        log_buf=bytearray(1024),
        log_level=1,
    )
    err = S.expect_errno(ENOTSUPP, lambda: k.bpf(Cmd.BPF_PROG_LOAD, attr))
    assert "struct_ops module bpf_testmod is not found" in err.log


def test_V10_ref_arg_and_tail_call(k: EmulatedKernel) -> None:
    from structops.kernel.subsys.testmod import make_module

    k.load_module(make_module())
    d = k.find_struct_ops("bpf_testmod_ops")
    assert d is not None
    mod_fd = k.bpf(Cmd.BPF_BTF_GET_FD_BY_ID, GetIdAttr(id=d.btf.id))
    names = [m.name for m in d.type.members]
    tail_call = S.insn(0xB7, 0) + S.insn(0x85, imm=12) + S.insn(0xB7, 0) + S.insn(0x95)
    attr = ProgLoadAttr(
        27,
        tail_call,
        expected_attach_type=names.index("test_refcounted"),
        attach_btf_id=d.type_id,
        attach_btf_obj_fd=mod_fd,
        log_buf=bytearray(4096),
        log_level=1,
    )
    err = S.expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_PROG_LOAD, attr))
    assert "cannot tail call" in err.log
    k.close(mod_fd)


def test_KP1_poll_blocks_until_detach(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    """KP1/KD2: a poller waiting on the link wakes with EPOLLHUP when another thread detaches."""
    import threading

    from structops.kernel.struct_ops import EPOLLHUP

    btf_fd = S.load_user_btf(k, t)
    progs = S.load_reno(k, t, env)
    fd = S.create_tcp_map(k, t, env, btf_fd, link=True)
    S.update(k, fd, S.tcp_value(env, "kp1cc", progs.slots()))
    link_fd = S.link_create(k, t, fd)
    link, _ = k.root.get_obj(link_fd, object, "link")  # type: ignore[arg-type]
    result: list[int] = []
    waiter = threading.Thread(target=lambda: result.append(link.poll(timeout=10)))
    waiter.start()
    waiter.join(timeout=0.2)
    assert waiter.is_alive() and result == []  # still blocked: the map is attached
    S.link_detach(k, link_fd)
    waiter.join(timeout=5)
    assert result == [EPOLLHUP]
