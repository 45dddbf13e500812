"""The combined stack of a call chain (``check_max_stack_depth``, Linux 6.18).

Each subprogram's stack depth is the deepest slot any of its frames used on a verified
path (recorded at its exits and where a path is pruned).  After verification, every
chain of bpf-to-bpf calls from an entry (the main program or a global function) sums
the depths of its frames, each rounded up to 16 bytes as for a JITed program; over
``MAX_BPF_STACK`` (512) is EACCES "combined stack size of N calls is D. Too large",
reported without an instruction.
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING

from structops.isa.scan import insn_starts
from structops.uapi import BPF_PSEUDO_CALL
from structops.verifier.env import Reject
from structops.verifier.state import MAX_BPF_STACK, State

if TYPE_CHECKING:
    from structops.verifier.core import Verifier

__all__ = ["check_max_stack_depth", "record_depth"]

_ASYNC = -(1 << 30)  # timer.ASYNC_CALLSITE: a frame 0 started by a timer callback


def record_depth(v: Verifier, st: State, pc: int) -> None:
    """Note the stack used by every frame of ``st`` (``pc`` is the innermost frame's insn)."""
    owner = v.owner
    at = pc
    for i in range(len(st.frames) - 1, -1, -1):
        frame = st.frames[i]
        sub = owner.get(at)
        if sub is not None and frame.stack:
            depth = 8 * (max(frame.stack) + 1)
            if depth > v.stack_depth.get(sub, 0):
                v.stack_depth[sub] = depth
        cs = frame.callsite
        if cs == _ASYNC or i == 0:
            break
        at = cs if cs >= 0 else -cs - 2  # a callback frame: the helper call in the caller


def check_max_stack_depth(insns: bytes, owner: dict[int, int], depth: dict[int, int], roots: list[int]) -> None:
    """Walk every call chain from ``roots``; refuse one whose frames need more than 512 bytes."""
    calls: dict[int, list[int]] = {}
    for pc in insn_starts(insns, b"\x85"):
        code, regs, _off, imm = struct.unpack_from("<BBhi", insns, pc * 8)
        if code == 0x85 and regs >> 4 == BPF_PSEUDO_CALL and pc in owner:
            calls.setdefault(owner[pc], []).append(pc + 1 + imm)

    def walk(sub: int, total: int, frames: int, path: tuple[int, ...]) -> None:
        size = depth.get(sub, 0)
        total += (size + 15) // 16 * 16
        if total > MAX_BPF_STACK:
            raise Reject(errno.EACCES, f"combined stack size of {frames} calls is {total}. Too large")
        for callee in calls.get(sub, ()):
            if callee not in path:  # recursion is refused while verifying
                walk(callee, total, frames + 1, (*path, callee))

    for root in roots:
        walk(root, 0, 1, (root,))
