"""Real-kernel struct_ops behaviour through :class:`structops.linux.LinuxKernel`.

Runs the oracle scenarios of ``test_linux_scenarios.py`` on the running kernel and adds
what only a real host has: TCP sockets using the BPF congestion control, bpffs pinning,
fdinfo text.  Facts: kernel-6.18-observed.md §3-§6; spec ids in each docstring.
Skipped with the reason when not root, without kernel BTF, or without struct_ops.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_linux_scenarios as sc
from test_linux_scenarios import OBJ_LINK, OBJ_MAP, Env, Tracker

from structops.kernel.attrs import GetIdAttr, MapElemAttr, ObjPinAttr
from structops.linux import LinuxKernel, read_fdinfo
from structops.uapi import Cmd

AVAILABLE = Path("/proc/sys/net/ipv4/tcp_available_congestion_control")


def _skip_reason() -> str | None:
    if not Path("/sys/kernel/btf/vmlinux").exists():
        return "no kernel BTF at /sys/kernel/btf/vmlinux"
    if os.geteuid() != 0:
        return "not root: struct_ops needs CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN"
    return None


pytestmark = [pytest.mark.linux, pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))]


@pytest.fixture(scope="module")
def kernel() -> LinuxKernel:
    return LinuxKernel()


@pytest.fixture(scope="module")
def env(kernel: LinuxKernel) -> Env:
    try:
        return sc.resolve_env(kernel.vmlinux_btf())
    except sc.MissingKernelTypes as exc:
        pytest.skip(f"no struct_ops support in this kernel: {exc}")


@pytest.fixture
def t(kernel: LinuxKernel) -> Iterator[Tracker]:
    with sc.tracked(kernel) as tracker:
        yield tracker


_counter = iter(range(1_000_000))


@pytest.fixture
def cc_name() -> str:
    """A congestion-control name unique to this process and test (<= 14 chars, [a-z0-9_])."""
    return f"so{os.getpid() % 1_000_000}_{next(_counter)}"


def available() -> list[str]:
    """Names in tcp_available_congestion_control."""
    return AVAILABLE.read_text().split()


def transfer_with_cc(name: str, nbytes: int = 1 << 20) -> tuple[bytes, bytes, int]:
    """Loopback TCP with TCP_CONGESTION=name on both ends; returns (client cc, server cc, received)."""
    cc = name.encode()
    with socket.socket() as lsock:
        lsock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        received = 0
        server_cc = b""

        def serve() -> None:
            nonlocal received, server_cc
            conn, _ = lsock.accept()
            with conn:
                server_cc = conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16)
                while chunk := conn.recv(1 << 16):
                    received += len(chunk)

        th = threading.Thread(target=serve, daemon=True)
        th.start()
        with socket.socket() as c:
            c.settimeout(10)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc)
            c.connect(lsock.getsockname())
            client_cc = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16)
            c.sendall(bytes(nbytes))
        th.join(10)
    return client_cc.rstrip(b"\0"), server_cc.rstrip(b"\0"), received


def test_btf_load(kernel: LinuxKernel, env: Env, t: Tracker) -> None:
    """BTF_LOAD of the 45-byte user BTF works, a typeless BTF is EINVAL (observed §5)."""
    sc.scenario_btf_load(kernel, env, t)


def test_map_create(kernel: LinuxKernel, env: Env, t: Tracker) -> None:
    """MAP_CREATE struct_ops: btf_fd 0 EINVAL, vmlinux EACCES, user OK, sizes, 524 (observed §5, LD2)."""
    sc.scenario_map_create(kernel, env, t)


def test_prog_load(kernel: LinuxKernel, env: Env, t: Tracker) -> None:
    """PROG_LOAD struct_ops progs and their refusals with logs (observed §5, V4/V5/V7/V8/V15)."""
    sc.scenario_prog_load(kernel, env, t)


def test_legacy_registration_and_tcp(kernel: LinuxKernel, env: Env, t: Tracker, cc_name: str) -> None:
    """Non-link registration: a socket uses the CC and moves data (observed §3/§5 legacy; S1, S4, D3, T5)."""
    seen: list[tuple[bytes, bytes, int]] = []
    sc.scenario_legacy_registration(
        kernel, env, t, cc_name, available=available, on_registered=lambda n: seen.append(transfer_with_cc(n))
    )
    assert seen == [(cc_name.encode(), cc_name.encode(), 1 << 20)]
    with pytest.raises(OSError) as info, socket.socket() as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc_name.encode())
    assert info.value.errno == errno.ENOENT


def test_link_mode_and_tcp(kernel: LinuxKernel, env: Env, t: Tracker, cc_name: str) -> None:
    """Link mode: READY, link create/update/detach/close (observed §5 link mode; K3-K8, KU2, KD2, KP2)."""
    seen: list[tuple[bytes, bytes, int]] = []
    sc.scenario_link_mode(
        kernel,
        env,
        t,
        cc_name,
        available=available,
        on_registered=lambda n: seen.append(transfer_with_cc(n, 1 << 18)),
    )
    assert seen == [(cc_name.encode(), cc_name.encode(), 1 << 18)]


def test_dummy_ops_test_run(kernel: LinuxKernel, env: Env, t: Tracker) -> None:
    """bpf_dummy_ops BPF_PROG_TEST_RUN and the never-registrable dummy map (observed §4; DM1-DM6)."""
    sc.scenario_dummy_ops(kernel, env, t)


def test_ids_and_info(kernel: LinuxKernel, env: Env, t: Tracker) -> None:
    """GET_NEXT_ID / GET_FD_BY_ID / OBJ_GET_INFO_BY_FD for btf, map, prog, link (K8)."""
    sc.scenario_ids_and_info(kernel, env, t)


def test_link_fdinfo(kernel: LinuxKernel, env: Env, t: Tracker, cc_name: str) -> None:
    """fdinfo of a struct_ops link: link_type, link_id, map_id only while attached (K7, KD3)."""
    btf_fd = sc.load_user_btf(kernel, t)
    progs = sc.load_reno(kernel, t, env)
    map_fd = sc.create_tcp_map(kernel, t, env, btf_fd, link=True)
    sc.update(kernel, map_fd, sc.tcp_value(env, cc_name, progs.slots()))
    link = sc.link_create(kernel, t, map_fd)
    info = read_fdinfo(link)
    assert info["link_type"] == "struct_ops"
    assert int(info["link_id"]) == sc.obj_id(kernel, link, OBJ_LINK)
    assert int(info["map_id"]) == sc.obj_id(kernel, map_fd, OBJ_MAP)
    sc.link_detach(kernel, link)
    assert "map_id" not in read_fdinfo(link)
    minfo = read_fdinfo(map_fd)
    assert minfo["map_type"] == "26" and minfo["value_size"] == str(env.tcp_value.size)


@pytest.fixture
def bpffs(t: Tracker) -> Iterator[Path]:
    """A private bpffs mounted on a temp dir (unmounted after); skips if mount fails."""
    with tempfile.TemporaryDirectory(prefix="structops-bpffs-") as d:
        res = subprocess.run(["mount", "-t", "bpf", "bpf", d], capture_output=True, text=True, check=False)
        if res.returncode != 0:
            pytest.skip(f"cannot mount bpffs: {res.stderr.strip()}")
        try:
            yield Path(d)
        finally:
            subprocess.run(["umount", d], check=True)


def test_pin_and_get(kernel: LinuxKernel, env: Env, t: Tracker, bpffs: Path, cc_name: str) -> None:
    """OBJ_PIN / OBJ_GET of a struct_ops map and link; a pinned link outlives its fd (KP2, L4)."""
    btf_fd = sc.load_user_btf(kernel, t)
    progs = sc.load_reno(kernel, t, env)
    map_fd = sc.create_tcp_map(kernel, t, env, btf_fd, link=True)
    sc.update(kernel, map_fd, sc.tcp_value(env, cc_name, progs.slots()))
    link = sc.link_create(kernel, t, map_fd)
    kernel.bpf(Cmd.BPF_OBJ_PIN, ObjPinAttr(str(bpffs / "map"), bpf_fd=map_fd))
    kernel.bpf(Cmd.BPF_OBJ_PIN, ObjPinAttr(str(bpffs / "link"), bpf_fd=link))
    sc.expect_errno(errno.EEXIST, lambda: kernel.bpf(Cmd.BPF_OBJ_PIN, ObjPinAttr(str(bpffs / "map"), bpf_fd=map_fd)))
    got = t.own(kernel.bpf(Cmd.BPF_OBJ_GET, ObjPinAttr(str(bpffs / "map"))), OBJ_MAP)
    assert sc.obj_id(kernel, got, OBJ_MAP) == sc.obj_id(kernel, map_fd, OBJ_MAP)
    t.close(link)
    assert cc_name in available(), "a pinned link keeps the CC registered after its fd closes"
    assert sc.common(sc.lookup(kernel, got, env.tcp_value.size)) == (1, sc.READY)
    link2 = t.own(kernel.bpf(Cmd.BPF_OBJ_GET, ObjPinAttr(str(bpffs / "link"))), OBJ_LINK)
    (bpffs / "link").unlink()
    (bpffs / "map").unlink()
    t.close(link2)
    assert cc_name not in available(), "unpin + close of the last link reference unregisters (KP2)"
    sc.expect_errno(errno.ENOENT, lambda: kernel.bpf(Cmd.BPF_OBJ_GET, ObjPinAttr(str(bpffs / "map"))))


def test_map_value_struct_layout(env: Env) -> None:
    """The value type puts ``common`` at 0 and ``data`` 64-byte aligned (spec 2.2, observed §2)."""
    assert env.tcp_value.offset("common") == 0
    assert env.tcp_data % 64 == 0 and env.tcp_data >= 8
    assert env.tcp_value.size >= env.tcp_data + env.tcp_ops.size
    assert env.tcp_ops.index("name") == 11 and env.tcp_ops.index("ssthresh") == 0


def test_lookup_struct_pack_roundtrip(kernel: LinuxKernel, env: Env, t: Tracker) -> None:
    """Lookup on a fresh map fills the caller's bytearray in place with zeros (L3)."""
    btf_fd = sc.load_user_btf(kernel, t)
    map_fd = sc.create_tcp_map(kernel, t, env, btf_fd)
    out = bytearray(b"\xff" * env.tcp_value.size)
    before = id(out)
    kernel.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(map_fd, key=bytes(4), value=out))
    assert id(out) == before and out == bytes(env.tcp_value.size)
    out4 = bytearray(4)
    kernel.bpf(Cmd.BPF_MAP_GET_NEXT_KEY, MapElemAttr(map_fd, key=None, value=out4))
    assert struct.unpack("<I", out4)[0] == 0
    sc.expect_errno(
        errno.ENOENT,
        lambda: kernel.bpf(Cmd.BPF_MAP_GET_NEXT_KEY, MapElemAttr(map_fd, key=bytes(4), value=out4)),
    )


