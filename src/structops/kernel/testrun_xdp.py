"""BPF_PROG_TEST_RUN of an XDP program (``bpf_prog_test_run_xdp`` of Linux 6.18, measured here).

The packet is laid out as the kernel lays it out: a ``PAGE_SIZE`` frame with
``XDP_PACKET_HEADROOM`` (256) bytes before ``data``, the metadata right below ``data`` and
``skb_shared_info`` (320 bytes) reserved at the end, so the linear part holds at most
``3520 + metalen`` bytes; the rest of ``data_in`` goes to fragments of a page each (at
most 17: ENOMEM beyond), which direct packet access does not reach.

``ctx_in`` (``struct xdp_md``) may set ``data`` (the metadata length: a multiple of 4, at
most 216, taken from the start of ``data_in``) and ``data_end`` (the end of the linear
part, counted like ``data`` from the start of ``data_in``; at most ``data_size_in``; a
larger one than fits is clamped); ``data_meta`` must be 0, ``egress_ifindex`` 0,
``rx_queue_index`` needs ``ingress_ifindex``, and only the loopback device (ifindex 1,
one rx queue) exists in the embedded kernel (another ifindex: ENODEV).  A ``ctx_out``
without ``ctx_in`` is a zeroed context, so ``data_end`` 0: the whole packet is then in
fragments (as Linux does).  ``data_out`` is metadata + linear part + fragments.

``BPF_F_TEST_XDP_LIVE_FRAMES``: each of the ``repeat`` runs gets a fresh frame (at most
3408 bytes + metadata, no fragments: EINVAL; ``batch_size`` up to 256: E2BIG above), the
program's verdict is not reported (retval 0) and ``data_out`` is the packet as given; with
``ctx_in``, ``data_out``/``ctx_out`` are EINVAL.  What Linux then does with the frames
(XDP_TX/REDIRECT transmit, XDP_PASS into the stack) has no counterpart here: the embedded
kernel has no network stack.  Devices other than loopback are not modelled.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from structops.errors import bpf_error
from structops.kernel.packet import PacketBuffer
from structops.kernel.testrun_packet import (
    ETH_HLEN,
    ctx_finish,
    ctx_init,
    data_in,
    data_size_in,
    run_repeated,
    test_finish,
)
from structops.uapi import AttachType
from structops.vm.memory import PAGE_SIZE, Perm

if TYPE_CHECKING:
    from structops.kernel.attrs import TestRunAttr
    from structops.kernel.emulated import Process
    from structops.kernel.prog import BpfProg
    from structops.vm.memory import AddressSpace, Domain

__all__ = ["XDP_PACKET_HEADROOM", "XdpBuff", "active_xdp", "test_run_xdp"]

XDP_PACKET_HEADROOM = 256
#: ``SKB_DATA_ALIGN(sizeof(struct skb_shared_info))`` on x86-64.
SHINFO_SIZE = 320
#: ``sizeof(struct xdp_frame)``: kept free at the start of the headroom.
XDP_FRAME_SIZE = 40
MAX_SKB_FRAGS = 17
#: ``sizeof(struct xdp_page_head)``: live frames lose this much room (measured: 3408-byte frames).
XDP_PAGE_HEAD_SIZE = 112
#: ``TEST_XDP_MAX_BATCH``.
TEST_XDP_MAX_BATCH = 256
XDP_MD_SIZE = 24
BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1
_BPF_XDP_DEVMAP, _BPF_XDP_CPUMAP = AttachType.BPF_XDP_DEVMAP, AttachType.BPF_XDP_CPUMAP
_LOOPBACK_IFINDEX = 1
_MD = struct.Struct("<6I")

#: ``(address space, xdp_md address)`` -> the buffer of the run in progress (for the helpers).
_ACTIVE: dict[tuple[int, int], XdpBuff] = {}


class XdpBuff:
    """``struct xdp_buff`` of one test run: the packet buffer, fragments and the ``xdp_md`` region."""

    def __init__(self, buf: PacketBuffer, frags: list[bytearray], hard_end: int) -> None:
        self.buf = buf
        self.frags = frags
        #: ``xdp_data_hard_end``: how far the tail may grow (frame offset).
        self.hard_end = hard_end
        self.ctx: int = 0

    @property
    def frags_size(self) -> int:
        """``sinfo->xdp_frags_size``."""
        return sum(len(f) for f in self.frags)

    def write_md(self) -> None:
        """Refresh ``xdp_md.data``/``data_end``/``data_meta`` in the context region."""
        b = self.buf
        data = struct.pack("<3I", b.data_addr & 0xFFFFFFFF, b.end_addr & 0xFFFFFFFF, b.meta_addr & 0xFFFFFFFF)
        b.space.write(self.ctx, data)

    def move(
        self, domain: Domain, meta: int, data: int, end: int, edit: Callable[[bytearray], None] | None = None
    ) -> None:
        """Change the span (an adjust helper) and publish the new pointers."""
        self.buf.remap(domain, meta, data, end, edit)
        self.write_md()


def active_xdp(space: AddressSpace, ctx: int) -> XdpBuff | None:
    """The buffer of the XDP test run whose ``xdp_md`` is at ``ctx`` in ``space`` (None: not one)."""
    return _ACTIVE.get((id(space), ctx))


def _check_md(md: bytearray, size: int) -> tuple[int, int, int, int]:
    """The ``xdp_md`` rules of Linux 6.18; ``(metalen, end, ingress_ifindex, rx_queue_index)``."""
    data, end, meta, ingress, rxq, egress = _MD.unpack_from(md)
    if meta:
        raise bpf_error(errno.EINVAL, "xdp_md.data_meta must be 0 in ctx_in (metadata is data_in before data)")
    if end > size:
        raise bpf_error(errno.EINVAL, f"xdp_md.data_end={end} is past data_size_in={size}")
    if data > end:
        raise bpf_error(errno.EINVAL, f"xdp_md.data={data} is past xdp_md.data_end={end}")
    if data % 4 or data > XDP_PACKET_HEADROOM - XDP_FRAME_SIZE:
        raise bpf_error(
            errno.EINVAL,
            f"xdp_md.data={data} (the metadata length) must be a multiple of 4 and at most "
            f"{XDP_PACKET_HEADROOM - XDP_FRAME_SIZE}",
        )
    if egress:
        raise bpf_error(errno.EINVAL, "xdp_md.egress_ifindex must be 0 in ctx_in")
    return data, end, ingress, rxq


def test_run_xdp(proc: Process, prog: BpfProg, attr: TestRunAttr) -> int:
    """``bpf_prog_test_run_xdp`` (module docstring)."""
    if prog.expected_attach_type in (_BPF_XDP_DEVMAP, _BPF_XDP_CPUMAP):
        raise bpf_error(errno.EINVAL, "test_run does not run devmap/cpumap XDP programs")
    flags = int(attr.flags or 0)
    if flags & ~BPF_F_TEST_XDP_LIVE_FRAMES:
        raise bpf_error(errno.EINVAL, f"unknown test_run flags {flags:#x} for an XDP program")
    live = bool(flags & BPF_F_TEST_XDP_LIVE_FRAMES)
    if live and (attr.batch_size or 0) > TEST_XDP_MAX_BATCH:
        raise bpf_error(errno.E2BIG, f"batch_size={attr.batch_size} is above {TEST_XDP_MAX_BATCH}")
    if not live and attr.batch_size:
        raise bpf_error(errno.EINVAL, "batch_size is only for BPF_F_TEST_XDP_LIVE_FRAMES")
    size = data_size_in(attr)
    md = ctx_init(attr, XDP_MD_SIZE, "xdp_md")
    metalen, end, ingress, rxq = _check_md(md, size) if md is not None else (0, size, 0, 0)
    if live and md is not None and (attr.data_out is not None or attr.ctx_out is not None):
        raise bpf_error(errno.EINVAL, "live frames with a context take no data_out or ctx_out")
    if size - metalen < ETH_HLEN:
        raise bpf_error(errno.EINVAL, f"the packet needs at least {ETH_HLEN} bytes after the metadata")
    headroom = XDP_PACKET_HEADROOM - metalen
    max_linear = PAGE_SIZE - headroom - SHINFO_SIZE - (XDP_PAGE_HEAD_SIZE if live else 0)
    if live and (end > max_linear or size > end):
        raise bpf_error(errno.EINVAL, f"live frames hold at most {max_linear - metalen} bytes, no fragments")
    end = min(end, max_linear)
    raw = data_in(attr, size)
    if ingress:
        if ingress != _LOOPBACK_IFINDEX:
            raise bpf_error(errno.ENODEV, f"xdp_md.ingress_ifindex={ingress}: no such device (only lo, 1)")
        if rxq >= 1:
            raise bpf_error(errno.EINVAL, f"xdp_md.rx_queue_index={rxq}: lo has one rx queue")
    elif rxq:
        raise bpf_error(errno.EINVAL, "xdp_md.rx_queue_index needs ingress_ifindex")
    rest = raw[end:]
    frags = [bytearray(rest[i : i + PAGE_SIZE]) for i in range(0, len(rest), PAGE_SIZE)]
    if len(frags) > MAX_SKB_FRAGS:
        raise bpf_error(errno.ENOMEM, f"data_in needs {len(frags)} fragments, at most {MAX_SKB_FRAGS}")
    hard_end = PAGE_SIZE - SHINFO_SIZE - (XDP_PAGE_HEAD_SIZE if live else 0)
    if live:  # every run gets a fresh frame; what the program returns is not reported
        duration = 0
        for _ in range(max(attr.repeat or 0, 1)):
            _, _, took = _run(proc, prog, raw[:end], headroom, [], (ingress, rxq), hard_end, 1)
            duration += took
        test_finish(attr, raw[:end], 0, duration // max(attr.repeat or 0, 1))
        return 0
    xdp, retval, duration = _run(proc, prog, raw[:end], headroom, frags, (ingress, rxq), hard_end, attr.repeat or 0)
    buf = xdp.buf
    test_finish(attr, bytes(buf.frame[buf.meta : buf.end]), retval, duration, b"".join(bytes(f) for f in xdp.frags))
    if md is not None:  # xdp_convert_buff_to_md
        struct.pack_into("<2I", md, 0, buf.data - buf.meta, buf.end - buf.meta)
    ctx_finish(attr, md)
    return 0


def _run(
    proc: Process,
    prog: BpfProg,
    linear: bytes,
    headroom: int,
    frags: list[bytearray],
    rxq: tuple[int, int],
    hard_end: int,
    repeat: int,
) -> tuple[XdpBuff, int, int]:
    """Lay ``linear`` (metadata + packet) out at ``headroom`` and run ``prog`` on it ``repeat``
    times; the buffer as the program left it, retval and duration."""
    space = proc.kernel.kmem.space
    frame = bytearray(PAGE_SIZE)
    frame[headroom : headroom + len(linear)] = linear
    buf = PacketBuffer(space, frame, headroom, XDP_PACKET_HEADROOM, headroom + len(linear), f"xdp packet:{prog.name}")
    xdp = XdpBuff(buf, frags, hard_end)
    ctx = space.map(XDP_MD_SIZE, name=f"xdp_md:{prog.name}", perm=Perm.RW, kind="kernel")
    # what the program reads: the loopback rx queue when ctx_in names none
    space.write(ctx.base + 12, struct.pack("<2I", rxq[0] or _LOOPBACK_IFINDEX, rxq[1]))
    xdp.ctx = ctx.base
    buf.map()
    xdp.write_md()
    key = (id(space), ctx.base)
    _ACTIVE[key] = xdp
    try:
        retval, duration = run_repeated(proc, prog, ctx, buf, repeat)
        buf.sync()
    finally:
        _ACTIVE.pop(key, None)
        buf.unmap()
        space.unmap(ctx)
    return xdp, retval, duration


# -- helpers of XDP programs (bpf_xdp_adjust_head / _meta / _tail) -------------------------------


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x8000_0000 else v


def adjust_head(domain: Domain, xdp: XdpBuff, offset: int) -> int:
    """``bpf_xdp_adjust_head``: move ``data`` (and the metadata with it); 0 or -EINVAL."""
    b = xdp.buf
    off = _s32(offset)
    metalen = b.data - b.meta
    data = b.data + off
    if data < XDP_FRAME_SIZE + metalen or data > b.end - ETH_HLEN:
        return -errno.EINVAL
    old = b.meta

    def move_meta(frame: bytearray) -> None:
        frame[old + off : old + off + metalen] = frame[old : old + metalen]

    xdp.move(domain, b.meta + off, data, b.end, move_meta if metalen else None)
    return 0


def adjust_meta(domain: Domain, xdp: XdpBuff, offset: int) -> int:
    """``bpf_xdp_adjust_meta``: move ``data_meta``; 0, -EINVAL (out of the headroom, or past
    ``data``) or -EACCES (a metadata length that is not a multiple of 4, or above 216)."""
    b = xdp.buf
    meta = b.meta + _s32(offset)
    if meta < XDP_FRAME_SIZE or meta > b.data:
        return -errno.EINVAL
    metalen = b.data - meta
    if metalen % 4 or metalen > XDP_PACKET_HEADROOM - XDP_FRAME_SIZE:
        return -errno.EACCES
    xdp.move(domain, meta, b.data, b.end)
    return 0


def adjust_tail(domain: Domain, xdp: XdpBuff, offset: int) -> int:
    """``bpf_xdp_adjust_tail``: grow (zero-filled) or shrink the packet's end; with fragments
    the last fragment grows within its page and shrinking frees fragments first."""
    b = xdp.buf
    off = _s32(offset)
    if xdp.frags:
        return _adjust_frags_tail(domain, xdp, off)
    end = b.end + off
    if end > xdp.hard_end or end < b.data + ETH_HLEN:
        return -errno.EINVAL
    old = b.end

    def clear(frame: bytearray) -> None:
        frame[old:end] = bytes(off)

    xdp.move(domain, b.meta, b.data, end, clear if off > 0 else None)
    return 0


def _adjust_frags_tail(domain: Domain, xdp: XdpBuff, off: int) -> int:
    b = xdp.buf
    if off > 0:
        last = xdp.frags[-1]
        if off > PAGE_SIZE - len(last):
            return -errno.EINVAL
        last.extend(bytes(off))
        return 0
    shrink = -off
    if shrink > (b.end - b.data) + xdp.frags_size - ETH_HLEN:
        return -errno.EINVAL
    while shrink and xdp.frags:
        last = xdp.frags[-1]
        cut = min(shrink, len(last))
        del last[len(last) - cut :]
        shrink -= cut
        if not last:
            xdp.frags.pop()
    if shrink:  # no fragment left: the rest comes off the linear part
        xdp.move(domain, b.meta, b.data, b.end - shrink)
    return 0
