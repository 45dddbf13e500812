"""BPF_PROG_TEST_RUN of tc and XDP programs on the embedded kernel: the packet is data_in,
reached by direct packet access (issue 12: every program type, contained at run time).

Every expected value was measured on Linux 6.18 on this machine (the differential test
tests/kernel/test_testrun_packet_real.py replays these programs on both kernels).
"""

from __future__ import annotations

import errno
import struct
import sys
from pathlib import Path

import pytest

from structops.abi.attrs import TestRunAttr
from structops.errors import BpfError
from structops.kernel.emulated import EmulatedKernel
from structops.uapi import Cmd

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "corpus" / "testrun"))

from testrun_asm import (
    PKT,
    TC,
    TC_SPAN,
    XDP,
    XDP_SPAN,
    bump,
    errno_of,
    load,
    run,
    skb_ctx,
    xdp_md,
)


@pytest.fixture
def k() -> EmulatedKernel:
    return EmulatedKernel()


# -- tc ---------------------------------------------------------------------------------------


def test_tc_packet_is_data_in_with_the_ethernet_header(k: EmulatedKernel) -> None:
    """data..data_end is the whole frame (len bytes), data_meta == data."""
    fd = load(k, TC, TC_SPAN)
    assert run(k, fd, data_in=PKT).retval == 64 << 16
    assert run(k, fd, data_in=bytes(3712)).retval == 3712 << 16


@pytest.mark.parametrize("size", [0, 13, 3713, 4096])
def test_tc_data_outside_eth_hlen_to_3712_is_einval(k: EmulatedKernel, size: int) -> None:
    fd = load(k, TC, "mov %r0, 3\nexit")
    assert errno_of(k, fd, data_in=bytes(size)) == errno.EINVAL


@pytest.mark.parametrize(
    ("frame", "protocol", "pkt_type"),
    [
        (bytes(range(64)), 0x0D0C, 3),  # EtherType 0x0c0d, foreign MAC: PACKET_OTHERHOST
        (bytes(12) + b"\x08\x00" + bytes(50), 0x0008, 0),  # IPv4 to lo's MAC: PACKET_HOST
        (b"\xff" * 6 + bytes(58), 0x0400, 2),  # 802.2, multicast bit: PACKET_MULTICAST
        (bytes(14) + b"\xff\xff" + bytes(48), 0x0100, 0),  # raw 802.3
    ],
)
def test_tc_protocol_and_pkt_type_as_eth_type_trans_on_lo(
    k: EmulatedKernel, frame: bytes, protocol: int, pkt_type: int
) -> None:
    proto = load(k, TC, "ldxw %r0, [%r1+16]\nexit")
    ptype = load(k, TC, "ldxw %r0, [%r1+4]\nexit")
    ifindex = load(k, TC, "ldxw %r0, [%r1+40]\nexit")
    length = load(k, TC, "ldxw %r0, [%r1+0]\nexit")
    assert run(k, proto, data_in=frame).retval == protocol
    assert run(k, ptype, data_in=frame).retval == pkt_type
    assert run(k, ifindex, data_in=frame).retval == 1
    assert run(k, length, data_in=frame).retval == 64


def test_tc_program_writes_the_packet_and_data_out_returns_it(k: EmulatedKernel) -> None:
    """Writes persist across repeat runs (the same skb), as bpf_test_run does."""
    fd = load(k, TC, bump(76, 80, 14))
    out = bytearray(64)
    attr = run(k, fd, data_in=bytes(64), data_out=out, repeat=5)
    assert attr.retval == 5 and attr.data_size_out == 64
    assert out[14] == 5 and out[:14] == bytes(14) and out[15:] == bytes(49)


