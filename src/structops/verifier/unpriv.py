"""Rules for a loader without CAP_BPF / CAP_PERFMON (``bpf_capable``, ``allow_ptr_leaks``).

Linux 6.18 lets such a loader (a socket filter with ``kernel.unprivileged_bpf_disabled``
0) load programs, but: no bpf-to-bpf calls, callbacks or kfunc calls (EPERM, before any
other check), no loops (a back-edge in the control-flow graph is EINVAL), and no pointer
value may escape: stored into a map value, the context, packet or memory, returned, or
partially copied.  The pointer arithmetic and comparison rules are in
:mod:`structops.verifier.ptrops`; :func:`alu_sanitation` is the part of them that looks at
every path through one instruction (``sanitize_ptr_alu``'s masking window).
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING, Any

from structops.isa.opcodes import OPCODES, Kind
from structops.uapi import BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL
from structops.verifier.env import ProgEnv, Reject
from structops.verifier.state import Reg, RegType

if TYPE_CHECKING:
    from structops.verifier.core import Verifier

__all__ = [
    "NEEDS_BOTH",
    "NEEDS_BPF",
    "NEEDS_PERFMON",
    "NO_CAP_DENIED_HELPERS",
    "alu_limit_before",
    "alu_sanitation",
    "check_back_edges",
    "check_helper_allowed",
    "check_calls_allowed",
    "check_store_leak",
    "no_fast_sanitized",
    "val_sanitation",
]

#: Where a stored pointer would leak to, by the base register's type.
_LEAK_INTO = {
    RegType.PTR_TO_MAP_VALUE: "map",
    RegType.PTR_TO_CTX: "ctx",
    RegType.PTR_TO_PACKET: "packet",
    RegType.PTR_TO_PACKET_META: "packet",
    RegType.PTR_TO_MEM: "mem",
}


#: Helpers of a socket filter that need CAP_BPF, CAP_PERFMON or both (measured on Linux 6.18:
#: every id 1..214 loaded by a process with no capability, CAP_BPF only, CAP_PERFMON only and
#: both; "program of this type cannot use helper" otherwise).  CAP_BPF: the second part of
#: ``bpf_base_func_proto`` (bpf_spin_lock, timers, bpf_loop, kptr_xchg, dynptrs, ...);
#: CAP_PERFMON: the ``bpf_skc_to_*`` casts of ``bpf_sk_base_func_proto``; both: the third part
#: of ``bpf_base_func_proto`` (probe reads, printk, current task, per-cpu pointers, ...).
NEEDS_BPF = frozenset(
    {17, 37, 80, 93, 94, 118, 123, 156, 157, 164, 169, 170, 171, 172, 181, 194}
    | {197, 198, 199, 200, 201, 202, 203, 209, 210, 211}
)
NEEDS_PERFMON = frozenset({136, 137, 138, 139, 140, 178, 196})
NEEDS_BOTH = frozenset(
    {6, 16, 22, 35, 55, 109, 112, 113, 114, 115, 117, 141, 148, 149, 153, 154, 158, 165, 175, 176, 177, 180, 191}
)
#: What a loader without any capability may not call.
NO_CAP_DENIED_HELPERS = NEEDS_BPF | NEEDS_PERFMON | NEEDS_BOTH
_SOCKET_FILTER = 1


def check_helper_allowed(v: Verifier, hid: int) -> None:
    """``get_func_proto`` for a loader missing CAP_BPF or CAP_PERFMON: the helpers that need
    the missing capability do not exist for it (EINVAL, before any argument check).  With one
    of the two, only measured for socket filters (other types keep their privileged set)."""
    bpf, perfmon = v.env.bpf_capable, v.env.allow_ptr_leaks
    if bpf and perfmon:
        return
    ops = v.env.prog_ops
    if (bpf or perfmon) and (ops is None or ops.prog_type != _SOCKET_FILTER):
        return
    need_bpf = hid in NEEDS_BPF or hid in NEEDS_BOTH
    need_perfmon = hid in NEEDS_PERFMON or hid in NEEDS_BOTH
    if (need_bpf and not bpf) or (need_perfmon and not perfmon):
        raise Reject(errno.EINVAL, f"program of this type cannot use helper {v.env.helper_name(hid)}#{hid}")


def check_calls_allowed(insns: bytes, env: ProgEnv) -> None:
    """``add_subprog_and_kfunc``: without CAP_BPF a bpf-to-bpf call, a function address
    (callback) or a kfunc call refuses the whole program (EPERM, no instruction named)."""
    if env.bpf_capable:
        return
    for code, regs, _off, _imm in struct.iter_unpack("<BBhi", insns):
        src = regs >> 4
        if (code == 0x85 and src in (BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL)) or (
            code == 0x18 and src == BPF_PSEUDO_FUNC
        ):
            raise Reject(
                errno.EPERM, "loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN"
            )


def check_back_edges(v: Verifier, second: set[int]) -> None:
    """``check_cfg`` without CAP_BPF: a depth-first walk from insn 0 (fall-through edge first,
    then the jump) refuses the first edge back to an instruction still on the walk."""
    if v.env.bpf_capable:
        return
    code = v.code
    n = len(code)
    on_path: set[int] = set()
    done: set[int] = set()
    stack: list[tuple[int, list[int]]] = [(0, successors(code, 0))]
    on_path.add(0)
    while stack:
        t, succ = stack[-1]
        if not succ:
            stack.pop()
            on_path.discard(t)
            done.add(t)
            continue
        w = succ.pop(0)
        if not 0 <= w < n or w in second:
            continue  # reported by the structural checks
        if w in on_path:
            raise Reject(errno.EINVAL, f"back-edge from insn {t} to {w}")
        if w not in done:
            on_path.add(w)
            stack.append((w, successors(code, w)))


def successors(code: list[tuple[int, int, int, int, int]], pc: int) -> list[int]:
    """The insns control can reach next from ``pc`` (none for an exit or an unknown opcode)."""
    c, _d, _s, o, i = code[pc]
    spec = OPCODES.get(c)
    if spec is None:
        return []
    k = spec.kind
    if k == Kind.LD_IMM64:
        return [pc + 2]
    if k == Kind.EXIT:
        return []
    if k == Kind.JA:
        return [pc + 1 + (o if spec.is64 else i)]
    if k in (Kind.JCOND, Kind.MAY_GOTO):
        return [pc + 1, pc + 1 + o]
    return [pc + 1]


def check_store_leak(v: Verifier, base: Reg, value: Reg, s: int) -> None:
    """``check_mem_access`` for a store of R<s> without ``allow_ptr_leaks``: a pointer may be
    spilled to the stack but not written into a map value, the context, packet or memory."""
    if v.env.allow_ptr_leaks or not value.is_ptr or base.maybe_null:
        return
    into = _LEAK_INTO.get(base.type)
    if into is not None:
        raise Reject(errno.EACCES, f"R{s} leaks addr into {into}")


_M32 = 0xFFFFFFFF
_NOT_ROOT = "pointer arithmetic with it prohibited for !root"
#: ``alu_state`` bits (their identity matters, not their values).
_SANITIZE_SRC, _SANITIZE_DST, _NEG_VALUE, _NON_POINTER, _IMMEDIATE = 1, 2, 4, 8, 16


def _ptr_limit(ptr: Reg, mask_to_left: bool, d: int, opname: str) -> int:
    """``retrieve_ptr_limit``: how far the pointer may move toward the object's edge (u32)."""
    if ptr.type == RegType.PTR_TO_STACK:
        top = 512 + int(mask_to_left)
        limit = -(ptr.vmin + ptr.off) & _M32
    else:  # PTR_TO_MAP_VALUE (other kinds were refused before)
        top = int(getattr(ptr.obj, "value_size", 0))
        limit = ((ptr.vmin if mask_to_left else ptr.vmax) + ptr.off) & _M32
    if limit >= top:
        raise Reject(errno.EACCES, f"R{d} tried to {opname} beyond pointer bounds, {_NOT_ROOT}")
    return limit


