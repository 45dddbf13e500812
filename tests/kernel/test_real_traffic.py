"""Real TCP traffic between two network namespaces under a BPF congestion control we swap live.

The scenario of the "Linux backend" issue, item 3 (docs/real-traffic.md): a struct_ops
LINK registers a hand-assembled reno-via-kfuncs CC (K5, T5); a client in one namespace
and a server in the other select it with ``TCP_CONGESTION`` and move megabytes through a
rate-limited veth; ``BPF_LINK_UPDATE`` swaps in a second map with the same name while
connections are open (KU2, T7); ``BPF_LINK_DETACH`` unregisters it (KD2, T6); sockets keep
the ops they hold through map references (F2) until they close; nothing leaks.

Every op of each version bumps its own slot of a counters ARRAY map (lookup through
``bpf_map_lookup_elem`` + an atomic add), which is how the test proves which version ran.
Skipped with the reason when not root, without BTF / struct_ops, or without ``ip``/netns.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import netns
import pytest
import test_linux_scenarios as sc
from test_linux_scenarios import OBJ_LINK, OBJ_MAP, OBJ_PROG, Env, Tracker, insn

from structops.kernel.attrs import MapCreateAttr, MapElemAttr
from structops.linux import LinuxKernel, features
from structops.uapi import Cmd, MapType

AVAILABLE = Path("/proc/sys/net/ipv4/tcp_available_congestion_control")
#: Client-side egress shaping: data flows client -> server through a 200 Mbit/s token bucket.
TBF = ("rate", "200mbit", "burst", "32kb", "limit", "48kb")
NETEM = ("delay", "10ms", "loss", "0.1%")
MB = 1 << 20


def _skip_reason() -> str | None:
    if not Path("/sys/kernel/btf/vmlinux").exists():
        return "no kernel BTF at /sys/kernel/btf/vmlinux"
    return netns.skip_reason()


pytestmark = [
    pytest.mark.linux,
    pytest.mark.timeout(60),
    pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason())),
]


# --------------------------------------------------------------------------------------
# Counting CC: reno through kfuncs, every op counted in its version's slots
# --------------------------------------------------------------------------------------

#: The ops each version implements, in counter-slot order (slot = 8 * version + index).
MEMBERS = ("init", "release", "ssthresh", "cong_avoid", "undo_cwnd")
COUNTER_SLOTS = 24


def slot(version: int, member: str) -> int:
    """Counter slot of ``member`` for CC ``version`` (1 or 2)."""
    return 8 * version + MEMBERS.index(member)


def ld_map_fd(dst: int, map_fd: int) -> bytes:
    """``dst = map`` (BPF_LD|BPF_IMM|BPF_DW, src = BPF_PSEUDO_MAP_FD): two instruction slots."""
    return insn(0x18, dst, 1, 0, map_fd) + insn(0)


def count_prologue(counters_fd: int, index: int) -> bytes:
    """``r6 = ctx; v = bpf_map_lookup_elem(counters, &index); if (v) lock *v += 1; r1 = r6``."""
    return (
        insn(0xBF, 6, 1)  # r6 = r1
        + insn(0x62, 10, 0, -4, index)  # *(u32 *)(r10 - 4) = index
        + insn(0xBF, 2, 10)  # r2 = r10
        + insn(0x07, 2, imm=-4)  # r2 += -4
        + ld_map_fd(1, counters_fd)
        + insn(0x85, imm=1)  # call bpf_map_lookup_elem
        + insn(0x15, 0, off=2)  # if r0 == 0 goto +2
        + insn(0xB7, 1, imm=1)  # r1 = 1
        + insn(0xDB, 0, 1)  # lock *(u64 *)(r0 + 0) += r1
        + insn(0xBF, 1, 6)  # r1 = r6
    )


def counting_prog(env: Env, counters_fd: int, version: int, member: str) -> bytes:
    """``member`` of CC ``version``: count, then behave like reno (kfunc) or do nothing (init/release)."""
    body = count_prologue(counters_fd, slot(version, member))
    if member == "ssthresh":
        body += sc.ldx_dw(1, 1, 0) + sc.call_kfunc(env.kfuncs["tcp_reno_ssthresh"])
    elif member == "undo_cwnd":
        body += sc.ldx_dw(1, 1, 0) + sc.call_kfunc(env.kfuncs["tcp_reno_undo_cwnd"])
    elif member == "cong_avoid":
        body += sc.ldx_dw(3, 1, 16) + sc.ldx_dw(2, 1, 8) + sc.ldx_dw(1, 1, 0)
        body += sc.call_kfunc(env.kfuncs["tcp_reno_cong_avoid"])
    return body + sc.EXIT


def create_counters(k: LinuxKernel, t: Tracker) -> int:
    """The counters map: ARRAY, u32 key, u64 value, :data:`COUNTER_SLOTS` entries."""
    attr = MapCreateAttr(MapType.BPF_MAP_TYPE_ARRAY, 4, 8, COUNTER_SLOTS, map_name="rt_counters")
    return t.own(k.bpf(Cmd.BPF_MAP_CREATE, attr), OBJ_MAP)


def load_counting_cc(k: LinuxKernel, t: Tracker, env: Env, counters_fd: int, version: int) -> dict[str, int]:
    """Load the five programs of CC ``version``; member name -> prog fd."""
    return {
        m: sc.load_struct_ops_prog(k, t, env.tcp_ops, m, counting_prog(env, counters_fd, version, m)) for m in MEMBERS
    }


def read_counters(k: LinuxKernel, counters_fd: int) -> dict[tuple[int, str], int]:
    """``(version, member) -> count`` for both versions."""
    out: dict[tuple[int, str], int] = {}
    for version in (1, 2):
        for member in MEMBERS:
            value = bytearray(8)
            key = struct.pack("<I", slot(version, member))
            k.bpf(Cmd.BPF_MAP_LOOKUP_ELEM, MapElemAttr(counters_fd, key=key, value=value))
            out[(version, member)] = struct.unpack("<Q", value)[0]
    return out


def refcnt(k: LinuxKernel, env: Env, map_fd: int) -> int:
    """``common.refcnt`` of a struct_ops map lookup: link + one per socket holding the ops (F1, F2)."""
    return sc.common(sc.lookup(k, map_fd, env.tcp_value.size))[0]


T = TypeVar("T")


def wait_for(fn: Callable[[], T], ok: Callable[[T], bool], timeout: float = 3.0) -> T:
    """Poll ``fn`` until ``ok(value)`` or ``timeout`` seconds pass; return the last value."""
    deadline = time.monotonic() + timeout
    value = fn()
    while not ok(value) and time.monotonic() < deadline:
        time.sleep(0.01)
        value = fn()
    return value


def available() -> list[str]:
    """tcp_available_congestion_control of the test's own namespace."""
    return AVAILABLE.read_text().split()