def test_tc_data_size_out_too_small_is_enospc_with_a_partial_copy_and_no_ctx_out(k: EmulatedKernel) -> None:
    fd = load(k, TC, "mov %r0, 3\nexit")
    out, ctx_out = bytearray(b"\xee" * 100), bytearray(b"\xee" * 192)
    attr = TestRunAttr(fd, data_in=PKT, data_out=out, data_size_out=10, ctx_out=ctx_out)
    with pytest.raises(BpfError) as info:
        k.bpf(Cmd.BPF_PROG_TEST_RUN, attr)
    assert info.value.errno == errno.ENOSPC
    assert attr.data_size_out == 64 and attr.retval == 3
    assert out[:10] == PKT[:10] and out[10:] == b"\xee" * 90
    assert ctx_out == b"\xee" * 192
    assert errno_of(k, fd, data_in=PKT, data_size_out=10) == errno.ENOSPC  # also without data_out


@pytest.mark.parametrize("field", ["len", "tc_index", "hash", "data"])
def test_tc_ctx_in_field_test_run_fills_must_be_zero(k: EmulatedKernel, field: str) -> None:
    fd = load(k, TC, "mov %r0, 3\nexit")
    assert errno_of(k, fd, data_in=PKT, ctx_in=skb_ctx(**{field: 5})) == errno.EINVAL


@pytest.mark.parametrize(
    ("fields", "err"),
    [
        ({"wire_len": 63}, errno.EINVAL),  # below len
        ({"wire_len": 65537}, errno.EINVAL),  # above GSO_LEGACY_MAX_SIZE
        ({"gso_segs": 65536}, errno.EINVAL),
        ({"ifindex": 999}, errno.ENODEV),
        ({"wire_len": 65536, "gso_segs": 65535, "ifindex": 1}, 0),
    ],
)
def test_tc_ctx_in_value_rules(k: EmulatedKernel, fields: dict[str, int], err: int) -> None:
    fd = load(k, TC, "mov %r0, 3\nexit")
    if err:
        assert errno_of(k, fd, data_in=PKT, ctx_in=skb_ctx(**fields)) == err
    else:
        assert run(k, fd, data_in=PKT, ctx_in=skb_ctx(**fields)).retval == 3


def test_tc_ctx_in_longer_than_sk_buff_must_be_zero_past_it(k: EmulatedKernel) -> None:
    fd = load(k, TC, "mov %r0, 3\nexit")
    assert run(k, fd, data_in=PKT, ctx_in=bytes(200)).retval == 3
    assert errno_of(k, fd, data_in=PKT, ctx_in=bytes(199) + b"\1") == errno.E2BIG


def test_tc_ctx_in_fields_reach_the_program_and_ctx_out(k: EmulatedKernel) -> None:
    """mark += 1 over 5 runs; priority, cb, tstamp written; ctx_out is convert_skb_to___skb."""
    fd = load(
        k,
        TC,
        """
        ldxw %r2, [%r1+8]
        add %r2, 1
        stxw [%r1+8], %r2
        mov %r2, 5
        stxw [%r1+32], %r2
        mov %r2, 6
        stxw [%r1+44], %r2
        ldxw %r2, [%r1+48]
        add %r2, 1
        stxw [%r1+48], %r2
        mov %r2, 9
        stxdw [%r1+152], %r2
        ldxw %r0, [%r1+160]
        exit
        """,
    )
    ctx_out = bytearray(192)
    attr = run(k, fd, data_in=PKT, ctx_in=skb_ctx(mark=0x10, gso_size=9), ctx_out=ctx_out, repeat=5)
    assert attr.retval == 64  # wire_len defaults to len when a context is given
    assert attr.ctx_size_out == 192
    assert struct.unpack_from("<I", ctx_out, 8)[0] == 0x15  # mark
    assert struct.unpack_from("<5I", ctx_out, 32) == (5, 0, 1, 0, 5)  # priority .. tc_index, cb[0]
    assert struct.unpack_from("<QII", ctx_out, 152) == (9, 64, 0)
    assert struct.unpack_from("<I", ctx_out, 176)[0] == 9
    assert run(k, fd, data_in=PKT).retval == 0  # no context: pkt_len unset


