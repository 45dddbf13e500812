"""Helpers tc and XDP programs call on the test-run packet (issue 12): bpf_skb_load_bytes /
store_bytes / change_tail / pull_data, bpf_xdp_load_bytes / store_bytes / get_buff_len, the
checksum helpers.  Expected values were measured on Linux 6.18 on this machine."""

from __future__ import annotations

import errno
import struct
import sys
from pathlib import Path

import pytest

from structops.kernel.emulated import EmulatedKernel

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "corpus" / "testrun"))

from testrun_asm import (
    PKT,
    TC,
    TC_SPAN,
    XDP,
    errno_of,
    load,
    run,
    xdp_md,
)


@pytest.fixture
def k() -> EmulatedKernel:
    return EmulatedKernel()


def _load_bytes(off: int, size: int) -> str:
    """r0 = bpf_skb_load_bytes(skb, off, fp-16, size) ?: the first u32 loaded; on error
    r0 = err << 32 | what the buffer holds afterwards (zeroed by the helper)."""
    return f"""
    stdw [%r10-16], -1
    stdw [%r10-8], -1
    mov %r2, {off}
    mov %r3, %r10
    add %r3, -16
    mov %r4, {size}
    call 26
    jne %r0, 0, +2
    ldxw %r0, [%r10-16]
    exit
    ldxw %r1, [%r10-16]
    lsh %r0, 32
    or %r0, %r1
    exit
    """


@pytest.mark.parametrize(("off", "size", "ok"), [(0, 4, True), (60, 4, True), (61, 4, False), (0x10000, 1, False)])
def test_tc_skb_load_bytes(k: EmulatedKernel, off: int, size: int, ok: bool) -> None:
    """In the packet: the bytes; past len or offset > 0xffff: -EFAULT with the buffer zeroed."""
    fd = load(k, TC, _load_bytes(off, size))
    got = run(k, fd, data_in=PKT).retval
    zeroed = bytes(size) + b"\xff" * (4 - size)  # only ``size`` bytes are cleared
    assert got == int.from_bytes(PKT[off : off + 4] if ok else zeroed, "little")


@pytest.mark.parametrize(
    ("off", "flags", "ret"), [(0, 0, 0), (60, 3, 0), (61, 0, -errno.EFAULT), (0, 4, -errno.EINVAL)]
)
def test_tc_skb_store_bytes(k: EmulatedKernel, off: int, flags: int, ret: int) -> None:
    """Checksum flags (1, 2) are accepted, others -EINVAL; past len -EFAULT (nothing written)."""
    fd = load(
        k,
        TC,
        f"stw [%r10-8], 0x41414141\nmov %r2, {off}\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 4\nmov %r5, {flags}\n"
        "call 9\nexit",
    )
    out = bytearray(64)
    attr = run(k, fd, data_in=bytes(64), data_out=out)
    assert attr.retval == ret & 0xFFFFFFFF
    assert out == (bytes(off) + b"AAAA" + bytes(60 - off) if ret == 0 else bytes(64))


def test_xdp_load_store_bytes_and_buff_len_cross_into_fragments(k: EmulatedKernel) -> None:
    """Offsets count from data across linear part and fragments; past the end -EINVAL (buffer
    untouched), offset above 0xffff -EFAULT; bpf_xdp_get_buff_len is linear + fragments."""
    frame = bytes(range(256)) * 20  # 5120 bytes
    md = xdp_md(data=8, end=100)
    assert run(k, load(k, XDP, "call 188\nexit"), data_in=frame, ctx_in=md).retval == 5112
    for off, want in ((61, frame[69:73]), (4000, frame[4008:4012])):
        got = run(k, load(k, XDP, _load_bytes(off, 4).replace("call 26", "call 189")), data_in=frame, ctx_in=md)
        assert got.retval == int.from_bytes(want, "little")
    past = run(k, load(k, XDP, _load_bytes(5109, 4).replace("call 26", "call 189")), data_in=frame, ctx_in=md)
    assert past.retval == 0xFFFFFFFF  # -EINVAL in the high half, the buffer as it was
    store = load(
        k, XDP, "stw [%r10-8], 0x41414141\nmov %r2, 90\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 4\ncall 190\nexit"
    )
    out = bytearray(5120)
    assert run(k, store, data_in=frame, ctx_in=md, data_out=out).retval == 0
    assert out[98:102] == b"AAAA" and out[:98] == frame[:98] and out[102:] == frame[102:]  # 2 linear, 2 in a fragment