def available_in(ns: str) -> list[str]:
    """tcp_available_congestion_control read from inside ``ns`` (the list is global)."""
    return netns.run(netns.ns_exec(ns, ["cat", str(AVAILABLE)])).stdout.split()


# --------------------------------------------------------------------------------------
# Traffic agents: small Python processes inside the namespaces, driven line by line
# --------------------------------------------------------------------------------------

SERVER = r"""
import json, os, socket, struct, sys, threading
cc, addr = sys.argv[1].encode(), sys.argv[2]
ls = socket.socket()
ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc)
ls.bind((addr, 0))
ls.listen(16)
print(json.dumps({"port": ls.getsockname()[1]}), flush=True)

def sink(c):
    with c:
        n, name = 0, c.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0")
        while data := c.recv(1 << 16):
            n += len(data)
        c.sendall(struct.pack("<Q", n) + name.ljust(16, b"\0"))

def accept():
    while True:
        c, _ = ls.accept()
        threading.Thread(target=sink, args=(c,), daemon=True).start()

threading.Thread(target=accept, daemon=True).start()
sys.stdin.read()
os._exit(0)
"""

CLIENT = r"""
import json, socket, struct, sys, threading, time
server = (sys.argv[1], int(sys.argv[2]))
socks, threads, sent = {}, {}, {}
TCP = socket.IPPROTO_TCP

def reply(**kw):
    print(json.dumps(kw), flush=True)

def info(s):
    raw = s.getsockopt(TCP, socket.TCP_INFO, 104)
    cc = s.getsockopt(TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0").decode()
    return {"cc": cc, "cwnd": struct.unpack_from("<I", raw, 80)[0], "retrans": struct.unpack_from("<I", raw, 100)[0]}

def send(key, n):
    t0 = time.perf_counter()
    try:
        socks[key].sendall(bytes(n))
        sent[key] = {"secs": time.perf_counter() - t0}
    except OSError as exc:
        sent[key] = {"errno": exc.errno}

for line in sys.stdin:
    cmd, key, *rest = line.split()
    try:
        if cmd == "open":
            s = socket.socket()
            s.settimeout(20)
            try:
                if rest[0] != "-":
                    s.setsockopt(TCP, socket.TCP_CONGESTION, rest[0].encode())
                s.connect((server[0], int(rest[1])) if len(rest) > 1 else server)
            except OSError:
                s.close()
                raise
            socks[key] = s
            reply(ok=True, **info(s))
        elif cmd == "send":
            threads[key] = threading.Thread(target=send, args=(key, int(rest[0])), daemon=True)
            threads[key].start()
            reply(ok=True)
        elif cmd == "wait":
            threads.pop(key).join(30)
            reply(ok="secs" in sent[key], **sent.pop(key), **info(socks[key]))
        elif cmd == "close":
            s = socks.pop(key)
            s.shutdown(socket.SHUT_WR)
            got = b""
            while len(got) < 24 and (chunk := s.recv(24 - len(got))):
                got += chunk
            s.close()
            reply(ok=True, received=struct.unpack_from("<Q", got)[0], server_cc=got[8:].rstrip(b"\0").decode())
        else:
            reply(ok=False, error="bad command " + cmd)
    except OSError as exc:
        reply(ok=False, errno=exc.errno, error=str(exc))
"""