@pytest.mark.parametrize("kw", [{"flags": 1}, {"cpu": 1}, {"batch_size": 1}])
def test_tc_flags_cpu_batch_size_are_einval(k: EmulatedKernel, kw: dict[str, int]) -> None:
    fd = load(k, TC, "mov %r0, 3\nexit")
    assert errno_of(k, fd, data_in=PKT, **kw) == errno.EINVAL


def test_tc_checksum_complete_rejects_a_changed_payload(k: EmulatedKernel) -> None:
    """BPF_F_TEST_SKB_CHECKSUM_COMPLETE: a changed L3 byte is EBADMSG, the L2 header is free."""
    assert errno_of(k, load(k, TC, bump(76, 80, 14)), data_in=bytes(64), flags=4) == errno.EBADMSG
    assert run(k, load(k, TC, bump(76, 80, 5)), data_in=bytes(64), flags=4).retval == 1


# -- xdp --------------------------------------------------------------------------------------


def test_xdp_packet_and_metadata_from_ctx_in(k: EmulatedKernel) -> None:
    """xdp_md.data is the metadata length (from the start of data_in), data_end the linear end."""
    fd = load(k, XDP, XDP_SPAN)
    assert run(k, fd, data_in=PKT).retval == 64 << 16
    md_out = bytearray(24)
    attr = run(k, fd, data_in=PKT, ctx_in=xdp_md(data=8, end=40), ctx_out=md_out, data_out=bytearray(64))
    assert attr.retval == (32 << 16) | 8 and attr.data_size_out == 64
    assert struct.unpack("<6I", md_out) == (8, 40, 0, 0, 0, 0)


def test_xdp_linear_part_is_clamped_and_the_rest_is_fragments(k: EmulatedKernel) -> None:
    fd = load(k, XDP, XDP_SPAN)
    out = bytearray(5000)
    attr = run(k, fd, data_in=bytes(range(256)) * 16, data_out=out)
    assert attr.retval == 3520 << 16 and attr.data_size_out == 4096
    assert out[:4096] == bytes(range(256)) * 16
    assert run(k, fd, data_in=bytes(3520 + 17 * 4096)).retval == 3520 << 16
    assert errno_of(k, fd, data_in=bytes(3521 + 17 * 4096)) == errno.ENOMEM
    # a zeroed ctx (ctx_out alone) has data_end 0: everything is a fragment
    assert run(k, fd, data_in=PKT, ctx_out=bytearray(24)).retval == 0


@pytest.mark.parametrize(
    ("md", "size", "err"),
    [
        (xdp_md(meta=1), 64, errno.EINVAL),
        (xdp_md(end=65), 64, errno.EINVAL),
        (xdp_md(data=8, end=4), 64, errno.EINVAL),
        (xdp_md(data=3), 64, errno.EINVAL),
        (xdp_md(data=220, end=300), 300, errno.EINVAL),
        (xdp_md(data=216, end=300), 300, 0),
        (xdp_md(data=4, end=4), 17, errno.EINVAL),  # 13 bytes after the metadata
        (xdp_md(data=4, end=4), 18, 0),
        (xdp_md(egress=1), 64, errno.EINVAL),
        (xdp_md(rxq=1), 64, errno.EINVAL),
        (xdp_md(ingress=1, rxq=1), 64, errno.EINVAL),
        (xdp_md(ingress=999), 64, errno.ENODEV),
        (xdp_md(ingress=1), 64, 0),
        (xdp_md() + b"\1", 64, errno.E2BIG),
    ],
)
def test_xdp_ctx_in_rules(k: EmulatedKernel, md: bytes, size: int, err: int) -> None:
    fd = load(k, XDP, "mov %r0, 2\nexit")
    if err:
        assert errno_of(k, fd, data_in=bytes(size), ctx_in=md) == err
    else:
        assert run(k, fd, data_in=bytes(size), ctx_in=md).retval == 2


