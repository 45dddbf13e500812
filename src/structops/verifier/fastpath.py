"""Shortcuts for the verifier's hottest instructions (issue 12: the kernel's speed class).

The abstract interpreter (:mod:`structops.verifier.core`) spends most of a long
program's time on plain scalar arithmetic and on conditional jumps whose outcome is
known.  :func:`handlers` gives, for every instruction slot, a small function specialised
once per distinct instruction encoding that performs exactly what the general path
(``Verifier._alu`` / ``Verifier._jcond``) does when nothing can go wrong: scalar operands,
a writable destination, a jump that does not fork.  It returns the slot delta to the next
instruction, or ``None`` whenever the general path is needed (an uninitialised or pointer
operand, a forking jump, an error to report), so every verdict, message and instruction
count stays the general path's.

:func:`reach` is ``check_cfg``'s reachability walk over straight-line runs instead of
single instructions; on any structural error it returns ``None`` and the caller re-runs
the instruction-by-instruction walk, which names the error exactly as before.
"""

from __future__ import annotations

import errno
import struct
from bisect import bisect_left
from collections.abc import Callable

from structops.isa.opcodes import OPCODES, Kind
from structops.verifier.env import Reject
from structops.verifier.scalar import _cmp as cmp
from structops.verifier.scalar import alu_const, alu_range, branch_outcome
from structops.verifier.state import NOT_INIT, Reg, RegType, const
from structops.verifier.unpriv import successors

__all__ = ["DECIDED", "DECIDED_MIN", "Handler", "StateKey", "handlers", "reach", "reach_slow", "split_slots"]

#: ``handler(regs) -> slot delta`` or ``None`` (take the general path).
Handler = Callable[[list[Reg]], "int | None"]
_Code = tuple[int, int, int, int, int]

_M32 = 0xFFFFFFFF
_SCALAR = RegType.SCALAR
_NOT_INIT = RegType.NOT_INIT
_PTR = RegType.PTR_TO_CTX  # every type from here on is a pointer (Reg.is_ptr)
_CACHE_MAX = 1 << 16
#: Added to a conditional jump's slot delta when known scalars decided it: the caller marks
#: them precise (``mark_chain_precision`` after ``is_branch_taken``, as ``Verifier._jcond``).
DECIDED = 1 << 20
#: Any delta above this carries :data:`DECIDED` (jump offsets are 16-bit).
DECIDED_MIN = DECIDED >> 1


def _alu_imm(d: int, op: int, src: Reg, bits: int, off: int) -> Handler:
    b = src.umin
    exact = op not in (0x30, 0x90)  # alu_range: div/mod of constants is exact too, via its own path

    def h(regs: list[Reg]) -> int | None:
        dst = regs[d]
        if dst.type != _SCALAR or dst.id:  # a linked scalar: the general path (linked.alu_result)
            return None
        if exact and dst.umin == dst.umax:  # alu_range's constant case
            regs[d] = const(alu_const(op, dst.umin, b, bits, off))
        else:
            regs[d] = alu_range(op, dst, src, bits, off)
        return 1

    return h


def _mov_imm(d: int, value: Reg) -> Handler:
    def h(regs: list[Reg]) -> int | None:
        regs[d] = value
        return 1

    return h


def _alu_reg(d: int, s: int, op: int, bits: int, off: int) -> Handler:
    def h(regs: list[Reg]) -> int | None:
        src = regs[s]
        dst = regs[d]
        if src.type != _SCALAR or dst.type != _SCALAR or dst.id:
            return None
        regs[d] = alu_range(op, dst, src, bits, off)
        return 1

    return h


def _mov_reg(d: int, s: int, bits: int, off: int) -> Handler:
    ptr_copy = bits == 64 and off == 0

    def h(regs: list[Reg]) -> int | None:
        src = regs[s]
        t = src.type
        if t == _SCALAR:
            if src.id or src.umin != src.umax:  # the copy is linked (linked.mov_result)
                return None
            regs[d] = alu_range(0xB0, NOT_INIT, src, bits, off)
            return 1
        if t >= _PTR and ptr_copy:
            regs[d] = src
            return 1
        return None

    return h


def _jcond(d: int, s: int, use_x: bool, op: int, imm: Reg, bits: int, off: int) -> Handler:
    taken = 1 + off + DECIDED
    fall = 1 + DECIDED
    mask = (1 << bits) - 1

    def h(regs: list[Reg]) -> int | None:
        a = regs[d]
        if a.type != _SCALAR:
            return None
        b = regs[s] if use_x else imm
        if b.type != _SCALAR:
            return None
        if a.umin == a.umax and b.umin == b.umax:  # branch_outcome's constant case
            return taken if cmp(op, a.umin & mask, b.umin & mask, bits) else fall
        outcome = branch_outcome(op, a, b, bits)
        if outcome is None:
            return None  # both ways: the general path forks
        return taken if outcome else fall

    return h


def _ja(delta: int) -> Handler:
    def h(regs: list[Reg]) -> int | None:
        return delta

    return h


