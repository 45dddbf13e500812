"""Translation of memory accesses and calls (the part of :mod:`structops.vm.jit` that
decides between a checked accessor and a specialised form, issue 17)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from structops.errors import VMFault
from structops.isa.insn import Insn
from structops.isa.opcodes import LOAD_ACQ, STORE_REL, AtomicOp, Kind, OpSpec
from structops.uapi import BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL
from structops.vm import alu
from structops.vm.context import RunContext, grant_result, returns_pointer
from structops.vm.jit_facts import FrameUse, entry_r1_pcs, writes
from structops.vm.memory import STACK_SIZE

if TYPE_CHECKING:
    from structops.vm.program import Function, Program

__all__ = ["M64", "MemoryEmitter"]

M64 = "0xFFFFFFFFFFFFFFFF"
_ATOMIC_OPS: dict[int, str] = {AtomicOp.ADD: "+", AtomicOp.OR: "|", AtomicOp.AND: "&", AtomicOp.XOR: "^"}
_ATOMIC_RMW = frozenset(
    {
        AtomicOp.ADD,
        AtomicOp.FETCH_ADD,
        AtomicOp.OR,
        AtomicOp.FETCH_OR,
        AtomicOp.AND,
        AtomicOp.FETCH_AND,
        AtomicOp.XOR,
        AtomicOp.FETCH_XOR,
    }
)


def _make_callx(prog: Program) -> Callable[..., int]:
    def callx(run: RunContext, helper_id: int, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        helper = run.vm.helpers.get(helper_id)
        if helper is None or helper.tail_call or not helper.allowed_for(prog.prog_type):
            raise VMFault(f"callx to unknown helper {helper_id:#x}")
        r0 = helper.func(run, r1, r2, r3, r4, r5) & alu.M64
        if returns_pointer(helper):
            grant_result(run, r0)
        return r0

    return callx


class MemoryEmitter:
    """Loads, stores, atomics and calls of the source generator (mixed into ``jit._Gen``)."""

    prog: Program
    consts: dict[str, Any]
    cur_pc: int
    #: How the function being translated uses its frame (:func:`~structops.vm.jit_facts.frame_use`).
    frame: FrameUse
    stack_lo: int
    #: Loads read from the run's argument tuple (:meth:`_ctx_loads`).
    ctx_pcs: set[int]
    #: Register -> the constant address it holds at the instruction being translated.
    known: dict[int, int]
    #: Region base -> the index ``k`` of its ``MB<k>`` / ``RE<k>`` / ``WE<k>`` constants.
    const_regions: dict[int, int]

    def emit(self, indent: int, text: str) -> None:
        raise NotImplementedError

    def _ctx_loads(self, func: Function) -> set[int]:
        """Loads of the main function through its entry ``r1`` at a constant offset inside one
        u64 argument: read from the run's argument tuple when ``r1`` is the argument array."""
        slots = self.prog.slots
        out = set()
        for pc in entry_r1_pcs(slots, func.entry, func.end):
            insn = slots[pc]
            assert insn is not None and insn.spec is not None
            if insn.spec.kind is Kind.LDX and insn.src == 1 and insn.off >= 0 and insn.off % 8 + insn.spec.size <= 8:
                out.add(pc)
        return out

    @staticmethod
    def _addr(reg: int, off: int) -> str:
        return f"r{reg} + {off}" if off else f"r{reg}"

    def _stack_off(self, reg: int, off: int, size: int) -> int | None:
        """Offset into the frame buffer for an in-frame ``r10 + off`` access (a private
        buffer starts at the lowest byte the function touches)."""
        if reg != 10:
            return None
        o = STACK_SIZE + off
        if not (o >= 0 and o + size <= STACK_SIZE):
            return None
        return o - self.stack_lo if self.frame == "local" else o

    def _track_constants(self, pc: int, insn: Insn) -> None:
        """Update :attr:`known` after ``insn`` (an ``ld_imm64`` sets its register)."""
        known = self.known
        if insn.is_wide:
            known[insn.dst] = self.prog.ld64[pc]
            return
        for reg in writes(insn):
            known.pop(reg, None)

    def _const_access(self, reg: int, off: int, size: int, write: bool) -> tuple[str, int, str] | None:
        """``(buffer, offset, guard)`` for an access through a register holding a constant
        address inside one of the program's own maps (a region it is granted on every run),
        or None.  The guard -- the page still maps the same region with the same rights,
        i.e. it was neither unmapped nor re-protected -- is checked on each access; when it
        fails, the checked accessor decides."""
        addr = self.known.get(reg)
        if addr is None:
            return None
        addr += off  # unmasked, as the checked accessor sees it
        space = self.prog.vm.space
        region = space.region_at(addr)
        if region is None or region.base not in self.prog.grants or addr + size > region.end:
            return None
        page = addr >> 12
        entry = (space._wpages if write else space._rpages).get(page)
        if entry is None or entry[0] != region.base:
            return None  # not writable (readable)
        k = self.const_regions.setdefault(region.base, len(self.const_regions))
        table = "WE" if write else "RE"
        self.consts[f"MB{k}"] = region.buf
        self.consts[f"{table}{k}"] = entry
        self.consts["WP" if write else "RP"] = space._wpages if write else space._rpages
        guard = f"{'WP' if write else 'RP'}.get({page}) is {table}{k}"
        return f"MB{k}", addr - region.base, guard

    def _ldx(self, insn: Insn, spec: OpSpec, ind: int) -> None:
        d = f"r{insn.dst}"
        n = spec.size
        o = self._stack_off(insn.src, insn.off, n)
        mem = self._const_access(insn.src, insn.off, n, False) if o is None else None
        if mem is not None:
            buf, at, guard = mem
            direct = f"{buf}[{at}]" if n == 1 else f"U{n}({buf}, {at})[0]"
            value = f"({direct} if {guard} else LD{n}({self._addr(insn.src, insn.off)}, G))"
        elif self.cur_pc in self.ctx_pcs:  # the argument tuple holds the array's bytes
            i, shift = divmod(insn.off, 8)
            arg = f"CA[{i}]" if not shift else f"(CA[{i}] >> {8 * shift})"
            if n < 8:
                arg = f"{arg} & {(1 << (8 * n)) - 1:#x}"
            value = f"({arg} if CN > {i} else LD{n}({self._addr(insn.src, insn.off)}, G))"
        elif o is None:
            value = f"LD{n}({self._addr(insn.src, insn.off)}, G)"
        elif n == 1:
            value = f"stk[{o}]"
        else:
            value = f"U{n}(stk, {o})[0]"
        if spec.signed:
            sign = 1 << (n * 8 - 1)
            value = f"(({value} ^ {sign:#x}) - {sign:#x}) & {M64}"
        self.emit(ind, f"{d} = {value}")

    def _store(self, insn: Insn, spec: OpSpec, ind: int) -> None:
        n = spec.size
        size_mask = (1 << (8 * n)) - 1
        if spec.kind is Kind.ST:
            value = str(insn.imm & size_mask)
        else:
            value = f"r{insn.src}" if n == 8 else f"r{insn.src} & {size_mask:#x}"
        o = self._stack_off(insn.dst, insn.off, n)
        mem = self._const_access(insn.dst, insn.off, n, True) if o is None else None
        if mem is not None:
            buf, at, guard = mem
            self.emit(ind, f"if {guard}:")
            self.emit(ind + 1, f"{buf}[{at}] = {value}" if n == 1 else f"P{n}({buf}, {at}, {value})")
            self.emit(ind, "else:")
            self.emit(ind + 1, f"ST{n}({self._addr(insn.dst, insn.off)}, {value}, G)")
        elif o is None:
            self.emit(ind, f"ST{n}({self._addr(insn.dst, insn.off)}, {value}, G)")
        elif n == 1:
            self.emit(ind, f"stk[{o}] = {value}")
        else:
            self.emit(ind, f"P{n}(stk, {o}, {value})")

    def _atomic(self, insn: Insn, spec: OpSpec, ind: int) -> None:
        n = spec.size
        if insn.imm == LOAD_ACQ:
            self.emit(ind, f"r{insn.dst} = LD{n}(({self._addr(insn.src, insn.off)}) & {M64}, G)")
            return
        if insn.imm == STORE_REL:
            self.emit(ind, f"ST{n}(({self._addr(insn.dst, insn.off)}) & {M64}, r{insn.src}, G)")
            return
        op = _ATOMIC_OPS.get(insn.imm & ~1)
        if op is not None and insn.imm in _ATOMIC_RMW:
            # add/or/and/xor (fetch or not) inline: the checked load, then the checked store
            # (which truncates to the size), as alu.atomic does through the run's Domain
            self.emit(ind, f"ax = ({self._addr(insn.dst, insn.off)}) & {M64}")
            self.emit(ind, f"ox = LD{n}(ax, G)")
            self.emit(ind, f"ST{n}(ax, ox {op} r{insn.src}, G)")
            if insn.imm & 1:
                self.emit(ind, f"r{insn.src} = ox")
            return
        self.consts["ATOMIC"] = alu.atomic
        call = f"ATOMIC(C.space, {n}, {insn.imm}, ({self._addr(insn.dst, insn.off)}) & {M64}, r{insn.src}, r0)"
        if insn.imm == AtomicOp.CMPXCHG:
            self.emit(ind, f"r0 = {call}")
        elif insn.imm & 1:
            self.emit(ind, f"r{insn.src} = {call}")
        else:
            self.emit(ind, call)

    def _call(self, pc: int, insn: Insn, ind: int) -> None:
        prog = self.prog
        args = "r1, r2, r3, r4, r5"
        if insn.src == BPF_PSEUDO_CALL:
            self.emit(ind, "C.left = left")
            self.emit(ind, f"r0 = f{pc + 1 + insn.imm}(C, {args}, depth + 1)")
            self.emit(ind, "left = C.left")
            return
        if insn.src == BPF_PSEUDO_KFUNC_CALL:
            spec = prog.kfunc_at[pc]
            if spec.direct is not None:  # bound at translation; it does not see the run
                self.consts[f"K{pc}"] = spec.direct
                self.emit(ind, f"r0 = K{pc}({args}) & {M64}")
                self.emit(ind, "if r0 >= 4096: GRANT(C, r0)")
                return
            self.consts[f"K{pc}"] = spec.func
            self.emit(ind, "C.left = left")
            self.emit(ind, f"r0 = K{pc}(C, {args}) & {M64}")
            self.emit(ind, "if r0 >= 4096: GRANT(C, r0)")
            self.emit(ind, "left = C.left")
            return
        helper = prog.helper_at[pc]
        if helper.tail_call:
            self.emit(ind, "C.left = left")
            self.emit(ind, "t = C.vm.tail_call(C, r1, r2, r3, depth)")
            self.emit(ind, "if t is not None: return t")
            self.emit(ind, "left = C.left")
            return
        self.consts[f"H{pc}"] = helper.func
        self.emit(ind, "C.left = left")
        self.emit(ind, f"r0 = H{pc}(C, {args}) & {M64}")
        if returns_pointer(helper):
            self.emit(ind, "if r0 >= 4096: GRANT(C, r0)")
        self.emit(ind, "left = C.left")

    def _callx(self, insn: Insn, ind: int) -> None:
        self.consts["CALLX"] = _make_callx(self.prog)
        self.emit(ind, f"r0 = CALLX(C, r{insn.dst}, r1, r2, r3, r4, r5)")
