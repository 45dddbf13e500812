"""Register liveness (``compute_live_registers``): which of r0-r9 an insn's future may read.

A backward data-flow over the instruction graph of each subprogram: a register is live
before an insn when the insn reads it, or when it is live after the insn and the insn
does not write it.  State pruning ignores the registers of an explored state that are not
live where it was recorded (Linux 6.18's ``clean_verifier_state`` turns them into
``NOT_INIT``), so two paths that differ only in dead registers meet.  Calls read their
arguments (the helper's or kfunc's parameter count when known, else r1-r5) and write
r0-r5; ``exit`` reads r0.  Stack slots are not tracked (every slot counts as live).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["ALL", "live_regs"]

#: r0-r9: every register live (what a state is compared on without liveness).
ALL = 0x3FF
_ARGS = 0b111110
_CALL_DEF = 0b111111
_Code = list[tuple[int, int, int, int, int]]


def _use_def(c: int, d: int, s: int, off: int, imm: int, nargs: Callable[[int, int, int, int], int]) -> tuple[int, int]:
    cls = c & 7
    db, sb = 1 << d, 1 << s
    if cls in (4, 7):  # ALU
        op = c & 0xF0
        if op == 0xB0:  # mov
            return (sb if c & 8 else 0), db
        if op in (0x80, 0xD0):  # neg, end
            return db, db
        return db | (sb if c & 8 else 0), db
    if cls == 1:  # LDX
        return sb, db
    if cls == 2:  # ST
        return db, 0
    if cls == 3:  # STX, atomics
        if c & 0xE0 == 0xC0:
            if imm == 0x100:  # load-acquire
                return sb, db
            if imm == 0xF1:  # cmpxchg
                return db | sb | 1, 1
            return db | sb, (sb if imm & 1 else 0)
        return db | sb, 0
    if cls in (5, 6):
        op = c & 0xF0
        if c == 0x85:
            n = nargs(c, s, imm, off)
            return _ARGS & ((1 << (n + 1)) - 1), _CALL_DEF
        if c == 0x95:
            return 1, 0
        if op in (0x00, 0xE0):  # ja, may_goto
            return 0, 0
        return db | (sb if c & 8 else 0), 0
    if c == 0x18:
        return 0, db
    if cls == 0 and c:  # ld_abs / ld_ind
        return (1 << 6) | (sb if c & 0xE0 == 0x40 else 0), _CALL_DEF
    return 0, 0


def live_regs(code: _Code, succ: Callable[[int], list[int]], nargs: Callable[[int, int, int, int], int]) -> list[int]:
    """Bitmask of the registers live before every insn (``live_regs_before``)."""
    n = len(code)
    use = [0] * n
    dfn = [0] * n
    preds: list[list[int]] = [[] for _ in range(n)]
    for pc in range(n):
        c, d, s, o, imm = code[pc]
        use[pc], dfn[pc] = _use_def(c, d, s, o, imm, nargs)
        for t in succ(pc):
            if 0 <= t < n:
                preds[t].append(pc)
    live = [0] * n
    work = list(range(n))
    queued = bytearray(b"\x01" * n)
    while work:
        pc = work.pop()
        queued[pc] = 0
        out = 0
        for t in succ(pc):
            if 0 <= t < n:
                out |= live[t]
        new = use[pc] | (out & ~dfn[pc])
        if new != live[pc]:
            live[pc] = new
            for p in preds[pc]:
                if not queued[p]:
                    queued[p] = 1
                    work.append(p)
    return live
