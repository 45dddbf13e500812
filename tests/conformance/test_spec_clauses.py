"""Numbered sub-clauses of the struct_ops spec, on the embedded kernel and on Linux.

Each test runs on both backends (the real one where it is usable): the errno, state and
file properties measured on Linux 6.18 here are asserted on the embedded kernel too.
"""

from __future__ import annotations

import errno
import select
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_linux_scenarios as S

from structops.kernel.attrs import InfoAttr, LinkCreateAttr, MapCreateAttr, TestRunAttr
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.protocol import Kernel
from structops.uapi import Cmd, MapType

INIT, INUSE, READY = S.INIT, S.INUSE, S.READY
AVAILABLE = Path("/proc/sys/net/ipv4/tcp_available_congestion_control")


@pytest.fixture(params=["embedded", "linux"])
def kernel(request: pytest.FixtureRequest) -> Kernel:
    if request.param == "embedded":
        return EmulatedKernel()
    reason = real_kernel_skip_reason()
    if reason:
        pytest.skip(reason)
    from structops.linux import LinuxKernel

    return LinuxKernel()


@pytest.fixture
def env(kernel: Kernel) -> S.Env:
    return S.resolve_env(kernel.vmlinux_btf())


@pytest.fixture
def t(kernel: Kernel) -> Iterator[S.Tracker]:
    with S.tracked(kernel) as tr:
        yield tr


def real_kernel_skip_reason() -> str | None:
    """Why the real kernel cannot be used here (a local copy: a nested conftest can shadow tests/conftest)."""
    import os

    if not Path("/sys/kernel/btf/vmlinux").exists():
        return "no kernel BTF at /sys/kernel/btf/vmlinux"
    if os.geteuid() != 0:
        return "not root: CAP_BPF is needed for the real bpf() syscall"
    return None


def _available(k: Kernel) -> list[str]:
    if isinstance(k, EmulatedKernel):
        return k.tcp_congestion.available()
    return AVAILABLE.read_text().split()


def _fdinfo(k: Kernel, fd: int) -> dict[str, str]:
    if isinstance(k, EmulatedKernel):
        text = k.root.fdinfo(fd)
    else:
        text = Path(f"/proc/self/fdinfo/{fd}").read_text()
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _poll(k: Kernel, fd: int) -> int:
    if isinstance(k, EmulatedKernel):
        return int(k.root.get_file(fd).obj.poll(0))
    p = select.poll()
    p.register(fd, select.POLLIN | select.POLLHUP)
    return sum(ev for _, ev in p.poll(0))


def _link_map(k: Kernel, env: S.Env, t: S.Tracker, name: str, *, fill: bool = True) -> int:
    btf_fd = S.load_user_btf(k, t)
    fd = S.create_tcp_map(k, t, env, btf_fd, link=True)
    if fill:
        S.update(k, fd, S.tcp_value(env, name, S.load_reno(k, t, env).slots()))
    return fd


def _state(k: Kernel, env: S.Env, fd: int) -> int:
    return S.common(S.lookup(k, fd, env.tcp_value.size))[1]


# --- BPF_LINK_UPDATE, in the kernel's order -------------------------------------------------
def test_ku2_1_new_map_must_be_a_ready_link_map(kernel: Kernel, env: S.Env, t: S.Tracker) -> None:
    """KU2.1: a non-struct_ops map, a map without BPF_F_LINK, a link map still INIT → EINVAL."""
    name = f"ku21_{len(t.fds)}"
    link = S.link_create(kernel, t, _link_map(kernel, env, t, name))
    array = t.own(kernel.bpf(Cmd.BPF_MAP_CREATE, MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, 1)), S.OBJ_MAP)
    S.expect_errno(errno.EINVAL, lambda: S.link_update(kernel, link, array))
    plain = S.create_tcp_map(kernel, t, env, S.load_user_btf(kernel, t), link=False)
    S.expect_errno(errno.EINVAL, lambda: S.link_update(kernel, link, plain))
    fresh = _link_map(kernel, env, t, name, fill=False)
    S.expect_errno(errno.EINVAL, lambda: S.link_update(kernel, link, fresh))
    assert name in _available(kernel)  # nothing changed