class Agent:
    """A Python process in a namespace answering one JSON line per command line."""

    def __init__(self, ns: str, script: str, *args: str) -> None:
        argv = netns.ns_exec(ns, [sys.executable, "-u", "-c", script, *args])
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
        )

    def read(self, timeout: float = 20.0) -> dict[str, Any]:
        """The next JSON line; AssertionError with the agent's stderr on timeout or exit."""
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.stop()
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise AssertionError(f"agent gave no answer within {timeout} s (exit {self.proc.returncode}): {err}")
        result: dict[str, Any] = json.loads(line)
        return result

    def request(self, line: str, timeout: float = 20.0) -> dict[str, Any]:
        """Send one command line and return its answer."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.read(timeout)

    def ok(self, line: str, timeout: float = 20.0) -> dict[str, Any]:
        """:meth:`request` that must succeed."""
        answer = self.request(line, timeout)
        assert answer.get("ok"), f"{line!r} failed: {answer}"
        return answer

    def stop(self) -> None:
        """Close stdin (the agents exit on EOF), then kill if it lingers; closes its sockets."""
        if self.proc.poll() is None:
            try:
                if self.proc.stdin is not None:
                    self.proc.stdin.close()
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel() -> LinuxKernel:
    """The real kernel; skips with the failed probe's reason without CAP_BPF or struct_ops links."""
    k = LinuxKernel()
    for probe in (features.probe_cap_bpf(), features.probe_struct_ops_map(k), features.probe_struct_ops_link(k)):
        if not probe:
            pytest.skip(f"{probe.name}: {probe.reason}")
    return k


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


_serial = iter(range(1000))


@pytest.fixture
def pair() -> Iterator[netns.VethPair]:
    """Two fresh namespaces and a veth pair, deleted after the test whatever happens."""
    with netns.veth_pair(f"rt{os.getpid()}{next(_serial)}") as p:
        yield p


