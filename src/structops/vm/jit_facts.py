"""Facts the translator proves about one BPF function from its instructions alone.

Nothing here trusts the verifier: each fact holds for any bytecode the VM accepts, so
the code specialised on it is as contained as the checked accessors it replaces
(issue 12 item 4, issue 17).

* :func:`frame_use` -- how a function uses its stack frame: not at all (no ``r10``
  anywhere: no frame is made), only through ``r10 + constant`` loads and stores inside
  the 512 bytes (the frame never escapes: a private ``bytearray`` that no address
  reaches, zeroed from the lowest offset any access touches), or as a value (``r10``
  copied, compared, stored, used with an out-of-frame offset or by an atomic: a mapped,
  granted frame region as before).
* :func:`entry_r1_pcs` -- the instructions of a function before which ``r1`` still holds
  the value the function was entered with on every path (nothing in between wrote it:
  calls leave the caller's ``r1`` as it is in the translated code).
* :func:`entry_r1_escapes` -- whether anything but the given loads may see the entry
  ``r1`` (a call, a copy, arithmetic, a comparison, a store through or of it): when
  nothing does, neither the address nor the bytes it points to are observable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from structops.isa.insn import Insn, jump_target
from structops.isa.opcodes import LOAD_ACQ, STORE_REL, AtomicOp, Kind
from structops.vm.memory import STACK_SIZE

__all__ = ["FrameUse", "entry_r1_escapes", "entry_r1_pcs", "frame_use", "writes"]

#: ``none``: no frame; ``local``: a private buffer (never addressed); ``region``: a mapped frame.
FrameUse = Literal["none", "local", "region"]

_FP = 10


def writes(insn: Insn) -> list[int]:
    """Registers ``insn`` writes (in the translated code: calls write r0 only); also what
    the load-time check that nothing writes ``r10`` looks at."""
    spec = insn.spec
    assert spec is not None
    kind = spec.kind
    if kind in (Kind.ALU, Kind.NEG, Kind.MOV, Kind.END, Kind.LDX, Kind.LD_IMM64):
        return [insn.dst]
    if kind is Kind.ATOMIC:
        if insn.imm == LOAD_ACQ:
            return [insn.dst]
        if insn.imm == AtomicOp.CMPXCHG:
            return [0]
        if insn.imm == STORE_REL or not insn.imm & 1:
            return []
        return [insn.src]
    if kind in (Kind.CALL, Kind.CALLX, Kind.LD_ABS, Kind.LD_IND):
        return [0]
    return []


def _in_frame(off: int, size: int) -> bool:
    o = STACK_SIZE + off
    return o >= 0 and o + size <= STACK_SIZE


def frame_use(slots: Sequence[Insn | None], pcs: Sequence[int]) -> tuple[FrameUse, int]:
    """How the function made of ``pcs`` uses its frame, and the lowest frame byte it can
    touch (0..512; 512 when it touches none)."""
    lo = STACK_SIZE
    mode: FrameUse = "none"
    for pc in pcs:
        insn = slots[pc]
        assert insn is not None and insn.spec is not None
        if insn.dst != _FP and insn.src != _FP:
            continue
        kind = insn.spec.kind
        size = insn.spec.size
        if kind is Kind.LD_IMM64 or (kind is Kind.CALL and insn.dst != _FP):
            continue  # src is the pseudo kind (or the call kind), not a register
        if kind is Kind.LDX and insn.src == _FP and insn.dst != _FP and _in_frame(insn.off, size):
            lo = min(lo, STACK_SIZE + insn.off)
        elif kind in (Kind.ST, Kind.STX) and insn.dst == _FP and _in_frame(insn.off, size):
            if kind is Kind.STX and insn.src == _FP:
                return "region", 0
            lo = min(lo, STACK_SIZE + insn.off)
        else:
            return "region", 0
        mode = "local"
    return mode, lo


def _successors(insn: Insn, pc: int) -> tuple[int, ...]:
    spec = insn.spec
    assert spec is not None
    kind = spec.kind
    nxt = pc + (2 if insn.is_wide else 1)
    if kind is Kind.EXIT:
        return ()
    target = jump_target(insn, pc)
    if kind is Kind.JA:
        return (target,) if target is not None else ()
    if target is not None:
        return (nxt, target)
    return (nxt,)


def entry_r1_pcs(slots: Sequence[Insn | None], entry: int, end: int) -> set[int]:
    """The pcs in ``[entry, end)`` reached only with ``r1`` as the function was entered
    (a must-analysis over the function's control flow; unreachable pcs are left out)."""
    state: dict[int, bool] = {entry: True}
    work = [entry]
    while work:
        pc = work.pop()
        insn = slots[pc]
        if insn is None or insn.spec is None:
            continue
        out = state[pc] and 1 not in writes(insn)
        for nxt in _successors(insn, pc):
            if not entry <= nxt < end:
                continue
            old = state.get(nxt)
            if old is None or (old and not out):
                state[nxt] = out if old is None else False
                work.append(nxt)
    return {pc for pc, ok in state.items() if ok}


def _reads_r1(insn: Insn) -> bool:
    """Whether ``insn`` reads ``r1`` (calls pass it on)."""
    spec = insn.spec
    assert spec is not None
    kind = spec.kind
    if kind in (Kind.CALL, Kind.CALLX, Kind.LD_ABS, Kind.LD_IND):
        return True
    if kind in (Kind.EXIT, Kind.JA, Kind.LD_IMM64, Kind.MAY_GOTO):
        return False
    if kind in (Kind.MOV, Kind.LDX):  # the destination is only written
        return insn.src == 1 and (kind is Kind.LDX or spec.use_src_reg)
    return insn.dst == 1 or insn.src == 1


def entry_r1_escapes(slots: Sequence[Insn | None], entry: int, end: int, loads: set[int]) -> bool:
    """Whether an instruction other than ``loads`` may read ``r1`` while it still holds
    the entry value on some path (a may-analysis: every path until ``r1`` is written)."""
    seen = {entry}
    work = [entry]
    while work:
        pc = work.pop()
        insn = slots[pc]
        if insn is None or insn.spec is None:
            return True  # not an instruction start: be conservative
        if pc not in loads and _reads_r1(insn):
            return True
        if 1 in writes(insn):
            continue  # r1 no longer holds the entry value past here
        for nxt in _successors(insn, pc):
            if entry <= nxt < end and nxt not in seen:
                seen.add(nxt)
                work.append(nxt)
    return False
