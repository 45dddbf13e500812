"""Conditional jumps on scalars: ``is_scalar_branch_taken`` and ``regs_refine_cond_op``.

:func:`outcome` decides a jump from the 64-bit facts, or for JMP32 from the 32-bit ones
(``u32``/``s32`` ranges and the low half of the tnum); :func:`refine_pair` narrows both
compared registers on one side of an undecided jump the way Linux 6.18's
``reg_set_min_max`` does, each then put through ``reg_bounds_sync`` (issue 12 item 2).
The kernel's blind spots are kept: ``jne`` only moves a bound equal to the constant, a
taken ``jset`` learns a bit only for a single-bit mask, a 32-bit compare narrows only the
32-bit ranges (the 64-bit ones follow through the sync's cross deductions).
"""

from __future__ import annotations

from structops.verifier.bounds import S32_MAX, S32_MIN, S64_MAX, S64_MIN, U32, U64, sync
from structops.verifier.state import Reg, RegType

__all__ = ["outcome", "refine_pair"]

HI32 = U64 ^ U32
_SIGN64 = 1 << 63


def _view(r: Reg, is32: bool) -> tuple[int, int, int, int, int, int]:
    if is32:
        return r.umin32, r.umax32, r.smin32, r.smax32, r.tv & U32, r.tm & U32
    return r.umin, r.umax, r.smin, r.smax, r.tv, r.tm


def outcome(op: int, a: Reg, b: Reg, bits: int) -> bool | None:
    """``is_scalar_branch_taken``: True/False when ``a op b`` is decided, else None (Linux
    6.18 has no shortcut for a register compared with itself: ``if w6 s< w6`` is explored)."""
    is32 = bits == 32
    umin1, umax1, smin1, smax1, v1, m1 = _view(a, is32)
    umin2, umax2, smin2, smax2, v2, m2 = _view(b, is32)
    if op == 0x10 or op == 0x50:
        eq = op == 0x10
        if m1 == 0 and m2 == 0:
            return (v1 == v2) == eq
        if (v1 ^ v2) & ~(m1 | m2):  # tnum_overlap: no common value
            return not eq
        if umin1 > umax2 or umax1 < umin2 or smin1 > smax2 or smax1 < smin2:
            return not eq
        if not is32 and (a.umin32 > b.umax32 or a.umax32 < b.umin32 or a.smin32 > b.smax32 or a.smax32 < b.smin32):
            return not eq
        return None
    if op == 0x40:  # jset
        if m2:
            v1, m1, v2, m2 = v2, m2, v1, m1
        if m2:
            return None
        if v1 & v2:
            return True
        if not (m1 | v1) & v2:
            return False
        return None
    if op == 0x20:
        return True if umin1 > umax2 else False if umax1 <= umin2 else None
    if op == 0x60:
        return True if smin1 > smax2 else False if smax1 <= smin2 else None
    if op == 0xA0:
        return True if umax1 < umin2 else False if umin1 >= umax2 else None
    if op == 0xC0:
        return True if smax1 < smin2 else False if smin1 >= smax2 else None
    if op == 0x30:
        return True if umin1 >= umax2 else False if umax1 < umin2 else None
    if op == 0x70:
        return True if smin1 >= smax2 else False if smax1 < smin2 else None
    if op == 0xB0:
        return True if umax1 <= umin2 else False if umin1 > umax2 else None
    if op == 0xD0:
        return True if smax1 <= smin2 else False if smin1 > smax2 else None
    return None


#: ``rev_opcode``: the condition of the fall-through side (``jset`` reversed is 0x48).
REV = {
    0x10: 0x50,
    0x50: 0x10,
    0x20: 0xB0,
    0xB0: 0x20,
    0x30: 0xA0,
    0xA0: 0x30,
    0x60: 0xD0,
    0xD0: 0x60,
    0x70: 0xC0,
    0xC0: 0x70,
    0x40: 0x48,
}
#: ``flip_opcode``: the same condition with the operands swapped.
_FLIP = {0x30: 0xB0, 0x20: 0xA0, 0x70: 0xD0, 0x60: 0xC0}

# field order of a mutable register: umin umax smin smax u32min u32max s32min s32max tv tm
_F = list[int]


def _fields(r: Reg) -> _F:
    return [r.umin, r.umax, r.smin, r.smax, r.umin32, r.umax32, r.smin32, r.smax32, r.tv, r.tm]


