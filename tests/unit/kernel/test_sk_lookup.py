"""bpf_sk_lookup_tcp / _udp / bpf_skc_lookup_tcp find sockets of the embedded kernel's socket
table (structops.kernel.socktable), with the fields and reference rules Linux 6.18 showed
on this machine (tests/kernel/test_sk_lookup_real.py compares both kernels; issue 12)."""

from __future__ import annotations

import socket
import struct
import sys
from pathlib import Path
from typing import Any

import pytest

from structops.abi.attrs import ProgLoadAttr, TestRunAttr
from structops.errors import VerifierError
from structops.isa import assemble, encode
from structops.kernel.emulated import EmulatedKernel
from structops.kernel.socktable import TCP_ESTABLISHED, TCP_LISTEN, socket_table
from structops.uapi import Cmd, ProgType

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "corpus" / "testrun"))

from sk_lookup_progs import NOT_FOUND, lookup_prog, tuple_packet

TC, XDP = ProgType.BPF_PROG_TYPE_SCHED_CLS, ProgType.BPF_PROG_TYPE_XDP
LOCAL = "127.0.0.1"
STATE, SRC_PORT, DST_PORT, SRC_IP4, TYPE, PROTOCOL, FAMILY = 72, 44, 48, 24, 8, 12, 4


def _be16(port: int) -> int:
    return int.from_bytes(port.to_bytes(2, "big"), "little")


def _ip4(ip: str) -> int:
    return int.from_bytes(socket.inet_aton(ip), "little")


@pytest.fixture
def k() -> EmulatedKernel:
    return EmulatedKernel()


def run(k: EmulatedKernel, text: str, pkt: bytes, ptype: int = TC) -> int:
    fd = k.bpf(Cmd.BPF_PROG_LOAD, ProgLoadAttr(ptype, encode(assemble(text))))
    attr = TestRunAttr(fd, data_in=pkt)
    k.bpf(Cmd.BPF_PROG_TEST_RUN, attr)
    return int(attr.retval or 0)


def test_tcp_lookup_finds_established_then_listener(k: EmulatedKernel) -> None:
    t = socket_table(k)
    t.tcp_listen(LOCAL, 8080)
    t.tcp_established((LOCAL, 8080), (LOCAL, 40000))
    est = tuple_packet(LOCAL, 40000, LOCAL, 8080)
    other = tuple_packet("127.0.0.2", 999, LOCAL, 8080)
    assert run(k, lookup_prog(84, STATE), est) == TCP_ESTABLISHED
    assert run(k, lookup_prog(84, DST_PORT), est) == _be16(40000)  # network order
    assert run(k, lookup_prog(84, SRC_PORT), est) == 8080  # host order
    assert run(k, lookup_prog(84, STATE), other) == TCP_LISTEN
    assert run(k, lookup_prog(84, DST_PORT), other) == 0
    assert run(k, lookup_prog(84, SRC_IP4), other) == _ip4(LOCAL)
    assert run(k, lookup_prog(99, STATE), est) == TCP_ESTABLISHED  # skc_lookup_tcp
    assert run(k, lookup_prog(84, STATE), tuple_packet(LOCAL, 1, LOCAL, 1)) == NOT_FOUND
    assert run(k, lookup_prog(85, STATE), est) == NOT_FOUND  # no UDP socket there
    assert run(k, lookup_prog(84, STATE, xdp=True), est, XDP) == TCP_ESTABLISHED


