"""Differential test of the helpers tc and XDP programs call on the test-run packet: each raw
program runs on the real kernel and on the embedded kernel with the same packets and
contexts; errno, retval, data_size_out, data_out and ctx_out must agree (issue 12)."""

from __future__ import annotations

import errno
import os
import random
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from structops.abi.attrs import ProgLoadAttr, TestRunAttr
from structops.errors import BpfError
from structops.isa import assemble, encode
from structops.uapi import Cmd, ProgType


def _skip_reason() -> str | None:
    if not Path("/sys/kernel/btf/vmlinux").exists():
        return "no kernel BTF at /sys/kernel/btf/vmlinux"
    if os.geteuid() != 0:
        return "not root: CAP_BPF is needed for the real bpf() syscall"
    return None


pytestmark = [pytest.mark.linux, pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))]
TC, XDP = ProgType.BPF_PROG_TYPE_SCHED_CLS, ProgType.BPF_PROG_TYPE_XDP
RNG = random.Random(7)
PKT = bytes(RNG.randrange(256) for _ in range(64))
FRAME = bytes(range(256)) * 20


def _md(data: int = 0, end: int = 64) -> bytes:
    return struct.pack("<6I", data, end, 0, 0, 0, 0)


def _bytes_prog(hid: int, off: int, size: int, load: bool, flags: int | None = None) -> str:
    """A load (r0 = err << 32 | first u32 of the buffer) or store (r0 = err) of ``size`` bytes."""
    fill = "stdw [%r10-16], -1\nstdw [%r10-8], -1" if load else "stdw [%r10-16], 0x41414141\nstdw [%r10-8], 0x4242"
    tail = "lsh %r0, 32\nldxw %r1, [%r10-16]\nor %r0, %r1\nrsh %r0, 16\nexit" if load else "exit"
    five = f"mov %r5, {flags}\n" if flags is not None else ""
    return f"{fill}\nmov %r2, {off}\nmov %r3, %r10\nadd %r3, -16\nmov %r4, {size}\n{five}call {hid}\n{tail}"


def _span_after(call: str) -> str:
    """Call, then r0 = len (tc) / data_end - data, in the low half; the error in the high half."""
    return f"mov %r6, %r1\n{call}\nlsh %r0, 40\nldxw %r2, [%r6+76]\nldxw %r3, [%r6+80]\nsub %r3, %r2\nor %r0, %r3\nexit"


def _cases() -> list[tuple[str, int, str, list[dict[str, Any]]]]:
    tc_runs: list[dict[str, Any]] = [
        {"data_in": PKT, "data_out": bytearray(20000)},
        {"data_in": PKT, "data_out": bytearray(20000), "ctx_in": bytes(192), "ctx_out": bytearray(192)},
        {"data_in": PKT, "data_out": bytearray(20000), "flags": 4},
    ]
    xdp_runs: list[dict[str, Any]] = [
        {"data_in": PKT, "data_out": bytearray(6000), "ctx_in": _md(), "ctx_out": bytearray(24)},
        {"data_in": FRAME, "data_out": bytearray(6000), "ctx_in": _md(8, 100), "ctx_out": bytearray(24)},
    ]
    out: list[tuple[str, int, str, list[dict[str, Any]]]] = []
    for off, size in ((0, 4), (60, 4), (61, 4), (63, 1), (0x10000, 1), (0, 16)):
        out.append((f"skb_load_bytes({off},{size})", TC, _bytes_prog(26, off, size, True), tc_runs))
    for off, size, flags in ((0, 4, 0), (14, 4, 1), (0, 4, 1), (61, 4, 0), (20, 4, 2), (20, 4, 4)):
        out.append((f"skb_store_bytes({off},{size},{flags})", TC, _bytes_prog(9, off, size, False, flags), tc_runs))
    for n, flags in ((13, 0), (14, 0), (40, 0), (100, 0), (16064, 0), (16065, 0), (64, 1)):
        prog = _span_after(f"mov %r2, {n}\nmov %r3, {flags}\ncall 38")
        out.append((f"skb_change_tail({n},{flags})", TC, prog, tc_runs))
    for n in (0, 64, 65):
        out.append((f"skb_pull_data({n})", TC, _span_after(f"mov %r2, {n}\ncall 39"), tc_runs))
    for hid in (10, 11):
        for flags in (0, 2, 4, 3, 0x14, 0x24, 0x64, 0x94, 0x100):
            for off in (24, 40, 25, 64):
                frm = RNG.randrange(1 << 32) if flags & 0xF else 0
                prog = f"lddw %r3, {frm}\nlddw %r4, {RNG.randrange(1 << 32)}\nmov %r2, {off}\nlddw %r5, {flags}\n"
                out.append((f"csum_replace{hid}({flags:#x},{off})", TC, prog + f"call {hid}\nexit", tc_runs))
    for off, size in ((0, 4), (61, 4), (98, 4), (4996, 4), (5109, 4), (0x10000, 1)):
        out.append((f"xdp_load_bytes({off},{size})", XDP, _bytes_prog(189, off, size, True), xdp_runs))
        out.append((f"xdp_store_bytes({off},{size})", XDP, _bytes_prog(190, off, size, False), xdp_runs))
    out.append(("xdp_get_buff_len", XDP, "call 188\nexit", xdp_runs))
    for hid, deltas in ((44, (1, 14, -40, 51, -217)), (54, (-4, -3, -220, 4)), (65, (-1, 8, -51, 3257))):
        for d in deltas:
            prog = f"mov %r6, %r1\nmov %r2, {d}\ncall {hid}\nlsh %r0, 40\nldxw %r2, [%r6+0]\nldxw %r3, [%r6+4]\n"
            prog += "sub %r3, %r2\nor %r0, %r3\nexit"
            out.append((f"xdp_adjust{hid}({d})", XDP, prog, [dict(r, repeat=2) for r in xdp_runs] + xdp_runs))
    return out


CASES = _cases()


def _run(kernel: Any, fd: int, kw: dict[str, Any]) -> tuple[Any, ...]:
    kw = {n: bytearray(v) if isinstance(v, bytearray) else v for n, v in kw.items()}
    attr = TestRunAttr(fd, **kw)
    try:
        kernel.bpf(Cmd.BPF_PROG_TEST_RUN, attr)
    except BpfError as exc:
        if exc.errno != errno.ENOSPC:
            return (exc.errno,)
    data, ctx = kw.get("data_out"), kw.get("ctx_out")
    n = int(attr.data_size_out or 0)
    return (attr.retval, n, bytes(data[:n]) if data is not None else None, bytes(ctx) if ctx is not None else None)


@pytest.fixture(scope="module")
def kernels() -> Iterator[tuple[Any, Any]]:
    from structops.kernel.emulated import EmulatedKernel
    from structops.linux import LinuxKernel

    yield LinuxKernel(), EmulatedKernel()


@pytest.mark.parametrize(("name", "ptype", "text", "runs"), CASES, ids=[c[0] for c in CASES])
def test_helper_same_on_both_kernels(
    kernels: tuple[Any, Any], name: str, ptype: int, text: str, runs: list[dict[str, Any]]
) -> None:
    linux, emb = kernels
    code = encode(assemble(text))
    lfd = linux.bpf(Cmd.BPF_PROG_LOAD, ProgLoadAttr(ptype, code))
    try:
        efd = emb.bpf(Cmd.BPF_PROG_LOAD, ProgLoadAttr(ptype, code))
        for kw in runs:
            assert _run(emb, efd, kw) == _run(linux, lfd, kw), kw.keys()
    finally:
        os.close(lfd)
