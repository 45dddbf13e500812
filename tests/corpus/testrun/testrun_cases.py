"""The test_run packet corpus: tc, socket filter and XDP objects of this directory, the packets and
contexts they run on, and how one run is reduced to what both kernels must agree on.

Used by ``record.py`` (writes ``linux-6.18.json`` on the real kernel), by the embedded
replay ``tests/unit/kernel/test_testrun_corpus.py`` and by the real-kernel differential
``tests/kernel/test_testrun_packet_real.py``.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OBJECTS = {
    "tc_pkt.bpf.o": ("tc_swap_mac", "tc_ctx_fields", "tc_xor_payload", "tc_rewrite_port"),
    "xdp_pkt.bpf.o": ("xdp_filter", "xdp_pop_eth", "xdp_meta_tail", "xdp_grow_tail", "xdp_tail_bytes"),
    # socket filters (an skb from the network header) and legacy packet loads (LD_ABS/LD_IND)
    "sk_pkt.bpf.o": (
        "sk_ip_fields",
        "sk_ctx_fields",
        "sk_ll_net",
        "tc_ld_abs",
        "sk_sock_fields",
        "tc_sock_fields",
        "sk_load_relative",
        "tc_load_relative",
        "act_ld_abs",
    ),
}


def _eth(proto: int, dst: bytes = bytes(6), src: bytes = b"\x02\0\0\0\0\1") -> bytes:
    return dst + src + struct.pack("!H", proto)


def _ipv4(proto: int, payload: bytes, ttl: int = 64) -> bytes:
    src, dst = b"\x0a\0\0\1", b"\x0a\0\0\2"
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, ttl, proto, 0, src, dst) + payload


def _udp(dport: int, body: bytes = b"hello") -> bytes:
    return struct.pack("!HHHH", 40000, dport, 8 + len(body), 0) + body


PACKETS: dict[str, bytes] = {
    "udp53": _eth(0x0800) + _ipv4(17, _udp(53)),
    "udp80": _eth(0x0800) + _ipv4(17, _udp(80)),
    "tcp": _eth(0x0800) + _ipv4(6, bytes(20), ttl=1),
    "ipv6": _eth(0x86DD, dst=b"\x33\x33\0\0\0\1") + bytes(40),
    "ipv6_addr": _eth(0x86DD) + b"\x60" + bytes(7) + bytes(range(1, 33)) + b"payload",
    "runt": _eth(0x0800),
    "short": bytes(13),
    "ipv4_cut": _eth(0x0800) + bytes(10),
    "big": _eth(0x0800) + _ipv4(17, _udp(80, bytes(range(256)) * 11)),
    "jumbo": _eth(0x0800) + _ipv4(17, _udp(80, bytes(range(256)) * 19)),
}


@dataclass(frozen=True)
class Case:
    """One BPF_PROG_TEST_RUN: program, packet, context and output buffers."""

    name: str
    prog: str
    packet: str
    ctx_in: bytes | None = None
    ctx_out: int = 0  # ctx_out buffer size (0: none)
    data_out: int = 8192  # data_out buffer size (0: none)
    data_size_out: int | None = None
    repeat: int = 0
    flags: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def attr_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"data_in": PACKETS[self.packet], "repeat": self.repeat, "flags": self.flags}
        if self.ctx_in is not None:
            kw["ctx_in"] = self.ctx_in
        if self.ctx_out:
            kw["ctx_out"] = bytearray(self.ctx_out)
        if self.data_out:
            kw["data_out"] = bytearray(self.data_out)
        if self.data_size_out is not None:
            kw["data_size_out"] = self.data_size_out
        kw.update(self.extra)
        return kw


def skb(**fields: int) -> bytes:
    """A ``struct __sk_buff`` with the given fields."""
    offs = {"mark": 8, "priority": 32, "ingress_ifindex": 36, "ifindex": 40, "cb1": 52, "tstamp": 152}
    offs |= {"wire_len": 160, "gso_segs": 164, "gso_size": 176, "len": 0}
    out = bytearray(192)
    for name, value in fields.items():
        struct.pack_into("<Q" if name == "tstamp" else "<I", out, offs[name], value)
    return bytes(out)


def md(data: int = 0, end: int = 0, ingress: int = 0) -> bytes:
    """A ``struct xdp_md`` (metadata length ``data``, linear end ``end``)."""
    return struct.pack("<6I", data, end, 0, ingress, 0, 0)


def _cases() -> list[Case]:
    out: list[Case] = []
    tc_ctxs = {
        "none": None,
        "zero": skb(),
        "fields": skb(mark=7, priority=3, ingress_ifindex=5, cb1=0x1234, tstamp=99, gso_segs=2, gso_size=1400),
        "wire": skb(wire_len=2000),
        "lo": skb(ifindex=1),
        "bad_len": skb(len=1),
        "nodev": skb(ifindex=999),
    }
    for prog in OBJECTS["tc_pkt.bpf.o"] + OBJECTS["sk_pkt.bpf.o"]:
        for pkt in PACKETS:
            out.append(Case(f"{prog}/{pkt}", prog, pkt))
        for cname, ctx in tc_ctxs.items():
            out.append(Case(f"{prog}/udp80/ctx_{cname}", prog, "udp80", ctx_in=ctx, ctx_out=192))
        out.append(Case(f"{prog}/udp80/repeat3", prog, "udp80", ctx_out=192, repeat=3))
        out.append(Case(f"{prog}/udp80/enospc", prog, "udp80", data_out=64, data_size_out=20))
    for prog in OBJECTS["xdp_pkt.bpf.o"]:
        for pkt in PACKETS:
            out.append(Case(f"{prog}/{pkt}", prog, pkt))
        n = len(PACKETS["udp80"])
        xdp_ctxs = {
            "zero_out": None,
            "full": md(end=n),
            "meta8": md(data=8, end=n),
            "short_linear": md(end=30),
            "lo": md(end=n, ingress=1),
            "bad_meta": md(data=6, end=n),
            "nodev": md(end=n, ingress=7),
        }
        for cname, ctx in xdp_ctxs.items():
            out.append(Case(f"{prog}/udp80/ctx_{cname}", prog, "udp80", ctx_in=ctx, ctx_out=24))
        jumbo = len(PACKETS["jumbo"])
        out.append(Case(f"{prog}/jumbo/ctx_end100", prog, "jumbo", ctx_in=md(end=100), ctx_out=24))
        out.append(Case(f"{prog}/jumbo/ctx_full", prog, "jumbo", ctx_in=md(end=jumbo), ctx_out=24))
        out.append(Case(f"{prog}/udp80/repeat3", prog, "udp80", ctx_in=md(end=n), ctx_out=24, repeat=3))
        out.append(Case(f"{prog}/udp80/enospc", prog, "udp80", data_out=64, data_size_out=20))
    return out


CASES = _cases()


def load_programs(kernel: Any) -> tuple[list[Any], dict[str, int]]:
    """Load every object on ``kernel``; ``(collections to close, program name -> fd)``."""
    from structops.api import Collection

    colls, fds = [], {}
    for obj in OBJECTS:
        coll = Collection.open(HERE / obj).load(kernel)
        colls.append(coll)
        for name in OBJECTS[obj]:
            fds[name] = coll.programs[name].fd
    return colls, fds


def run_case(kernel: Any, fd: int, case: Case) -> dict[str, Any]:
    """Run ``case``; what both kernels must agree on (errno; retval, sizes and bytes when
    the run got that far: success or ENOSPC)."""
    from structops.abi.attrs import TestRunAttr
    from structops.errors import BpfError
    from structops.uapi import Cmd

    kw = case.attr_kwargs()
    attr = TestRunAttr(fd, **kw)
    err = 0
    try:
        kernel.bpf(Cmd.BPF_PROG_TEST_RUN, attr)
    except BpfError as exc:
        err = exc.errno or 0
    res: dict[str, Any] = {"errno": errno.errorcode.get(err, str(err)) if err else "0"}
    if err not in (0, errno.ENOSPC):
        return res
    res["retval"] = attr.retval
    res["data_size_out"] = attr.data_size_out
    if "data_out" in kw:
        n = min(int(attr.data_size_out or 0), case.data_size_out or case.data_out)
        res["data_out"] = bytes(kw["data_out"][:n]).hex()
    if err == 0 and "ctx_out" in kw:
        res["ctx_out"] = bytes(kw["ctx_out"]).hex()
    return res
