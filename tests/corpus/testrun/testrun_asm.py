"""Shared pieces of the tc / XDP test_run tests: packets, assembly snippets, load and run."""

from __future__ import annotations

import struct

import pytest

from structops.abi.attrs import ProgLoadAttr, TestRunAttr
from structops.errors import BpfError
from structops.isa import assemble, encode
from structops.kernel.emulated import EmulatedKernel
from structops.uapi import Cmd, ProgType

TC, XDP = ProgType.BPF_PROG_TYPE_SCHED_CLS, ProgType.BPF_PROG_TYPE_XDP
PKT = bytes(range(64))

#: r0 = (data_end - data) << 16 | (data - data_meta)   (tc: __sk_buff offsets)
TC_SPAN = """
ldxw %r2, [%r1+76]
ldxw %r3, [%r1+80]
ldxw %r4, [%r1+140]
mov %r0, %r3
sub %r0, %r2
lsh %r0, 16
sub %r2, %r4
or %r0, %r2
exit
"""
XDP_SPAN = TC_SPAN.replace("+76]", "+0]").replace("+80]", "+4]").replace("+140]", "+8]")


def bump(data_off: int, end_off: int, at: int) -> str:
    """``if (data + at + 1 > data_end) return 99; return ++data[at];``"""
    return f"""
    ldxw %r2, [%r1+{data_off}]
    ldxw %r3, [%r1+{end_off}]
    mov %r4, %r2
    add %r4, {at + 1}
    jgt %r4, %r3, +4
    ldxb %r0, [%r2+{at}]
    add %r0, 1
    stxb [%r2+{at}], %r0
    exit
    mov %r0, 99
    exit
    """


def load(k: EmulatedKernel, ptype: int, text: str) -> int:
    return int(k.bpf(Cmd.BPF_PROG_LOAD, ProgLoadAttr(ptype, encode(assemble(text)))))


def run(k: EmulatedKernel, fd: int, **kw: object) -> TestRunAttr:
    attr = TestRunAttr(fd, **kw)
    k.bpf(Cmd.BPF_PROG_TEST_RUN, attr)
    return attr


def errno_of(k: EmulatedKernel, fd: int, **kw: object) -> int:
    with pytest.raises(BpfError) as info:
        run(k, fd, **kw)
    return info.value.errno or 0


def skb_ctx(**fields: int) -> bytes:
    offs = {"mark": 8, "len": 0, "priority": 32, "ingress_ifindex": 36, "ifindex": 40, "tc_index": 44, "cb0": 48}
    offs |= {"hash": 68, "data": 76, "tstamp": 152, "wire_len": 160, "gso_segs": 164, "gso_size": 176}
    ctx = bytearray(192)
    for name, value in fields.items():
        struct.pack_into("<Q" if name == "tstamp" else "<I", ctx, offs[name], value)
    return bytes(ctx)


def xdp_md(data: int = 0, end: int = 64, meta: int = 0, ingress: int = 0, rxq: int = 0, egress: int = 0) -> bytes:
    return struct.pack("<6I", data, end, meta, ingress, rxq, egress)