@pytest.fixture
def agents() -> Iterator[list[Agent]]:
    """Agents started by a test; all stopped (their sockets closed) at teardown."""
    started: list[Agent] = []
    try:
        yield started
    finally:
        for agent in reversed(started):
            agent.stop()


def start_server(agents: list[Agent], pair: netns.VethPair, cc: str) -> int:
    """A sink server in ``ns_b`` whose listener selected ``cc``; returns its port."""
    server = Agent(pair.ns_b, SERVER, cc, pair.addr_b)
    agents.append(server)
    port: int = server.read()["port"]
    return port


def start_pair(agents: list[Agent], pair: netns.VethPair, server_cc: str) -> Agent:
    """Server (listener with ``server_cc``) in ``ns_b``; returns the command-driven client in ``ns_a``.

    Client commands: ``open KEY CC [PORT]`` (CC ``-``: no setsockopt, the netns default),
    ``send KEY N`` (background sendall), ``wait KEY``, ``close KEY`` (half-close, read the
    server's byte count and its accepted socket's CC name).
    """
    port = start_server(agents, pair, server_cc)
    client = Agent(pair.ns_a, CLIENT, pair.addr_b, str(port))
    agents.append(client)
    return client


# --------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------


def test_netns_pair_is_torn_down_on_failure() -> None:
    """The helper deletes both namespaces when the block raises (the fixture's finally)."""
    tag = f"rtf{os.getpid()}"
    with pytest.raises(RuntimeError, match="boom"), netns.veth_pair(tag) as p:
        assert netns.namespace_exists(p.ns_a) and netns.namespace_exists(p.ns_b)
        raise RuntimeError("boom")
    assert not netns.namespace_exists(f"{tag}a") and not netns.namespace_exists(f"{tag}b")
    with pytest.raises(ValueError):
        netns.veth_pair("x" * 15).__enter__()


def test_netem_path(kernel: LinuxKernel, env: Env, t: Tracker, pair: netns.VethPair, agents: list[Agent]) -> None:
    """A BPF CC over a netem link (10 ms, 0.1 % loss): data arrives, the CC's ops ran (K5, T5)."""
    try:
        netns.add_qdisc(pair.ns_a, pair.dev_a, "netem", *NETEM)
    except netns.QdiscUnavailable as exc:
        pytest.skip(str(exc))
    assert netns.qdisc_kinds(pair.ns_a, pair.dev_a) == ["netem"]
    name = f"rtn{os.getpid() % 100000}"
    counters = create_counters(kernel, t)
    btf_fd = sc.load_user_btf(kernel, t)
    map_fd = sc.create_tcp_map(kernel, t, env, btf_fd, link=True)
    sc.update(kernel, map_fd, sc.tcp_value(env, name, load_counting_cc(kernel, t, env, counters, 1)))
    sc.link_create(kernel, t, map_fd)
    client = start_pair(agents, pair, name)
    assert client.ok(f"open a {name}")["cc"] == name
    client.ok(f"send a {2 * MB}")
    client.ok("wait a")
    assert client.ok("close a")["received"] == 2 * MB
    got = read_counters(kernel, counters)
    assert got[(1, "init")] == 2 and got[(1, "cong_avoid")] > 0


