"""sockopt_cc on the real kernel vs the embedded one: bpf_setsockopt/getsockopt from init (T10).

The same object (legacy ``.struct_ops``, registered by map update through
:class:`structops.api.Collection`) runs on Linux for a loopback TCP transfer and on the
embedded kernel through the TCP simulator bridge.  The return codes and values the
programs record in ``.bss`` must agree, the client's ``TCP_INFO`` cwnd must respect the
clamp, and a TCP_CONGESTION switch from ``so_sw``'s init must land on ``so_sockopt``
with the nested init refused ``EBUSY`` on both.  Skipped with the reason when not root
or without kernel BTF; every registration is undone (context managers).
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from structops import btf as btflib
from structops.api import Collection
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.tcp_bridge import kernel_simulator
from structops.loader import load_collection_spec
from structops.sim import LinkConfig, SimConfig

OBJ = Path(__file__).resolve().parents[2] / "testdata" / "sockopt_cc.bpf.o"
AVAILABLE = Path("/proc/sys/net/ipv4/tcp_available_congestion_control")
NAMES = ("so_sockopt", "so_sw")
#: .bss variables whose values do not depend on the path (compared across kernels).
COMPARED = (
    "set_clamp_ret",
    "clamp_seen",
    "ssthresh_seen",
    "get_cc_ret",
    "cc_name",
    "nodelay_ret",
    "bad_clamp_ret",
    "get_clamp_ret",
    "short_len_ret",
    "bad_level_ret",
    "self_ret",
    "sw_ret",
    "n_sw_init",
    "n_sw_release",
)
TCPI_SND_CWND = 80  # offset of tcpi_snd_cwnd in struct tcp_info


def real_kernel_skip_reason() -> str | None:
    """Why the real kernel cannot be used (tests/conftest.py's rule, local: ``conftest`` may be shadowed)."""
    if not Path("/sys/kernel/btf/vmlinux").exists():
        return "no kernel BTF at /sys/kernel/btf/vmlinux"
    if os.geteuid() != 0:
        return "not root: CAP_BPF is needed for the real bpf() syscall"
    return None


@pytest.fixture
def linux():  # type: ignore[no-untyped-def]
    reason = real_kernel_skip_reason()
    if reason:
        pytest.skip(reason)
    if not AVAILABLE.exists():
        pytest.skip("no /proc/sys/net/ipv4/tcp_available_congestion_control")
    taken = set(AVAILABLE.read_text().split()) & set(NAMES)
    if taken:
        pytest.skip(f"congestion controls {sorted(taken)} are already registered by someone else")
    from structops.linux import LinuxKernel

    return LinuxKernel()


def bss(coll: Collection) -> dict[str, bytes]:
    """The .bss variables of sockopt_cc, by name."""
    sec = load_collection_spec(OBJ).btf.find(".bss", btflib.Datasec)
    raw = coll.maps[".bss"].lookup(0)
    return {v.type.name: raw[v.offset : v.offset + v.size] for v in sec.vars}


def loopback(cc: str, nbytes: int, sample: Callable[[socket.socket], None]) -> bytes:
    """Client with TCP_CONGESTION=cc sends nbytes over loopback; returns its CC afterwards."""
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        received = 0

        def serve() -> None:
            nonlocal received
            conn, _ = lsock.accept()
            with conn:
                while chunk := conn.recv(1 << 16):
                    received += len(chunk)

        th = threading.Thread(target=serve, daemon=True)
        th.start()
        with socket.socket() as c:
            c.settimeout(10)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
            c.connect(lsock.getsockname())
            chunk = bytes(1 << 16)
            for _ in range(nbytes // len(chunk)):
                c.sendall(chunk)
                sample(c)
            name = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0")
        th.join(10)
    assert received == nbytes
    return name


def embedded(cc: str) -> tuple[dict[str, bytes], str, int]:
    """The same object on the embedded kernel, one simulated flow using ``cc``: (.bss, cc, max cwnd)."""
    kernel = EmulatedKernel()
    with Collection.open(OBJ).load(kernel) as coll:
        links = [coll.maps[n].attach_struct_ops() for n in NAMES]
        sim, bridge = kernel_simulator(kernel, SimConfig(link=LinkConfig(bandwidth_bps=100_000_000)))
        flow = sim.add_flow(base_rtt_us=1_000, cc=cc)
        sim.run(300_000)
        name = flow.tp.icsk_ca_ops.name
        top = max(row[1] for row in flow.trace)
        bridge.close()
        out = bss(coll)
        for link in links:
            link.close()
    return out, name, top


@pytest.mark.skipif(sys.platform != "linux", reason="Linux only")
@pytest.mark.parametrize("cc", NAMES)
def test_same_sockopt_results_as_embedded(linux, cc: str) -> None:  # type: ignore[no-untyped-def]
    """Clamp, name read-back, errnos and the switch from init agree with the embedded kernel."""
    cwnds: list[int] = []

    def sample(c: socket.socket) -> None:
        info = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        cwnds.append(struct.unpack_from("<I", info, TCPI_SND_CWND)[0])

    with Collection.open(OBJ).load(linux) as coll:
        links = [coll.maps[n].attach_struct_ops() for n in NAMES]
        try:
            assert set(NAMES) <= set(AVAILABLE.read_text().split())
            name = loopback(cc, 4 << 20, sample)
            real = bss(coll)
        finally:
            for link in links:
                link.close()
    assert not set(NAMES) & set(AVAILABLE.read_text().split())  # unregistered
    emb, emb_name, emb_top = embedded(cc)
    assert name.decode() == emb_name == "so_sockopt"
    assert {k: real[k] for k in COMPARED} == {k: emb[k] for k in COMPARED}
    assert real["cc_name"].rstrip(b"\0") == b"so_sockopt"
    assert cwnds and max(cwnds) <= 20 and emb_top <= 20
