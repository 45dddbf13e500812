"""Rules for a loader without CAP_BPF / CAP_PERFMON (``bpf_capable``, ``allow_ptr_leaks``).

Linux 6.18 lets such a loader (a socket filter with ``kernel.unprivileged_bpf_disabled``
0) load programs, but: no bpf-to-bpf calls, callbacks or kfunc calls (EPERM, before any
other check), no loops (a back-edge in the control-flow graph is EINVAL), and no pointer
value may escape: stored into a map value, the context, packet or memory, returned, or
partially copied.  The pointer arithmetic and comparison rules are in
:mod:`structops.verifier.ptrops`.
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING

from structops.isa.opcodes import OPCODES, Kind
from structops.uapi import BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL
from structops.verifier.env import ProgEnv, Reject
from structops.verifier.state import Reg, RegType

if TYPE_CHECKING:
    from structops.verifier.core import Verifier

__all__ = ["check_back_edges", "check_calls_allowed", "check_store_leak"]

#: Where a stored pointer would leak to, by the base register's type.
_LEAK_INTO = {
    RegType.PTR_TO_MAP_VALUE: "map",
    RegType.PTR_TO_CTX: "ctx",
    RegType.PTR_TO_PACKET: "packet",
    RegType.PTR_TO_PACKET_META: "packet",
    RegType.PTR_TO_MEM: "mem",
}


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