def test_ku2_3_detached_link_is_enolink(kernel: Kernel, env: S.Env, t: S.Tracker) -> None:
    """KU2.3: after BPF_LINK_DETACH the link has no map: update → ENOLINK, even with a valid map."""
    name = f"ku23_{len(t.fds)}"
    link = S.link_create(kernel, t, _link_map(kernel, env, t, name))
    other = _link_map(kernel, env, t, name)
    S.link_detach(kernel, link)
    S.expect_errno(errno.ENOLINK, lambda: S.link_update(kernel, link, other))
    assert name not in _available(kernel)


def test_ku2_4_replace_with_the_wrong_old_map_is_eperm(kernel: Kernel, env: S.Env, t: S.Tracker) -> None:
    """KU2.4: BPF_F_REPLACE whose old map is not the link's map → EPERM; the link keeps its map."""
    name = f"ku24_{len(t.fds)}"
    a = _link_map(kernel, env, t, name)
    link = S.link_create(kernel, t, a)
    b = _link_map(kernel, env, t, name)
    c = _link_map(kernel, env, t, name)
    S.expect_errno(errno.EPERM, lambda: S.link_update(kernel, link, b, old_map=c, replace=True))
    assert S.link_info(kernel, link)[3] == S.obj_id(kernel, a, S.OBJ_MAP)


def test_ku2_6_subsystem_refusal_changes_nothing(kernel: Kernel, env: S.Env, t: S.Tracker) -> None:
    """KU2.6 (T7): tcp_ca's update refuses another name (EINVAL); link, maps and list unchanged."""
    name = f"ku26_{len(t.fds)}"
    a = _link_map(kernel, env, t, name)
    link = S.link_create(kernel, t, a)
    other = _link_map(kernel, env, t, name + "b")
    S.expect_errno(errno.EINVAL, lambda: S.link_update(kernel, link, other))
    assert S.link_info(kernel, link)[3] == S.obj_id(kernel, a, S.OBJ_MAP)
    assert S.common(S.lookup(kernel, a, env.tcp_value.size)) == (1, READY)
    assert S.common(S.lookup(kernel, other, env.tcp_value.size)) == (0, READY)
    assert name in _available(kernel) and name + "b" not in _available(kernel)


def test_ku2_7_success_moves_the_reference(kernel: Kernel, env: S.Env, t: S.Tracker) -> None:
    """KU2.7: the new map gains the link's reference, the old one loses it, stays READY, can be linked."""
    name = f"ku27_{len(t.fds)}"
    a = _link_map(kernel, env, t, name)
    link = S.link_create(kernel, t, a)
    b = _link_map(kernel, env, t, name)
    assert S.link_update(kernel, link, b) == 0
    assert S.common(S.lookup(kernel, a, env.tcp_value.size)) == (0, READY)
    assert S.common(S.lookup(kernel, b, env.tcp_value.size)) == (1, READY)
    S.link_detach(kernel, link)
    again = S.link_create(kernel, t, a)  # the old map registers again
    assert name in _available(kernel)
    assert S.link_info(kernel, again)[3] == S.obj_id(kernel, a, S.OBJ_MAP)


# --- delete of a link map -----------------------------------------------------------------
def test_d2_link_map_delete_is_eopnotsupp_in_every_state(kernel: Kernel, env: S.Env, t: S.Tracker) -> None:
    """D2: BPF_F_LINK map → EOPNOTSUPP when INIT, READY, linked, and READY again after detach."""
    name = f"d2_{len(t.fds)}"
    fd = _link_map(kernel, env, t, name, fill=False)
    assert _state(kernel, env, fd) == INIT
    S.expect_errno(errno.EOPNOTSUPP, lambda: S.delete(kernel, fd))
    S.update(kernel, fd, S.tcp_value(env, name, S.load_reno(kernel, t, env).slots()))
    assert _state(kernel, env, fd) == READY
    S.expect_errno(errno.EOPNOTSUPP, lambda: S.delete(kernel, fd))
    link = S.link_create(kernel, t, fd)
    S.expect_errno(errno.EOPNOTSUPP, lambda: S.delete(kernel, fd))
    assert name in _available(kernel), "a refused delete does not unregister"
    S.link_detach(kernel, link)
    S.expect_errno(errno.EOPNOTSUPP, lambda: S.delete(kernel, fd))
    assert _state(kernel, env, fd) == READY


