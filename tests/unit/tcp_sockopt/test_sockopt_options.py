"""Each option of bpf_setsockopt / bpf_getsockopt with the 6.18 errnos (net/core/filter.c, T10)."""

from __future__ import annotations

import errno
import struct
from collections.abc import Iterator

import pytest
from tcp_sockopt_support import kernel

from structops.kernel.emulated import EmulatedKernel
from structops.kernel.subsys import tcp_sockopt as so
from structops.kernel.tcp_bridge import KernelTcpSock, TcpBridge
from structops.uapi import ENOTSUPP

__all__ = ["kernel"]  # fixture


@pytest.fixture
def sk(kernel: EmulatedKernel) -> Iterator[KernelTcpSock]:
    """A bridged socket, synced to kernel memory (as around an op call)."""
    bridge = TcpBridge(kernel)
    s = bridge.socket()
    s.sync_to_kernel()
    yield s
    bridge.close()


def i32(v: int) -> bytes:
    return struct.pack("<i", v)


def setopt(kernel: EmulatedKernel, s: KernelTcpSock, level: int, name: int, val: bytes) -> int:
    def no_switch(cc: str) -> int:
        raise AssertionError("no TCP_CONGESTION switch expected")

    return so.bpf_setsockopt(kernel, s.addr, level, name, val, no_switch)


def getopt(kernel: EmulatedKernel, s: KernelTcpSock, level: int, name: int, n: int = 4) -> tuple[int, int]:
    err, data = so.bpf_getsockopt(kernel, s.addr, level, name, n)
    assert len(data) == n
    return err, int.from_bytes(data, "little")


def test_sndcwnd_clamp_sets_clamp_and_ssthresh_in_both_views(kernel: EmulatedKernel, sk: KernelTcpSock) -> None:
    assert setopt(kernel, sk, so.SOL_TCP, so.TCP_BPF_SNDCWND_CLAMP, i32(7)) == 0
    assert (sk.snd_cwnd_clamp, sk.snd_ssthresh) == (7, 7)
    view = sk.view()
    assert (view.snd_cwnd_clamp, view.snd_ssthresh) == (7, 7)  # the program reads these next
    assert sk.snd_cwnd == 10  # the kernel does not lower cwnd here; the next cwnd update does


@pytest.mark.parametrize("val", [0, -1])
def test_sndcwnd_clamp_must_be_positive(kernel: EmulatedKernel, sk: KernelTcpSock, val: int) -> None:
    assert setopt(kernel, sk, so.SOL_TCP, so.TCP_BPF_SNDCWND_CLAMP, i32(val)) == -errno.EINVAL
    assert sk.snd_cwnd_clamp == 0xFFFF_FFFF


def test_initial_window_only_before_data(kernel: EmulatedKernel, sk: KernelTcpSock) -> None:
    assert setopt(kernel, sk, so.SOL_TCP, so.TCP_BPF_IW, i32(32)) == 0
    assert sk.snd_cwnd == 32 and sk.view().snd_cwnd == 32
    assert setopt(kernel, sk, so.SOL_TCP, so.TCP_BPF_IW, i32(0)) == -errno.EINVAL
    sk.data_segs_out = 1
    sk.sync_to_kernel()
    assert setopt(kernel, sk, so.SOL_TCP, so.TCP_BPF_IW, i32(16)) == -errno.EINVAL
    assert sk.snd_cwnd == 32


