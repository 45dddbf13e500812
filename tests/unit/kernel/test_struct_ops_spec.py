"""Embedded kernel: struct_ops statements of the spec, one test (or more) per id.

Each test name or docstring carries the spec id(s) it checks
(``struct_ops-kernel-spec.md``); ``python -m structops.devtools.spec_coverage`` lists
the ids that have none.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Iterator

import pytest
import test_linux_scenarios as S

from structops.errors import BpfError
from structops.kernel.attrs import (
    GetIdAttr,
    InfoAttr,
    LinkCreateAttr,
    MapCreateAttr,
    MapElemAttr,
    MapFreezeAttr,
    ObjPinAttr,
    ProgAssocStructOpsAttr,
)
from structops.kernel.emulated import CAP_NET_ADMIN, EmulatedKernel
from structops.kernel.struct_ops import EPOLLHUP, StructOpsMap
from structops.uapi import ENOTSUPP, Cmd, MapType, StructOpsState

INIT, INUSE, TOBEFREE, READY = (
    StructOpsState.BPF_STRUCT_OPS_STATE_INIT,
    StructOpsState.BPF_STRUCT_OPS_STATE_INUSE,
    StructOpsState.BPF_STRUCT_OPS_STATE_TOBEFREE,
    StructOpsState.BPF_STRUCT_OPS_STATE_READY,
)


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


def _reno_map(k: EmulatedKernel, env: S.Env, t: S.Tracker, name: str = "sp_cc", *, link: bool = False) -> int:
    btf_fd = S.load_user_btf(k, t)
    progs = S.load_reno(k, t, env)
    map_fd = S.create_tcp_map(k, t, env, btf_fd, link=link)
    S.update(k, map_fd, S.tcp_value(env, name, progs.slots()))
    if not link:
        t.registered.append(map_fd)
    return map_fd


def _st_map(k: EmulatedKernel, fd: int) -> StructOpsMap:
    m, _ = k.root.get_map(fd)
    assert isinstance(m, StructOpsMap)
    return m


# --- map creation -------------------------------------------------------------------------
def test_C1_nonzero_tail_is_einval(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    attr = MapCreateAttr(
        MapType.BPF_MAP_TYPE_STRUCT_OPS,
        4,
        env.tcp_value.size,
        1,
        btf_fd=btf_fd,
        btf_vmlinux_value_type_id=env.tcp_value.type_id,
        tail=b"\x01",
    )
    S.expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_MAP_CREATE, attr))


def test_C3_C4_vmlinux_value_id_only_for_struct_ops(k: EmulatedKernel, env: S.Env) -> None:
    S.expect_errno(
        errno.EINVAL,
        lambda: k.bpf(
            Cmd.BPF_MAP_CREATE,
            MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1, btf_vmlinux_value_type_id=5),
        ),
    )
    S.expect_errno(
        errno.EINVAL,
        lambda: k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1, map_extra=1)),
    )


def test_C6_before_C9_unprivileged_bad_attrs_get_einval_then_eperm(k: EmulatedKernel, env: S.Env) -> None:
    user = k.process({CAP_NET_ADMIN})
    bad = MapCreateAttr(MapType.BPF_MAP_TYPE_STRUCT_OPS, 8, env.tcp_value.size, 1, btf_vmlinux_value_type_id=1)
    S.expect_errno(errno.EINVAL, lambda: user.bpf(Cmd.BPF_MAP_CREATE, bad))
    good = bad.replace(key_size=4)
    S.expect_errno(errno.EPERM, lambda: user.bpf(Cmd.BPF_MAP_CREATE, good))


def test_C11_map_name_rules(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    base = MapCreateAttr(
        MapType.BPF_MAP_TYPE_STRUCT_OPS,
        4,
        env.tcp_value.size,
        1,
        btf_fd=btf_fd,
        btf_vmlinux_value_type_id=env.tcp_value.type_id,
    )
    S.expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_MAP_CREATE, base.replace(map_name="bad-name")))
    fd = t.own(k.bpf(Cmd.BPF_MAP_CREATE, base.replace(map_name="ok.name_1")), S.OBJ_MAP)
    assert _st_map(k, fd).name == "ok.name_1"


def test_C15_C16_C17_fresh_map_info_and_fdinfo(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    fd = S.create_tcp_map(k, t, env, btf_fd)
    assert S.common(S.lookup(k, fd, env.tcp_value.size)) == (0, INIT)
    info = InfoAttr(fd, bytearray(104))
    k.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, info)
    mtype, mid, ksize, vsize, maxe, flags = struct.unpack_from("<6I", info.info, 0)
    assert (mtype, ksize, vsize, maxe, flags) == (26, 4, env.tcp_value.size, 1, 0)
    (vt_id,) = struct.unpack_from("<I", info.info, 44)
    btf_id, key_tid, val_tid, vmlinux_id = struct.unpack_from("<4I", info.info, 64)
    assert vt_id == env.tcp_value.type_id
    assert (key_tid, val_tid) == (0, 0)
    assert vmlinux_id == 1  # C16: the id of the BTF holding the type (vmlinux)
    assert btf_id == S.obj_id(k, btf_fd, S.OBJ_BTF)
    text = _st_map(k, fd).fdinfo()
    assert "map_type:\t26\n" in text and f"map_id:\t{mid}\n" in text and "frozen:\t0\n" in text


def test_M1_memlock_matches_real_kernel_formula(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    """M1: 512 + 256 - 64 + 256 + 13 * 16 + 4096 = 5264 (observed: bpftool memlock 5264B)."""
    btf_fd = S.load_user_btf(k, t)
    fd = S.create_tcp_map(k, t, env, btf_fd)
    assert _st_map(k, fd).mem_usage() == 5264


# --- update ----------------------------------------------------------------------------
def test_U1_U2_flags_and_key(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    fd = S.create_tcp_map(k, t, env, btf_fd)
    value = S.tcp_value(env, "u12", {})
    S.expect_errno(errno.E2BIG, lambda: S.update(k, fd, value, key=1))
    attr = MapElemAttr(fd, key=bytes(4), value=value, flags=2)
    S.expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_MAP_UPDATE_ELEM, attr))


def test_U3_U4_U5_nonzero_holes_and_common(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    progs = S.load_reno(k, t, env)
    fd = S.create_tcp_map(k, t, env, btf_fd)
    good = bytearray(S.tcp_value(env, "holes", progs.slots()))
    for off in (8, 63, env.tcp_value.size - 1):  # U3: gap between common and data; trailing padding
        bad = bytearray(good)
        bad[off] = 1
        S.expect_errno(errno.EINVAL, lambda b=bytes(bad): S.update(k, fd, b))
    bad = bytearray(good)
    bad[env.tcp_data + env.tcp_ops.offset("flags") + 4] = 1  # U4: padding after flags (u32 at 132)
    S.expect_errno(errno.EINVAL, lambda: S.update(k, fd, bytes(bad)))
    bad = bytearray(good)
    bad[4] = 1  # U5: state
    S.expect_errno(errno.EINVAL, lambda: S.update(k, fd, bytes(bad)))
    assert S.common(S.lookup(k, fd, env.tcp_value.size)) == (0, INIT)  # S3


def test_U9a_module_pointer_quirk_returns_1_and_resets(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    """U9a / Q2: a non-zero ``owner`` slot resets the map and returns the stale err (1 after name)."""
    btf_fd = S.load_user_btf(k, t)
    progs = S.load_reno(k, t, env)
    fd = S.create_tcp_map(k, t, env, btf_fd)
    value = bytearray(S.tcp_value(env, "quirk", progs.slots()))
    struct.pack_into("<Q", value, env.tcp_data + env.tcp_ops.offset("owner"), 0x1234)
    assert S.update(k, fd, bytes(value)) == 1
    assert S.common(S.lookup(k, fd, env.tcp_value.size)) == (0, INIT)
    assert "quirk" not in k.tcp_congestion.available()


def test_U9c_U9e_U9f_member_errors_reset_to_init(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    progs = S.load_reno(k, t, env)
    fd = S.create_tcp_map(k, t, env, btf_fd)
    slots = progs.slots()
    value = bytearray(S.tcp_value(env, "members", slots))
    struct.pack_into("<I", value, env.tcp_data + env.tcp_ops.offset("key"), 7)  # U9c
    S.expect_errno(errno.EINVAL, lambda: S.update(k, fd, bytes(value)))
    S.expect_errno(errno.EBADF, lambda: S.update(k, fd, S.tcp_value(env, "m", slots | {"ssthresh": 999})))
    S.expect_errno(errno.EINVAL, lambda: S.update(k, fd, S.tcp_value(env, "m", slots | {"ssthresh": btf_fd})))
    swapped = slots | {"cong_avoid": slots["ssthresh"], "ssthresh": slots["cong_avoid"]}
    S.expect_errno(errno.EINVAL, lambda: S.update(k, fd, S.tcp_value(env, "m", swapped)))  # U9f
    assert S.common(S.lookup(k, fd, env.tcp_value.size)) == (0, INIT)
    assert k.tramp_pages == 0  # U14 freed the images
    S.update(k, fd, S.tcp_value(env, "members", slots))  # retry works (S3)
    t.registered.append(fd)


def test_U9k_L4_lookup_shows_prog_ids_and_refcnt(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    fd = _reno_map(k, env, t, "l4cc")
    value = S.lookup(k, fd, env.tcp_value.size)
    assert S.common(value) == (1, INUSE)
    m = _st_map(k, fd)
    assert all(tr.prog.id > 0 for tr in m.trampolines.values())
    ids = dict(m.func_slots())
    assert ids["set_state"] == 0
    assert ids["ssthresh"] == struct.unpack_from("<Q", value, env.tcp_data + env.tcp_ops.offset("ssthresh"))[0]
    assert ids["ssthresh"] > 0
    assert value[env.tcp_data + env.tcp_ops.offset("name") :].startswith(b"l4cc\0")


def test_U9l_ksyms_and_U11_pages(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    fd = _reno_map(k, env, t, "kscc")
    m = _st_map(k, fd)
    assert sorted(m.ksyms) == sorted(
        f"bpf__tcp_congestion_ops_{n}" for n in ("ssthresh", "cong_avoid", "undo_cwnd", "init")
    )
    assert len(m.images.pages) == 1  # four small trampolines pack into one page


def test_U9j_E2BIG_when_trampolines_need_more_than_8_pages(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    """U9j: no 9th image page; the update fails with E2BIG and resets (U14)."""
    k.trampoline_size = lambda model, ret: 4096  # one trampoline per page
    btf_fd = S.load_user_btf(k, t)
    fd = S.create_tcp_map(k, t, env, btf_fd)
    ops = env.tcp_ops
    slots = S.load_reno(k, t, env).slots()
    for member in ("set_state", "cwnd_event", "in_ack_event", "pkts_acked", "min_tso_segs"):
        code = S.prog_bare_exit() if member not in ("min_tso_segs",) else S.prog_ssthresh(env)
        slots[member] = S.load_struct_ops_prog(k, t, ops, member, code)
    assert len(slots) == 9
    S.expect_errno(errno.E2BIG, lambda: S.update(k, fd, S.tcp_value(env, "big", slots)))
    assert k.tramp_pages == 0
    assert S.common(S.lookup(k, fd, env.tcp_value.size)) == (0, INIT)


def test_U7_S6_second_update_is_ebusy(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    fd = _reno_map(k, env, t, "busy")
    S.expect_errno(errno.EBUSY, lambda: S.update(k, fd, S.tcp_value(env, "busy2", {})))
    assert "busy" in k.tcp_congestion.available()


def test_U16_one_prog_in_two_maps(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    progs = S.load_reno(k, t, env)
    a = S.create_tcp_map(k, t, env, btf_fd, link=True)
    b = S.create_tcp_map(k, t, env, btf_fd, link=True)
    S.update(k, a, S.tcp_value(env, "twoa", progs.slots()))
    S.update(k, b, S.tcp_value(env, "twob", progs.slots()))
    prog = k.root.get_prog(progs.ssthresh)
    try:
        assert prog.refcnt == 4  # fd + own get + one trampoline link per map (F4)
        assert prog.assoc_map() is None  # A2: second map poisons
    finally:
        prog.put()


# --- lookup / delete / other ops ---------------------------------------------------------
def test_L2_L6_L7_L8(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    fd = S.create_tcp_map(k, t, env, btf_fd)
    out = bytearray(env.tcp_value.size)
    S.expect_errno(
        errno.ENOENT,
        lambda: k.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(fd, key=struct.pack("<I", 1), value=out)),
    )
    nxt = bytearray(4)
    k.bpf(Cmd.BPF_MAP_GET_NEXT_KEY, MapElemAttr(fd, key=None, value=nxt))
    assert nxt == bytes(4)
    S.expect_errno(errno.ENOENT, lambda: k.bpf(Cmd.BPF_MAP_GET_NEXT_KEY, MapElemAttr(fd, key=bytes(4), value=nxt)))
    k.bpf(Cmd.BPF_MAP_GET_NEXT_KEY, MapElemAttr(fd, key=struct.pack("<I", 5), value=nxt))
    assert nxt == bytes(4)
    S.expect_errno(ENOTSUPP, lambda: k.bpf(Cmd.BPF_MAP_FREEZE, MapFreezeAttr(fd)))
    S.expect_errno(
        ENOTSUPP, lambda: k.bpf(Cmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM, MapElemAttr(fd, key=bytes(4), value=out))
    )


def test_D2_delete_on_link_map_is_eopnotsupp(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    fd = S.create_tcp_map(k, t, env, btf_fd, link=True)
    S.expect_errno(errno.EOPNOTSUPP, lambda: S.delete(k, fd))


def test_D3_D4_delete_ignores_key_value(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    fd = _reno_map(k, env, t, "dkey")
    k.bpf(Cmd.BPF_MAP_DELETE_ELEM, MapElemAttr(fd, key=struct.pack("<I", 77)))
    assert S.common(S.lookup(k, fd, env.tcp_value.size))[1] == TOBEFREE
    t.registered.remove(fd)


def test_U0a_readonly_fd_cannot_update(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    fd = S.create_tcp_map(k, t, env, btf_fd)
    map_id = S.obj_id(k, fd, S.OBJ_MAP)
    ro = t.own(k.bpf(Cmd.BPF_MAP_GET_FD_BY_ID, GetIdAttr(id=map_id, open_flags=1 << 3)), S.OBJ_MAP)
    S.expect_errno(errno.EPERM, lambda: S.update(k, ro, S.tcp_value(env, "ro", {})))
    S.expect_errno(errno.EPERM, lambda: S.delete(k, ro))
    assert S.common(S.lookup(k, ro, env.tcp_value.size)) == (0, INIT)


# --- references / free path ----------------------------------------------------------
def test_F1_Q5_closing_fds_keeps_inuse_map_registered(k: EmulatedKernel, env: S.Env) -> None:
    with S.tracked(k) as t:
        fd = _reno_map(k, env, t, "keepme")
        map_id = S.obj_id(k, fd, S.OBJ_MAP)
        t.registered.remove(fd)
        t.ids = {kind: set() for kind in t.ids}  # the registration keeps them alive (F1)
    assert "keepme" in k.tcp_congestion.available()
    assert map_id in k.live_objects()["map"]
    fd2 = k.bpf(Cmd.BPF_MAP_GET_FD_BY_ID, GetIdAttr(id=map_id))
    S.delete(k, fd2)
    k.close(fd2)
    assert "keepme" not in k.tcp_congestion.available()
    assert k.live_objects()["map"] == []
    assert k.live_objects()["prog"] == []  # F4: trampoline links dropped the prog refs
    assert k.tramp_pages == 0


def test_F3_free_waits_for_running_readers(k: EmulatedKernel, env: S.Env) -> None:
    """F3 step 4: while a program may run (RCU reader), the map's memory is not freed."""
    with S.tracked(k) as t:
        fd = _reno_map(k, env, t, "rcucc")
        kvalue = _st_map(k, fd).kvalue
        with k.rcu.read_lock():
            S.delete(k, fd)
            t.registered.remove(fd)
            t.close(fd)
            assert not kvalue.freed  # still visible to the running reader
            assert k.rcu.pending_callbacks() >= 1
        assert kvalue.freed