@pytest.mark.parametrize(("kw", "err"), [({"flags": 1}, errno.EINVAL), ({"batch_size": 1}, errno.EINVAL)])
def test_xdp_flags_and_batch_size(k: EmulatedKernel, kw: dict[str, int], err: int) -> None:
    fd = load(k, XDP, "mov %r0, 2\nexit")
    assert errno_of(k, fd, data_in=PKT, **kw) == err
    assert run(k, fd, data_in=PKT, cpu=1).retval == 2  # an XDP run ignores cpu


def test_xdp_ingress_ifindex_is_loopback_without_ctx(k: EmulatedKernel) -> None:
    fd = load(k, XDP, "ldxw %r0, [%r1+12]\nexit")
    assert run(k, fd, data_in=PKT).retval == 1
    assert run(k, fd, data_in=PKT, ctx_in=xdp_md()).retval == 1


def test_xdp_program_writes_packet_and_metadata(k: EmulatedKernel) -> None:
    fd = load(k, XDP, bump(0, 4, 14))
    out = bytearray(64)
    assert run(k, fd, data_in=bytes(64), data_out=out, repeat=3).retval == 3
    assert out[14] == 3
    meta = load(
        k,
        XDP,
        """
        ldxw %r2, [%r1+0]
        ldxw %r4, [%r1+8]
        mov %r5, %r4
        add %r5, 4
        jgt %r5, %r2, +4
        ldxw %r0, [%r4+0]
        add %r0, 1
        stxw [%r4+0], %r0
        exit
        mov %r0, 99
        exit
        """,
    )
    out = bytearray(64)
    attr = run(k, meta, data_in=PKT, ctx_in=xdp_md(data=4), data_out=out)
    assert attr.retval == 0x03020101 and out[:4] == b"\x01\x01\x02\x03" and out[4:] == PKT[4:]


def _adjust(helper: int, delta: int) -> str:
    """r0 = helper(ctx, delta) << 32 | (end - data) << 16 | (data - meta) after the call."""
    return f"mov %r6, %r1\nmov %r2, {delta}\ncall {helper}\nmov %r7, %r0\nlsh %r7, 32\n" + XDP_SPAN.replace(
        "%r1", "%r6"
    ).replace("exit", "add %r0, %r7\nexit")


@pytest.mark.parametrize(
    ("helper", "delta", "ret", "span", "meta"),
    [
        (44, 14, 0, 50, 0),  # adjust_head: pull 14
        (44, 51, -errno.EINVAL, 64, 0),  # fewer than ETH_HLEN left
        (44, -216, 0, 280, 0),  # the whole headroom but struct xdp_frame
        (44, -217, -errno.EINVAL, 64, 0),
        (54, -8, 0, 64, 8),  # adjust_meta: 8 bytes of metadata
        (54, -3, -errno.EACCES, 64, 0),  # not a multiple of 4
        (54, -220, -errno.EINVAL, 64, 0),  # into struct xdp_frame
        (54, 4, -errno.EINVAL, 64, 0),  # past data
        (65, -50, 0, 14, 0),  # adjust_tail: shrink to ETH_HLEN
        (65, -51, -errno.EINVAL, 64, 0),
        (65, 3456, 0, 3520, 0),  # grow to the tailroom
        (65, 3457, -errno.EINVAL, 64, 0),
    ],
)
def test_xdp_adjust_helpers(k: EmulatedKernel, helper: int, delta: int, ret: int, span: int, meta: int) -> None:
    fd = load(k, XDP, _adjust(helper, delta))
    out = bytearray(4096)
    attr = run(k, fd, data_in=PKT, ctx_in=xdp_md(), data_out=out)
    r0 = attr.retval  # the low 32 bits: span and metadata
    assert (r0 >> 16, r0 & 0xFFFF) == (span, meta)
    assert attr.data_size_out == span + meta
    if helper == 44 and ret == 0 and delta > 0:
        assert out[:span] == PKT[delta:]
    if helper == 65 and ret == 0 and delta > 0:
        assert out[:span] == PKT + bytes(delta)  # grown bytes are zeroed
    rc = load(k, XDP, f"mov %r2, {delta}\ncall {helper}\nexit")
    assert run(k, rc, data_in=PKT, ctx_in=xdp_md()).retval == ret & 0xFFFFFFFF