@pytest.mark.parametrize(
    ("off", "flags", "err"), [(14, 1, 0), (14, 0, errno.EBADMSG), (0, 1, errno.EBADMSG), (0, 0, 0)]
)
def test_tc_store_bytes_recompute_csum_under_checksum_complete(
    k: EmulatedKernel, off: int, flags: int, err: int
) -> None:
    """BPF_F_RECOMPUTE_CSUM keeps skb->csum right for an L3 store; for a store into the
    Ethernet header it moves skb->csum although the check does not cover those bytes."""
    fd = load(
        k,
        TC,
        f"stw [%r10-8], 0x41414141\nmov %r2, {off}\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 4\nmov %r5, {flags}\n"
        "call 9\nexit",
    )
    if err:
        assert errno_of(k, fd, data_in=PKT, flags=4) == err
    else:
        assert run(k, fd, data_in=PKT, flags=4).retval == 0


@pytest.mark.parametrize(
    ("new_len", "flags", "ret"),
    [(14, 0, 0), (100, 0, 0), (16064, 0, 0), (13, 0, -errno.EINVAL), (16065, 0, -errno.EINVAL), (64, 1, -errno.EINVAL)],
)
def test_tc_skb_change_tail(k: EmulatedKernel, new_len: int, flags: int, ret: int) -> None:
    """Trim or zero-grow the packet between ETH_HLEN and SKB_MAX_ALLOC (16064, measured);
    len, data_end and data_out follow; the wire_len the context reports does not."""
    fd = load(k, TC, f"mov %r2, {new_len}\nmov %r3, {flags}\ncall 38\nexit")
    out, ctx_out = bytearray(17000), bytearray(192)
    attr = run(k, fd, data_in=PKT, data_out=out, ctx_out=ctx_out)
    assert attr.retval == ret & 0xFFFFFFFF
    size = new_len if ret == 0 else 64
    assert attr.data_size_out == size
    assert out[:size] == (PKT + bytes(max(0, size - 64)))[:size]
    assert struct.unpack_from("<I", ctx_out, 160)[0] == 64
    span = load(k, TC, f"mov %r6, %r1\nmov %r2, {new_len}\nmov %r3, {flags}\ncall 38\n" + TC_SPAN.replace("%r1", "%r6"))
    assert run(k, span, data_in=PKT).retval == size << 16
    length = load(k, TC, f"mov %r6, %r1\nmov %r2, {new_len}\nmov %r3, {flags}\ncall 38\nldxw %r0, [%r6+0]\nexit")
    assert run(k, length, data_in=PKT).retval == size


@pytest.mark.parametrize(("length", "ret"), [(0, 0), (64, 0), (65, -errno.ENOMEM)])
def test_tc_skb_pull_data(k: EmulatedKernel, length: int, ret: int) -> None:
    fd = load(k, TC, f"mov %r2, {length}\ncall 39\nexit")
    assert run(k, fd, data_in=PKT).retval == ret & 0xFFFFFFFF


def _csum_replace(hid: int, off: int, frm: int, to: int, flags: int) -> str:
    return f"lddw %r3, {frm}\nlddw %r4, {to}\nmov %r2, {off}\nlddw %r5, {flags}\ncall {hid}\nexit"


@pytest.mark.parametrize(
    ("hid", "flags", "off", "zero", "ret", "field"),
    [
        (10, 4, 24, False, 0, "1708"),  # l3, 4-byte field
        (10, 2, 24, False, 0, "9f90"),  # l3, 2-byte field (to & 0xffff)
        (10, 0, 24, False, -errno.EINVAL, "1819"),  # size 0 with from != 0
        (10, 3, 24, False, -errno.EINVAL, "1819"),  # no 3-byte field
        (10, 4, 25, False, -errno.EFAULT, "191a"),  # odd offset
        (11, 0x14, 40, False, 0, "2718"),  # l4 with BPF_F_PSEUDO_HDR
        (11, 0x14, 40, True, 0, "feee"),
        (11, 0x24, 40, True, 0, "0000"),  # BPF_F_MARK_MANGLED_0: a zero checksum stays zero
        (11, 0x100, 40, False, -errno.EINVAL, "2829"),  # unknown flag
    ],
)
def test_tc_l3_l4_csum_replace(
    k: EmulatedKernel, hid: int, flags: int, off: int, zero: bool, ret: int, field: str
) -> None:
    """bpf_l3/l4_csum_replace(skb, off, 0x12345678, 0x9abcdef0, flags): the checksum bytes
    Linux 6.18 wrote here for the packet bytes(range(64)) (bytes 40-41 zeroed when ``zero``)."""
    pkt = PKT[:40] + bytes(2) + PKT[42:] if zero else PKT
    fd = load(k, TC, _csum_replace(hid, off, 0x12345678, 0x9ABCDEF0, flags))
    out = bytearray(64)
    assert run(k, fd, data_in=pkt, data_out=out).retval == ret & 0xFFFFFFFF
    assert out[off : off + 2].hex() == field


