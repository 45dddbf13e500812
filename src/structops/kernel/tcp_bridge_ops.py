"""The TCP bridge's BPF op adapters and the kernel scratch space of their struct arguments.

:func:`bpf_op` turns op ``op`` of a BPF congestion control into the callable the
simulator calls (``fn(sk, *args)``): the arguments truncated to their C widths, the
socket passed as its ``struct sock *``, ``ack_sample`` / ``rate_sample`` written into
kernel allocations (:class:`Scratch`) and passed by address, the trampoline entered
through :meth:`EmulatedKernel.run_trampoline` (0 for a NULL op; its common case -- a
runner, statistics off -- inlined: the runner under ``rcu.call``), the return value
truncated.  Each adapter is one generated function (no per-call name lookup, argument
packing or intermediate calls): an op call is on the simulator's hot path (issue 17).
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from structops import btf as btflib
from structops.kernel.btfview import field_path

if TYPE_CHECKING:
    from structops.kernel.emulated import EmulatedKernel
    from structops.kernel.struct_ops.kdata import KData
    from structops.sim.sock import AckSample, RateSample

__all__ = ["Scratch", "bpf_op"]

U32 = 0xFFFF_FFFF
_FMT = {1: "B", 2: "H", 4: "I", 8: "Q"}


@dataclass(frozen=True)
class _Loc:
    offset: int
    size: int
    bit_offset: int
    bit_size: int


def _locate(root: btflib.Struct, path: str) -> _Loc:
    """Where the (possibly dotted) field ``path`` lives in ``root`` (btfview's one walk)."""
    loc = field_path(root, path)
    return _Loc(loc.offset, loc.size, loc.bit_offset, loc.bit_size)


def _int_struct(entries: list[tuple[str, _Loc]]) -> struct.Struct:
    """One ``struct.Struct`` covering plain integer fields sorted by offset (pads between)."""
    fmt = ["<"]
    pos = entries[0][1].offset
    for _, loc in entries:
        if loc.offset > pos:
            fmt.append(f"{loc.offset - pos}x")
        fmt.append(_FMT[loc.size])
        pos = loc.offset + loc.size
    return struct.Struct("".join(fmt))


class Scratch:
    """Kernel allocations for the struct arguments (``ack_sample``, ``rate_sample``)."""

    def __init__(self, kernel: EmulatedKernel) -> None:
        spec = kernel.vmlinux.spec
        rs = spec.find("rate_sample", btflib.Struct)
        ack = spec.find("ack_sample", btflib.Struct)
        self.rs_alloc = kernel.kmem.alloc(rs.size, "rate_sample")
        self.ack_alloc = kernel.kmem.alloc(ack.size, "ack_sample")
        rs_members = [(m.name, m.offset, btflib.sizeof(m.type)) for m in rs.members]
        self.rs_fmt = _int_struct([(n, _Loc(o, s, 0, 0)) for n, o, s in rs_members])
        self.rs_names = operator.attrgetter(*(n for n, _, _ in rs_members))
        self.rs_masks = tuple((1 << (8 * s)) - 1 for _, _, s in rs_members)
        self.rs_off = rs_members[0][1]
        ack_members = [(m.name, m.offset, btflib.sizeof(m.type)) for m in ack.members]
        self.ack_fmt = _int_struct([(n, _Loc(o, s, 0, 0)) for n, o, s in ack_members])
        self.ack_names = operator.attrgetter(*(n for n, _, _ in ack_members))
        self.ack_masks = tuple((1 << (8 * s)) - 1 for _, _, s in ack_members)

    def rate_sample(self, rs: RateSample) -> int:
        """Write ``rs`` as ``struct rate_sample``; its address."""
        a = self.rs_alloc
        self.rs_fmt.pack_into(a.buf, self.rs_off, *map(operator.and_, map(int, self.rs_names(rs)), self.rs_masks))
        return a.addr

    def ack_sample(self, sample: AckSample) -> int:
        """Write ``sample`` as ``struct ack_sample``; its address."""
        a = self.ack_alloc
        self.ack_fmt.pack_into(a.buf, 0, *map(operator.and_, self.ack_names(sample), self.ack_masks))
        return a.addr

    def free(self, kernel: EmulatedKernel) -> None:
        """Free both allocations."""
        kernel.kmem.free(self.rs_alloc)
        kernel.kmem.free(self.ack_alloc)


#: op -> (simulator parameters after ``sk``, the u64 arguments after ``sk.addr``, mask of r0)
_SIGNATURES: dict[str, tuple[str, str, str]] = {
    "ssthresh": ("", "", "U32"),
    "undo_cwnd": ("", "", "U32"),
    "min_tso_segs": ("", "", "U32"),
    "sndbuf_expand": ("", "", "U32"),
    "cong_avoid": ("ack, acked", "ack & U32, acked & U32", ""),
    "set_state": ("state", "state & 0xFF", ""),
    "cwnd_event": ("value", "value & U32", ""),
    "in_ack_event": ("value", "value & U32", ""),
    "pkts_acked": ("sample", "ACK(sample)", ""),
    "cong_control": ("ack, flag, rs", "ack & U32, flag & U32, RS(rs)", ""),
    "init": ("", "", ""),
    "release": ("", "", ""),
}


def bpf_op(kdata: KData, op: str, scratch: Scratch) -> Callable[..., Any]:
    """The simulator callable for BPF op ``op`` of the struct_ops map of ``kdata``."""
    sig = _SIGNATURES.get(op)
    if sig is None:
        raise ValueError(f"unknown tcp_congestion_ops member {op}")
    params, args, mask = sig
    st_map = kdata.map
    kernel: Any = st_map.kernel
    ns: dict[str, Any] = {
        "MAP": st_map,
        "IDX": kdata.desc.type.members.index(kdata.member(op)),
        "RUN": kernel.run_trampoline,
        "RCALL": kernel.rcu.call,
        "STATS": kernel.stats,  # an EmulatedKernel's StatsSwitch
        "ACK": scratch.ack_sample,
        "RS": scratch.rate_sample,
        "U32": U32,
    }
    words = f"(sk.addr, {args})" if args else "(sk.addr,)"
    masked = f" & {mask}" if mask else ""
    # run_trampoline inlined for the common case (a runner, stats off: StatsSwitch.enabled
    # spelled out): the program's runner inside an RCU read-side section
    src = (
        f"def {op}(sk{', ' + params if params else ''}):\n"
        "    tr = MAP.trampolines.get(IDX)\n"
        "    if tr is None:\n"
        "        return 0\n"
        "    runner = tr.prog.runner\n"
        "    if runner is None or STATS.sysctl or STATS.fds > 0:\n"
        f"        return RUN(tr, {words}){masked}\n"
        f"    return RCALL(runner, {words}){masked}\n"
    )
    exec(compile(src, f"<tcp bridge op {op}>", "exec"), ns)
    fn: Callable[..., Any] = ns[op]
    return fn