def test_xdp_adjust_head_moves_the_metadata_with_data(k: EmulatedKernel) -> None:
    """Pulling one byte keeps the metadata bytes and drops the packet's first byte (repeat: twice)."""
    fd = load(k, XDP, _adjust(44, 1))
    out = bytearray(64)
    attr = run(k, fd, data_in=PKT, ctx_in=xdp_md(data=8), data_out=out, repeat=2)
    assert attr.data_size_out == 62
    assert out[:62] == PKT[:8] + PKT[10:]


def test_xdp_enospc_below_the_fragments_writes_nothing(k: EmulatedKernel) -> None:
    fd = load(k, XDP, "mov %r0, 2\nexit")
    out = bytearray(b"\xee" * 200)
    attr = TestRunAttr(fd, data_in=bytes(5000), ctx_in=xdp_md(end=100), data_out=out, data_size_out=200)
    with pytest.raises(BpfError) as info:
        k.bpf(Cmd.BPF_PROG_TEST_RUN, attr)
    assert info.value.errno == errno.ENOSPC and attr.retval in (None, 0) and out == b"\xee" * 200
    attr = TestRunAttr(fd, data_in=bytes(range(250)) * 20, ctx_in=xdp_md(end=100), data_out=bytearray(4950))
    attr.data_size_out = 4950
    with pytest.raises(BpfError):
        k.bpf(Cmd.BPF_PROG_TEST_RUN, attr)
    assert attr.data_size_out == 5000 and attr.retval == 2


# -- containment ------------------------------------------------------------------------------


@pytest.mark.parametrize(("ptype", "data", "end"), [(TC, 76, 80), (XDP, 0, 4)])
def test_unverified_access_past_data_end_faults(ptype: int, data: int, end: int) -> None:
    """A program that skips the data_end check (as if the verifier were wrong) faults on the
    first byte past the packet instead of reading the buffer's tailroom (issue 12 item 4)."""
    k = EmulatedKernel()
    k.verify_programs = False  # type: ignore[attr-defined]  # unverified bytecode: the VM alone
    fd = load(k, ptype, f"ldxw %r2, [%r1+{end}]\nldxb %r0, [%r2-1]\nexit")
    assert run(k, fd, data_in=PKT).retval == 63  # the last byte is the packet's
    fd = load(k, ptype, f"ldxw %r2, [%r1+{data}]\nldxb %r0, [%r2-1]\nexit")
    assert errno_of(k, fd, data_in=PKT) == errno.EFAULT  # before data (the headroom)
    fd = load(k, ptype, f"ldxw %r2, [%r1+{end}]\nldxb %r0, [%r2+0]\nexit")
    assert errno_of(k, fd, data_in=PKT) == errno.EFAULT  # data_end itself
    fd = load(k, ptype, f"ldxw %r2, [%r1+{end}]\nmov %r0, 1\nstxb [%r2+100], %r0\nexit")
    assert errno_of(k, fd, data_in=PKT) == errno.EFAULT  # a write into the tailroom


@pytest.mark.parametrize(("proto", "extra", "ok"), [(0x0800, 19, False), (0x0800, 20, True), (0x86DD, 39, False)])
def test_tc_ip_frame_needs_its_network_header(k: EmulatedKernel, proto: int, extra: int, ok: bool) -> None:
    """An IPv4 (IPv6) frame shorter than its 20 (40) byte header is EINVAL; other types are not."""
    fd = load(k, TC, "mov %r0, 3\nexit")
    frame = bytes(12) + proto.to_bytes(2, "big") + bytes(extra)
    if ok:
        assert run(k, fd, data_in=frame).retval == 3
    else:
        assert errno_of(k, fd, data_in=frame) == errno.EINVAL
    assert run(k, fd, data_in=bytes(12) + b"\x08\x06").retval == 3  # ARP: no header needed