def _mask_to_left(op: int, sc: Reg) -> bool:
    """The masking direction: toward lower addresses for ``+= negative`` and ``-= positive``."""
    neg = sc.smin < 0
    return (op == 0x00 and neg) or (op == 0x10 and not neg)


def alu_limit_before(d: int, op: int, ptr: Reg, sc: Reg) -> None:
    """``sanitize_ptr_alu``'s first look, before the pointer moves: it must not already sit at
    the edge it would move past (``fp-512 += reg``: "tried to add beyond pointer bounds")."""
    _ptr_limit(ptr, _mask_to_left(op, sc), d, "add" if op == 0x00 else "sub")


def alu_sanitation(v: Verifier, d: int, op: int, ptr: Reg, sc: Reg, out: Reg, ptr_is_dst: bool) -> None:
    """``sanitize_ptr_alu`` for ``R<d> += / -= reg`` without ``bypass_spec_v1``: the run-time
    masking of the instruction (its direction, whether the scalar is known, and the window
    between the pointer before and after) is fixed once per instruction, so a second path
    that needs another window is refused ("tried to add from different maps, paths or
    scalars")."""
    opname = "add" if op == 0x00 else "sub"
    neg = sc.smin < 0
    mask_to_left = _mask_to_left(op, sc)
    before = _ptr_limit(ptr, mask_to_left, d, opname)
    after = _ptr_limit(out, mask_to_left, d, opname)
    diff = (before - after) & _M32
    limit = abs(diff - (1 << 32) if diff >> 31 else diff)
    state = (_NEG_VALUE if neg else 0) | (_IMMEDIATE if sc.is_const else 0)
    state |= _SANITIZE_SRC if ptr_is_dst else _SANITIZE_DST
    _update_aux(v, d, opname, state, limit)