def test_swap_and_detach_under_traffic(
    kernel: LinuxKernel,
    env: Env,
    t: Tracker,
    pair: netns.VethPair,
    agents: list[Agent],
    record_property: Callable[[str, object], None],
) -> None:
    """Live transit between two BPF CCs of one name over veth + tbf, then detach and a leak check.

    K5/T5 link create registers v1; sockets take one map reference each (F2, lookup refcnt);
    KU2/T7 link update to v2 (same name) while a transfer runs: open sockets keep v1, new
    client sockets get v2; KD2/T6 detach: the name leaves the (global) available list, open
    sockets keep transferring on the ops they hold; when every socket is closed, every map,
    prog and link id is gone (GET_NEXT_ID walk, bpftool).
    """
    k = kernel
    times: dict[str, object] = {}
    netns.add_qdisc(pair.ns_a, pair.dev_a, "tbf", *TBF)
    name = f"rt{os.getpid() % 1000000}"
    counters = create_counters(k, t)
    btf_fd = sc.load_user_btf(k, t)
    maps = {}
    for version in (1, 2):
        maps[version] = sc.create_tcp_map(k, t, env, btf_fd, link=True)
        progs = load_counting_cc(k, t, env, counters, version)
        assert sc.update(k, maps[version], sc.tcp_value(env, name, progs)) == 0
    v1, v2 = maps[1], maps[2]

    def counts() -> dict[tuple[int, str], int]:
        return read_counters(k, counters)

    def refs() -> tuple[int, int]:
        return refcnt(k, env, v1), refcnt(k, env, v2)

    def settle(want: tuple[int, int]) -> tuple[int, int]:
        return wait_for(refs, lambda got: got == want)

    # --- phase 1: register v1 through a link (K5, T5); two connections, 4 MB each way -----
    t0 = time.perf_counter()
    link = sc.link_create(k, t, v1)
    times["link_create_ms"] = (time.perf_counter() - t0) * 1e3
    assert name in available() and name in available_in(pair.ns_a) and name in available_in(pair.ns_b)
    assert refs() == (1, 0)
    client = start_pair(agents, pair, name)
    assert settle((2, 0)) == (2, 0), "the listening socket holds one map reference (F2)"
    for conn in ("a", "b"):
        assert client.ok(f"open {conn} {name}")["cc"] == name
    assert settle((6, 0)) == (6, 0), "client + accepted socket: one reference each"
    assert wait_for(counts, lambda c: c[(1, "init")] == 4)[(1, "init")] == 4, "init ran once per socket"
    t0 = time.perf_counter()
    client.ok(f"send a {4 * MB}")
    sent_a = client.ok("wait a")
    assert client.ok("close a")["received"] == 4 * MB
    times["transfer_4mb_s"] = time.perf_counter() - t0
    times["cwnd_a"], times["retrans_a"] = sent_a["cwnd"], sent_a["retrans"]
    before_swap = wait_for(counts, lambda c: c[(1, "release")] == 2)
    assert before_swap[(1, "release")] == 2, "both ends of the closed connection released v1"
    assert before_swap[(1, "cong_avoid")] > 0, "the sender ran v1 cong_avoid"
    assert all(before_swap[(2, m)] == 0 for m in MEMBERS)
    assert settle((4, 0)) == (4, 0)

    # --- phase 2: BPF_LINK_UPDATE to v2 (same name) while b transfers (KU2, T7) --------------
    client.ok(f"send b {8 * MB}")
    time.sleep(0.05)
    t0 = time.perf_counter()
    assert sc.link_update(k, link, v2, old_map=v1, replace=True) == 0
    times["link_update_ms"] = (time.perf_counter() - t0) * 1e3
    at_swap = counts()
    assert sc.link_info(k, link)[3] == sc.obj_id(k, v2, OBJ_MAP)
    assert available().count(name) == 1, "the name stays registered across the swap (T7)"
    assert refs() == (3, 1), "the link reference moved to v2; b's two sockets + listener keep v1"
    sent_b = client.ok("wait b")
    assert sent_b["cc"] == name
    client.ok(f"send b {2 * MB}")
    client.ok("wait b")
    assert client.ok("close b")["received"] == 10 * MB
    after_b = wait_for(counts, lambda c: c[(1, "release")] == 4)
    assert after_b[(1, "cong_avoid")] > at_swap[(1, "cong_avoid")], "b kept running v1 after the swap"
    assert after_b[(1, "release")] == 4, "old sockets release the old ops when they close"
    assert all(after_b[(2, m)] == 0 for m in MEMBERS), "v2 has no socket yet"

    # --- phase 3: new connections after the swap ------------------------------------------
    assert client.ok(f"open c {name}")["cc"] == name
    new_conn = wait_for(counts, lambda c: c[(2, "init")] == 1 and c[(1, "init")] == 5)
    assert new_conn[(2, "init")] == 1, "a new socket selecting the name gets v2"
    assert new_conn[(1, "init")] == 5, "the accepted socket inherits v1 from the pre-swap listener"
    assert settle((2, 2)) == (2, 2)
    client.ok(f"send c {4 * MB}")
    client.ok("wait c")
    assert counts()[(2, "cong_avoid")] > 0, "the new sender runs v2 cong_avoid"
    port2 = start_server(agents, pair, name)
    assert settle((2, 3)) == (2, 3), "a listener created after the swap holds v2"
    client.ok(f"open e {name} {port2}")
    assert wait_for(counts, lambda c: c[(2, "init")] == 3)[(2, "init")] == 3, "both ends of e run v2"
    assert settle((2, 5)) == (2, 5)
    client.ok(f"send e {2 * MB}")
    client.ok("wait e")
    assert client.ok("close e")["received"] == 2 * MB
    assert settle((2, 3)) == (2, 3)

    # --- phase 4: detach (KD2, T6): name gone everywhere, open sockets keep their ops --------
    t0 = time.perf_counter()
    assert sc.link_detach(k, link) == 0
    times["link_detach_ms"] = (time.perf_counter() - t0) * 1e3
    assert name not in available()
    assert name not in available_in(pair.ns_a) and name not in available_in(pair.ns_b)
    assert settle((2, 2)) == (2, 2), "only sockets hold the maps now"
    refused = client.request(f"open d {name}")
    assert not refused["ok"] and refused["errno"] == 2, "a detached name is ENOENT for new sockets (T6)"
    assert client.ok("open f reno")["cc"] == "reno"
    handed = wait_for(counts, lambda c: c[(1, "init")] == 6)
    assert handed[(1, "init")] == 6, "the old listener still hands v1 to new accepted sockets"
    assert settle((3, 2)) == (3, 2)
    client.ok(f"send f {MB}")
    client.ok("wait f")
    assert client.ok("close f") == {"ok": True, "received": MB, "server_cc": name}
    at_detach = counts()
    client.ok(f"send c {2 * MB}")
    client.ok("wait c")
    assert client.ok("close c")["received"] == 6 * MB
    after_c = wait_for(counts, lambda c: c[(2, "release")] == 3 and c[(1, "release")] == 6)
    assert after_c[(2, "cong_avoid")] > at_detach[(2, "cong_avoid")], "c ran v2 after the detach"
    assert (after_c[(1, "release")], after_c[(2, "release")]) == (6, 3)
    assert settle((1, 1)) == (1, 1), "each listener still holds its version"

    # --- phase 5: close everything; every object id goes away (F3) ---------------------------
    for agent in agents:
        agent.stop()
    assert settle((0, 0)) == (0, 0)
    final = counts()
    for version in (1, 2):
        assert final[(version, "init")] == final[(version, "release")], f"v{version}: every init has a release"
    assert final[(1, "ssthresh")] > 0, "tbf drops put the v1 senders into CWR, which asks ssthresh"
    ids = {kind: set(v) for kind, v in t.ids.items()}
    t0 = time.perf_counter()
    t.teardown()
    times["teardown_s"] = time.perf_counter() - t0
    for kind in (OBJ_MAP, OBJ_PROG, OBJ_LINK):
        assert not ids[kind] & sc.live_ids(k, kind), f"{kind} ids left: {ids[kind] & sc.live_ids(k, kind)}"
    listed = bpftool_ids()
    if listed is not None:
        for kind in (OBJ_MAP, OBJ_PROG, OBJ_LINK):
            assert not ids[kind] & listed[kind], f"bpftool still lists {kind} {ids[kind] & listed[kind]}"
    times["counters"] = {f"v{v}.{m}": n for (v, m), n in final.items()}
    for key, value in times.items():
        record_property(key, value)
    print("real-traffic figures:", json.dumps(times))


