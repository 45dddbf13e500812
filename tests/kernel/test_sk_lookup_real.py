"""Differential bpf_sk_lookup_tcp / _udp / bpf_skc_lookup_tcp: real sockets of this process
(a TCP listener with an accepted connection, UDP sockets, a wildcard listener) and the
same sockets in the embedded kernel's socket table; a tc and an XDP program look each
tuple up on both kernels and must read the same ``struct bpf_sock`` fields, or both find
nothing (issue 12)."""

from __future__ import annotations

import errno
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from structops.abi.attrs import ProgLoadAttr, TestRunAttr
from structops.errors import BpfError
from structops.isa import assemble, encode
from structops.uapi import Cmd, ProgType

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "corpus" / "testrun"))

from sk_lookup_progs import BPF_SOCK_FIELDS, lookup_prog, tuple_packet


def _skip_reason() -> str | None:
    if not Path("/sys/kernel/btf/vmlinux").exists():
        return "no kernel BTF at /sys/kernel/btf/vmlinux"
    if os.geteuid() != 0:
        return "not root: CAP_BPF is needed for the real bpf() syscall"
    return None


pytestmark = [pytest.mark.linux, pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))]
LOCAL = "127.0.0.1"
#: ``struct bpf_sock`` fields a ``sock_common`` (bpf_skc_lookup_tcp) may not read.
_NOT_COMMON = {8, 12, 16, 20}


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[dict[str, tuple[str, int, str, int]], Any, Any]]:
    from structops.kernel.emulated import EmulatedKernel
    from structops.kernel.socktable import socket_table
    from structops.linux import LinuxKernel

    socks: list[socket.socket] = []

    def keep(s: socket.socket) -> socket.socket:
        socks.append(s)
        return s

    lsn = keep(socket.socket())
    lsn.bind((LOCAL, 0))
    lsn.listen()
    port = lsn.getsockname()[1]
    cli = keep(socket.create_connection((LOCAL, port)))
    cport = cli.getsockname()[1]
    keep(lsn.accept()[0])
    udp = keep(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    udp.bind((LOCAL, 0))
    uport = udp.getsockname()[1]
    udp_any = keep(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    udp_any.bind(("0.0.0.0", 0))
    uaport = udp_any.getsockname()[1]
    lsn_any = keep(socket.socket())
    lsn_any.bind(("0.0.0.0", 0))
    lsn_any.listen()
    laport = lsn_any.getsockname()[1]

    emb = EmulatedKernel()
    table = socket_table(emb)
    table.tcp_listen(LOCAL, port)
    table.tcp_established((LOCAL, cport), (LOCAL, port))
    table.tcp_established((LOCAL, port), (LOCAL, cport))
    table.udp_bind(LOCAL, uport)
    table.udp_bind("0.0.0.0", uaport)
    table.tcp_listen("0.0.0.0", laport)
    tuples = {
        "established": (LOCAL, cport, LOCAL, port),
        "established_client": (LOCAL, port, LOCAL, cport),
        "listener": ("127.0.0.2", 999, LOCAL, port),
        "nothing": (LOCAL, 1, LOCAL, 1),
        "udp": ("127.0.0.5", 5, LOCAL, uport),
        "udp_wildcard": ("127.0.0.5", 5, "127.0.0.9", uaport),
        "listener_wildcard": ("127.0.0.5", 5, "127.0.0.9", laport),
    }
    yield tuples, LinuxKernel(), emb
    for s in socks:
        s.close()


def _run(kernel: Any, text: str, ptype: int, pkt: bytes) -> int:
    fd = kernel.bpf(Cmd.BPF_PROG_LOAD, ProgLoadAttr(ptype, encode(assemble(text))))
    try:
        attr = TestRunAttr(fd, data_in=pkt)
        kernel.bpf(Cmd.BPF_PROG_TEST_RUN, attr)
        return int(attr.retval or 0)
    finally:
        if kernel.name == "linux":
            os.close(fd)


@pytest.mark.parametrize("helper", [84, 85, 99])
@pytest.mark.parametrize("field", sorted(BPF_SOCK_FIELDS), ids=[BPF_SOCK_FIELDS[f] for f in sorted(BPF_SOCK_FIELDS)])
def test_lookup_reads_the_same_socket(world: Any, helper: int, field: int) -> None:
    tuples, linux, emb = world
    text = lookup_prog(helper, field)
    if helper == 99 and field in _NOT_COMMON:  # a sock_common has no type/protocol/mark/priority
        for kernel in (emb, linux):
            with pytest.raises(BpfError) as info:
                kernel.bpf(Cmd.BPF_PROG_LOAD, ProgLoadAttr(ProgType.BPF_PROG_TYPE_SCHED_CLS, encode(assemble(text))))
            assert info.value.errno == errno.EACCES, kernel
        return
    for name, tup in tuples.items():
        pkt = tuple_packet(*tup)
        assert _run(emb, text, ProgType.BPF_PROG_TYPE_SCHED_CLS, pkt) == _run(
            linux, text, ProgType.BPF_PROG_TYPE_SCHED_CLS, pkt
        ), name


@pytest.mark.parametrize("kw", [{"size": 13}, {"size": 36}, {"flags": 1}, {"netns": 0}, {"netns": -2}, {"xdp": True}])
def test_lookup_arguments(world: Any, kw: dict[str, Any]) -> None:
    tuples, linux, emb = world
    ptype = ProgType.BPF_PROG_TYPE_XDP if kw.get("xdp") else ProgType.BPF_PROG_TYPE_SCHED_CLS
    text = lookup_prog(84, 72, **kw)
    for name, tup in tuples.items():
        pkt = tuple_packet(*tup)
        assert _run(emb, text, ptype, pkt) == _run(linux, text, ptype, pkt), name


OBJ = Path(__file__).resolve().parents[1] / "corpus" / "testrun" / "sk_lookup.bpf.o"


def _frame(proto: int, saddr: str, sport: int, daddr: str, dport: int) -> bytes:
    """An IPv4 TCP (6) or UDP (17) frame for the tuple (ports after a 20-byte IP header)."""
    import struct

    ip = struct.pack("!BBHHHBBH", 0x45, 0, 48, 0, 0, 64, proto, 0) + socket.inet_aton(saddr) + socket.inet_aton(daddr)
    return bytes(12) + b"\x08\x00" + ip + struct.pack("!HH", sport, dport) + bytes(24)


@pytest.mark.parametrize("prog", ["tc_sk_lookup", "xdp_sk_lookup"])
def test_c_program_finds_the_same_sockets(world: Any, prog: str) -> None:
    """sk_lookup.bpf.c parses the packet and looks its socket up: same answers on both kernels."""
    from structops.api import Collection

    tuples, linux, emb = world
    with Collection.open(OBJ).load(linux) as lcoll, Collection.open(OBJ).load(emb) as ecoll:
        lfd, efd = lcoll.programs[prog].fd, ecoll.programs[prog].fd
        for name, tup in tuples.items():
            for proto in (6, 17):
                attr_l, attr_e = (
                    TestRunAttr(lfd, data_in=_frame(proto, *tup)),
                    TestRunAttr(efd, data_in=_frame(proto, *tup)),
                )
                linux.bpf(Cmd.BPF_PROG_TEST_RUN, attr_l)
                emb.bpf(Cmd.BPF_PROG_TEST_RUN, attr_e)
                assert attr_e.retval == attr_l.retval, (name, proto)
