"""The program types the embedded kernel supports besides struct_ops, as verifier ops.

Linux's ``bpf_prog_types`` table: for each type its context (``is_valid_access``) and its
helper set (``get_func_proto``), here :class:`~structops.verifier.ops.ProgTypeOps` handed
to the verifier.  Supported: ``SOCKET_FILTER``, ``SCHED_CLS``, ``SCHED_ACT``, ``XDP`` and ``TRACEPOINT``
(plus ``STRUCT_OPS`` through its subsystems); a type the embedded kernel does not
implement is refused with EINVAL, as Linux 6.18 refuses a type it does not have
(``find_prog_type``; measured: prog_type 99 gives EINVAL with an empty log).

Context layouts come from the kernel BTF (``struct __sk_buff``, ``struct xdp_md``); the
accessible fields and sizes, and the helper sets, were measured on Linux 6.18 with a
CAP_BPF + CAP_PERFMON loader (one load per helper id 1..214 and per context offset; the
``__sk_buff`` table is re-checked field by field against the real kernel by
``tests/kernel/test_skb_ctx_access_real.py``).  Packet pointers
(``data``/``data_end``/``data_meta``) and ``__sk_buff.sk`` are typed by
:mod:`structops.verifier.ctx`; ``flow_keys`` (flow dissector only) is refused.
"""

from __future__ import annotations

from structops import btf as btflib
from structops.uapi import ProgType
from structops.verifier.ops import CtxField, ProgTypeOps

__all__ = ["SUPPORTED_PROG_TYPES", "prog_type_ops"]

_NARROW = frozenset({1, 2, 4})

#: Measured ``get_func_proto`` sets of Linux 6.18 (privileged loader), by program type.
_HELPERS: dict[int, frozenset[int]] = {
    ProgType.BPF_PROG_TYPE_SOCKET_FILTER: frozenset(
        {1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 25, 26, 35, 37, 42, 46, 47, 55, 68, 80, 87, 88, 89}
        | {93, 94, 105, 106, 109, 112, 113, 114, 115, 117, 118, 120, 122, 123, 125, 130, 131, 132, 133}
        | {134, 136, 137, 138, 139, 140, 141, 148, 149, 153, 154, 156, 157, 158, 160, 164, 165, 169, 170}
        | {171, 172, 175, 176, 177, 178, 180, 181, 182, 191, 194, 195, 196, 197, 198, 199, 200, 201, 202}
        | {203, 208, 209, 210, 211}
    ),
    ProgType.BPF_PROG_TYPE_SCHED_CLS: frozenset(
        set(range(1, 27)) - {4, 27}
        | {28, 29, 30, 31, 32, 33, 34, 35, 37, 38, 39, 40, 41, 42, 43, 46, 47, 48, 50, 55, 66, 68, 69, 79}
        | {80, 83, 84, 85, 86, 87, 88, 89, 93, 94, 95, 96, 97, 98, 99, 100, 105, 106, 107, 108, 109, 110}
        | {112, 113, 114, 115, 117, 118, 120, 122, 123, 124, 125, 130, 131, 132, 133, 134, 135, 136, 137}
        | {138, 139, 140, 141, 148, 149, 151, 152, 153, 154, 155, 156, 157, 158, 160, 163, 164, 165, 169}
        | {170, 171, 172, 175, 176, 177, 178, 180, 181, 182, 191, 192, 194, 195, 196, 197, 198, 199, 200}
        | {201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211}
    ),
    ProgType.BPF_PROG_TYPE_XDP: frozenset(
        {1, 2, 3, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 23, 25, 28, 35, 37, 42, 44, 51, 54, 55, 65, 69, 80}
        | {84, 85, 86, 87, 88, 89, 93, 94, 99, 100, 105, 106, 109, 110, 112, 113, 114, 115, 117, 118, 120}
        | {123, 125, 130, 131, 132, 133, 134, 136, 137, 138, 139, 140, 141, 148, 149, 153, 154, 156, 157}
        | {158, 160, 163, 164, 165, 169, 170, 171, 172, 175, 176, 177, 178, 180, 181, 182, 188, 189, 190}
        | {191, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211}
    ),
    ProgType.BPF_PROG_TYPE_TRACEPOINT: frozenset(
        {1, 2, 3, 4, 5, 6, 7, 8, 12, 14, 15, 16, 17, 22, 25, 27, 35, 37, 42, 45, 55, 67, 80, 87, 88, 89}
        | {93, 94, 105, 106, 109, 112, 113, 114, 115, 117, 118, 120, 123, 125, 130, 131, 132, 133, 134}
        | {141, 148, 149, 153, 154, 156, 157, 158, 164, 165, 169, 170, 171, 172, 173, 174, 175, 176, 177}
        | {180, 181, 182, 191, 194, 195, 197, 198, 199, 200, 201, 202, 203, 208, 209, 210, 211}
    ),
}

#: SCHED_ACT shares tc's ``tc_cls_act`` ops (helpers and context measured identical on 6.18).
_HELPERS[ProgType.BPF_PROG_TYPE_SCHED_ACT] = _HELPERS[ProgType.BPF_PROG_TYPE_SCHED_CLS]