def bpftool_ids() -> dict[str, set[int]] | None:
    """Ids ``bpftool -j {map,prog,link} show`` lists, or None when bpftool is not installed."""
    if shutil.which("bpftool") is None:
        return None
    out: dict[str, set[int]] = {}
    for kind in (OBJ_MAP, OBJ_PROG, OBJ_LINK):
        res = netns.run(["bpftool", "-j", kind, "show"])
        out[kind] = {int(obj["id"]) for obj in json.loads(res.stdout or "[]")}
    return out


#: ``TCP_CONG_NON_RESTRICTED``: a CC any netns may make its default (spec T3 flags).
TCP_CONG_NON_RESTRICTED = 0x1


def test_netns_default_pins_the_old_version(
    kernel: LinuxKernel,
    env: Env,
    t: Tracker,
    pair: netns.VethPair,
    agents: list[Agent],
    record_property: Callable[[str, object], None],
) -> None:
    """A namespace whose default CC is the BPF one holds a map reference (F2) that neither
    link update (KU2, T7) nor detach (KD2, T6) moves: sockets created there without
    ``TCP_CONGESTION`` keep getting the old version until the namespace is deleted."""
    k = kernel
    name = f"rd{os.getpid() % 1000000}"
    counters = create_counters(k, t)
    btf_fd = sc.load_user_btf(k, t)
    maps = {}
    for version in (1, 2):
        maps[version] = sc.create_tcp_map(k, t, env, btf_fd, link=True)
        value = bytearray(sc.tcp_value(env, name, load_counting_cc(k, t, env, counters, version)))
        struct.pack_into("<I", value, env.tcp_data + env.tcp_ops.offset("flags"), TCP_CONG_NON_RESTRICTED)
        sc.update(k, maps[version], bytes(value))
    v1, v2 = maps[1], maps[2]

    def refs() -> tuple[int, int]:
        return refcnt(k, env, v1), refcnt(k, env, v2)

    def settle(want: tuple[int, int], timeout: float = 3.0) -> tuple[int, int]:
        return wait_for(refs, lambda got: got == want, timeout)

    def inits(want: tuple[int, int]) -> tuple[int, int]:
        def get() -> tuple[int, int]:
            c = read_counters(k, counters)
            return c[(1, "init")], c[(2, "init")]

        return wait_for(get, lambda got: got == want)

    default = "/proc/sys/net/ipv4/tcp_congestion_control"

    def netns_default() -> str:
        return netns.run(netns.ns_exec(pair.ns_a, ["cat", default])).stdout.strip()

    link = sc.link_create(k, t, v1)
    write = f"with open({default!r}, 'w') as f: f.write({name!r})"  # a refused write raises at close
    netns.run(netns.ns_exec(pair.ns_a, [sys.executable, "-c", write]))
    assert netns_default() == name
    assert settle((2, 0)) == (2, 0), "the netns default holds one map reference"
    client = start_pair(agents, pair, "reno")
    assert client.ok("open g -")["cc"] == name, "no setsockopt: the netns default applies"
    assert inits((1, 0)) == (1, 0)

    assert sc.link_update(k, link, v2) == 0
    assert netns_default() == name
    assert settle((2, 1)) == (2, 1), "the update moved only the link's reference"
    assert client.ok("open h -")["cc"] == name
    assert inits((2, 0)) == (2, 0), "the netns default still hands out v1 after the swap"
    assert client.ok(f"open i {name}")["cc"] == name
    assert inits((2, 1)) == (2, 1), "a lookup by name finds v2"

    assert sc.link_detach(k, link) == 0
    assert name not in available() and netns_default() == name
    assert client.ok("open j -")["cc"] == name
    assert inits((3, 1)) == (3, 1), "after detach the netns default still creates v1 sockets"
    before = read_counters(k, counters)[(1, "cong_avoid")]
    client.ok(f"send j {2 * MB}")
    client.ok("wait j")
    assert client.ok("close j")["received"] == 2 * MB
    assert read_counters(k, counters)[(1, "cong_avoid")] > before
    for agent in agents:
        agent.stop()
    assert settle((1, 0)) == (1, 0), "with every socket closed, only the netns default is left"

    t0 = time.perf_counter()
    netns.run(["ip", "netns", "del", pair.ns_a])
    assert settle((0, 0), timeout=10.0) == (0, 0), "deleting the namespace drops its default's reference"
    record_property("netns_delete_release_ms", (time.perf_counter() - t0) * 1e3)
