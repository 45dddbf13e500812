"""The reference interpreter: plain decode-and-dispatch over instruction slots.

It is written for clarity (one handler per :class:`~structops.isa.opcodes.Kind`, operand
semantics spelled out with signed/unsigned conversions) and is the oracle the translated
fast path (:mod:`structops.vm.jit`) is tested against.  Every executed instruction costs
one unit of the run's instruction budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from structops.errors import VMFault
from structops.isa.insn import Insn
from structops.isa.opcodes import LOAD_ACQ, OPCODES, STORE_REL, AtomicOp, Kind, OpSpec
from structops.uapi import BPF_PSEUDO_CALL
from structops.vm import alu
from structops.vm.context import MAX_CALL_FRAMES, ProgramExit, RunContext, grant_result, returns_pointer
from structops.vm.memory import STACK_SIZE, MemoryFault

if TYPE_CHECKING:
    from structops.vm.program import Program

__all__ = ["Interpreter"]

_BinOp = Callable[[int, int, int], int]


def _div(a: int, b: int, bits: int) -> int:
    return a // b if b else 0


def _mod(a: int, b: int, bits: int) -> int:
    return a % b if b else a


#: Unsigned ALU semantics on width-masked operands (result masked by the caller).
_ALU: dict[str, _BinOp] = {
    "add": lambda a, b, bits: a + b,
    "sub": lambda a, b, bits: a - b,
    "mul": lambda a, b, bits: a * b,
    "div": _div,
    "or": lambda a, b, bits: a | b,
    "and": lambda a, b, bits: a & b,
    "lsh": lambda a, b, bits: a << (b & (bits - 1)),
    "rsh": lambda a, b, bits: a >> (b & (bits - 1)),
    "mod": _mod,
    "xor": lambda a, b, bits: a ^ b,
    "arsh": lambda a, b, bits: alu.to_signed(a, bits) >> (b & (bits - 1)),
}
_SIGNED_ALU: dict[str, _BinOp] = {"div": alu.sdiv, "mod": alu.smod}

_Cmp = Callable[[int, int, int], bool]
_JMP: dict[str, _Cmp] = {
    "jeq": lambda a, b, bits: a == b,
    "jne": lambda a, b, bits: a != b,
    "jgt": lambda a, b, bits: a > b,
    "jge": lambda a, b, bits: a >= b,
    "jlt": lambda a, b, bits: a < b,
    "jle": lambda a, b, bits: a <= b,
    "jset": lambda a, b, bits: (a & b) != 0,
    "jsgt": lambda a, b, bits: alu.to_signed(a, bits) > alu.to_signed(b, bits),
    "jsge": lambda a, b, bits: alu.to_signed(a, bits) >= alu.to_signed(b, bits),
    "jslt": lambda a, b, bits: alu.to_signed(a, bits) < alu.to_signed(b, bits),
    "jsle": lambda a, b, bits: alu.to_signed(a, bits) <= alu.to_signed(b, bits),
}


class _Frame:
    """Registers, pc and ``may_goto`` budget of one function invocation."""

    __slots__ = ("depth", "loops", "pc", "regs")

    def __init__(self, depth: int, loops: int) -> None:
        self.regs = [0] * 11
        self.pc = 0
        self.depth = depth
        self.loops = loops


class _Return(Exception):
    pass


class Interpreter:
    """Executes one :class:`~structops.vm.program.Program` inside a :class:`RunContext`."""

    def __init__(self, program: Program, run: RunContext) -> None:
        self.prog = program
        self.run = run
        self.space = run.space
        self._handlers: dict[Kind, Callable[[Insn, OpSpec, _Frame], None]] = {
            Kind.ALU: self._alu,
            Kind.NEG: self._neg,
            Kind.MOV: self._mov,
            Kind.END: self._end,
            Kind.JA: self._ja,
            Kind.JCOND: self._jcond,
            Kind.MAY_GOTO: self._may_goto,
            Kind.CALL: self._call,
            Kind.CALLX: self._callx,
            Kind.EXIT: self._exit,
            Kind.LD_IMM64: self._ld_imm64,
            Kind.LD_ABS: self._ld_pkt,
            Kind.LD_IND: self._ld_pkt,
            Kind.LDX: self._ldx,
            Kind.ST: self._st,
            Kind.STX: self._stx,
            Kind.ATOMIC: self._atomic,
        }

    def call(self, entry: int, args: tuple[int, ...], depth: int) -> int:
        """Run the function starting at slot ``entry`` with ``r1..r5 = args``; returns r0."""
        if depth > MAX_CALL_FRAMES:
            raise VMFault(f"call stack deeper than {MAX_CALL_FRAMES} frames", pc=entry)
        frame = _Frame(depth, self.run.vm.max_loops)
        frame.regs[1:6] = args[:5]
        frame.pc = entry
        stack = self.space.acquire_frame()
        frame.regs[10] = stack.base + STACK_SIZE
        slots = self.prog.slots
        run = self.run
        try:
            while True:
                insn = slots[frame.pc]
                if insn is None:  # pragma: no cover - excluded by load-time checks
                    raise VMFault("jump into the middle of ld_imm64", pc=frame.pc)
                if run.left <= 0:
                    raise VMFault("instruction budget exhausted", pc=frame.pc)
                run.left -= 1
                spec = OPCODES[insn.opcode]
                pc = frame.pc
                try:
                    self._handlers[spec.kind](insn, spec, frame)
                except _Return:
                    return frame.regs[0]
                except MemoryFault as fault:
                    if fault.pc >= 0:
                        raise
                    raise MemoryFault(fault.reason, pc=pc, addr=fault.addr) from None
                except VMFault as fault:
                    if fault.pc >= 0:
                        raise
                    raise VMFault(str(fault), pc=pc) from None
        finally:
            self.space.release_frame(stack)

    # ------------------------------------------------------------------ operands
    @staticmethod
    def _operands(insn: Insn, spec: OpSpec, frame: _Frame) -> tuple[int, int, int]:
        bits = 64 if spec.is64 else 32
        mask = (1 << bits) - 1
        a = frame.regs[insn.dst] & mask
        b = frame.regs[insn.src] if spec.use_src_reg else alu.sext(insn.imm, 32)
        return a, b & mask, bits

    # ------------------------------------------------------------------ ALU
    def _alu(self, insn: Insn, spec: OpSpec, frame: _Frame) -> None:
        a, b, bits = self._operands(insn, spec, frame)
        table = _SIGNED_ALU if insn.off == 1 else _ALU
        frame.regs[insn.dst] = table[spec.name](a, b, bits) & ((1 << bits) - 1)
        frame.pc += 1

    def _neg(self, insn: Insn, spec: OpSpec, frame: _Frame) -> None:
        bits = 64 if spec.is64 else 32
        frame.regs[insn.dst] = -frame.regs[insn.dst] & ((1 << bits) - 1)
        frame.pc += 1

    def _mov(self, insn: Insn, spec: OpSpec, frame: _Frame) -> None:
        bits = 64 if spec.is64 else 32
        if not spec.use_src_reg:
            value = alu.sext(insn.imm, 32, bits)
        elif insn.off:
            value = alu.sext(frame.regs[insn.src], insn.off, bits)
        else:
            value = frame.regs[insn.src] & ((1 << bits) - 1)
        frame.regs[insn.dst] = value
        frame.pc += 1

    def _end(self, insn: Insn, spec: OpSpec, frame: _Frame) -> None:
        value = frame.regs[insn.dst]
        if spec.name == "le":  # little-endian host: only truncation
            value &= (1 << insn.imm) - 1
        else:  # "be" on a little-endian host, or unconditional "bswap"
            value = alu.bswap(value, insn.imm)
        frame.regs[insn.dst] = value
        frame.pc += 1

    # ------------------------------------------------------------------ jumps
    def _ja(self, insn: Insn, spec: OpSpec, frame: _Frame) -> None:
        frame.pc += 1 + (insn.off if spec.is64 else insn.imm)

    def _jcond(self, insn: Insn, spec: OpSpec, frame: _Frame) -> None:
        a, b, bits = self._operands(insn, spec, frame)
        taken = _JMP[spec.name](a, b, bits)
        frame.pc += 1 + (insn.off if taken else 0)

    def _may_goto(self, insn: Insn, spec: OpSpec, frame: _Frame) -> None:
        if frame.loops == 0:
            frame.pc += 1 + insn.off
        else:
            frame.loops -= 1
            frame.pc += 1

    def _exit(self, insn: Insn, spec: OpSpec, frame: _Frame) -> None:
        raise _Return

    def _call(self, insn: Insn, spec: OpSpec, frame: _Frame) -> None:
        regs = frame.regs
        pc = frame.pc
        if insn.src == BPF_PSEUDO_CALL:
            saved = regs[1:10]
            regs[0] = self.call(pc + 1 + insn.imm, tuple(regs[1:6]), frame.depth + 1)
            regs[1:10] = saved
            frame.pc += 1
            return
        helper = self.prog.helper_at.get(pc)
        if helper is not None and helper.tail_call:
            result = self.run.vm.tail_call(self.run, regs[1], regs[2], regs[3], frame.depth)
            if result is not None:
                regs[0] = result
                raise _Return
            frame.pc += 1
            return
        spec_ = helper if helper is not None else self.prog.kfunc_at[pc]
        regs[0] = spec_.func(self.run, regs[1], regs[2], regs[3], regs[4], regs[5]) & alu.M64
        if returns_pointer(spec_):
            grant_result(self.run, regs[0])
        frame.pc += 1

    def _callx(self, insn: Insn, spec: OpSpec, frame: _Frame) -> None:
        regs = frame.regs
        helper = self.run.vm.helpers.get(regs[insn.dst])
        if helper is None or helper.tail_call or not helper.allowed_for(self.prog.prog_type):
            raise VMFault(f"callx to unknown helper {regs[insn.dst]:#x}")
        regs[0] = helper.func(self.run, regs[1], regs[2], regs[3], regs[4], regs[5]) & alu.M64
        if returns_pointer(helper):
            grant_result(self.run, regs[0])
        frame.pc += 1

    # ------------------------------------------------------------------ memory
    def _ld_imm64(self, insn: Insn, spec: OpSpec, frame: _Frame) -> None:
        frame.regs[insn.dst] = self.prog.ld64[frame.pc]
        frame.pc += 2

    def _ld_pkt(self, insn: Insn, spec: OpSpec, frame: _Frame) -> None:
        offset = insn.imm if spec.kind is Kind.LD_ABS else frame.regs[insn.src] + insn.imm
        frame.regs[0] = load_packet(self.run, spec.size, offset)
        frame.pc += 1

    def _ldx(self, insn: Insn, spec: OpSpec, frame: _Frame) -> None:
        addr = (frame.regs[insn.src] + insn.off) & alu.M64
        value = self.space.ld[spec.size](addr)
        if spec.signed:
            value = alu.sext(value, spec.size * 8)
        frame.regs[insn.dst] = value
        frame.pc += 1

    def _st(self, insn: Insn, spec: OpSpec, frame: _Frame) -> None:
        addr = (frame.regs[insn.dst] + insn.off) & alu.M64
        self.space.st[spec.size](addr, alu.sext(insn.imm, 32))
        frame.pc += 1

    def _stx(self, insn: Insn, spec: OpSpec, frame: _Frame) -> None:
        addr = (frame.regs[insn.dst] + insn.off) & alu.M64
        self.space.st[spec.size](addr, frame.regs[insn.src])
        frame.pc += 1

    def _atomic(self, insn: Insn, spec: OpSpec, frame: _Frame) -> None:
        regs = frame.regs
        if insn.imm == LOAD_ACQ:
            regs[insn.dst] = self.space.ld[spec.size]((regs[insn.src] + insn.off) & alu.M64)
        elif insn.imm == STORE_REL:
            self.space.st[spec.size]((regs[insn.dst] + insn.off) & alu.M64, regs[insn.src])
        else:
            addr = (regs[insn.dst] + insn.off) & alu.M64
            old = alu.atomic(self.space, spec.size, insn.imm, addr, regs[insn.src], regs[0])
            if insn.imm == AtomicOp.CMPXCHG:
                regs[0] = old
            elif insn.imm & 1:  # FETCH forms and xchg
                regs[insn.src] = old
        frame.pc += 1


#: ``SKF_NET_OFF`` / ``SKF_LL_OFF``: negative offsets that address the network / link-layer header.
SKF_NET_OFF = -0x100000
SKF_LL_OFF = -0x200000
_NET_HEADER = 14  # the network header follows the Ethernet header


def load_packet(run: RunContext, size: int, offset: int) -> int:
    """Legacy ``LD_ABS``/``LD_IND``: big-endian read of the run's packet (``bpf_skb_load_helper``).

    The offset is a 32-bit signed value: from ``skb->data`` when non-negative, else from the
    network header (``SKF_NET_OFF + k``) or the link-layer header (``SKF_LL_OFF + k``).
    Reads past the packet's end or below those ranges end the program with r0 = 0, as the
    kernel's implicit exit does.
    """
    frame = run.packet
    if callable(frame):
        frame = frame()
    offset = alu.to_signed(offset, 32)
    if offset >= 0:
        pos = run.packet_data + offset
    elif offset >= SKF_NET_OFF:
        pos = _NET_HEADER + offset - SKF_NET_OFF
    elif offset >= SKF_LL_OFF:
        pos = offset - SKF_LL_OFF
    else:
        raise ProgramExit(0)
    if frame is None or pos + size > len(frame):
        raise ProgramExit(0)
    return int.from_bytes(frame[pos : pos + size], "big")