@pytest.mark.parametrize(("attach", "err"), [(0, 0), (33, errno.EINVAL), (35, errno.EINVAL), (37, 0)])
def test_xdp_devmap_and_cpumap_programs_do_not_test_run(k: EmulatedKernel, attach: int, err: int) -> None:
    """expected_attach_type BPF_XDP_DEVMAP (33) / BPF_XDP_CPUMAP (35): EINVAL, as measured."""
    from structops.abi.attrs import ProgLoadAttr
    from structops.isa import assemble, encode

    code = encode(assemble("mov %r0, 2\nexit"))
    fd = int(k.bpf(Cmd.BPF_PROG_LOAD, ProgLoadAttr(XDP, code, expected_attach_type=attach)))
    if err:
        assert errno_of(k, fd, data_in=PKT) == err
    else:
        assert run(k, fd, data_in=PKT).retval == 2


def test_packet_regions_are_unmapped_after_each_run(k: EmulatedKernel) -> None:
    """Runs (with packet moves, faults and errors) leave no packet or context region behind and
    reuse the packet window's slots: nothing a later run could reach through a stale pointer."""
    from structops.kernel.packet import PACKET_WINDOW

    space = k.kmem.space
    adjust = load(k, XDP, "mov %r6, %r1\nmov %r2, 14\ncall 44\nmov %r1, %r6\nmov %r2, -4\ncall 65\nmov %r0, 2\nexit")
    grow = load(k, TC, "mov %r2, 16064\nmov %r3, 0\ncall 38\nexit")
    k.verify_programs = False  # type: ignore[attr-defined]
    fault = load(k, TC, "ldxw %r2, [%r1+80]\nldxb %r0, [%r2+0]\nexit")
    before = len(space.regions())
    for _ in range(20):
        run(k, adjust, data_in=PKT, ctx_in=xdp_md(), repeat=3)
        run(k, grow, data_in=PKT)
        assert errno_of(k, fault, data_in=PKT) == errno.EFAULT
        assert errno_of(k, adjust, data_in=PKT, ctx_in=xdp_md(meta=4)) == errno.EINVAL
    assert len(space.regions()) == before
    assert not [r for r in space.regions() if PACKET_WINDOW[0] <= r.base < PACKET_WINDOW[1]]
    from structops.kernel.packet import window_of

    assert window_of(space).slots_used <= 8  # about 100 packet mappings, slots reused


def test_xdp_live_frames(k: EmulatedKernel) -> None:
    """BPF_F_TEST_XDP_LIVE_FRAMES (measured on Linux 6.18): a fresh frame per run, retval 0,
    data_out the packet as given; 3408 bytes at most and no fragments (EINVAL), batch_size up
    to 256 (E2BIG above), no data_out/ctx_out next to a context (EINVAL)."""
    fd = load(k, XDP, bump(0, 4, 14))
    out = bytearray(b"\xee" * 64)
    attr = run(k, fd, data_in=PKT, flags=2, data_out=out, repeat=3)
    assert (attr.retval, attr.data_size_out, bytes(out)) == (0, 64, PKT)
    assert run(k, fd, data_in=bytes(3408), flags=2).data_size_out == 3408
    assert run(k, fd, data_in=bytes(3440), flags=2, ctx_in=xdp_md(data=32, end=3440)).retval == 0
    assert run(k, fd, data_in=PKT, flags=2, batch_size=256).retval == 0
    for kw, err in (
        ({"data_in": bytes(3409)}, errno.EINVAL),
        ({"data_in": PKT, "ctx_in": xdp_md(end=30)}, errno.EINVAL),  # fragments
        ({"data_in": PKT, "ctx_out": bytearray(24)}, errno.EINVAL),
        ({"data_in": PKT, "ctx_in": xdp_md(), "data_out": bytearray(64)}, errno.EINVAL),
        ({"data_in": PKT, "batch_size": 257}, errno.E2BIG),
    ):
        assert errno_of(k, fd, flags=2, **kw) == err, kw