def test_process_exit_closes_fds_and_detaches_links(k: EmulatedKernel, env: S.Env) -> None:
    """KP2 through process exit: the link's last fd goes, the CC is unregistered."""
    p = k.process()
    with S.tracked(p) as t:  # type: ignore[arg-type]
        fd = _reno_map(p, env, t, "exitcc", link=True)  # type: ignore[arg-type]
        S.link_create(p, t, fd)  # type: ignore[arg-type]
        assert "exitcc" in k.tcp_congestion.available()
        p.exit()
        t.fds.clear()
        t.k = k  # the leak check asks through a live process
    assert "exitcc" not in k.tcp_congestion.available()
    assert k.live_objects() == {"map": [], "prog": [], "link": [], "btf": [1]}


# --- links ---------------------------------------------------------------------------
def test_K3_link_create_needs_ready_link_map(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    init_link_map = S.create_tcp_map(k, t, env, btf_fd, link=True)
    S.expect_errno(errno.EINVAL, lambda: S.link_create(k, t, init_link_map))
    legacy = _reno_map(k, env, t, "k3legacy")
    S.expect_errno(errno.EINVAL, lambda: S.link_create(k, t, legacy))
    arr = k.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 4, 1))
    t.own(arr, S.OBJ_MAP)
    S.expect_errno(errno.EINVAL, lambda: S.link_create(k, t, arr))
    S.expect_errno(errno.EBADF, lambda: k.bpf(Cmd.BPF_LINK_CREATE, LinkCreateAttr.struct_ops(4242)))


