"""Sync only what the programs touch (issue 17): access set -> sync plan -> dirty tracking."""

from __future__ import annotations

from pathlib import Path

from structops import btf as btflib
from structops.kernel.btfview import field_path
from structops.testing import load_cc

TESTDATA = Path(__file__).resolve().parents[3] / "testdata"


def _raw_u32(sock: object, path: str) -> int:
    kernel = sock._bridge.kernel  # type: ignore[attr-defined]
    tcp_sock = kernel.vmlinux.spec.find("tcp_sock", btflib.Struct)
    off = field_path(tcp_sock, path).offset
    alloc = kernel.kmem.find(sock.addr)  # type: ignore[attr-defined]
    base = sock.addr - alloc.addr + off  # type: ignore[attr-defined]
    return int.from_bytes(alloc.buf[base : base + 4], "little")


def test_unread_field_is_not_synced_and_written_field_is_read_back() -> None:
    """T8: bpf_cubic never reads delivered, so its bytes stay 0 in the struct; its ssthresh
    op writes icsk_ca_priv and the result is read back into the simulated socket."""
    with load_cc(TESTDATA / "cubic.bpf.o") as cc:
        sk = cc.socket(snd_cwnd=40, delivered=777, snd_ssthresh=1000)
        sock = sk._sock
        cc.init(sk)
        ret = cc.ssthresh(sk)
        assert ret == max(40 * 717 // 1024, 2)  # beta 717/1024 of cwnd (loss)
        assert "delivered" not in sock.synced_fields()
        assert _raw_u32(sock, "delivered") == 0  # never copied into the struct
        assert {"snd_cwnd", "icsk_ca_priv"} <= sock.synced_fields()
        assert _raw_u32(sock, "snd_cwnd") == 40
        priv = bytes(sock.icsk_ca_priv)
        assert priv != bytes(len(priv))  # last_max_cwnd etc. written by the program, read back
        assert sk.kernel.delivered == 777  # the view syncs every field


def test_unchanged_fields_are_not_rewritten_and_native_ops_sync_nothing() -> None:
    """A planned field written once is not rewritten while unchanged (dirty tracking), and is
    after a change; a native op reads the simulated socket only (empty plan); no ops: all."""
    with load_cc(TESTDATA / "cubic.bpf.o") as cc:
        sk = cc.socket(snd_cwnd=40)
        sock = sk._sock
        bridge = sock._bridge
        cc.init(sk)
        alloc = bridge.kernel.kmem.find(sock.addr)
        off = sock.addr - alloc.addr + field_path(bridge.tcp_sock_type, "snd_cwnd").offset
        alloc.buf[off : off + 4] = (99).to_bytes(4, "little")  # behind the bridge's back
        sock.sync_to_kernel()
        assert _raw_u32(sock, "snd_cwnd") == 99  # unchanged simulated value: not rewritten
        sock.snd_cwnd = 41
        sock.sync_to_kernel()
        assert _raw_u32(sock, "snd_cwnd") == 41
        alloc.buf[off : off + 4] = (99).to_bytes(4, "little")
        sock.invalidate()
        sock.sync_to_kernel()
        assert _raw_u32(sock, "snd_cwnd") == 41
        assert bridge.plan_for_ops(None) is bridge.layout.full
        native = bridge.registry.find("reno")
        assert native is not None and bridge.plan_for_ops(native) is bridge.layout.empty