@pytest.mark.parametrize(
    ("level", "name", "val", "err"),
    [
        (so.SOL_TCP, so.TCP_NODELAY, i32(1), -errno.EOPNOTSUPP),  # the nodelay proto of tcp_ca (T10)
        (so.SOL_TCP, so.TCP_BPF_IW, b"\1\0", -errno.EINVAL),  # optlen != 4
        (so.SOL_TCP, 9999, i32(1), -errno.EINVAL),  # unknown optname
        (so.SOL_TCP, so.TCP_MAXSEG, i32(87), -errno.EINVAL),  # < TCP_MIN_MSS
        (so.SOL_TCP, so.TCP_MAXSEG, i32(32768), -errno.EINVAL),  # > MAX_TCP_WINDOW
        (so.SOL_TCP, so.TCP_KEEPCNT, i32(128), -errno.EINVAL),
        (so.SOL_TCP, so.TCP_CONGESTION, b"x", -errno.EINVAL),  # optlen < 2
        (so.SOL_TCP, so.TCP_CONGESTION, b"cdg\0", -ENOTSUPP),
        (so.SOL_TCP, so.TCP_BPF_DELACK_MAX, i32(1_000_000), -errno.EINVAL),  # above TCP_DELACK_MAX
        (so.SOL_TCP, so.TCP_BPF_SOCK_OPS_CB_FLAGS, i32(128), -errno.EINVAL),
        (so.SOL_TCP, so.TCP_WINDOW_CLAMP, i32(1), -errno.EOPNOTSUPP),  # allowed but not modelled
        (so.SOL_SOCKET, so.SO_SNDBUF, b"\0\0", -errno.EINVAL),
        (so.SOL_SOCKET, 3, i32(1), -errno.EINVAL),  # SO_TYPE is not settable from BPF
        (so.SOL_SOCKET, so.SO_REUSEADDR, i32(1), -errno.EOPNOTSUPP),
        (12345, 1, i32(1), -errno.EINVAL),  # unknown level
    ],
)
def test_set_errnos(kernel: EmulatedKernel, sk: KernelTcpSock, level: int, name: int, val: bytes, err: int) -> None:
    before = {k: v for k, v in sk.fields().items() if k != "sockopt"}
    assert setopt(kernel, sk, level, name, val) == err
    assert {k: v for k, v in sk.fields().items() if k != "sockopt"} == before


def test_maxseg_set_and_get(kernel: EmulatedKernel, sk: KernelTcpSock) -> None:
    assert setopt(kernel, sk, so.SOL_TCP, so.TCP_MAXSEG, i32(1000)) == 0
    assert so._mem_read(kernel, sk.addr, "rx_opt.user_mss") == 1000  # in the struct bytes
    sk.sync_to_kernel()
    assert so._mem_read(kernel, sk.addr, "rx_opt.user_mss") == 1000  # re-applied on every sync
    assert getopt(kernel, sk, so.SOL_TCP, so.TCP_MAXSEG) == (0, 1448)  # established: mss_cache


def test_sndbuf_rcvbuf_follow_sk_setsockopt(kernel: EmulatedKernel, sk: KernelTcpSock) -> None:
    assert getopt(kernel, sk, so.SOL_SOCKET, so.SO_SNDBUF) == (0, 16384)
    assert setopt(kernel, sk, so.SOL_SOCKET, so.SO_SNDBUF, i32(1)) == 0
    assert getopt(kernel, sk, so.SOL_SOCKET, so.SO_SNDBUF) == (0, so.SOCK_MIN_SNDBUF)
    assert setopt(kernel, sk, so.SOL_SOCKET, so.SO_SNDBUF, i32(100_000)) == 0
    assert getopt(kernel, sk, so.SOL_SOCKET, so.SO_SNDBUF) == (0, 200_000)
    assert setopt(kernel, sk, so.SOL_SOCKET, so.SO_SNDBUF, i32(-1)) == 0  # u32: capped at wmem_max
    assert getopt(kernel, sk, so.SOL_SOCKET, so.SO_SNDBUF) == (0, 2 * so.WMEM_MAX)
    assert setopt(kernel, sk, so.SOL_SOCKET, so.SO_RCVBUF, i32(1)) == 0
    assert getopt(kernel, sk, so.SOL_SOCKET, so.SO_RCVBUF) == (0, so.SOCK_MIN_RCVBUF)
    assert sk.view().sk_userlocks == so.SOCK_SNDBUF_LOCK | so.SOCK_RCVBUF_LOCK