def test_K7_KP1_KD3_fdinfo_poll_after_detach(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    fd = _reno_map(k, env, t, "pollcc", link=True)
    link_fd = S.link_create(k, t, fd)
    link, _ = k.root.get_obj(link_fd, object, "link")  # type: ignore[arg-type]
    map_id = S.obj_id(k, fd, S.OBJ_MAP)
    assert link.poll() == 0
    assert f"map_id:\t{map_id}\n" in link.fdinfo()
    assert link.fdinfo().startswith("link_type:\tstruct_ops\nlink_id:\t")
    S.link_detach(k, link_fd)
    assert link.poll() == EPOLLHUP
    assert "map_id" not in link.fdinfo()
    assert S.link_info(k, link_fd)[3] == 0
    assert S.link_detach(k, link_fd) == 0  # KD3: idempotent
    S.expect_errno(errno.ENOLINK, lambda: S.link_update(k, link_fd, fd))


def test_KU1_bad_flags_and_old_fd_without_replace(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    fd = _reno_map(k, env, t, "ku1cc", link=True)
    link_fd = S.link_create(k, t, fd)
    S.expect_errno(errno.EINVAL, lambda: S.link_update(k, link_fd, fd, old_map=fd))
    from structops.kernel.attrs import LinkUpdateAttr

    S.expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_LINK_UPDATE, LinkUpdateAttr(link_fd, fd, flags=1)))