def test_update_value_checks(kernel: LinuxKernel, env: Env, t: Tracker, cc_name: str) -> None:
    """Refused map values leave the map INIT and retryable (U1-U5, U9, T3, S3)."""
    sc.scenario_update_value_checks(kernel, env, t, cc_name)


def test_map_misc_ops(kernel: LinuxKernel, env: Env, t: Tracker) -> None:
    """Lookup key 1, GET_NEXT_KEY, FREEZE, delete key value (L2, L6, L7, D4)."""
    sc.scenario_map_misc_ops(kernel, env, t)


def test_verifier_extras(kernel: LinuxKernel, env: Env, t: Tracker) -> None:
    """Nullable args, sleepable members, tcp_sock write windows, test_run errors (V13, V18, T8, DM6)."""
    sc.scenario_verifier_extras(kernel, env, t)


def test_closing_fds_keeps_legacy_registration(kernel: LinuxKernel, env: Env, t: Tracker, cc_name: str) -> None:
    """Closing every fd of an INUSE non-link map does not unregister it; delete_elem does (F1, Q5)."""
    btf_fd = sc.load_user_btf(kernel, t)
    progs = sc.load_reno(kernel, t, env)
    map_fd = sc.create_tcp_map(kernel, t, env, btf_fd)
    map_id = sc.obj_id(kernel, map_fd, OBJ_MAP)
    sc.update(kernel, map_fd, sc.tcp_value(env, cc_name, progs.slots()))
    t.registered.append(map_fd)
    for fd in [*t.fds]:
        t.close(fd)
    t.registered.clear()
    try:
        assert cc_name in available()
        assert map_id in sc.live_ids(kernel, OBJ_MAP)
    finally:
        again = t.own(kernel.bpf(Cmd.BPF_MAP_GET_FD_BY_ID, GetIdAttr(id=map_id)), OBJ_MAP)
        sc.delete(kernel, again)
    assert cc_name not in available()


