"""BPF_PROG_TEST_RUN of a tc program or socket filter (``bpf_prog_test_run_skb`` of Linux 6.18, measured here).

A socket filter runs on the same skb without the link-layer push: ``data`` (and ``len``,
and the default ``wire_len``) start at the network header, legacy packet loads count
from there (``SKF_LL_OFF`` reaches the Ethernet header), and ``data_out`` is the whole
frame with the Ethernet header pushed back as zeros.  Both run with ``__sk_buff.sk`` set to
the test run's own socket (a read-only ``struct bpf_sock``: the frame's family and IPv4 /
IPv6 addresses, state ``TCP_CLOSE``, ``rx_queue_mapping`` -1).

``data_in`` (14 to 3712 bytes: ``PAGE_SIZE`` less ``NET_SKB_PAD`` headroom and the 320
bytes of ``skb_shared_info``) becomes a linear skb on the loopback device: the Ethernet
header is parsed as ``eth_type_trans`` does (``protocol``; ``pkt_type`` against lo's
all-zero address; an IPv4 or IPv6 frame must hold the 20- or 40-byte network header:
EINVAL), then pushed back, so ``data`` points at the Ethernet header,
``data_meta == data`` and ``len`` is the whole packet.

``ctx_in`` (``struct __sk_buff``) may set only ``mark``, ``priority``, ``ingress_ifindex``,
``ifindex``, ``cb[]``, ``tstamp``, ``wire_len``, ``gso_segs``, ``gso_size`` and
``hwtstamp``; any other non-zero byte is EINVAL, as are ``wire_len`` below ``len`` or
above 65536 and ``gso_segs`` above 65535; an ``ifindex`` above 1 names a device the
embedded kernel does not have (ENODEV; only lo exists).  The program's writes to
``mark``/``priority``/``cb``/``tstamp`` (and ``tc_index``, ``tc_classid``,
``queue_mapping``, which only later runs see) persist across ``repeat`` runs;
``ctx_out`` is ``convert_skb_to___skb``: the allowed fields, ``ifindex`` 1 and
``wire_len`` = ``len`` when none was given (without ctx_in and ctx_out the program reads
``wire_len`` 0, as Linux leaves ``pkt_len`` unset then).  ``BPF_F_TEST_SKB_CHECKSUM_COMPLETE``:
``skb->csum`` starts as the sum of the packet past the Ethernet header and must still match
it after the run (EBADMSG otherwise); direct writes leave it alone, ``bpf_skb_store_bytes``
with ``BPF_F_RECOMPUTE_CSUM`` moves it by the bytes it replaces (wherever they are, so a
recomputed store into the Ethernet header fails the check, as on Linux).
"""

from __future__ import annotations

import errno
import struct
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
from structops.uapi import ProgType
from structops.vm.memory import PAGE_SIZE, Perm

if TYPE_CHECKING:
    from structops.kernel.attrs import TestRunAttr
    from structops.kernel.emulated import Process
    from structops.kernel.prog import BpfProg
    from structops.vm.memory import AddressSpace, Domain

__all__ = [
    "MAC_HEADER",
    "SKB_MAX_DATA",
    "SK_BUFF_SIZE",
    "active_skb",
    "csum_partial",
    "skb_change_tail",
    "skb_pull_data",
    "store_recompute_csum",
    "test_run_skb",
]

#: ``NET_SKB_PAD + NET_IP_ALIGN`` on x86-64.
SKB_HEADROOM = 64
#: Where the link-layer (Ethernet) header starts in a test run's frame (its network header follows).
MAC_HEADER = SKB_HEADROOM
SHINFO_SIZE = 320
SKB_MAX_DATA = PAGE_SIZE - SKB_HEADROOM - SHINFO_SIZE
SK_BUFF_SIZE = 192
BPF_F_TEST_SKB_CHECKSUM_COMPLETE = 1 << 2
_GSO_LEGACY_MAX_SIZE = 65536
_GSO_MAX_SEGS = 65535
_LOOPBACK_IFINDEX = 1
#: Network header an IPv4 / IPv6 frame must hold (by protocol as the ctx field stores it).
_NET_HEADER = {0x0008: 20, 0xDD86: 40}