def test_udp_wildcard_exact_and_connected_sockets(k: EmulatedKernel) -> None:
    """A wildcard bind answers any local address; a connected UDP socket only its peer;
    a TCP listener on 0.0.0.0 any address (src_ip4 0)."""
    t = socket_table(k)
    t.udp_bind("0.0.0.0", 5353)
    t.udp_bind(LOCAL, 5354)
    t.udp_bind(LOCAL, 5355, connect=("10.0.0.1", 53))
    t.tcp_listen("0.0.0.0", 9000)
    assert run(k, lookup_prog(85, SRC_IP4), tuple_packet("10.0.0.2", 5, "10.9.9.9", 5353)) == 0  # wildcard
    assert run(k, lookup_prog(85, STATE), tuple_packet("10.0.0.2", 5, LOCAL, 5354)) == 7  # bound: TCP_CLOSE
    assert run(k, lookup_prog(85, STATE), tuple_packet("10.0.0.2", 5, "127.0.0.2", 5354)) == NOT_FOUND
    assert run(k, lookup_prog(85, STATE), tuple_packet("10.0.0.1", 53, LOCAL, 5355)) == TCP_ESTABLISHED
    assert run(k, lookup_prog(85, STATE), tuple_packet("10.0.0.1", 54, LOCAL, 5355)) == NOT_FOUND
    assert run(k, lookup_prog(85, TYPE), tuple_packet("10.0.0.1", 53, LOCAL, 5355)) == 2  # SOCK_DGRAM
    assert run(k, lookup_prog(85, PROTOCOL), tuple_packet("10.0.0.1", 53, LOCAL, 5355)) == 17
    assert run(k, lookup_prog(85, FAMILY), tuple_packet("10.0.0.1", 53, LOCAL, 5355)) == 2  # AF_INET
    assert run(k, lookup_prog(84, SRC_IP4), tuple_packet("1.2.3.4", 5, "10.9.9.9", 9000)) == 0


def test_socket_bound_to_a_device_is_found_only_on_it(k: EmulatedKernel) -> None:
    t = socket_table(k)
    t.tcp_listen(LOCAL, 8080, bound_dev_if=1)  # lo: the test run's device
    t.tcp_listen(LOCAL, 8081, bound_dev_if=4)
    assert run(k, lookup_prog(84, STATE), tuple_packet("10.0.0.2", 5, LOCAL, 8080)) == TCP_LISTEN
    assert run(k, lookup_prog(84, STATE), tuple_packet("10.0.0.2", 5, LOCAL, 8081)) == NOT_FOUND


@pytest.mark.parametrize(
    ("kw", "found"),
    [
        ({"size": 13}, False),
        ({"size": 36}, False),
        ({"flags": 1}, False),
        ({"netns": 0}, False),
        ({"netns": 1}, False),
        ({"netns": -2}, True),
    ],
)
def test_tuple_size_flags_and_netns(k: EmulatedKernel, kw: dict[str, Any], found: bool) -> None:
    """Only 12/36-byte tuples, flags 0 and a negative (current) netns id look anything up."""
    socket_table(k).tcp_listen(LOCAL, 8080)
    got = run(k, lookup_prog(84, STATE, **kw), tuple_packet("127.0.0.2", 9, LOCAL, 8080))
    assert got == (TCP_LISTEN if found else NOT_FOUND)


def test_ipv6_tuple(k: EmulatedKernel) -> None:
    t = socket_table(k)
    t.tcp_established(("::1", 443), ("::1", 50000))
    tup = socket.inet_pton(socket.AF_INET6, "::1") * 2 + struct.pack("!HH", 50000, 443)
    words = struct.unpack("<9i", tup)
    stores = "\n".join(f"mov %r7, {w}\nstxw [%r10-{40 - 4 * i}], %r7" for i, w in enumerate(words))
    text = f"""
    {stores}
    mov %r2, %r10
    add %r2, -40
    mov %r3, 36
    mov %r4, -1
    mov %r5, 0
    call 84
    jeq %r0, 0, +5
    mov %r8, %r0
    ldxw %r9, [%r8+4]
    mov %r1, %r8
    call 86
    mov %r0, %r9
    exit
    """
    assert run(k, text, bytes(64)) == 10  # AF_INET6


