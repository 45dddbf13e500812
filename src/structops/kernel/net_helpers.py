"""Networking and task helpers of tc / xdp / tracepoint programs (issue 12 item 3).

Prototypes for the verifier and what the embedded kernel does when a program calls them,
each checked against Linux 6.18 on this machine:

* ``bpf_redirect`` returns the program type's redirect verdict (``TC_ACT_REDIRECT`` /
  ``XDP_REDIRECT``; bad flags: ``TC_ACT_SHOT`` / ``XDP_ABORTED``); there is no device but
  loopback to send to.
* XDP: ``bpf_xdp_adjust_head``/``_meta``/``_tail`` move the packet of the test run in
  progress (:mod:`structops.kernel.testrun_xdp`); ``bpf_xdp_load_bytes``/``_store_bytes``
  and ``bpf_xdp_get_buff_len`` reach its linear part and fragments.
* tc and socket filters: ``bpf_skb_load_bytes``/``_store_bytes`` copy from / into the
  packet of the test run in progress (outside it: -EFAULT, the destination of a load
  zeroed), ``bpf_skb_load_bytes_relative`` from its link-layer or network header,
  ``bpf_skb_change_tail`` trims or grows it (14 to ``SKB_MAX_ALLOC`` = 16064 bytes),
  ``bpf_skb_pull_data`` has nothing to pull in the linear test-run skb (-ENOMEM past
  ``len``); checksum helpers: :mod:`structops.kernel.csum_helpers`.
* ``bpf_sk_lookup_tcp``/``_udp`` and ``bpf_skc_lookup_tcp`` search the socket table
  (:mod:`structops.kernel.socktable`) of the current network namespace for a ``struct
  bpf_sock_tuple`` of 12 (IPv4) or 36 (IPv6) bytes: another size, non-zero flags or a netns
  id >= 0 (no other namespace exists) find nothing (NULL); a found established TCP socket
  comes with a reference that ``bpf_sk_release`` drops (listeners and UDP sockets are
  ``SOCK_RCU_FREE``: no reference).  ``bpf_skc_lookup_tcp`` returns a ``sock_common``
  for the verifier: its ``type``..``priority`` fields are refused, as on Linux.
* ``bpf_get_current_task`` is NULL (programs run in the kernel's own context, see
  ``bpf_get_current_pid_tgid``).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING

from structops.kernel.csum_helpers import csum_helpers
from structops.kernel.socktable import AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP, table_of_space
from structops.kernel.testrun_packet import ETH_HLEN
from structops.kernel.testrun_skb import MAC_HEADER, active_skb, skb_change_tail, skb_pull_data, store_recompute_csum
from structops.kernel.testrun_xdp import XdpBuff, active_xdp, adjust_head, adjust_meta, adjust_tail
from structops.uapi import ProgType
from structops.verifier.ops import (
    ARG_ANY,
    ARG_CTX,
    ARG_RDMEM_OR_NULL,
    ARG_RDONLY,
    ARG_SIZE,
    ARG_SOCK_RELEASE,
    ARG_WRMEM,
    RET_INT,
    RET_SOCK_COMMON_OR_NULL,
    RET_SOCK_OR_NULL,
)
from structops.vm.helpers import HelperSpec, RetType

if TYPE_CHECKING:
    from structops.vm.context import RunContext
    from structops.vm.memory import Domain

__all__ = ["NET_PROTOS", "net_helpers"]

_U64 = (1 << 64) - 1
_BPF_F_INGRESS = 1
_TC_ACT_SHOT, _TC_ACT_REDIRECT = 2, 7
_XDP_ABORTED, _XDP_REDIRECT = 0, 4

#: ``bpf_func_proto`` of each helper (argument kinds, return kind).
NET_PROTOS: dict[int, tuple[tuple[str, ...], str]] = {
    23: ((ARG_ANY, ARG_ANY), RET_INT),  # redirect(ifindex, flags)
    35: ((), RET_INT),  # get_current_task
    44: ((ARG_CTX, ARG_ANY), RET_INT),  # xdp_adjust_head(xdp_md, delta)
    54: ((ARG_CTX, ARG_ANY), RET_INT),  # xdp_adjust_meta(xdp_md, delta)
    65: ((ARG_CTX, ARG_ANY), RET_INT),  # xdp_adjust_tail(xdp_md, delta)
    84: ((ARG_CTX, ARG_RDONLY, ARG_SIZE, ARG_ANY, ARG_ANY), RET_SOCK_OR_NULL),  # sk_lookup_tcp
    85: ((ARG_CTX, ARG_RDONLY, ARG_SIZE, ARG_ANY, ARG_ANY), RET_SOCK_OR_NULL),  # sk_lookup_udp
    86: ((ARG_SOCK_RELEASE,), RET_INT),  # sk_release
    99: ((ARG_CTX, ARG_RDONLY, ARG_SIZE, ARG_ANY, ARG_ANY), RET_SOCK_COMMON_OR_NULL),  # skc_lookup_tcp
    9: ((ARG_CTX, ARG_ANY, ARG_RDONLY, ARG_SIZE, ARG_ANY), RET_INT),  # skb_store_bytes(skb, off, from, len, flags)
    26: ((ARG_CTX, ARG_ANY, ARG_WRMEM, ARG_SIZE), RET_INT),  # skb_load_bytes(skb, off, to, len)
    68: ((ARG_CTX, ARG_ANY, ARG_WRMEM, ARG_SIZE, ARG_ANY), RET_INT),  # skb_load_bytes_relative(.., start_header)
    10: ((ARG_CTX, ARG_ANY, ARG_ANY, ARG_ANY, ARG_ANY), RET_INT),  # l3_csum_replace(skb, off, from, to, flags)
    11: ((ARG_CTX, ARG_ANY, ARG_ANY, ARG_ANY, ARG_ANY), RET_INT),  # l4_csum_replace(skb, off, from, to, flags)
    28: (
        (ARG_RDMEM_OR_NULL, ARG_SIZE, ARG_RDMEM_OR_NULL, ARG_SIZE, ARG_ANY),
        RET_INT,
    ),  # csum_diff(from, n, to, n, seed)
    38: ((ARG_CTX, ARG_ANY, ARG_ANY), RET_INT),  # skb_change_tail(skb, len, flags)
    39: ((ARG_CTX, ARG_ANY), RET_INT),  # skb_pull_data(skb, len)
    188: ((ARG_CTX,), RET_INT),  # xdp_get_buff_len(xdp_md)
    189: ((ARG_CTX, ARG_ANY, ARG_WRMEM, ARG_SIZE), RET_INT),  # xdp_load_bytes(xdp_md, off, buf, len)
    190: ((ARG_CTX, ARG_ANY, ARG_RDONLY, ARG_SIZE), RET_INT),  # xdp_store_bytes(xdp_md, off, buf, len)
}


def _redirect(run: object, ifindex: int, flags: int, *_: int) -> int:
    xdp = getattr(getattr(run, "program", None), "prog_type", None) == ProgType.BPF_PROG_TYPE_XDP
    if xdp:
        return _XDP_ABORTED if flags else _XDP_REDIRECT
    return _TC_ACT_SHOT if flags & ~_BPF_F_INGRESS & _U64 else _TC_ACT_REDIRECT


def _null(run: object, *_: int) -> int:
    return 0


#: The ifindex a test run's packet arrives on (loopback): sockets bound to another device are not found.
_LOOPBACK_IFINDEX = 1


def _sk_lookup(protocol: int) -> Callable[..., int]:
    """``bpf_sk_lookup_tcp`` / ``_udp`` / ``bpf_skc_lookup_tcp`` (module docstring)."""

    def helper(run: RunContext, ctx: int, tup: int, size: int, netns: int, flags: int) -> int:
        size &= 0xFFFFFFFF
        if size == 12:
            family, alen = AF_INET, 4
        elif size == 36:
            family, alen = AF_INET6, 16
        else:
            return 0
        low = netns & 0xFFFFFFFF
        current = low >= 0x8000_0000  # (s32)netns < 0: BPF_F_CURRENT_NETNS and friends
        if flags or not current:  # an id >= 0 names another namespace: there is none
            return 0
        table = table_of_space(run.vm.space)
        raw = run.space.read(tup, size)  # the program's memory only
        if table is None:
            return 0
        sport = int.from_bytes(raw[2 * alen : 2 * alen + 2], "big")
        dport = int.from_bytes(raw[2 * alen + 2 : 2 * alen + 4], "big")
        sk = table.lookup(protocol, family, raw[:alen], sport, raw[alen : 2 * alen], dport, _LOOPBACK_IFINDEX)
        if sk is None or not sk.addr:
            return 0
        sk.get()
        return sk.addr

    return helper


def _sk_release(run: RunContext, addr: int, *_: int) -> int:
    """``bpf_sk_release``: drop the reference a lookup took (none for SOCK_RCU_FREE sockets)."""
    table = table_of_space(run.vm.space)
    sk = table.at(addr) if table is not None else None
    if sk is not None and not sk.rcu_free:
        sk.put()
    return 0


def _xdp_adjuster(fn: Callable[[Domain, XdpBuff, int], int]) -> Callable[..., int]:
    """A ``bpf_xdp_adjust_*`` helper: ``fn`` on the XDP test run whose ``xdp_md`` is ``ctx``."""

    def helper(run: RunContext, ctx: int, offset: int, *_: int) -> int:
        xdp = active_xdp(run.vm.space, ctx)
        if xdp is None:  # not a packet context the embedded kernel made: nothing to move
            return -errno.EINVAL & _U64
        return fn(run.space, xdp, offset) & _U64

    return helper


_BPF_F_RECOMPUTE_CSUM, _BPF_F_INVALIDATE_HASH = 1, 2
_EFAULT = -errno.EFAULT & _U64


def _skb_load_bytes(run: RunContext, ctx: int, off: int, to: int, size: int, *_: int) -> int:
    """``bpf_skb_load_bytes``: copy packet bytes out; out of the packet: zeroed and -EFAULT."""
    off &= 0xFFFFFFFF
    size &= 0xFFFFFFFF
    buf = active_skb(run.vm.space, ctx)
    if buf is None or off > 0xFFFF or off + size > buf.end - buf.data:
        run.space.write(to, bytes(size))
        return _EFAULT
    run.space.write(to, buf.bytes_from(buf.data)[off : off + size])
    return 0


_BPF_HDR_START_NET = 1


def _skb_load_bytes_relative(run: RunContext, ctx: int, off: int, to: int, size: int, start: int) -> int:
    """``bpf_skb_load_bytes_relative``: like ``bpf_skb_load_bytes`` from the link-layer
    (``BPF_HDR_START_MAC``, 0) or network header (``BPF_HDR_START_NET``, 1) instead of
    ``data``; another start, an offset above 0xffff or bytes past the end: zeroed, -EFAULT."""
    off &= 0xFFFFFFFF
    size &= 0xFFFFFFFF
    start &= 0xFFFFFFFF
    buf = active_skb(run.vm.space, ctx)
    at = MAC_HEADER + off + (ETH_HLEN if start == _BPF_HDR_START_NET else 0)
    if buf is None or off > 0xFFFF or start > _BPF_HDR_START_NET or at + size > buf.end:
        run.space.write(to, bytes(size))
        return _EFAULT
    run.space.write(to, buf.bytes_from(at)[:size])
    return 0


def _skb_store_bytes(run: RunContext, ctx: int, off: int, src: int, size: int, flags: int) -> int:
    """``bpf_skb_store_bytes``: copy into the packet (-EINVAL for unknown flags, -EFAULT
    outside the packet); ``BPF_F_RECOMPUTE_CSUM`` moves a CHECKSUM_COMPLETE ``skb->csum``."""
    off &= 0xFFFFFFFF
    size &= 0xFFFFFFFF
    if flags & ~(_BPF_F_RECOMPUTE_CSUM | _BPF_F_INVALIDATE_HASH):
        return -errno.EINVAL & _U64
    buf = active_skb(run.vm.space, ctx)
    if buf is None or off > 0xFFFF or off + size > buf.end - buf.data:
        return _EFAULT
    data = run.space.read(src, size)
    if buf.region is not None:
        start = buf.data - buf.meta + off
        if flags & _BPF_F_RECOMPUTE_CSUM:
            store_recompute_csum(buf, off, bytes(buf.region.buf[start : start + size]), data)
        buf.region.buf[start : start + size] = data
    return 0


def _skb_change_tail(run: RunContext, ctx: int, new_len: int, flags: int, *_: int) -> int:
    buf = active_skb(run.vm.space, ctx)
    if buf is None:
        return -errno.EINVAL & _U64
    return skb_change_tail(run.space, ctx, buf, new_len, flags) & _U64


def _skb_pull_data(run: RunContext, ctx: int, length: int, *_: int) -> int:
    buf = active_skb(run.vm.space, ctx)
    return (-errno.ENOMEM if buf is None else skb_pull_data(buf, length)) & _U64


def _xdp_get_buff_len(run: RunContext, ctx: int, *_: int) -> int:
    """``bpf_xdp_get_buff_len``: linear part (without metadata) plus fragments."""
    xdp = active_xdp(run.vm.space, ctx)
    return 0 if xdp is None else xdp.buf.end - xdp.buf.data + xdp.frags_size


def _xdp_bytes(store: bool) -> Callable[..., int]:
    """``bpf_xdp_load_bytes`` / ``_store_bytes``: offsets from ``data`` across the linear part
    and the fragments; offset or length above 0xffff: -EFAULT, past the end: -EINVAL (the
    buffer is left as it was)."""

    def helper(run: RunContext, ctx: int, off: int, ptr: int, size: int, *_: int) -> int:
        off &= 0xFFFFFFFF
        size &= 0xFFFFFFFF
        xdp = active_xdp(run.vm.space, ctx)
        if xdp is None or off > 0xFFFF or size > 0xFFFF:
            return _EFAULT
        b = xdp.buf
        linear = b.end - b.data
        if off + size > linear + xdp.frags_size:
            return -errno.EINVAL & _U64
        if store:
            data = run.space.read(ptr, size)
            head = max(0, min(size, linear - off))
            if head and b.region is not None:
                start = b.data - b.meta + off
                b.region.buf[start : start + head] = data[:head]
            pos = max(off, linear) - linear  # into the fragments
            rest = data[head:]
            for frag in xdp.frags:
                if not rest:
                    break
                if pos >= len(frag):
                    pos -= len(frag)
                    continue
                n = min(len(rest), len(frag) - pos)
                frag[pos : pos + n] = rest[:n]
                rest, pos = rest[n:], 0
            return 0
        whole = b.bytes_from(b.data) + b"".join(bytes(f) for f in xdp.frags)
        run.space.write(ptr, whole[off : off + size])
        return 0

    return helper


def net_helpers() -> list[HelperSpec]:
    """The VM implementations of :data:`NET_PROTOS`."""
    return [
        HelperSpec(23, "redirect", _redirect),
        HelperSpec(35, "get_current_task", _null),
        HelperSpec(44, "xdp_adjust_head", _xdp_adjuster(adjust_head)),
        HelperSpec(54, "xdp_adjust_meta", _xdp_adjuster(adjust_meta)),
        HelperSpec(65, "xdp_adjust_tail", _xdp_adjuster(adjust_tail)),
        HelperSpec(9, "skb_store_bytes", _skb_store_bytes),
        *csum_helpers(),
        HelperSpec(26, "skb_load_bytes", _skb_load_bytes),
        HelperSpec(68, "skb_load_bytes_relative", _skb_load_bytes_relative),
        HelperSpec(38, "skb_change_tail", _skb_change_tail),
        HelperSpec(39, "skb_pull_data", _skb_pull_data),
        HelperSpec(188, "xdp_get_buff_len", _xdp_get_buff_len),
        HelperSpec(189, "xdp_load_bytes", _xdp_bytes(store=False)),
        HelperSpec(190, "xdp_store_bytes", _xdp_bytes(store=True)),
        HelperSpec(84, "sk_lookup_tcp", _sk_lookup(IPPROTO_TCP), ret=RetType.PTR_TO_BTF_ID_OR_NULL),
        HelperSpec(85, "sk_lookup_udp", _sk_lookup(IPPROTO_UDP), ret=RetType.PTR_TO_BTF_ID_OR_NULL),
        HelperSpec(86, "sk_release", _sk_release),
        HelperSpec(99, "skc_lookup_tcp", _sk_lookup(IPPROTO_TCP), ret=RetType.PTR_TO_BTF_ID_OR_NULL),
    ]