def test_csum_diff_is_folded_to_16_bits() -> None:
    """bpf_csum_diff of Linux 6.18 returns the 16-bit fold; any sizes (vectors measured here)."""
    from structops.kernel.csum_helpers import csum_diff

    assert csum_diff(b"", b"", 0xFFFFFFFF) == 0xFFFF
    assert csum_diff(b"", b"", 0x1234) == 0x1234
    assert csum_diff(b"\xff" * 4, bytes(4), 0) == 0
    assert csum_diff(bytes(4), bytes(4), 0) == 0xFFFF
    assert csum_diff(bytes(4), b"\xff" * 4, 0) == 0xFFFF


def test_unverified_helper_calls_stay_inside_the_program_memory() -> None:
    """Unverified programs (as if the verifier were wrong) hand the packet helpers sizes past
    their stack, forged contexts and forged sockets: the VM faults (EFAULT) or the helper
    refuses; nothing outside the program's memory is read or written (issue 12 item 4)."""
    k = EmulatedKernel()
    k.verify_programs = False  # type: ignore[attr-defined]
    big_load = load(k, TC, "mov %r2, 0\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 64\ncall 26\nexit")
    assert errno_of(k, big_load, data_in=PKT) == errno.EFAULT  # 64 bytes into an 8-byte stack tail
    big_store = load(k, TC, "mov %r2, 0\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 64\nmov %r5, 0\ncall 9\nexit")
    assert errno_of(k, big_store, data_in=PKT) == errno.EFAULT  # reads past the stack
    forged = load(k, XDP, "mov %r1, %r10\nadd %r1, -24\nmov %r2, 4\ncall 44\nexit")  # a stack "xdp_md"
    assert run(k, forged, data_in=PKT).retval == -errno.EINVAL & 0xFFFFFFFF
    release = load(k, TC, "mov %r1, %r10\nadd %r1, -80\ncall 86\nexit")  # a stack "bpf_sock"
    assert run(k, release, data_in=PKT).retval == 0
    tuple_far = load(k, TC, "lddw %r2, 0x100000000\nmov %r3, 12\nmov %r4, -1\nmov %r5, 0\ncall 84\nexit")
    assert errno_of(k, tuple_far, data_in=PKT) == errno.EFAULT  # a tuple in no region it was given


def test_tc_legacy_load_sees_an_earlier_store_bytes(k: EmulatedKernel) -> None:
    """LD_ABS reads the skb as it is at the load: a bpf_skb_store_bytes earlier in the same
    run is visible (Linux 6.18 here: storing 0x41424344 at offset 20, then ``ldabsw 20``,
    returns 0x44434241), and the next run starts from data_in again."""
    from structops.abi.attrs import ProgLoadAttr
    from structops.isa import Insn, assemble, encode
    from structops.uapi import Cmd

    def load_abs(text: str) -> int:
        insns = [*assemble(text), Insn(0x20, imm=20), Insn(0x95)]  # r0 = ntohl(*(u32 *)(data + 20))
        return int(k.bpf(Cmd.BPF_PROG_LOAD, ProgLoadAttr(TC, encode(insns))))

    stores = "stw [%r10-8], 0x41424344\nmov %r2, 20\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 4\nmov %r5, 0\ncall 9"
    fd = load_abs("mov %r6, %r1\n" + stores)
    assert run(k, fd, data_in=bytes(range(64))).retval == 0x44434241
    assert run(k, fd, data_in=bytes(range(64)), repeat=3).retval == 0x44434241
    assert run(k, load_abs("mov %r6, %r1"), data_in=bytes(range(64))).retval == 0x14151617