def test_max_pacing_rate_caps_and_enables_pacing(kernel: EmulatedKernel, sk: KernelTcpSock) -> None:
    sk.sk_pacing_rate = 5_000_000
    sk.sync_to_kernel()
    assert setopt(kernel, sk, so.SOL_SOCKET, so.SO_MAX_PACING_RATE, i32(1_000_000)) == 0
    assert (sk.sk_max_pacing_rate, sk.sk_pacing_rate, sk.sk_pacing_status) == (1_000_000, 1_000_000, 1)
    assert getopt(kernel, sk, so.SOL_SOCKET, so.SO_MAX_PACING_RATE) == (0, 1_000_000)
    assert setopt(kernel, sk, so.SOL_SOCKET, so.SO_MAX_PACING_RATE, i32(-1)) == 0  # ~0U means unlimited
    assert sk.sk_max_pacing_rate == 0xFFFF_FFFF_FFFF_FFFF
    assert getopt(kernel, sk, so.SOL_SOCKET, so.SO_MAX_PACING_RATE) == (0, 0xFFFF_FFFF)


def test_get_congestion_pads_and_terminates(kernel: EmulatedKernel, sk: KernelTcpSock) -> None:
    sk.icsk_ca_ops = None
    assert so.bpf_getsockopt(kernel, sk.addr, so.SOL_TCP, so.TCP_CONGESTION, 8) == (-errno.EINVAL, bytes(8))
    from structops.kernel.tcp_bridge import KernelCongestionRegistry

    sk.icsk_ca_ops = KernelCongestionRegistry(sk._bridge).find("cubic")
    assert so.bpf_getsockopt(kernel, sk.addr, so.SOL_TCP, so.TCP_CONGESTION, 20) == (0, b"cubic".ljust(20, b"\0"))
    assert so.bpf_getsockopt(kernel, sk.addr, so.SOL_TCP, so.TCP_CONGESTION, 4) == (0, b"cub\0")


@pytest.mark.parametrize(
    ("level", "name", "n"),
    [
        (so.SOL_TCP, so.TCP_BPF_SNDCWND_CLAMP, 4),  # set-only
        (so.SOL_TCP, so.TCP_NODELAY, 8),  # optlen != 4
        (so.SOL_SOCKET, so.SO_BINDTODEVICE, 4),
        (7, 1, 4),
    ],
)
def test_get_errnos_zero_the_buffer(kernel: EmulatedKernel, sk: KernelTcpSock, level: int, name: int, n: int) -> None:
    assert so.bpf_getsockopt(kernel, sk.addr, level, name, n) == (-errno.EINVAL, bytes(n))


def test_nodelay_reads_nonagle(kernel: EmulatedKernel, sk: KernelTcpSock) -> None:
    assert getopt(kernel, sk, so.SOL_TCP, so.TCP_NODELAY) == (0, 0)


def test_unbridged_socket_is_plain_kernel_memory(kernel: EmulatedKernel) -> None:
    """A struct tcp_sock with no simulator socket: options read/write its bytes."""
    from structops import btf as btflib
    from structops.kernel.btfview import StructView

    t = kernel.vmlinux.spec.find("tcp_sock", btflib.Struct)
    alloc = kernel.kmem.alloc(t.size, "tcp_sock:test")
    try:
        assert so.bpf_setsockopt(kernel, alloc.addr, so.SOL_TCP, so.TCP_BPF_SNDCWND_CLAMP, i32(9), str.__len__) == 0
        view = StructView(kernel.kmem, alloc.addr, t)
        assert (view.snd_cwnd_clamp, view.snd_ssthresh) == (9, 9)
        assert so.bpf_setsockopt(kernel, alloc.addr, so.SOL_TCP, so.TCP_THIN_LINEAR_TIMEOUTS, i32(1), str.__len__) == 0
        assert view.thin_lto == 1
        assert so.bpf_getsockopt(kernel, alloc.addr, so.SOL_TCP, so.TCP_CONGESTION, 16) == (-errno.EINVAL, bytes(16))
    finally:
        kernel.kmem.free(alloc)


def test_send_ack_on_receiver_socket_sends_an_ack(kernel: EmulatedKernel) -> None:
    from structops.kernel.tcp_bridge import kernel_simulator

    sim, bridge = kernel_simulator(kernel)
    flow = sim.add_flow(base_rtt_us=10_000)
    sim.run(1_000)
    assert flow.rcv is not None
    sent: list[int] = []
    flow.rcv.sk._send_ack_hook = lambda: sent.append(1)
    assert so.bpf_tcp_send_ack(kernel, flow.rcv.sk.addr) == 0
    assert sent == [1] and kernel.tcp_send_acks == 1  # type: ignore[attr-defined]
    bridge.close()