# --- validate failure resets the map ------------------------------------------------------
@pytest.mark.parametrize("link", [False, True])
def test_u10_validate_failure_resets_to_init(kernel: Kernel, env: S.Env, t: S.Tracker, link: bool) -> None:
    """U10 (T4) + U14: no ssthresh → EINVAL; the map is INIT and all zero, and a full update then works."""
    name = f"u10_{int(link)}_{len(t.fds)}"
    btf_fd = S.load_user_btf(kernel, t)
    fd = S.create_tcp_map(kernel, t, env, btf_fd, link=link)
    progs = S.load_reno(kernel, t, env)
    partial = {k: v for k, v in progs.slots().items() if k != "ssthresh"}
    S.expect_errno(errno.EINVAL, lambda: S.update(kernel, fd, S.tcp_value(env, name, partial)))
    assert S.lookup(kernel, fd, env.tcp_value.size) == bytes(env.tcp_value.size)
    assert name not in _available(kernel)
    assert S.update(kernel, fd, S.tcp_value(env, name, progs.slots())) == 0
    if not link:
        t.registered.append(fd)
    assert _state(kernel, env, fd) == (READY if link else INUSE)


# --- link properties ----------------------------------------------------------------------
def test_k6_link_info_fdinfo_and_poll(kernel: Kernel, env: S.Env, t: S.Tracker) -> None:
    """K6/K7/KP1/KD3: type 9, prog_id 0, no prog lines in fdinfo, O_RDONLY|O_CLOEXEC, poll HUP after detach."""
    name = f"k6_{len(t.fds)}"
    fd = _link_map(kernel, env, t, name)
    link = S.link_create(kernel, t, fd)
    ltype, lid, prog_id, map_id = S.link_info(kernel, link)
    assert (ltype, prog_id, map_id) == (9, 0, S.obj_id(kernel, fd, S.OBJ_MAP))
    info = InfoAttr(link, bytearray(64))
    kernel.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, info)
    text = _fdinfo(kernel, link)
    assert text["flags"] == "02000000"  # a link fd is opened O_RDONLY|O_CLOEXEC
    assert text["link_type"] == "struct_ops" and text["link_id"] == str(lid) and text["map_id"] == str(map_id)
    assert "prog_tag" not in text and "prog_id" not in text
    assert _fdinfo(kernel, fd)["flags"] == "02000002"  # a map fd is O_RDWR|O_CLOEXEC
    assert _poll(kernel, link) == 0
    S.link_detach(kernel, link)
    assert _poll(kernel, link) & select.POLLHUP
    assert "map_id" not in _fdinfo(kernel, link)


def test_k5_link_create_rejects_non_link_map_attach_type(kernel: Kernel, env: S.Env, t: S.Tracker) -> None:
    """K6: the link's attach type is BPF_STRUCT_OPS; LINK_CREATE of a map without BPF_F_LINK → EINVAL."""
    btf_fd = S.load_user_btf(kernel, t)
    plain = S.create_tcp_map(kernel, t, env, btf_fd, link=False)
    S.expect_errno(errno.EINVAL, lambda: kernel.bpf(Cmd.BPF_LINK_CREATE, LinkCreateAttr.struct_ops(plain)))


# --- bpf_dummy_ops test_run ---------------------------------------------------------------
def _dummy(kernel: Kernel, env: S.Env, t: S.Tracker) -> tuple[int, int, int]:
    ops = env.dummy_ops
    p1 = S.load_struct_ops_prog(kernel, t, ops, "test_1", S.prog_dummy_test_1())
    p2 = S.load_struct_ops_prog(kernel, t, ops, "test_2", S.prog_dummy_test_2())
    tcp = S.load_struct_ops_prog(kernel, t, env.tcp_ops, "ssthresh", S.prog_ssthresh(env))
    return p1, p2, tcp


def _run(kernel: Kernel, fd: int, ctx: bytes | None) -> TestRunAttr:
    attr = TestRunAttr(fd, ctx_in=ctx)
    kernel.bpf(Cmd.BPF_PROG_TEST_RUN, attr)
    return attr


def test_dm7_2_only_dummy_ops_programs(kernel: Kernel, env: S.Env, t: S.Tracker) -> None:
    """DM7.2: a tcp_congestion_ops program → EOPNOTSUPP."""
    _, _, tcp = _dummy(kernel, env, t)
    S.expect_errno(errno.EOPNOTSUPP, lambda: _run(kernel, tcp, struct.pack("<Q", 0)))