def _wait_common(kernel: LinuxKernel, map_fd: int, size: int, want: tuple[int, int]) -> tuple[int, int]:
    """Poll lookup until (refcnt, state) == want or 2 s pass; return the last value."""
    deadline = time.monotonic() + 2.0
    got = sc.common(sc.lookup(kernel, map_fd, size))
    while got != want and time.monotonic() < deadline:
        time.sleep(0.01)
        got = sc.common(sc.lookup(kernel, map_fd, size))
    return got


def test_sockets_hold_the_map_after_unregister(kernel: LinuxKernel, env: Env, t: Tracker, cc_name: str) -> None:
    """Each socket using the CC adds 1 to lookup refcnt; after delete_elem the CC is gone for new
    sockets but old ones keep it and transfer (L4, F1, F2, T6; observed §3 unregister while in use)."""
    btf_fd = sc.load_user_btf(kernel, t)
    progs = sc.load_reno(kernel, t, env)
    map_fd = sc.create_tcp_map(kernel, t, env, btf_fd)
    size = env.tcp_value.size
    sc.update(kernel, map_fd, sc.tcp_value(env, cc_name, progs.slots()))
    t.registered.append(map_fd)
    cc = cc_name.encode()
    with socket.socket() as lsock, socket.socket() as client:
        lsock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc)
        assert sc.common(sc.lookup(kernel, map_fd, size)) == (2, sc.INUSE)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc)
        client.settimeout(10)
        client.connect(lsock.getsockname())
        server, _ = lsock.accept()
        with server:
            server.settimeout(10)
            assert _wait_common(kernel, map_fd, size, (4, sc.INUSE)) == (4, sc.INUSE)
            sc.delete(kernel, map_fd)
            t.registered.remove(map_fd)
            assert sc.common(sc.lookup(kernel, map_fd, size)) == (3, sc.TOBEFREE)
            assert cc_name not in available()
            client.sendall(bytes(1 << 16))
            got = 0
            while got < 1 << 16:
                got += len(server.recv(1 << 16))
            assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0") == cc
    assert _wait_common(kernel, map_fd, size, (0, sc.TOBEFREE)) == (0, sc.TOBEFREE)
