"""Raw tc / XDP programs that look a socket up by the 4-tuple a packet carries.

``lookup_prog(helper, field)`` copies ``struct bpf_sock_tuple`` (IPv4: saddr, daddr,
sport, dport) from bytes 14..26 of the packet to the stack, calls ``helper``
(84 ``bpf_sk_lookup_tcp``, 85 ``bpf_sk_lookup_udp``, 99 ``bpf_skc_lookup_tcp``) and
returns the u32 at ``field`` of the ``struct bpf_sock`` found, after ``bpf_sk_release``;
0xdead when nothing is found, 0xbeef for a runt packet.  ``release=False`` leaves the
reference held (refused by the verifier: for unverified runs only).
"""

from __future__ import annotations

import socket
import struct

#: ``struct bpf_sock`` fields: offset -> name.
BPF_SOCK_FIELDS = {
    0: "bound_dev_if", 4: "family", 8: "type", 12: "protocol", 16: "mark", 20: "priority", 24: "src_ip4",
    28: "src_ip6", 44: "src_port", 48: "dst_port", 52: "dst_ip4", 56: "dst_ip6", 72: "state", 76: "rx_queue_mapping",
}  # fmt: skip
NOT_FOUND, RUNT = 0xDEAD, 0xBEEF


def lookup_prog(
    helper: int, field: int, *, size: int = 12, netns: int = -1, flags: int = 0, xdp: bool = False, release: bool = True
) -> str:
    """The program's assembly (see the module docstring)."""
    data, end = (0, 4) if xdp else (76, 80)
    rel = "mov %r1, %r8\ncall 86" if release else "mov %r1, %r8\nmov %r1, 0"
    return f"""
    mov %r6, %r1
    ldxw %r2, [%r6+{data}]
    ldxw %r3, [%r6+{end}]
    mov %r4, %r2
    add %r4, 26
    jgt %r4, %r3, +26
    ldxw %r7, [%r2+14]
    stxw [%r10-40], %r7
    ldxw %r7, [%r2+18]
    stxw [%r10-36], %r7
    ldxw %r7, [%r2+22]
    stxw [%r10-32], %r7
    stw [%r10-28], 0
    stdw [%r10-24], 0
    stdw [%r10-16], 0
    stdw [%r10-8], 0
    mov %r1, %r6
    mov %r2, %r10
    add %r2, -40
    mov %r3, {size}
    mov %r4, {netns}
    mov %r5, {flags}
    call {helper}
    jeq %r0, 0, +6
    mov %r8, %r0
    ldxw %r9, [%r8+{field}]
    {rel}
    mov %r0, %r9
    exit
    mov %r0, {NOT_FOUND}
    exit
    mov %r0, {RUNT}
    exit
    """


def tuple_packet(saddr: str, sport: int, daddr: str, dport: int) -> bytes:
    """An IPv4 frame whose first 12 network-header bytes are the lookup tuple."""
    addrs = socket.inet_aton(saddr) + socket.inet_aton(daddr)
    return bytes(12) + b"\x08\x00" + addrs + struct.pack("!HH", sport, dport) + bytes(26)