def test_KP2_closing_link_fd_unregisters_but_pin_keeps_it(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    fd = _reno_map(k, env, t, "pincc", link=True)
    link_fd = k.bpf(Cmd.BPF_LINK_CREATE, LinkCreateAttr.struct_ops(fd))
    k.bpffs.mkdir("/sys/fs/bpf/t")
    k.bpf(Cmd.BPF_OBJ_PIN, ObjPinAttr("/sys/fs/bpf/t/link", bpf_fd=link_fd))
    k.close(link_fd)
    assert "pincc" in k.tcp_congestion.available()
    again = k.bpf(Cmd.BPF_OBJ_GET, ObjPinAttr("/sys/fs/bpf/t/link"))
    k.bpffs.unlink("/sys/fs/bpf/t/link")
    assert "pincc" in k.tcp_congestion.available()
    k.close(again)
    assert "pincc" not in k.tcp_congestion.available()


# --- tcp_congestion_ops rules --------------------------------------------------------
@pytest.mark.parametrize("name", ["", "bpf-cubic", "x" * 16])
def test_T3_bad_names_rejected(k: EmulatedKernel, env: S.Env, t: S.Tracker, name: str) -> None:
    btf_fd = S.load_user_btf(k, t)
    progs = S.load_reno(k, t, env)
    fd = S.create_tcp_map(k, t, env, btf_fd)
    value = bytearray(S.tcp_value(env, "", progs.slots()))
    raw = name.encode()
    off = env.tcp_data + env.tcp_ops.offset("name")
    value[off : off + len(raw)] = raw
    S.expect_errno(errno.EINVAL, lambda: S.update(k, fd, bytes(value)))


def test_T3_flags_mask(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    progs = S.load_reno(k, t, env)
    fd = S.create_tcp_map(k, t, env, btf_fd)
    value = bytearray(S.tcp_value(env, "flagscc", progs.slots()))
    struct.pack_into("<I", value, env.tcp_data + env.tcp_ops.offset("flags"), 0x100)
    S.expect_errno(errno.EINVAL, lambda: S.update(k, fd, bytes(value)))
    struct.pack_into("<I", value, env.tcp_data + env.tcp_ops.offset("flags"), 0x2)
    S.update(k, fd, bytes(value))
    t.registered.append(fd)
    cc = k.tcp_congestion.find("flagscc")
    assert cc is not None and cc.flags == 2


def test_T4_validate_requires_ops_for_link_maps_too(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    progs = S.load_reno(k, t, env)
    fd = S.create_tcp_map(k, t, env, btf_fd, link=True)
    slots = progs.slots()
    del slots["undo_cwnd"]
    S.expect_errno(errno.EINVAL, lambda: S.update(k, fd, S.tcp_value(env, "noundo", slots)))


def test_T5_duplicate_builtin_name_is_eexist(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    progs = S.load_reno(k, t, env)
    fd = S.create_tcp_map(k, t, env, btf_fd)
    S.expect_errno(errno.EEXIST, lambda: S.update(k, fd, S.tcp_value(env, "cubic", progs.slots())))
    assert S.common(S.lookup(k, fd, env.tcp_value.size)) == (0, INIT)


def test_T1_V8_get_info_has_no_stub(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    err = S.expect_errno(
        ENOTSUPP,
        lambda: S.load_struct_ops_prog(k, t, env.tcp_ops, "get_info", S.prog_bare_exit(), log=bytearray(4096)),
    )
    assert "unsupported member get_info" in err.log


def test_V16_helpers_not_allowed_in_release(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    """T10: bpf_setsockopt (49) is allowed in init, not in release."""
    # bpf_setsockopt(sk, SOL_TCP, TCP_BPF_SNDCWND_CLAMP, &(int){20}, 4): arguments the prototype accepts
    call_setsockopt = (
        S.ldx_dw(1, 1, 0)
        + S.st_w(10, -8, 20)
        + S.insn(0xB7, 2, imm=6)
        + S.insn(0xB7, 3, imm=1002)
        + S.insn(0xBF, 4, 10)
        + S.insn(0x07, 4, imm=-8)
        + S.insn(0xB7, 5, imm=4)
        + S.insn(0x85, imm=49)
        + S.insn(0xB7, 0, imm=0)
        + S.insn(0x95)
    )
    assert S.load_struct_ops_prog(k, t, env.tcp_ops, "init", call_setsockopt) > 0
    err = S.expect_errno(
        errno.EINVAL,
        lambda: S.load_struct_ops_prog(k, t, env.tcp_ops, "release", call_setsockopt, log=bytearray(4096)),
    )
    assert "cannot use helper bpf_setsockopt#49" in err.log


def test_DM4_dummy_ops_cannot_use_helpers(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    code = S.insn(0x85, imm=5) + S.insn(0x95)  # ktime_get_ns
    err = S.expect_errno(
        errno.EINVAL, lambda: S.load_struct_ops_prog(k, t, env.dummy_ops, "test_1", code, log=bytearray(4096))
    )
    assert "cannot use helper" in err.log


def test_V12_ctx_reads_past_args_and_writes_rejected(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    read_arg1 = S.ldx_dw(0, 1, 8) + S.insn(0x95)  # ssthresh has one argument
    S.expect_errno(errno.EACCES, lambda: S.load_struct_ops_prog(k, t, env.tcp_ops, "ssthresh", read_arg1))
    write_ctx = S.insn(0x7A, 1, 0, 0, 0) + S.insn(0xB7, 0) + S.insn(0x95)  # *(u64 *)(r1 + 0) = 0
    S.expect_errno(errno.EACCES, lambda: S.load_struct_ops_prog(k, t, env.tcp_ops, "ssthresh", write_ctx))
    narrow_ptr = S.ldx_w(0, 1, 0) + S.insn(0x95)  # pointer arg read with size 4
    S.expect_errno(errno.EACCES, lambda: S.load_struct_ops_prog(k, t, env.tcp_ops, "ssthresh", narrow_ptr))


def test_DM5_sleepable_only_for_test_sleepable(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    from structops.kernel.attrs import ProgLoadAttr
    from structops.uapi import ProgType

    def load(member: str) -> int:
        attr = ProgLoadAttr(
            ProgType.BPF_PROG_TYPE_STRUCT_OPS,
            S.insn(0xB7, 0) + S.insn(0x95),
            expected_attach_type=env.dummy_ops.index(member),
            attach_btf_id=env.dummy_ops.type_id,
            prog_flags=1 << 4,
        )
        return t.own(k.bpf(Cmd.BPF_PROG_LOAD, attr), S.OBJ_PROG)

    assert load("test_sleepable") > 0
    S.expect_errno(errno.EINVAL, lambda: load("test_1"))


def test_DM3_dummy_map_update_is_eopnotsupp(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    btf_fd = S.load_user_btf(k, t)
    attr = MapCreateAttr(
        MapType.BPF_MAP_TYPE_STRUCT_OPS,
        4,
        env.dummy_value.size,
        1,
        btf_fd=btf_fd,
        btf_vmlinux_value_type_id=env.dummy_value.type_id,
    )
    fd = t.own(k.bpf(Cmd.BPF_MAP_CREATE, attr), S.OBJ_MAP)
    S.expect_errno(errno.EOPNOTSUPP, lambda: S.update(k, fd, bytes(env.dummy_value.size)))
    assert S.common(S.lookup(k, fd, env.dummy_value.size)) == (0, INIT)


# --- association (A1-A5) ---------------------------------------------------------------
def test_A1_struct_ops_prog_cannot_be_associated(k: EmulatedKernel, env: S.Env, t: S.Tracker) -> None:
    fd = _reno_map(k, env, t, "a1cc", link=True)
    progs = S.load_reno(k, t, env)
    S.expect_errno(errno.EINVAL, lambda: k.bpf(Cmd.BPF_PROG_ASSOC_STRUCT_OPS, ProgAssocStructOpsAttr(fd, progs.init)))
    S.expect_errno(
        errno.EINVAL,
        lambda: k.bpf(Cmd.BPF_PROG_ASSOC_STRUCT_OPS, ProgAssocStructOpsAttr(fd, progs.init, flags=1)),
    )


def test_A5_struct_ops_prog_assoc_follows_its_map(k: EmulatedKernel, env: S.Env) -> None:
    """A5 (iv)(v): in one map -> that map's kdata; freed map -> None."""
    with S.tracked(k) as t:
        fd = _reno_map(k, env, t, "a5cc", link=True)
        m = _st_map(k, fd)
        prog = next(iter(m.trampolines.values())).prog
        prog.get()
        t.ids[S.OBJ_PROG].discard(prog.id)
        assert prog.assoc_map() is m
    try:
        assert prog.assoc_map() is None
    finally:
        prog.put()


def test_error_is_oserror_with_errno(k: EmulatedKernel) -> None:
    with pytest.raises(BpfError) as info:
        k.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(9999, key=bytes(4), value=bytearray(4)))
    assert info.value.errno == errno.EBADF
    assert isinstance(info.value, OSError)
