"""KernelTcpSock: the simulated socket's fields live in a struct tcp_sock in kernel memory."""

from __future__ import annotations

import errno

import pytest

from structops import btf as btflib
from structops.errors import BpfError
from structops.kernel.btfview import StructView
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.tcp_bridge import TcpBridge
from structops.sim import AckSample, RateSample


def test_sync_to_kernel_writes_fields_at_their_btf_offsets(kernel: EmulatedKernel) -> None:
    """Plain fields, bitfields, nested members, rtt_min and the private area reach the struct."""
    bridge = TcpBridge(kernel)
    sk = bridge.socket(1448, flow_id=3, role="snd")
    sk.snd_cwnd = 77
    sk.snd_una = 0xFFFF_FFF0
    sk.icsk_ca_state = 4
    sk.is_cwnd_limited = 1
    sk.icsk_ack_pending = 2
    sk.rx_opt_rcv_tsecr = 1234
    sk.rtt_min = [5, 600, 7, 800, 9, 1000]
    sk.icsk_ca_priv[:4] = b"\x01\x02\x03\x04"
    sk.undo_retrans = -1
    sk.sync_to_kernel()
    v = sk.view()
    assert (v.snd_cwnd, v.snd_una, v.icsk_ca_state, v.is_cwnd_limited) == (77, 0xFFFF_FFF0, 4, 1)
    assert v.mss_cache == 1448
    assert v.undo_retrans == -1
    assert bytes(v.icsk_ca_priv[:4]) == b"\x01\x02\x03\x04"
    tcp_sock = kernel.vmlinux.spec.find("tcp_sock", btflib.Struct)
    raw = kernel.kmem.find(sk.addr)
    assert raw is not None
    icsk_ack = next(m for m in tcp_sock.members[0].type.members if m.name == "icsk_ack")  # type: ignore[attr-defined]
    assert raw.buf[sk.addr - raw.addr + icsk_ack.offset] == 2  # icsk_ack.pending is its first byte
    assert int.from_bytes(bytes(v.rtt_min[:8]), "little") == 5 | 600 << 32
    bridge.close()


def test_sync_from_kernel_reads_only_writable_fields(kernel: EmulatedKernel) -> None:
    """T8 fields and icsk_ca_priv come back; a kernel-side change of snd_una does not."""
    bridge = TcpBridge(kernel)
    sk = bridge.socket()
    sk.sync_to_kernel()
    v = sk.view()
    v.snd_cwnd = 123
    v.snd_ssthresh = 45
    v.sk_pacing_rate = 1 << 40
    v.snd_una = 999
    v.icsk_ca_priv = b"\xaa" * 8
    sk.sync_from_kernel()
    assert (sk.snd_cwnd, sk.snd_ssthresh, sk.sk_pacing_rate) == (123, 45, 1 << 40)
    assert sk.snd_una == 0
    assert bytes(sk.icsk_ca_priv[:8]) == b"\xaa" * 8
    bridge.close()


def test_freed_socket_refuses_sync_and_unmaps_memory(kernel: EmulatedKernel) -> None:
    """After free the struct is gone: sync_to_kernel is EBADF and the address is unmapped."""
    bridge = TcpBridge(kernel)
    sk = bridge.socket()
    addr = sk.addr
    sk.free()
    assert kernel.kmem.find(addr) is None
    with pytest.raises(BpfError) as exc:
        sk.sync_to_kernel()
    assert exc.value.errno == errno.EBADF
    bridge.close()


def test_struct_arguments_are_written_with_the_6_18_layout(kernel: EmulatedKernel) -> None:
    """rate_sample / ack_sample scratch copies are laid out by the kernel BTF."""
    bridge = TcpBridge(kernel)
    rs = RateSample()
    rs.delivered = 17
    rs.interval_us = 2500
    rs.rtt_us = -1
    rs.is_app_limited = True
    rs.losses = 3
    addr = bridge.scratch.rate_sample(rs)
    view = StructView(kernel.kmem, addr, kernel.vmlinux.spec.find("rate_sample", btflib.Struct))
    assert (view.delivered, view.interval_us, view.rtt_us, view.is_app_limited, view.losses) == (17, 2500, -1, 1, 3)
    addr = bridge.scratch.ack_sample(AckSample(4, 1500, 20))
    aview = StructView(kernel.kmem, addr, kernel.vmlinux.spec.find("ack_sample", btflib.Struct))
    assert (aview.pkts_acked, aview.rtt_us, aview.in_flight) == (4, 1500, 20)
    bridge.close()