def _make(code: _Code) -> Handler | None:
    c, d, s, o, i = code
    spec = OPCODES.get(c)
    if spec is None or d == 10:
        return None  # d == 10: "frame pointer is read only" (general path)
    k = spec.kind
    is64 = spec.is64
    bits = 64 if is64 else 32
    op = c & 0xF0
    use_x = bool(c & 0x08)
    if k == Kind.JA:
        return _ja(1 + (o if is64 else i))
    if k == Kind.JCOND:
        return _jcond(d, s, use_x, op, const(i if is64 else i & _M32), bits, o)
    if k not in (Kind.ALU, Kind.MOV):
        return None
    if use_x:
        return _mov_reg(d, s, bits, o) if k == Kind.MOV else _alu_reg(d, s, op, bits, o)
    src = const(i if is64 else i & _M32)
    if op in (0x30, 0x90) and i == 0:
        return None  # "div by zero"
    if op in (0x60, 0x70, 0xC0) and not 0 <= i < bits:
        return None  # "invalid shift"
    if k == Kind.MOV:
        return _mov_imm(d, alu_range(0xB0, NOT_INIT, src, bits, o))
    return _alu_imm(d, op, src, bits, o)


class _Handlers(dict[_Code, "Handler | None"]):
    """Encoding -> handler, made on first use (shared by every verification run)."""

    def __missing__(self, code: _Code) -> Handler | None:
        if len(self) >= _CACHE_MAX:
            self.clear()
        h = self[code] = _make(code)
        return h


_HANDLERS = _Handlers()


def handlers(code: list[_Code]) -> list[Handler | None]:
    """The shortcut of every slot of ``code`` (``None``: always the general path)."""
    return [_HANDLERS[t] for t in code]


class _Split(dict[tuple[int, int, int, int], _Code]):
    """A raw ``(code, regs, off, imm)`` slot -> ``(code, dst, src, off, imm)``, one tuple per encoding."""

    def __missing__(self, raw: tuple[int, int, int, int]) -> _Code:
        if len(self) >= _CACHE_MAX:
            self.clear()
        c, r, o, i = raw
        out = self[raw] = (c, r & 0xF, r >> 4, o, i)
        return out


_SPLIT = _Split()


def split_slots(insns: bytes) -> list[_Code]:
    """``(code, dst, src, off, imm)`` of every slot of ``insns`` (equal slots share a tuple)."""
    return list(map(_SPLIT.__getitem__, struct.iter_unpack("<BBhi", insns)))


class StateKey:
    """A pruning point and its state's snapshot, hashed once (dict key of exact matches)."""

    __slots__ = ("h", "t")

    def __init__(self, t: tuple[object, ...]) -> None:
        self.t = t
        self.h = hash(t)

    def __hash__(self) -> int:
        return self.h

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StateKey) and self.t == other.t


def reach(
    code: list[_Code],
    entries: list[int],
    ctrl: list[int],
    second: set[int],
    owner: dict[int, int],
    prune: set[int],
) -> bytearray | None:
    """``check_cfg``'s walk: which slots are reachable from ``entries`` (1 = reached).

    ``ctrl`` lists, in order, every instruction that does not simply fall through to the
    next slot (``ld_imm64``, exits, jumps); any other instruction is reached with the one
    before it.  Adds the targets of reached jumps to ``prune`` (pruning points).  Returns
    ``None`` on a jump out of its subprogram or into an ``ld_imm64``: the caller's
    per-instruction walk then reports the error it meets first.
    """
    n = len(code)
    reached = bytearray(n)
    done: set[int] = set()
    work = list(entries)
    while work:
        s = work.pop()
        if reached[s]:
            continue
        last = ctrl[bisect_left(ctrl, s)]  # each subprogram ends with an exit or a jump
        reached[s : last + 1] = b"\x01" * (last + 1 - s)
        if last in done:
            continue
        done.add(last)
        c, _d, _s, o, i = code[last]
        spec = OPCODES[c]
        k = spec.kind
        if k == Kind.EXIT:
            continue
        if k == Kind.LD_IMM64:
            succ = [last + 2]
        elif k == Kind.JA:
            succ = [last + 1 + (o if spec.is64 else i)]
        else:  # JCOND, MAY_GOTO
            succ = [last + 1, last + 1 + o]
            prune.add(last)  # a conditional jump is a pruning point too
        for t in succ:
            if not 0 <= t < n or owner[t] != owner[last] or t in second:
                return None
            if k == Kind.JA or (k != Kind.LD_IMM64 and t is succ[1]):  # branch targets
                prune.add(t)
            work.append(t)
    return reached


def reach_slow(
    code: list[_Code], entries: list[int], second: set[int], owner: dict[int, int], prune: set[int]
) -> bytearray:
    """:func:`reach` one insn at a time (depth first), raising on the first invalid jump it meets."""
    n = len(code)
    seen = bytearray(n)
    work = list(entries)
    while work:
        pc = work.pop()
        if seen[pc]:
            continue
        seen[pc] = 1
        k = OPCODES[code[pc][0]].kind
        for t in successors(code, pc):
            if not 0 <= t < n or owner[t] != owner[pc]:
                raise Reject(errno.EINVAL, f"jump out of range from insn {pc} to {t}")
            if t in second:
                raise Reject(errno.EINVAL, f"jump into the middle of ldimm64 insn {t - 1}")
            if k == Kind.JA or (k in (Kind.JCOND, Kind.MAY_GOTO) and t == pc + 1 + code[pc][3]):
                prune.add(t)
            work.append(t)
        if k in (Kind.JCOND, Kind.MAY_GOTO):
            prune.add(pc)
    return seen