def test_dm7_3_ctx_size_must_be_eight_per_argument(kernel: Kernel, env: S.Env, t: S.Tracker) -> None:
    """DM7.3: test_1 takes 1 argument, test_2 five: any other ctx size → EINVAL."""
    p1, p2, _ = _dummy(kernel, env, t)
    for fd, good in ((p1, 1), (p2, 5)):
        for n in (0, good - 1, good + 1):
            if n != good and n >= 0:
                S.expect_errno(errno.EINVAL, lambda fd=fd, n=n: _run(kernel, fd, bytes(8 * n) if n else None))


def test_dm7_5_to_dm7_9_state_in_and_out_and_retval(kernel: Kernel, env: S.Env, t: S.Tracker) -> None:
    """DM7.5/DM7.8: the 4-byte state is copied in and back; DM7.9: retval is the int return."""
    p1, _, _ = _dummy(kernel, env, t)
    buf = kernel.alloc_user(4)
    buf.write(struct.pack("<i", -3))
    assert _run(kernel, p1, struct.pack("<Q", buf.addr)).retval == 0xFFFFFFFD
    assert struct.unpack("<i", buf.read(0, 4))[0] == 0x5A


def test_dm7_6_null_only_for_nullable_arguments(kernel: Kernel, env: S.Env, t: S.Tracker) -> None:
    """DM7.6: test_1's state is nullable (runs with NULL); test_2's is not → EINVAL."""
    p1, p2, _ = _dummy(kernel, env, t)
    assert _run(kernel, p1, bytes(8)).retval == 0xF2F3F4F5
    S.expect_errno(errno.EINVAL, lambda: _run(kernel, p2, struct.pack("<5Q", 0, 1, 2, 3, 4)))


def test_dm7_7_arguments_reach_the_program_unchanged(kernel: Kernel, env: S.Env, t: S.Tracker) -> None:
    """DM7.7: the spec says the u64 slots are truncated to int/u16/char; Linux 6.18 passes them whole.

    Measured here: a program reading ctx[1..4] as u64 sees every bit the caller wrote.
    """
    _, p2, _ = _dummy(kernel, env, t)
    buf = kernel.alloc_user(4)
    ctx = struct.pack("<5Q", buf.addr, 0x1_0000_0001, 0x7_0002, 0x1FF, 4)
    r = _run(kernel, p2, ctx)
    total = (0x1_0000_0001 + 0x7_0002 + 0x1FF + 4) & 0xFFFF_FFFF
    assert r.retval == total == 0x70206
    assert struct.unpack("<I", buf.read(0, 4))[0] == total


# --- tcp_congestion_ops reg ----------------------------------------------------------------
def test_t5_3_same_name_is_eexist_and_map_resets(kernel: Kernel, env: S.Env, t: S.Tracker) -> None:
    """T5.2/T5.3: the key is the name's hash: a second non-link map with the name → EEXIST, map INIT."""
    name = f"t53_{len(t.fds)}"
    btf_fd = S.load_user_btf(kernel, t)
    progs = S.load_reno(kernel, t, env)
    a = S.create_tcp_map(kernel, t, env, btf_fd)
    S.update(kernel, a, S.tcp_value(env, name, progs.slots()))
    t.registered.append(a)
    b = S.create_tcp_map(kernel, t, env, btf_fd)
    S.expect_errno(errno.EEXIST, lambda: S.update(kernel, b, S.tcp_value(env, name, progs.slots())))
    assert _state(kernel, env, b) == INIT
    link_map = _link_map(kernel, env, t, name)
    S.expect_errno(errno.EEXIST, lambda: kernel.bpf(Cmd.BPF_LINK_CREATE, LinkCreateAttr.struct_ops(link_map)))


def test_t5_4_registration_appends_to_the_list(kernel: Kernel, env: S.Env, t: S.Tracker) -> None:
    """T5.4: a registered name appears last in tcp_available_congestion_control."""
    name = f"t54_{len(t.fds)}"
    fd = _link_map(kernel, env, t, name)
    before = _available(kernel)
    S.link_create(kernel, t, fd)
    assert _available(kernel) == [*before, name]


# --- tcp_congestion_ops flags and the allowed list ----------------------------------------
ALLOWED = Path("/proc/sys/net/ipv4/tcp_allowed_congestion_control")


def _allowed(k: Kernel) -> list[str]:
    if isinstance(k, EmulatedKernel):
        return k.tcp_congestion.allowed()
    return ALLOWED.read_text().split()