def test_references_are_counted_and_a_leak_is_visible(k: EmulatedKernel) -> None:
    """An established socket gains a reference per lookup and loses it at bpf_sk_release; a
    program that keeps it (unverified: the verifier refuses it) leaves sk_refcnt raised and
    the socket readable after close.  Listeners and UDP sockets are SOCK_RCU_FREE: unchanged."""
    t = socket_table(k)
    lsn = t.tcp_listen(LOCAL, 8080)
    est = t.tcp_established((LOCAL, 8080), (LOCAL, 40000))
    pkt = tuple_packet(LOCAL, 40000, LOCAL, 8080)
    assert run(k, lookup_prog(84, STATE), pkt) == TCP_ESTABLISHED
    assert est.refcnt == 1
    with pytest.raises(VerifierError):  # "Unreleased reference"
        run(k, lookup_prog(84, STATE, release=False), pkt)
    k.verify_programs = False  # type: ignore[attr-defined]
    assert run(k, lookup_prog(84, STATE, release=False), pkt) == TCP_ESTABLISHED
    assert est.refcnt == 2  # the leak
    addr = est.addr
    est.close()
    assert est.refcnt == 1 and est.addr == addr  # still held: not freed
    assert k.kmem.space.read_u32(addr + STATE) == TCP_ESTABLISHED
    assert run(k, lookup_prog(84, STATE), pkt) == TCP_LISTEN  # unhashed: the listener answers
    assert lsn.refcnt == 1
    from structops.kernel.net_helpers import _sk_release

    class _Run:
        vm = k.executor.vm

    _sk_release(_Run(), addr)  # type: ignore[arg-type]
    assert est.refcnt == 0 and est.addr == 0  # the last reference frees it
    assert lsn.refcnt == 1
    lsn.close()
    assert run(k, lookup_prog(84, STATE), pkt) == NOT_FOUND


def test_socket_is_read_only_for_programs(k: EmulatedKernel) -> None:
    """An unverified store into the struct bpf_sock faults (EFAULT) and changes nothing."""
    socket_table(k).tcp_listen(LOCAL, 8080)
    k.verify_programs = False  # type: ignore[attr-defined]
    text = lookup_prog(84, STATE).replace("ldxw %r9, [%r8+72]", "stw [%r8+72], 1")
    from structops.errors import BpfError

    with pytest.raises(BpfError) as info:
        run(k, text, tuple_packet("127.0.0.2", 9, LOCAL, 8080))
    assert info.value.errno == 14
    assert run(k, lookup_prog(84, STATE), tuple_packet("127.0.0.2", 9, LOCAL, 8080)) == TCP_LISTEN


def test_binding_the_same_port_twice_is_eaddrinuse(k: EmulatedKernel) -> None:
    t = socket_table(k)
    t.tcp_listen("0.0.0.0", 8080)
    from structops.errors import BpfError

    with pytest.raises(BpfError) as info:
        t.tcp_listen(LOCAL, 8080)
    assert info.value.errno == 98


def test_c_program_looks_up_the_packet_socket(k: EmulatedKernel) -> None:
    """sk_lookup.bpf.c (tc and XDP) parses an IPv4 TCP/UDP frame and returns
    state << 24 | protocol << 16 | local port of the socket it finds (0: none)."""
    from structops.api import Collection

    t = socket_table(k)
    t.tcp_listen(LOCAL, 8080)
    t.tcp_established((LOCAL, 8080), (LOCAL, 40000))
    t.udp_bind("0.0.0.0", 5353)

    def frame(proto: int, saddr: str, sport: int, daddr: str, dport: int) -> bytes:
        ip = struct.pack("!BBHHHBBH", 0x45, 0, 48, 0, 0, 64, proto, 0)
        ip += socket.inet_aton(saddr) + socket.inet_aton(daddr)
        return bytes(12) + b"\x08\x00" + ip + struct.pack("!HH", sport, dport) + bytes(24)

    obj = Path(__file__).resolve().parents[2] / "corpus" / "testrun" / "sk_lookup.bpf.o"
    with Collection.open(obj).load(k) as coll:
        for prog in ("tc_sk_lookup", "xdp_sk_lookup"):
            fd = coll.programs[prog].fd

            def go(pkt: bytes, fd: int = fd) -> int:
                attr = TestRunAttr(fd, data_in=pkt)
                k.bpf(Cmd.BPF_PROG_TEST_RUN, attr)
                return int(attr.retval or 0)

            assert go(frame(6, LOCAL, 40000, LOCAL, 8080)) == TCP_ESTABLISHED << 24 | 6 << 16 | 8080
            assert go(frame(6, "10.1.1.1", 9, LOCAL, 8080)) == TCP_LISTEN << 24 | 6 << 16 | 8080
            assert go(frame(17, "10.1.1.1", 9, "10.2.2.2", 5353)) == 7 << 24 | 17 << 16 | 5353
            assert go(frame(17, "10.1.1.1", 9, LOCAL, 8080)) == 0
            assert go(bytes(64)) == 1
