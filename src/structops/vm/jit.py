"""The fast path: translate each BPF function once into a Python function.

Every BPF function becomes ``def f<entry>(C, r1, r2, r3, r4, r5, depth)`` whose locals are
the registers.  Its body is a ``while True`` loop dispatching on ``pc`` over the function's
basic blocks with a binary tree of ``if pc < N`` tests; inside a block each instruction is
one or two Python statements.  A block that jumps back to its own start (the common tight
loop) becomes an inner ``while True`` so its iterations skip the dispatch entirely.

Memory goes through the address space's checked accessors limited to the run's grants
(``G``, the :class:`~structops.vm.memory.Domain` of the run: defense in depth against a
wrong verifier, issue 12 item 4), except what the translator proves safe from the
bytecode alone (:mod:`structops.vm.jit_facts`): ``r10``-relative accesses whose constant
offset is inside the 512-byte frame index the frame's buffer directly (a function that
never uses ``r10`` otherwise gets a private buffer instead of a mapped frame, and one
that never names it no frame at all), and the main function's loads through its entry
``r1`` read the run's argument tuple when ``r1`` is the :meth:`Program.run_args` argument
array (checked at entry; any other ``r1`` takes the checked path).  Kfuncs with a
``direct`` form are bound at translation and called without the run.  Each block charges its
length to the run's instruction budget on entry.  The source line of every statement is
mapped back to its BPF pc so faults report the instruction index.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections import OrderedDict
from collections.abc import Callable
from types import CodeType
from typing import TYPE_CHECKING, Any

from structops.errors import VMFault
from structops.isa.insn import Insn, jump_target
from structops.isa.opcodes import Kind, OpSpec
from structops.vm import alu
from structops.vm.context import MAX_CALL_FRAMES, grant_result
from structops.vm.interp import load_packet
from structops.vm.jit_facts import FrameUse, entry_r1_escapes, frame_use
from structops.vm.jit_mem import M64, MemoryEmitter
from structops.vm.jit_skips import structured_skips
from structops.vm.memory import STACK_SIZE

if TYPE_CHECKING:
    from structops.vm.program import Function, Program

#: Longest run of ALU ops fused into one Python statement (bounds intermediate sizes).
_MAX_FUSE = 8
_RING = {"add": "+", "sub": "-", "mul": "*", "or": "|", "and": "&", "xor": "^", "lsh": "<<"}

__all__ = ["translate"]

W = "0xFFFFFFFF"
S64 = 0x8000_0000_0000_0000
S32 = 0x8000_0000

_CMP = {"jeq": "==", "jne": "!=", "jgt": ">", "jge": ">=", "jlt": "<", "jle": "<="}
_SCMP = {"jsgt": ">", "jsge": ">=", "jslt": "<", "jsle": "<="}
_BITOP = {"or": "|", "and": "&", "xor": "^"}
_ARITH = {"add": "+", "sub": "-", "mul": "*"}


def _budget_fault(pc: int) -> None:
    raise VMFault("instruction budget exhausted", pc=pc)


def _depth_fault(pc: int) -> None:
    raise VMFault(f"call stack deeper than {MAX_CALL_FRAMES} frames", pc=pc)


class _Gen(MemoryEmitter):
    """Source generator for one program."""

    def __init__(self, prog: Program) -> None:
        self.prog = prog
        self.lines: list[str] = []
        self.line_pc: list[int] = [-1]  # line numbers are 1-based
        self.consts: dict[str, Any] = {}
        self.cur_pc = -1
        self.skips: set[int] = set()
        self.frame: FrameUse = "region"
        self.stack_lo = 0
        self.ctx_pcs: set[int] = set()
        self.known: dict[int, int] = {}
        self.const_regions: dict[int, int] = {}

    def emit(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)
        self.line_pc.append(self.cur_pc)

    # ------------------------------------------------------------------ structure
    def function(self, func: Function) -> None:
        prog = self.prog
        slots = prog.slots
        pcs = [pc for pc in range(func.entry, func.end) if slots[pc] is not None]
        has_may_goto = False
        jumps: dict[int, int] = {}
        for pc in pcs:
            insn = slots[pc]
            assert insn is not None and insn.spec is not None
            target = jump_target(insn, pc)
            if target is not None:
                jumps[pc] = target
            if insn.spec.kind is Kind.MAY_GOTO:
                has_may_goto = True
        self.skips = structured_skips(pcs, jumps, slots)
        leaders = {func.entry} | {t for pc, t in jumps.items() if pc not in self.skips}
        starts = sorted(leaders)
        blocks: list[tuple[int, int]] = list(zip(starts, [*starts[1:], func.end], strict=True))

        self.frame, self.stack_lo = frame_use(slots, pcs)
        if func.entry == 0:
            self.ctx_pcs = self._ctx_loads(func)
            self.prog.args_private = not entry_r1_escapes(slots, 0, func.end, self.ctx_pcs)
        else:
            self.ctx_pcs = set()
        self.cur_pc = func.entry
        header = len(self.lines)
        self.emit(0, f"def f{func.entry}(C, r1, r2, r3, r4, r5, depth):")  # defaults added below
        self.emit(1, f"if depth > {MAX_CALL_FRAMES}: DEPTH_FAULT({func.entry})")
        self.emit(1, "G = C.grants")
        if self.frame == "region":  # AddressSpace.acquire_frame, inlined
            self.emit(1, "if FREE:")
            self.emit(2, "fr = FREE.pop()")
            self.emit(2, "stk = fr.buf")
            self.emit(2, "stk[:] = ZF")
            self.emit(1, "else:")
            self.emit(2, "fr = ACQ()")
            self.emit(2, "stk = fr.buf")
            self.emit(1, "fb = fr.base")
            self.emit(1, "G.add(fb)")
            self.emit(1, f"r10 = fb + {STACK_SIZE}")
        elif self.frame == "local":  # never addressed: a private buffer, zeroed where read
            self.emit(1, f"stk = BA({STACK_SIZE - self.stack_lo})")
        if self.ctx_pcs:  # the run's u64 arguments when r1 is their array (run_args)
            self.emit(1, "if r1 == C.cbase:")
            self.emit(2, "CA = C.cargs")
            self.emit(2, "CN = C.cn")
            self.emit(1, "else:")
            self.emit(2, "CN = 0")
        used = {r for pc in pcs for r in (slots[pc].dst, slots[pc].src)}  # type: ignore[union-attr]
        self.emit(1, " = ".join(["r0", *(f"r{r}" for r in (6, 7, 8, 9) if r in used), "0"]))
        self.emit(1, "left = C.left")
        if has_may_goto:
            self.emit(1, "mg = C.vm.max_loops")
        self.emit(1, f"pc = {func.entry}")
        if self.frame != "region":
            self.emit(1, "while True:")
            self._tree(blocks, 2)
        else:
            self.emit(1, "try:")
            self.emit(2, "while True:")
            self._tree(blocks, 3)
            self.cur_pc = func.entry
            self.emit(1, "finally:")
            self.emit(2, "G.discard(fb)")
            self.emit(2, "FREE.append(fr)")  # AddressSpace.release_frame, inlined
        if any(target <= pc for pc, target in jumps.items()):
            # a loop: the accessors it uses become locals (bound as defaults, which cost
            # each call a little more than the global lookups they save in a loop)
            body = "\n".join(self.lines[header + 1 :])
            bound = [n for n in self._names() if re.search(rf"\b{n}\b", body)]
            if bound:
                self.lines[header] = self.lines[header][:-2] + ", " + ", ".join(f"{n}={n}" for n in bound) + "):"

    def _names(self) -> list[str]:
        return [
            "M",
            "LD1",
            "LD2",
            "LD4",
            "LD8",
            "ST1",
            "ST2",
            "ST4",
            "ST8",
            "U2",
            "U4",
            "U8",
            "P2",
            "P4",
            "P8",
            "ACQ",
            "REL",
            "BUDGET",
        ]

    def _tree(self, blocks: list[tuple[int, int]], indent: int) -> None:
        if len(blocks) == 1:
            self._block(blocks[0][0], blocks[0][1], indent)
            return
        mid = len(blocks) // 2
        self.cur_pc = blocks[mid][0]
        self.emit(indent, f"if pc < {blocks[mid][0]}:")
        self._tree(blocks[:mid], indent + 1)
        self.cur_pc = blocks[mid][0]
        self.emit(indent, "else:")
        self._tree(blocks[mid:], indent + 1)

    def _block(self, start: int, end: int, indent: int) -> None:
        slots = self.prog.slots
        pcs = [pc for pc in range(start, end) if slots[pc] is not None]
        self_loop = any(self._target(pc) == start for pc in pcs)
        self.cur_pc = start
        if self_loop:
            self.emit(indent, "while True:")
            indent += 1
        self.emit(indent, f"left -= {len(pcs)}")
        self.emit(indent, f"if left < 0: BUDGET({start})")
        base = indent
        regions: list[int] = []  # targets of the open structured skips
        ends_unconditionally = False
        self.known = {}  # registers holding a constant address (straight-line code only)
        i = 0
        while i < len(pcs):
            pc = pcs[i]
            i += 1
            while regions and regions[-1] == pc:
                regions.pop()
                indent -= 1
                self.known = {}  # the skipped code may or may not have run
            insn = slots[pc]
            assert insn is not None and insn.spec is not None
            self.cur_pc = pc
            fused = self._fuse(pcs, i - 1, regions)
            if fused is not None:
                text, used = fused
                self.emit(indent, text)
                self.known.pop(insn.dst, None)
                i += used - 1
                ends_unconditionally = False
                continue
            if pc in self.skips:
                self.emit(indent, f"if not ({self._cond(insn, insn.spec)}):")
                regions.append(pc + 1 + insn.off)
                indent += 1
                ends_unconditionally = False
                continue
            stops = self._insn(pc, insn, insn.spec, indent, start if self_loop else None)
            ends_unconditionally = stops and not regions
            self._track_constants(pc, insn)
        if not ends_unconditionally:
            self.cur_pc = pcs[-1]
            self.emit(base, f"pc = {end}")
            if self_loop:
                self.emit(base, "break")

    def _fuse(self, pcs: list[int], i: int, regions: list[int]) -> tuple[str, int] | None:
        """Fuse a run of ring ALU ops on one register into one statement.

        ``add sub mul or and xor lsh`` (and a leading ``mov``) commute with reduction
        modulo 2**64 (2**32 for ALU32), so a run ``rD op= x; rD op= y ...`` becomes
        ``rD = ((rD op x) op y ...) & mask`` with a single mask at the end.
        """
        slots = self.prog.slots
        expr: str | None = None
        dst = -1
        is64 = True
        used = 0
        for pc in pcs[i : i + _MAX_FUSE]:
            insn = slots[pc]
            assert insn is not None and insn.spec is not None
            spec = insn.spec
            if used and (pc in self.skips or pc in regions):
                break
            x = spec.use_src_reg
            if expr is None:
                dst, is64 = insn.dst, spec.is64
            if insn.dst != dst or spec.is64 != is64 or (x and insn.src == dst):
                break
            operand = f"r{insn.src}" if x else str(insn.imm & (alu.M64 if is64 else alu.M32))
            if spec.kind is Kind.MOV and not insn.off:
                if expr is not None:
                    break
                expr = operand
            elif spec.kind is Kind.ALU and insn.off == 0 and spec.name in _RING:
                cur = expr if expr is not None else f"r{dst}"
                if spec.name == "lsh":
                    amount = f"({operand} & {63 if is64 else 31})" if x else str(int(operand) & (63 if is64 else 31))
                    expr = f"({cur} << {amount})"
                else:
                    expr = f"({cur} {_RING[spec.name]} {operand})"
            else:
                break
            used += 1
        if used < 2 or expr is None:
            return None
        return f"r{dst} = {expr} & {M64 if is64 else W}", used

    def _target(self, pc: int) -> int | None:
        insn = self.prog.slots[pc]
        return None if insn is None else jump_target(insn, pc)

    def _jump(self, target: int, indent: int, loop_start: int | None) -> None:
        """Emit an unconditional transfer to ``target``."""
        if loop_start is not None:
            if target == loop_start:
                self.emit(indent, "continue")
            else:
                self.emit(indent, f"pc = {target}")
                self.emit(indent, "break")
        else:
            self.emit(indent, f"pc = {target}")
            self.emit(indent, "continue")

    # ------------------------------------------------------------------ instructions
    def _insn(self, pc: int, insn: Insn, spec: OpSpec, ind: int, loop: int | None) -> bool:
        """Emit one instruction; True when it never falls through."""
        kind = spec.kind
        d = f"r{insn.dst}"
        if kind is Kind.ALU:
            self.emit(ind, self._alu(insn, spec))
        elif kind is Kind.NEG:
            self.emit(ind, f"{d} = -{d} & {M64 if spec.is64 else W}")
        elif kind is Kind.MOV:
            self.emit(ind, self._mov(insn, spec))
        elif kind is Kind.END:
            self.emit(ind, self._end(insn, spec))
        elif kind is Kind.JCOND:
            self.emit(ind, f"if {self._cond(insn, spec)}:")
            self._jump(pc + 1 + insn.off, ind + 1, loop)
        elif kind is Kind.JA:
            self._jump(pc + 1 + (insn.off if spec.is64 else insn.imm), ind, loop)
            return True
        elif kind is Kind.MAY_GOTO:
            self.emit(ind, "if mg == 0:")
            self._jump(pc + 1 + insn.off, ind + 1, loop)
            self.emit(ind, "mg -= 1")
        elif kind is Kind.EXIT:
            self.emit(ind, "C.left = left")
            self.emit(ind, "return r0")
            return True
        elif kind is Kind.CALL:
            self._call(pc, insn, ind)
        elif kind is Kind.CALLX:
            self._callx(insn, ind)
        elif kind is Kind.LD_IMM64:
            self.emit(ind, f"{d} = {self.prog.ld64[pc]:#x}")
        elif kind is Kind.LD_ABS:
            self.emit(ind, f"r0 = LDPKT(C, {spec.size}, {insn.imm})")
        elif kind is Kind.LD_IND:
            self.emit(ind, f"r0 = LDPKT(C, {spec.size}, r{insn.src} + {insn.imm})")
        elif kind is Kind.LDX:
            self._ldx(insn, spec, ind)
        elif kind in (Kind.ST, Kind.STX):
            self._store(insn, spec, ind)
        else:
            self._atomic(insn, spec, ind)
        return False

    def _alu(self, insn: Insn, spec: OpSpec) -> str:
        """One ALU / ALU64 operation; 32-bit ones read the low halves and zero-extend."""
        d = f"r{insn.dst}"
        name = spec.name
        x = spec.use_src_reg
        bits, mask, sign = (64, M64, S64) if spec.is64 else (32, W, S32)
        k = insn.imm & (alu.M64 if spec.is64 else alu.M32)
        s = f"r{insn.src}" if x else str(k)
        # the operands' values at the operation's width (a 64-bit register is already one)
        dv = d if spec.is64 else f"({d} & {W})"
        sv = f"({s} & {W})" if x and not spec.is64 else s
        if insn.off == 1:  # signed div / mod
            return f"{d} = {'SDIV' if name == 'div' else 'SMOD'}({d}, {s}, {bits})"
        if name in _ARITH:
            return f"{d} = ({d} {_ARITH[name]} {s}) & {mask}"
        if name in _BITOP:
            return f"{d} = {d} {_BITOP[name]} {s}" if spec.is64 else f"{d} = ({d} {_BITOP[name]} {s}) & {W}"
        amount = f"({s} & {bits - 1})" if x else str(k & (bits - 1))
        if name == "lsh":
            return f"{d} = ({d} << {amount}) & {mask}"
        if name == "rsh":
            return f"{d} = {dv} >> {amount}"
        if name == "arsh":
            return f"{d} = ((({dv} ^ {sign}) - {sign}) >> {amount}) & {mask}"
        if name == "div":
            if x:
                return f"{d} = {dv} // {sv} if {sv} else 0"
            return f"{d} = {dv} // {k}" if k else f"{d} = 0"
        assert name == "mod"
        if x:
            return f"{d} = {dv} % {sv} if {sv} else {dv}"
        if k:
            return f"{d} = {dv} % {k}"
        return "pass" if spec.is64 else f"{d} = {dv}"

    def _mov(self, insn: Insn, spec: OpSpec) -> str:
        d = f"r{insn.dst}"
        mask = M64 if spec.is64 else W
        if not spec.use_src_reg:
            return f"{d} = {insn.imm & (alu.M64 if spec.is64 else alu.M32)}"
        s = f"r{insn.src}"
        if insn.off:
            low = (1 << insn.off) - 1
            sign = 1 << (insn.off - 1)
            return f"{d} = ((({s} & {low:#x}) ^ {sign:#x}) - {sign:#x}) & {mask}"
        return f"{d} = {s}" if spec.is64 else f"{d} = {s} & {W}"

    def _end(self, insn: Insn, spec: OpSpec) -> str:
        d = f"r{insn.dst}"
        bits = insn.imm
        if spec.name == "le":
            return f"{d} = {d} & {(1 << bits) - 1:#x}"
        if bits == 16:
            return f"{d} = (({d} & 0xFF) << 8) | (({d} >> 8) & 0xFF)"
        return f"{d} = BSWAP({d}, {bits})"

    def _cond(self, insn: Insn, spec: OpSpec) -> str:
        """A jump condition; JMP32 compares the low halves."""
        name = spec.name
        x = spec.use_src_reg
        d = f"r{insn.dst}"
        mask, sign = (alu.M64, S64) if spec.is64 else (alu.M32, S32)
        k = insn.imm & mask
        a = d if spec.is64 else f"({d} & {W})"
        b = (f"r{insn.src}" if spec.is64 else f"(r{insn.src} & {W})") if x else str(k)
        if name in _CMP:
            return f"{a} {_CMP[name]} {b}"
        if name == "jset":
            return f"{d} & {b}"
        rhs = f"({b} ^ {sign})" if x else str(k ^ sign)
        return f"({a} ^ {sign}) {_SCMP[name]} {rhs}"


#: Most translations kept by :func:`translate` (least recently used dropped first).
CACHE_SIZE = 1024
# content key -> (code object, line->pc map); see :func:`translate`.
_CODE_CACHE: OrderedDict[str, tuple[CodeType, list[int]]] = OrderedDict()
_STATS = {"hits": 0, "misses": 0}


def cache_stats() -> dict[str, int]:
    """Translation cache counters: ``hits``, ``misses`` and ``size`` (entries held)."""
    return {**_STATS, "size": len(_CODE_CACHE)}


def clear_cache() -> None:
    """Drop every cached translation (and reset the counters)."""
    _CODE_CACHE.clear()
    _STATS["hits"] = _STATS["misses"] = 0


def line_pcs(filename: str) -> list[int] | None:
    """The line->pc map of the cached translation compiled as ``filename`` (fault reports)."""
    hit = _CODE_CACHE.get(filename)
    return hit[1] if hit is not None else None


def translate(prog: Program) -> tuple[dict[int, Callable[..., int]], list[int], str]:
    """Translate ``prog``; returns ``{function entry: python function}``, line->pc, filename.

    Translation happens once per program content: the compiled code is cached under a
    digest of the program's name and the generated source, which spells out everything
    the translation depends on (the instructions, the resolved ``ld_imm64`` values such
    as map addresses, which helper or kfunc each call binds to, the program type's
    rules).  Objects bound per VM (helpers, kfuncs, the address space's accessors) are
    not part of the code: they come from the namespace each load executes it in, so a
    re-load of the same object on another kernel reuses the code with its own bindings,
    and any difference in bindings that changes the source gives a different entry.
    """
    gen = _Gen(prog)
    for func in prog.functions:
        gen.function(func)
    space = prog.vm.space
    namespace: dict[str, Any] = {
        "M": alu.M64,
        "LD1": space.gld[1],
        "LD2": space.gld[2],
        "LD4": space.gld[4],
        "LD8": space.gld[8],
        "ST1": space.gst[1],
        "ST2": space.gst[2],
        "ST4": space.gst[4],
        "ST8": space.gst[8],
        "GRANT": grant_result,
        "U2": struct.Struct("<H").unpack_from,
        "U4": struct.Struct("<I").unpack_from,
        "U8": struct.Struct("<Q").unpack_from,
        "P2": struct.Struct("<H").pack_into,
        "P4": struct.Struct("<I").pack_into,
        "P8": struct.Struct("<Q").pack_into,
        "ACQ": space.acquire_frame,
        "REL": space.release_frame,
        "FREE": space._free_frames,
        "ZF": space._zero_frame,
        "BUDGET": _budget_fault,
        "DEPTH_FAULT": _depth_fault,
        "SPACE": space,
        "SDIV": alu.sdiv,
        "SMOD": alu.smod,
        "BSWAP": alu.bswap,
        "LDPKT": load_packet,
        "BA": bytearray,
    }
    namespace.update(gen.consts)
    source = "\n".join(gen.lines) + "\n"
    digest = hashlib.sha256(f"{prog.name}\0{source}".encode()).hexdigest()[:20]
    filename = f"<bpf {prog.name} #{digest}>"
    hit = _CODE_CACHE.get(filename)
    if hit is None:
        _STATS["misses"] += 1
        hit = (compile(source, filename, "exec"), gen.line_pc)
        _CODE_CACHE[filename] = hit
        if len(_CODE_CACHE) > CACHE_SIZE:
            _CODE_CACHE.popitem(last=False)
    else:
        _STATS["hits"] += 1
        _CODE_CACHE.move_to_end(filename)
    exec(hit[0], namespace)
    prog.jit_source = source
    return {f.entry: namespace[f"f{f.entry}"] for f in prog.functions}, hit[1], filename
