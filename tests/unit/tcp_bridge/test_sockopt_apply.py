"""bpf_setsockopt state on a bridged socket: what SockoptExtras.apply rewrites per sync (issue 17)."""

from __future__ import annotations

from structops import btf as btflib
from structops.kernel.btfview import field_path
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.subsys.tcp_sockopt import SockoptExtras


def _u32(buf: bytearray, off: int) -> int:
    return int.from_bytes(buf[off : off + 4], "little")


def test_apply_writes_new_and_changed_values_only() -> None:
    """Unchanged values are not rewritten (bytes poked behind its back stay) until a value
    changes or invalidate() says the struct was written by other means."""
    tcp_sock = EmulatedKernel().vmlinux.spec.find("tcp_sock", btflib.Struct)
    extras = SockoptExtras(tcp_sock)
    buf = bytearray(tcp_sock.size)
    sndbuf = field_path(tcp_sock, "sk_sndbuf").offset
    mark = field_path(tcp_sock, "sk_mark").offset
    extras.apply(buf, 0)
    assert _u32(buf, sndbuf) == 16384  # the kernel default, written on the first sync
    buf[sndbuf : sndbuf + 4] = (1).to_bytes(4, "little")
    extras.apply(buf, 0)
    assert _u32(buf, sndbuf) == 1  # unchanged value: not rewritten
    extras.values["sk_mark"] = 7
    extras.apply(buf, 0)
    assert (_u32(buf, mark), _u32(buf, sndbuf)) == (7, 1)
    extras.invalidate()
    extras.apply(buf, 0)
    assert _u32(buf, sndbuf) == 16384


def test_apply_always_restores_nonagle_sharing_a_synced_byte() -> None:
    """nonagle shares its byte with rate_app_limited, a unit the bridge rewrites whole."""
    tcp_sock = EmulatedKernel().vmlinux.spec.find("tcp_sock", btflib.Struct)
    extras = SockoptExtras(tcp_sock)
    loc = field_path(tcp_sock, "nonagle")
    buf = bytearray(tcp_sock.size)
    extras.values["nonagle"] = 5
    extras.apply(buf, 0)
    assert buf[loc.offset] & 0xF == 5
    buf[loc.offset] = 0x10  # the bridge wrote rate_app_limited=1 and zeroed the other bits
    extras.apply(buf, 0)
    assert buf[loc.offset] == 0x15