def _value_with_flags(env: S.Env, name: str, slots: dict[str, int], flags: int) -> bytes:
    value = bytearray(S.tcp_value(env, name, slots))
    struct.pack_into("<I", value, env.tcp_data + env.tcp_ops.offset("flags"), flags)
    return bytes(value)


def test_t3_flags_mask_of_6_18(kernel: Kernel, env: S.Env, t: S.Tracker) -> None:
    """T3: Linux 6.18 accepts each flag bit 0x1..0x10 (and all together) and refuses any other (EINVAL)."""
    btf_fd = S.load_user_btf(kernel, t)
    slots = S.load_reno(kernel, t, env).slots()
    for flags in (0x1, 0x2, 0x4, 0x8, 0x10, 0x1F):
        fd = S.create_tcp_map(kernel, t, env, btf_fd, link=True)
        assert S.update(kernel, fd, _value_with_flags(env, f"fl{flags:x}_{len(t.fds)}", slots, flags)) == 0
    for flags in (0x20, 0x40, 0x100, 0x8000_0000):
        fd = S.create_tcp_map(kernel, t, env, btf_fd, link=True)
        bad = _value_with_flags(env, "bad", slots, flags)
        S.expect_errno(errno.EINVAL, lambda fd=fd, v=bad: S.update(kernel, fd, v))
        assert _state(kernel, env, fd) == INIT


def test_t5_non_restricted_cc_is_allowed_while_registered(kernel: Kernel, env: S.Env, t: S.Tracker) -> None:
    """TCP_CONG_NON_RESTRICTED: the name joins tcp_allowed_congestion_control at reg, leaves at unreg."""
    slots = S.load_reno(kernel, t, env).slots()
    btf_fd = S.load_user_btf(kernel, t)
    free, restricted = f"nr_{len(t.fds)}", f"rs_{len(t.fds)}"
    before = _allowed(kernel)
    assert "reno" in before
    a = S.create_tcp_map(kernel, t, env, btf_fd, link=True)
    S.update(kernel, a, _value_with_flags(env, free, slots, 0x1))
    b = S.create_tcp_map(kernel, t, env, btf_fd, link=True)
    S.update(kernel, b, _value_with_flags(env, restricted, slots, 0))
    la, lb = S.link_create(kernel, t, a), S.link_create(kernel, t, b)
    assert _allowed(kernel) == [*before, free]
    assert restricted in _available(kernel)
    S.link_detach(kernel, la)
    S.link_detach(kernel, lb)
    assert _allowed(kernel) == before


# --- BPF_PROG_BIND_MAP of a struct_ops program to the map that holds it --------------------
def test_bind_map_to_own_struct_ops_map_is_a_cycle_that_linux_keeps(
    kernel: Kernel, env: S.Env, request: pytest.FixtureRequest
) -> None:
    """The map holds the prog (trampoline link, F4) and the prog holds the map (used_maps): after
    every fd is closed neither goes away. Measured on Linux 6.18 here: map and progs stay listed
    by GET_NEXT_ID until reboot. The embedded kernel keeps them the same way.

    On the real kernel this leaks for good, so it runs there only with STRUCTOPS_LEAKY_REAL_TESTS=1.
    """
    import os

    from structops.kernel.attrs import ProgBindMapAttr

    if not isinstance(kernel, EmulatedKernel) and os.environ.get("STRUCTOPS_LEAKY_REAL_TESTS") != "1":
        pytest.skip("leaks a map and programs in the running kernel until reboot (STRUCTOPS_LEAKY_REAL_TESTS=1)")
    t = S.Tracker(kernel)
    btf_fd = S.load_user_btf(kernel, t)
    progs = S.load_reno(kernel, t, env)
    fd = S.create_tcp_map(kernel, t, env, btf_fd, link=True)
    S.update(kernel, fd, S.tcp_value(env, f"bind{len(t.fds)}", progs.slots()))
    map_id, prog_id = S.obj_id(kernel, fd, S.OBJ_MAP), S.obj_id(kernel, progs.ssthresh, S.OBJ_PROG)
    other_id = S.obj_id(kernel, progs.init, S.OBJ_PROG)
    assert kernel.bpf(Cmd.BPF_PROG_BIND_MAP, ProgBindMapAttr(progs.ssthresh, fd)) == 0
    for f in reversed(t.fds):
        kernel.close(f)
    if isinstance(kernel, EmulatedKernel):
        kernel.rcu.synchronize()
    else:
        import time

        time.sleep(1.0)  # past the RCU grace periods of the deferred frees
    assert map_id in S.live_ids(kernel, S.OBJ_MAP)
    assert prog_id in S.live_ids(kernel, S.OBJ_PROG)
    assert other_id in S.live_ids(kernel, S.OBJ_PROG)  # held by the map, which the cycle keeps