# struct __sk_buff offsets
_LEN, _PKT_TYPE, _MARK, _QUEUE_MAPPING, _PROTOCOL = 0, 4, 8, 12, 16
_PRIORITY, _INGRESS_IFINDEX, _IFINDEX, _TC_INDEX, _CB, _CB_END = 32, 36, 40, 44, 48, 68
_TC_CLASSID, _DATA, _DATA_END, _DATA_META = 72, 76, 80, 140
_TSTAMP, _WIRE_LEN, _GSO_SEGS, _GSO_SIZE, _HWTSTAMP = 152, 160, 164, 176, 184
#: Bytes of ``__sk_buff`` ctx_in may set (``convert___skb_to_skb``), as ``(start, end)``.
_ALLOWED = (
    (_MARK, _MARK + 4),
    (_PRIORITY, _IFINDEX + 4),
    (_CB, _CB_END),
    (_TSTAMP, _GSO_SEGS + 4),
    (_GSO_SIZE, _GSO_SIZE + 4),
    (_HWTSTAMP, _HWTSTAMP + 8),
)
_FIELD_AT = {
    0: "len", 4: "pkt_type", 12: "queue_mapping", 16: "protocol", 20: "vlan_present", 24: "vlan_tci",
    28: "vlan_proto", 44: "tc_index", 68: "hash", 72: "tc_classid", 76: "data", 80: "data_end",
    84: "napi_id", 88: "family", 140: "data_meta", 144: "flow_keys", 168: "sk", 180: "tstamp_type",
}  # fmt: skip


#: ``(address space, __sk_buff address)`` -> the packet of the tc test run in progress (skb helpers).
_ACTIVE: dict[tuple[int, int], PacketBuffer] = {}


def active_skb(space: AddressSpace, ctx: int) -> PacketBuffer | None:
    """The packet of the tc test run whose ``__sk_buff`` is at ``ctx`` in ``space`` (None: not one)."""
    return _ACTIVE.get((id(space), ctx))


def publish(space: AddressSpace, ctx: int, buf: PacketBuffer) -> None:
    """Write ``len``, ``data``, ``data_end`` and ``data_meta`` of ``buf`` into the ``__sk_buff`` at ``ctx``."""
    space.write_u32(ctx + _LEN, buf.end - buf.data)
    space.write(ctx + _DATA, struct.pack("<II", buf.data_addr & 0xFFFFFFFF, buf.end_addr & 0xFFFFFFFF))
    space.write_u32(ctx + _DATA_META, buf.meta_addr & 0xFFFFFFFF)


#: ``SKB_MAX_ALLOC``: the longest packet ``bpf_skb_change_tail`` makes in a test run (measured).
SKB_MAX_ALLOC = 4 * PAGE_SIZE - SHINFO_SIZE


def skb_change_tail(domain: Domain, ctx: int, buf: PacketBuffer, new_len: int, flags: int) -> int:
    """``bpf_skb_change_tail``: trim or grow (zero-filled) the packet to ``new_len`` bytes;
    -EINVAL for flags or a length below ``ETH_HLEN`` or above ``SKB_MAX_ALLOC``."""
    new_len &= 0xFFFFFFFF
    if flags or new_len < ETH_HLEN or new_len > SKB_MAX_ALLOC:
        return -errno.EINVAL
    old_end = buf.end
    end = buf.data + new_len

    def resize(frame: bytearray) -> None:
        if end > old_end:
            tail = end + SHINFO_SIZE - len(frame)
            if tail > 0:
                frame.extend(bytes(tail))
            frame[old_end:end] = bytes(end - old_end)

    buf.remap(domain, buf.meta, buf.data, end, resize)
    publish(buf.space, ctx, buf)
    return 0


def skb_pull_data(buf: PacketBuffer, length: int) -> int:
    """``bpf_skb_pull_data``: the linear test-run skb is already pulled; -ENOMEM past ``len``."""
    length &= 0xFFFFFFFF
    return -errno.ENOMEM if length > buf.end - buf.data else 0