def val_sanitation(v: Verifier, d: int, op: int) -> None:
    """``sanitize_val_alu``: a scalar ``+=``/``-=`` of a register marks its instruction as
    one that never moves a pointer (a path where it does is refused)."""
    _update_aux(v, d, "add" if op == 0x00 else "sub", _NON_POINTER, 0)


def _update_aux(v: Verifier, d: int, opname: str, state: int, limit: int) -> None:
    """``update_alu_sanitation_state`` of the instruction being checked (``v._last_pc``)."""
    aux: dict[int, tuple[int, int]] | None = getattr(v, "_alu_aux", None)
    if aux is None:
        aux = {}
        v._alu_aux = aux  # type: ignore[attr-defined]
    pc = v._last_pc
    seen = aux.get(pc)
    if seen is not None and seen != (state, limit):
        raise Reject(errno.EACCES, f"R{d} tried to {opname} from different maps, paths or scalars, {_NOT_ROOT}")
    aux[pc] = (state, limit)


#: ``add``/``sub`` with a register source, 64- and 32-bit (``sanitize_needed``).
_SANITIZED_CODES = frozenset({0x0F, 0x1F, 0x0C, 0x1C})


def no_fast_sanitized(code: list[tuple[int, int, int, int, int]], fast: list[Any]) -> None:
    """Without ``bypass_spec_v1`` every register ``add``/``sub`` (which records its sanitation
    state) and every conditional jump (a decided one queues its other side as a speculative
    path) goes through the general path, not the verifier's scalar shortcut."""
    for pc, slot in enumerate(code):
        c = slot[0]
        if c in _SANITIZED_CODES or (c & 7 in (5, 6) and OPCODES.get(c) is not None and OPCODES[c].kind == Kind.JCOND):
            fast[pc] = None