def _is_const(f: _F, is32: bool) -> bool:
    return (f[9] & U32 if is32 else f[9]) == 0


def _with_subreg(f: _F, tv: int, tm: int) -> None:
    f[8] = (f[8] & HI32) | (tv & U32)
    f[9] = (f[9] & HI32) | (tm & U32)


def refine_pair(op: int, a: Reg, b: Reg, bits: int, same: bool = False, need_b: bool = True) -> tuple[Reg, Reg]:
    """``regs_refine_cond_op(a, b, op)`` then ``reg_bounds_sync`` of both: the two scalars
    on the side of the jump where ``a op b`` holds (``op`` may be 0x48, jset's negation).
    ``same``: one register compared with itself, refined in place through both roles as
    Linux 6.18 does (``w6 s< w6`` taken leaves ``smin32=S32_MIN+1, smax32=S32_MAX-1``).
    ``need_b`` false: ``b`` is an immediate whose refinement nobody reads (returned as is)."""
    if a.type != RegType.SCALAR or b.type != RegType.SCALAR:
        return a, b
    is32 = bits == 32
    f1 = _fields(a)
    f2 = f1 if same else _fields(b)
    r1, r2 = f1, f2
    if op in _FLIP:
        op = _FLIP[op]
        r1, r2 = f2, f1
    if op == 0x10:
        if is32:
            for i in (4, 6):
                r1[i] = r2[i] = max(r1[i], r2[i])
                r1[i + 1] = r2[i + 1] = min(r1[i + 1], r2[i + 1])
            v = (r1[8] | r2[8]) & U32
            m = r1[9] & r2[9] & U32
            _with_subreg(r1, v & ~m, m)
            _with_subreg(r2, v & ~m, m)
        else:
            for i in (0, 2):
                r1[i] = r2[i] = max(r1[i], r2[i])
                r1[i + 1] = r2[i + 1] = min(r1[i + 1], r2[i + 1])
            m = r1[9] & r2[9]
            v = (r1[8] | r2[8]) & ~m & U64
            r1[8] = r2[8] = v
            r1[9] = r2[9] = m
    elif op in (0x50, 0x40, 0x48):
        if not _is_const(r2, is32):
            r1, r2 = r2, r1
        if _is_const(r2, is32):
            val = r2[8]
            if op == 0x50:
                _refine_ne(r1, val, is32)
            elif op == 0x40:
                _refine_jset(r1, val, is32)
            else:  # jset not taken: the bits are clear; Linux 6.18 forgets the ranges here
                r1[0:8] = [0, U64, S64_MIN, S64_MAX, 0, U32, S32_MIN, S32_MAX]
                if is32:
                    _with_subreg(r1, r1[8] & ~val, r1[9] & ~val)
                else:
                    r1[8] &= ~val & U64
                    r1[9] &= ~val & U64
    elif op in (0xB0, 0xA0, 0xD0, 0xC0):
        lo = 1 if op in (0xA0, 0xC0) else 0
        i = (4 if op in (0xB0, 0xA0) else 6) if is32 else (0 if op in (0xB0, 0xA0) else 2)
        r1[i + 1] = min(r1[i + 1], r2[i + 1] - lo)
        r2[i] = max(r1[i] + lo, r2[i])
    r = sync(*f1)
    return (r, r) if same else (r, sync(*f2) if need_b else b)


def _refine_ne(f: _F, val: int, is32: bool) -> None:
    if is32:
        u, s = val & U32, val & U32
        s = s - (1 << 32) if s >> 31 else s
        i = 4
    else:
        u = val & U64
        s = u - (1 << 64) if u >> 63 else u
        i = 0
    if f[i] == u:
        f[i] += 1
    if f[i + 1] == u:
        f[i + 1] -= 1
    if f[i + 2] == s:
        f[i + 2] += 1
    if f[i + 3] == s:
        f[i + 3] -= 1


def _refine_jset(f: _F, val: int, is32: bool) -> None:
    if is32:
        val &= U32
    if not val or val & (val - 1):  # learns only from a single-bit mask
        return
    if is32:
        _with_subreg(f, f[8] | val, f[9] & ~val)
    else:
        f[8] |= val
        f[9] &= ~val


__all__ += ["REV", "S32_MAX", "S32_MIN", "S64_MAX", "S64_MIN"]