def _check_ctx(ctx: bytearray) -> None:
    """The zero ranges of ``convert___skb_to_skb`` (EINVAL)."""
    allowed = bytearray(SK_BUFF_SIZE)
    for start, end in _ALLOWED:
        allowed[start:end] = b"\1" * (end - start)
    for off in range(SK_BUFF_SIZE):
        if ctx[off] and not allowed[off]:
            field = _FIELD_AT.get(off & ~3, f"byte {off}")
            raise bpf_error(errno.EINVAL, f"__sk_buff.{field} must be 0 in ctx_in (test_run fills it)")


def _eth_type_trans(frame: bytes) -> tuple[int, int]:
    """``(protocol as the __sk_buff u32 holds it, pkt_type)`` of an Ethernet frame on lo."""
    dst = frame[:6]
    if dst[0] & 1:
        pkt_type = 2  # PACKET_MULTICAST: lo's broadcast address is all zero
    elif dst != bytes(6):
        pkt_type = 3  # PACKET_OTHERHOST
    else:
        pkt_type = 0  # PACKET_HOST
    h_proto = int.from_bytes(frame[12:14], "big")
    if h_proto >= 0x600:
        proto = h_proto
    elif frame[14:16] == b"\xff\xff":
        proto = 0x0001  # ETH_P_802_3
    else:
        proto = 0x0004  # ETH_P_802_2
    return int.from_bytes(proto.to_bytes(2, "big"), "little"), pkt_type


def csum_partial(data: bytes, offset: int = 0) -> int:
    """The ones' complement sum of ``data`` placed at ``offset`` (its parity decides which
    byte of a 16-bit word each byte is), modulo 0xffff."""
    if offset % 2:
        data = b"\0" + data
    if len(data) % 2:
        data += b"\0"
    return int(sum(struct.unpack(f"<{len(data) // 2}H", data))) % 0xFFFF


def store_recompute_csum(buf: PacketBuffer, off: int, old: bytes, new: bytes) -> None:
    """``__skb_postpull_rcsum`` + ``__skb_postpush_rcsum`` around a store at ``off``."""
    if buf.csum is not None:
        buf.csum = (buf.csum - csum_partial(old, off) + csum_partial(new, off)) % 0xFFFF


_SK = 168
_BPF_SOCK_SIZE = 80
_AF_INET, _AF_INET6, _TCP_CLOSE = 2, 10, 7


def _dummy_sock(frame: bytes) -> bytes:
    """``struct bpf_sock`` of the socket a test run's skb belongs to (measured): the family and
    addresses of an IPv4 / IPv6 frame, state TCP_CLOSE, ``rx_queue_mapping`` -1, the rest 0."""
    out = bytearray(_BPF_SOCK_SIZE)
    h_proto = int.from_bytes(frame[12:14], "big")
    net = frame[ETH_HLEN:]
    if h_proto == 0x0800:
        struct.pack_into("<I", out, 4, _AF_INET)
        out[24:28], out[52:56] = net[12:16], net[16:20]  # src_ip4, dst_ip4
    elif h_proto == 0x86DD:
        struct.pack_into("<I", out, 4, _AF_INET6)
        out[28:44], out[56:72] = net[8:24], net[24:40]  # src_ip6, dst_ip6
    struct.pack_into("<Ii", out, 72, _TCP_CLOSE, -1)
    return bytes(out)