#: The program types PROG_LOAD accepts (struct_ops is verified through its subsystem).
SUPPORTED_PROG_TYPES = frozenset({*_HELPERS, ProgType.BPF_PROG_TYPE_STRUCT_OPS})

# __sk_buff fields that are not plain u32 scalars or that a type refuses.
_SKB_NOT_MODELLED = {"data", "data_end", "data_meta", ""}
_SKB_DENY: dict[int, set[str]] = {
    ProgType.BPF_PROG_TYPE_SOCKET_FILTER: {"tc_classid", "family", "remote_ip4", "local_ip4", "remote_ip6"}
    | {"local_ip6", "remote_port", "local_port", "tstamp", "wire_len", "tstamp_type", "hwtstamp"},
    ProgType.BPF_PROG_TYPE_SCHED_CLS: {"family", "remote_ip4", "local_ip4", "remote_ip6", "local_ip6"}
    | {"remote_port", "local_port"},
}
_SKB_WRITE: dict[int, set[str]] = {
    ProgType.BPF_PROG_TYPE_SOCKET_FILTER: {"cb"},
    ProgType.BPF_PROG_TYPE_SCHED_CLS: {"mark", "tc_index", "priority", "tc_classid", "cb", "tstamp", "queue_mapping"},
}
_SKB_DENY[ProgType.BPF_PROG_TYPE_SCHED_ACT] = _SKB_DENY[ProgType.BPF_PROG_TYPE_SCHED_CLS]
_SKB_WRITE[ProgType.BPF_PROG_TYPE_SCHED_ACT] = _SKB_WRITE[ProgType.BPF_PROG_TYPE_SCHED_CLS]
_SKB_TYPES = (ProgType.BPF_PROG_TYPE_SOCKET_FILTER, ProgType.BPF_PROG_TYPE_SCHED_CLS, ProgType.BPF_PROG_TYPE_SCHED_ACT)
#: PERF_MAX_TRACE_SIZE: a tracepoint record is readable from byte 8 (past the common header).
_PERF_MAX_TRACE_SIZE = 8192


def _skb_fields(skb: btflib.Struct, ptype: int) -> tuple[CtxField, ...]:
    """``sk_filter_is_valid_access`` / ``tc_cls_act_is_valid_access`` over ``bpf_skb_is_valid_access``."""
    out = []
    for m in skb.members:
        if m.name in _SKB_NOT_MODELLED or m.name in _SKB_DENY[ptype]:
            continue
        off = m.bit_offset // 8
        size = btflib.sizeof(m.type)
        writable = m.name in _SKB_WRITE[ptype]
        if m.name == "cb":  # any size inside cb[0..4]
            sizes = frozenset({1, 2, 4, 8})
        elif size == 8:  # tstamp: u64 only
            sizes = frozenset({8})
        elif m.name in ("remote_ip6", "local_ip6", "remote_ip4", "local_ip4"):
            sizes = frozenset({4})
        else:  # u32 scalars: narrow loads, full-size stores
            out.append(CtxField(off, off + size, _NARROW, frozenset({4}) if writable else frozenset()))
            continue
        out.append(CtxField(off, off + size, sizes, sizes if writable else frozenset()))
    return tuple(out)


#: ``BPF_XDP_DEVMAP``: only such XDP programs may read ``xdp_md.egress_ifindex`` (measured).
_XDP_DEVMAP = 33


def prog_type_ops(spec: btflib.Spec, ptype: int, attach: int = 0) -> ProgTypeOps | None:
    """The verifier ops of ``ptype`` (``attach``: the expected attach type) from the kernel
    BTF ``spec``; None for struct_ops/unsupported."""
    helpers = _HELPERS.get(ptype)
    if helpers is None:
        return None
    name = ProgType(ptype).name.removeprefix("BPF_PROG_TYPE_").lower()
    if ptype in _SKB_TYPES:
        skb = spec.find("__sk_buff", btflib.Struct)
        fields = _skb_fields(skb, ptype)
        return ProgTypeOps(ptype, name, "__sk_buff", skb.size, fields, helpers)
    if ptype == ProgType.BPF_PROG_TYPE_XDP:
        md = spec.find("xdp_md", btflib.Struct)
        fields = tuple(
            CtxField(m.bit_offset // 8, m.bit_offset // 8 + 4, frozenset({4}))
            for m in md.members
            if m.name not in ("data", "data_end", "data_meta") and (m.name != "egress_ifindex" or attach == _XDP_DEVMAP)
        )
        return ProgTypeOps(ptype, name, "xdp_md", md.size, fields, helpers)
    # TRACEPOINT: read-only record, any aligned size past the 8-byte common header
    return ProgTypeOps(
        ptype, name, "tracepoint record", _PERF_MAX_TRACE_SIZE,
        (CtxField(8, _PERF_MAX_TRACE_SIZE, frozenset({1, 2, 4, 8})),), helpers,
    )  # fmt: skip
