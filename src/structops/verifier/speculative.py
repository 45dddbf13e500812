"""Paths a CPU may run speculatively, for a loader without ``bypass_spec_v1`` (Linux 6.18).

A loader without CAP_PERFMON gets the kernel's Spectre v1 mitigation: besides the real
paths, the verifier walks the paths a mispredicted branch could take.

* A conditional jump whose outcome is known still queues its other side as a speculative
  path, with the compared registers made unknown (``sanitize_speculative_path``).
* ``ptr += reg`` / ``ptr -= reg`` with a scalar that is not a constant queues the next
  instruction with the pointer left where it was (the run-time mask truncated the
  offset to 0: ``sanitize_ptr_alu``).

A speculative path is explored like any other (its instructions count as processed, it
records checkpoints and may be pruned by a real path's state, never the other way
round), but an error it meets whose errno is EPERM, EACCES or EINVAL does not reject the
program: the instruction gets a speculation barrier (``nospec``), the path ends there and
later speculative paths stop when they reach it (``error_recoverable_with_nospec``).  A
stack store that overwrites a spilled register or bytes not yet written, or spills a
pointer, is followed by a barrier too (Spectre v4, ``nospec_result``): a speculative path
ends right after it.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from structops.verifier import precision, stackdepth
from structops.verifier.state import Reg, RegType, State, unknown

if TYPE_CHECKING:
    from structops.verifier.core import Verifier, _Checkpoint

__all__ = ["RECOVERABLE", "end_path", "push_branch", "recover", "stack_write_needs_barrier", "store_barrier"]

#: ``error_recoverable_with_nospec``: errors a speculative path may meet.
RECOVERABLE = frozenset({errno.EPERM, errno.EACCES, errno.EINVAL})


def push_branch(
    v: Verifier, st: State, target: int, unknown_regs: tuple[int, ...] = (), dst: tuple[int, Reg] | None = None
) -> None:
    """``push_stack(..., speculative=true)``: queue a copy of ``st`` at ``target`` as a
    speculative path (below the path's parent checkpoint); ``unknown_regs`` become
    unknown scalars, ``dst`` ``(regno, reg)`` is set."""
    other = st.copy()
    other.spec = True
    regs = other.cur.regs
    for r in unknown_regs:
        regs[r] = unknown()
    if dst is not None:
        regs[dst[0]] = dst[1]
    cp = v.cur_cp
    v.branch_stack.append((target, other, cp))
    if cp is not None:
        cp.branches += 1


def end_path(v: Verifier, pc: int, st: State, cp: _Checkpoint | None) -> None:
    """A speculative path ends at a barrier before or after ``pc`` (``goto process_bpf_exit``)."""
    stackdepth.record_depth(v, st, pc)
    precision.flush(v, st)
    v._finish(cp)


def recover(v: Verifier, pc: int, code: int) -> bool:
    """A speculative path failed at ``pc`` with ``code``: True (and the insn gets its
    barrier, losing any ALU sanitation it had) when the path may just end there."""
    if code not in RECOVERABLE:
        return False
    v.nospec[pc] = 1
    aux = getattr(v, "_alu_aux", None)
    if aux is not None:
        aux.pop(pc, None)
    return True


def store_barrier(v: Verifier, st: State, d: int, off: int, size: int, value: Reg | None) -> None:
    """``nospec_result`` of a store through ``R<d>`` (looked at before the store): see
    :func:`stack_write_needs_barrier`; only without ``bypass_spec_v4`` (CAP_PERFMON)."""
    if not v.env.allow_ptr_leaks and stack_write_needs_barrier(st, st.cur.regs[d], off, size, value):
        v.nospec_result[v._last_pc] = 1


def stack_write_needs_barrier(st: State, base: Reg, off: int, size: int, value: Reg | None) -> bool:
    """``check_stack_write_fixed_off`` without ``bypass_spec_v4``: a store through a stack
    pointer with a constant offset that spills a pointer, or hits a slot byte that is not
    plain written data (never written, or part of a spilled register).  As the kernel, the
    slot's bytes looked at are its ``size`` highest ones, whatever bytes the store writes."""
    if base.type != RegType.PTR_TO_STACK or base.var_off:
        return False
    if value is not None and value.is_ptr:
        return True
    frameno = int(base.obj or 0)
    if frameno >= len(st.frames):
        return False
    o = base.off + off
    if o >= 0 or o < -512:
        return False
    cur = st.frames[frameno].stack.get((-o - 1) // 8)
    if cur is None:
        return size > 0
    for i in range(size):  # kernel slot_type[i] is byte 7 - i of the slot (lowest address first)
        b = 7 - i
        if isinstance(cur, Reg):
            if b < cur.spill or cur.type != RegType.SCALAR:
                return True
        elif not cur >> b & 1:
            return True
    return False
