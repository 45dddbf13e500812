"""Context access of a non-struct_ops program type (``is_valid_access`` through ``ProgTypeOps``).

A struct_ops program's context is its argument array (``btf_ctx_access``, in
:mod:`structops.verifier.memory`); every other program type describes its context (for a
socket filter, ``struct __sk_buff``) with :class:`~structops.verifier.ops.CtxField`
ranges.  A load inside a readable range gives an unknown scalar of the load size (the packet
pointers and ``__sk_buff.sk``, a ``sock_common_or_null``, are typed); anything else is the
kernel's "invalid bpf_context access off=N size=N" (EACCES).
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from structops.uapi import ProgType
from structops.verifier.env import Reject
from structops.verifier.ops import ProgTypeOps
from structops.verifier.sockets import SOCK_COMMON
from structops.verifier.state import Reg, RegType, unknown

__all__ = ["prog_ctx_access"]

_PKT, _END, _META = RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_END, RegType.PTR_TO_PACKET_META
#: Context fields that load packet pointers (``__sk_buff``/``xdp_md`` ``data``, ``data_end``,
#: ``data_meta``), by program type and offset; a socket filter has none (Linux 6.18, corpus).
_PACKET_FIELDS: dict[int, dict[int, RegType]] = {
    ProgType.BPF_PROG_TYPE_SCHED_CLS: {76: _PKT, 80: _END, 140: _META},
    ProgType.BPF_PROG_TYPE_SCHED_ACT: {76: _PKT, 80: _END, 140: _META},
    ProgType.BPF_PROG_TYPE_XDP: {0: _PKT, 4: _END, 8: _META},
}


#: ``__sk_buff.sk``: a full 8-byte read gives PTR_TO_SOCK_COMMON_OR_NULL (no reference).
_SKB_SK = 168
_SK_TYPES = frozenset(
    {ProgType.BPF_PROG_TYPE_SOCKET_FILTER, ProgType.BPF_PROG_TYPE_SCHED_CLS, ProgType.BPF_PROG_TYPE_SCHED_ACT}
)


def prog_ctx_access(
    ops: ProgTypeOps, regno: int, reg: Reg, off: int, size: int, write: bool, new_id: Callable[[], int] | None = None
) -> Reg | None:
    """``check_ctx_access`` for ``[R<regno> + off]``: the loaded value, None for a store.

    ``new_id`` numbers a loaded maybe-NULL pointer (``__sk_buff.sk``) for its NULL check."""
    if reg.off or reg.var_off:
        raise Reject(errno.EACCES, f"dereference of modified ctx ptr R{regno} off={reg.off} disallowed")
    if off == _SKB_SK and ops.prog_type in _SK_TYPES and size == 8 and not write:
        return Reg(RegType.PTR_TO_SOCKET, 0, 0, obj=SOCK_COMMON, maybe_null=True, id=new_id() if new_id else 0)
    pkt = _PACKET_FIELDS.get(ops.prog_type, {}).get(off)
    if pkt is not None:  # a full-size read only (``bpf_skb_is_valid_access`` / ``xdp_is_valid_access``)
        if write or size != 4:
            raise Reject(errno.EACCES, f"invalid bpf_context access off={off} size={size}")
        return Reg(pkt, 0, 0)
    if ops.prog_type == ProgType.BPF_PROG_TYPE_TRACEPOINT and off < 0 and not write and not off % size:
        # tp_prog_is_valid_access compares the (negative) int offset with sizeof(void *) as an
        # unsigned value: Linux 6.18 accepts an aligned read below the record (corpus case
        # hostile_tp_ctx_negative_off); kept for fidelity.
        return unknown(0, (1 << (8 * size)) - 1)
    if not ops.ctx_check(off, size, write):
        raise Reject(errno.EACCES, f"invalid bpf_context access off={off} size={size}")
    if write:
        return None
    return unknown(0, (1 << (8 * size)) - 1)