def test_run_skb(proc: Process, prog: BpfProg, attr: TestRunAttr) -> int:
    """``bpf_prog_test_run_skb`` for SCHED_CLS / SCHED_ACT and SOCKET_FILTER (module docstring)."""
    l2 = prog.prog_type != ProgType.BPF_PROG_TYPE_SOCKET_FILTER
    mac_len = 0 if l2 else ETH_HLEN  # a socket filter's skb starts at the network header
    flags = int(attr.flags or 0)
    if flags & ~BPF_F_TEST_SKB_CHECKSUM_COMPLETE or attr.cpu or attr.batch_size:
        raise bpf_error(errno.EINVAL, "an skb test_run takes no cpu, batch_size or flags but CHECKSUM_COMPLETE")
    size = data_size_in(attr)
    if size < ETH_HLEN or size > SKB_MAX_DATA:
        raise bpf_error(errno.EINVAL, f"data_size_in={size}: an skb test_run needs {ETH_HLEN}..{SKB_MAX_DATA} bytes")
    raw = data_in(attr, size)
    ctx = ctx_init(attr, SK_BUFF_SIZE, "__sk_buff")
    given = ctx if ctx is not None else bytearray(SK_BUFF_SIZE)
    ifindex = struct.unpack_from("<I", given, _IFINDEX)[0]
    if ifindex > _LOOPBACK_IFINDEX:
        raise bpf_error(errno.ENODEV, f"__sk_buff.ifindex={ifindex}: no such device (only lo, 1)")
    protocol, pkt_type = _eth_type_trans(raw)
    need = _NET_HEADER.get(protocol, 0)
    if size - ETH_HLEN < need:
        raise bpf_error(errno.EINVAL, f"an IPv4/IPv6 frame needs its {need}-byte network header in data_in")
    skb_len = size - mac_len
    wire_len = 0  # qdisc_skb_cb.pkt_len: only set when a context is given
    if ctx is not None:
        _check_ctx(ctx)
        wire_len = struct.unpack_from("<I", ctx, _WIRE_LEN)[0] or skb_len
        if wire_len < skb_len or wire_len > _GSO_LEGACY_MAX_SIZE:
            raise bpf_error(
                errno.EINVAL, f"__sk_buff.wire_len={wire_len} must be 0 or {skb_len}..{_GSO_LEGACY_MAX_SIZE}"
            )
        segs = struct.unpack_from("<I", ctx, _GSO_SEGS)[0]
        if segs > _GSO_MAX_SEGS:
            raise bpf_error(errno.EINVAL, f"__sk_buff.gso_segs={segs} is above {_GSO_MAX_SEGS}")
    space = proc.kernel.kmem.space
    frame = bytearray(SKB_HEADROOM + size + SHINFO_SIZE)
    frame[SKB_HEADROOM : SKB_HEADROOM + size] = raw
    start = SKB_HEADROOM + mac_len
    buf = PacketBuffer(space, frame, start, start, SKB_HEADROOM + size, f"skb data:{prog.name}")
    region = space.map(SK_BUFF_SIZE, name=f"__sk_buff:{prog.name}", perm=Perm.RW, kind="kernel", data=given)
    view = region.buf
    mark = struct.unpack_from("<I", given, _MARK)[0]
    struct.pack_into("<IIIII", view, _LEN, skb_len, pkt_type, mark, 0, protocol)
    struct.pack_into("<I", view, _IFINDEX, _LOOPBACK_IFINDEX)
    struct.pack_into("<I", view, _WIRE_LEN, wire_len)
    if flags & BPF_F_TEST_SKB_CHECKSUM_COMPLETE:
        buf.csum = csum_partial(raw[ETH_HLEN:], ETH_HLEN)
    sock = space.map(_BPF_SOCK_SIZE, name=f"skb sock:{prog.name}", perm=Perm.R, kind="kernel", data=_dummy_sock(raw))
    try:
        buf.map()
        publish(space, region.base, buf)
        _ACTIVE[(id(space), region.base)] = buf
        struct.pack_into("<Q", view, _SK, sock.base)
        retval, duration = run_repeated(
            proc, prog, region, buf, attr.repeat or 0, legacy_packet=True, mac_len=mac_len, objects=(sock.base,)
        )
        after = bytes(view)
    finally:
        _ACTIVE.pop((id(space), region.base), None)
        buf.unmap()
        space.unmap(region)
        space.unmap(sock)
    packet = bytes(buf.frame[buf.data : buf.end])
    if not l2:  # the link-layer header is pushed back zeroed
        packet = bytes(mac_len) + packet
    if buf.csum is not None and csum_partial(packet[ETH_HLEN:], ETH_HLEN) != buf.csum:
        raise bpf_error(errno.EBADMSG, "the program changed the packet without updating its checksum")
    if ctx is not None:  # convert_skb_to___skb
        for start, end in ((_MARK, _MARK + 4), (_PRIORITY, _PRIORITY + 4), (_CB, _CB_END), (_TSTAMP, _TSTAMP + 8)):
            ctx[start:end] = after[start:end]
        struct.pack_into("<I", ctx, _IFINDEX, _LOOPBACK_IFINDEX)
        struct.pack_into("<I", ctx, _WIRE_LEN, wire_len)
    test_finish(attr, packet, retval, duration)
    ctx_finish(attr, ctx)
    return 0