def test_t3_t4_refusals_say_what_to_change(kernel: Kernel, env: S.Env, t: S.Tracker) -> None:
    """T3/T4: EINVAL on both kernels; the embedded kernel's message names the limit or the members."""
    btf_fd = S.load_user_btf(kernel, t)
    progs = S.load_reno(kernel, t, env)
    cases = [
        ("a_name_longer_than_15", progs.slots(), "at most 15 characters"),
        ("bad-name", progs.slots(), "outside [A-Za-z0-9_.]"),
        ("", progs.slots(), "name is empty"),
        ("partial", {"init": progs.init, "cong_avoid": progs.cong_avoid}, "ssthresh, undo_cwnd"),
    ]
    for name, slots, words in cases:
        fd = S.create_tcp_map(kernel, t, env, btf_fd, link=True)
        value = S.tcp_value(env, name, slots)
        err = S.expect_errno(errno.EINVAL, lambda fd=fd, v=value: S.update(kernel, fd, v))
        if isinstance(kernel, EmulatedKernel):
            assert words in str(err), str(err)


# --- BPF_ENABLE_STATS ----------------------------------------------------------------------
def _run_stats(kernel: Kernel, prog_fd: int) -> tuple[int, int]:
    info = InfoAttr(prog_fd, bytearray(232))
    kernel.bpf(Cmd.BPF_OBJ_GET_INFO_BY_FD, info)
    run_time_ns, run_cnt = struct.unpack_from("<QQ", info.info, 192)
    return run_cnt, run_time_ns


def test_run_stats_count_only_while_enabled(kernel: Kernel, env: S.Env, t: S.Tracker) -> None:
    """BPF_ENABLE_STATS(BPF_STATS_RUN_TIME) returns an fd; run_cnt/run_time_ns grow only while it is
    open (measured on Linux 6.18 with kernel.bpf_stats_enabled = 0); type 1 is EINVAL."""
    from structops.abi.attrs import EnableStatsAttr

    if not isinstance(kernel, EmulatedKernel) and Path("/proc/sys/kernel/bpf_stats_enabled").read_text().strip() != "0":
        pytest.skip("kernel.bpf_stats_enabled is on: stats are counted regardless")
    p1 = S.load_struct_ops_prog(kernel, t, env.dummy_ops, "test_1", S.prog_dummy_test_1())
    _run(kernel, p1, bytes(8))
    assert _run_stats(kernel, p1) == (0, 0)
    S.expect_errno(errno.EINVAL, lambda: kernel.bpf(Cmd.BPF_ENABLE_STATS, EnableStatsAttr(1)))
    S.expect_errno(errno.EINVAL, lambda: kernel.bpf(Cmd.BPF_ENABLE_STATS, EnableStatsAttr(0, tail=b"\x01")))
    stats_fd = kernel.bpf(Cmd.BPF_ENABLE_STATS, EnableStatsAttr(0))
    try:
        assert _fdinfo(kernel, stats_fd)["flags"] == "02000000"
        _run(kernel, p1, bytes(8))
        _run(kernel, p1, bytes(8))
        cnt, ns = _run_stats(kernel, p1)
        assert cnt == 2 and ns > 0
    finally:
        kernel.close(stats_fd)
    _run(kernel, p1, bytes(8))
    assert _run_stats(kernel, p1) == (cnt, ns)  # totals kept, no longer counting


def test_enable_stats_needs_cap_sys_admin() -> None:
    """Without CAP_SYS_ADMIN BPF_ENABLE_STATS is EPERM (embedded: a process without capabilities)."""
    from structops.abi.attrs import EnableStatsAttr
    from structops.kernel.emulated import CAP_BPF, CAP_PERFMON

    k = EmulatedKernel()
    proc = k.process(frozenset({CAP_BPF, CAP_PERFMON}))
    S.expect_errno(errno.EPERM, lambda: proc.bpf(Cmd.BPF_ENABLE_STATS, EnableStatsAttr(0)))
    k.stats.sysctl = True  # the sysctl alone turns counting on
    assert k.stats.enabled
