"""The verifier's scalar domain: unsigned and signed 64-bit ranges plus known bits.

A scalar :class:`~structops.verifier.state.Reg` carries ``[umin, umax]``, ``[smin, smax]``
and a tnum (``tv``/``tm``, :mod:`structops.verifier.tnum`).  :func:`make_scalar` is the
kernel's ``reg_bounds_sync``: each fact tightens the others (known bits bound the ranges,
a range that does not cross the sign boundary is both signed and unsigned, the ranges
bound the known bits) until nothing changes.  The ALU transfer functions keep the
kernel's precision and its imprecision (Linux 6.18 leaves ``div``/``mod`` results
unbounded, so ``map_value + (x % 10)`` is rejected there); branch refinement narrows on
every conditional jump (unsigned, signed, JSET, register against register).  Issue 12 item 3;
facts checked against this machine's kernel by the corpus in ``tests/corpus/verifier``.
32-bit operations work on the 32-bit projection of their operands (zero-extended result);
the kernel's separate 32-bit sub-ranges are not tracked.
"""

from __future__ import annotations

from dataclasses import replace

from structops.verifier.state import Reg, RegType
from structops.verifier.tnum import (
    UNKNOWN,
    Tnum,
    tadd,
    tand,
    tarshift,
    tcast,
    tintersect,
    tlshift,
    tmul,
    tor,
    trange,
    trshift,
    tsub,
    txor,
)

__all__ = ["alu", "branch", "make_scalar", "outcome", "project32"]

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1
S64_MIN = -(1 << 63)
S64_MAX = (1 << 63) - 1


def _s(x: int) -> int:
    return x - (1 << 64) if x >> 63 else x


def _u(x: int) -> int:
    return x & U64


def make_scalar(
    umin: int = 0, umax: int = U64, smin: int = S64_MIN, smax: int = S64_MAX, t: Tnum = UNKNOWN
) -> Reg | None:
    """A scalar from its facts after ``reg_bounds_sync``; ``None`` when they contradict."""
    tv, tm = t
    for _ in range(3):
        # known bits -> ranges (``__update_reg64_bounds``: with the sign bit unknown the
        # smallest value sets it and the largest clears it)
        umin, umax = max(umin, tv), min(umax, tv | tm)
        smin = max(smin, _s(tv | (tm & (1 << 63))))
        smax = min(smax, _s(tv | (tm & S64_MAX)))
        # signed <-> unsigned
        if umax <= S64_MAX or umin > S64_MAX:
            smin, smax = max(smin, _s(umin)), min(smax, _s(umax))
        if smin >= 0 or smax < 0:
            umin, umax = max(umin, _u(smin)), min(umax, _u(smax))
        if umin > umax or smin > smax:
            return None
        # ranges -> known bits
        nt = tintersect((tv, tm), trange(umin, umax))
        if (nt[0] & ~tm & U64) != tv:  # the range excludes every value the bits allow
            return None
        if nt == (tv, tm):
            break
        tv, tm = nt
    return Reg(RegType.SCALAR, umin, umax, smin=smin, smax=smax, tv=tv, tm=tm)


def _sc(umin: int, umax: int, smin: int, smax: int, t: Tnum) -> Reg:
    reg = make_scalar(umin, umax, smin, smax, t)
    return reg if reg is not None else Reg(RegType.SCALAR)


def _t(r: Reg) -> Tnum:
    return (r.tv, r.tm)


def project32(r: Reg) -> Reg:
    """The low 32 bits of ``r`` as a zero-extended scalar (what a 32-bit op reads)."""
    if r.umax <= U32:
        return r
    return _sc(0, U32, 0, U32, tcast(_t(r), 4))


def truncate(r: Reg, width: int) -> Reg:
    """The low ``width`` bits of ``r`` zero-extended (``le16``/``le32``, a narrowing cast)."""
    top = (1 << width) - 1
    if r.umax <= top:
        return r
    return _sc(0, top, 0, top, tcast(_t(r), width // 8))


def sign_extend(r: Reg, from_bits: int, bits: int) -> Reg:
    """``movsx`` of ``r``'s low ``from_bits`` bits to ``bits`` (``set_sext64_default_val``):
    a value already in ``[0, 2^(from_bits-1))`` is unchanged, else the signed range."""
    half = 1 << (from_bits - 1)
    if r.umax < half:
        return r
    if bits == 32:
        return _unknown(32)
    return _sc(0, U64, -half, half - 1, UNKNOWN)


def _unknown(bits: int) -> Reg:
    return Reg(RegType.SCALAR) if bits == 64 else _sc(0, U32, 0, U32, (0, U32))


def alu(op: int, a: Reg, b: Reg, bits: int) -> Reg:
    """``a op b`` on scalars (``adjust_scalar_min_max_vals``); ``op`` is the BPF_OP nibble."""
    if bits == 32:
        a, b = project32(a), project32(b)
    top = (1 << bits) - 1
    res = _alu64(op, a, b, bits, top)
    if bits == 32:
        res = project32(res) if res.umax > U32 else res
        if op in (0x00, 0x10, 0x80):
            res = _with_s32(res, _s32_result(op, a, b))
    return res


S32_MIN, S32_MAX = -(1 << 31), (1 << 31) - 1


def s32_range(r: Reg) -> tuple[int, int]:
    """The signed range of ``r``'s low 32 bits: what its zero-extended range implies, narrowed
    by the 32-bit signed range a 32-bit op recorded (``s32_min_value``/``s32_max_value``)."""
    lo, hi = S32_MIN, S32_MAX
    if r.umax <= U32:
        if r.umax <= S32_MAX:
            lo, hi = r.umin, r.umax
        elif r.umin > S32_MAX:
            lo, hi = r.umin - (1 << 32), r.umax - (1 << 32)
    return max(lo, r.smin32), min(hi, r.smax32)


def _s32_result(op: int, a: Reg, b: Reg) -> tuple[int, int]:
    """The s32 range of a 32-bit add / sub / neg (``scalar32_min_max_add``/``sub``): full on overflow."""
    if op == 0x80:  # neg: 0 - a
        a, b = _zero(), a
    alo, ahi = s32_range(a)
    blo, bhi = s32_range(b)
    lo, hi = (alo + blo, ahi + bhi) if op == 0x00 else (alo - bhi, ahi - blo)
    if lo < S32_MIN or hi > S32_MAX:
        return S32_MIN, S32_MAX
    return lo, hi


def _branch_s32(op: int, a: Reg, b: Reg, taken: bool) -> Reg:
    """A signed 32-bit jump narrows ``a``'s s32 range (then, for a zero-extended value, its range)."""
    if not taken:
        op = _NEG[op]
    (lo, hi), (blo, bhi) = s32_range(a), s32_range(b)
    if op == 0x60:
        lo = max(lo, blo + 1)
    elif op == 0x70:
        lo = max(lo, blo)
    elif op == 0xC0:
        hi = min(hi, bhi - 1)
    else:
        hi = min(hi, bhi)
    if lo > hi:
        return a
    if a.umax <= U32:
        return _with_s32(a, (lo, hi))
    if (lo, hi) == s32_range(a):
        return a
    return replace(a, smin32=lo, smax32=hi)


def _with_s32(res: Reg, s32: tuple[int, int]) -> Reg:
    """``res`` (a zero-extended 32-bit result) with the signed 32-bit range ``s32``: a range of one
    sign bounds the 32-bit value (then the 64-bit one); one crossing zero is kept alongside."""
    lo, hi = s32
    if lo == S32_MIN and hi == S32_MAX:
        return res
    if lo >= 0 or hi < 0:
        ulo, uhi = (lo, hi) if lo >= 0 else (lo + (1 << 32), hi + (1 << 32))
        return make_scalar(max(res.umin, ulo), min(res.umax, uhi), 0, U32, _t(res)) or res
    if s32_range(res) == (lo, hi):
        return res
    return replace(res, smin32=max(lo, res.smin32), smax32=min(hi, res.smax32))


def _alu64(op: int, a: Reg, b: Reg, bits: int, top: int) -> Reg:
    ta, tb = _t(a), _t(b)
    if op == 0x00:  # add
        umin, umax = a.umin + b.umin, a.umax + b.umax
        if umax > top:
            umin, umax = 0, top
        smin, smax = a.smin + b.smin, a.smax + b.smax
        if bits == 32 or smin < S64_MIN or smax > S64_MAX:
            smin, smax = S64_MIN, S64_MAX
        t = tadd(ta, tb)
        return _sc(umin, umax, smin, smax, tcast(t, 4) if bits == 32 else t)
    if op == 0x10:  # sub
        if a.umin >= b.umax:
            umin, umax = a.umin - b.umax, a.umax - b.umin
        else:
            umin, umax = 0, top
        smin, smax = a.smin - b.smax, a.smax - b.smin
        if bits == 32 or smin < S64_MIN or smax > S64_MAX:
            smin, smax = S64_MIN, S64_MAX
        t = tsub(ta, tb)
        return _sc(umin, umax, smin, smax, tcast(t, 4) if bits == 32 else t)
    if op == 0x20:  # mul
        t = tmul(ta, tb)
        if a.umax * b.umax <= top:
            return _sc(a.umin * b.umin, a.umax * b.umax, S64_MIN, S64_MAX, tcast(t, 4) if bits == 32 else t)
        return _sc(0, top, S64_MIN, S64_MAX, tcast(t, 4) if bits == 32 else t)
    if op == 0x50:  # and
        t = tand(ta, tb)
        smin, smax = (0, min(a.smax, b.smax)) if a.smin >= 0 and b.smin >= 0 else (S64_MIN, S64_MAX)
        return _sc(t[0], min(a.umax, b.umax), smin, smax, t)
    if op == 0x40:  # or
        t = tor(ta, tb)
        return _sc(max(a.umin, b.umin), t[0] | t[1], S64_MIN, S64_MAX, t)
    if op == 0xA0:  # xor
        t = txor(ta, tb)
        return _sc(t[0], t[0] | t[1], S64_MIN, S64_MAX, t)
    if op in (0x60, 0x70, 0xC0) and b.umin == b.umax:
        k = b.umin & (bits - 1)
        if op == 0x60:
            t = tlshift(ta, k)
            if bits == 32:
                t = tcast(t, 4)
            if a.umax << k <= top:
                return _sc(a.umin << k, a.umax << k, S64_MIN, S64_MAX, t)
            return _sc(0, top, S64_MIN, S64_MAX, t)
        if op == 0x70:
            return _sc(a.umin >> k, a.umax >> k, S64_MIN, S64_MAX, trshift(ta, k))
        if bits == 64:
            return _sc(0, U64, a.smin >> k, a.smax >> k, tarshift(ta, k))
        if a.umax <= (1 << 31) - 1:  # non-negative as s32: same as rsh
            return _sc(a.umin >> k, a.umax >> k, S64_MIN, S64_MAX, trshift(ta, k))
        return _unknown(32)
    if op == 0x80:  # neg: 0 - a
        return _alu64(0x10, _zero(), a, bits, top)
    # div, mod (Linux 6.18 leaves them unbounded), shifts by a register, anything else
    return _unknown(bits)


def _zero() -> Reg:
    return Reg(RegType.SCALAR, 0, 0, smin=0, smax=0, tv=0, tm=0)


# ------------------------------------------------------------------ branches
_UNSIGNED = {0x20: ">", 0x30: ">=", 0xA0: "<", 0xB0: "<="}
_SIGNED = {0x60: ">", 0x70: ">=", 0xC0: "<", 0xD0: "<="}
_NEG = {
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
}


def _fits32(a: Reg, b: Reg, signed: bool) -> bool:
    limit = (1 << 31) - 1 if signed else U32
    return a.umax <= limit and b.umax <= limit


def outcome(op: int, a: Reg, b: Reg, bits: int) -> bool | None:
    """``is_branch_taken``: True/False when ``a op b`` is decided, else None."""
    if bits == 32:
        signed = op in _SIGNED
        if not _fits32(a, b, signed):
            if a.umin == a.umax and b.umin == b.umax:
                return _cmp32(op, a.umin, b.umin)
            if signed:  # the signed 32-bit ranges decide it
                (alo, ahi), (blo, bhi) = s32_range(a), s32_range(b)
                return _decide(_SIGNED[op], alo, ahi, blo, bhi)
            return None
        if signed:
            op = {0x60: 0x20, 0x70: 0x30, 0xC0: 0xA0, 0xD0: 0xB0}[op]
    if op == 0x10 or op == 0x50:
        differ = a.umax < b.umin or a.umin > b.umax or a.smax < b.smin or a.smin > b.smax
        differ = differ or bool((a.tv ^ b.tv) & ~(a.tm | b.tm) & U64)
        if differ:
            return op == 0x50
        if a.umin == a.umax == b.umin == b.umax:
            return op == 0x10
        return None
    if op == 0x40:  # jset
        if a.tv & b.tv:
            return True
        if not ((a.tv | a.tm) & (b.tv | b.tm)):
            return False
        return None
    if op in _UNSIGNED:
        lo_a, hi_a, lo_b, hi_b = a.umin, a.umax, b.umin, b.umax
    elif op in _SIGNED:
        lo_a, hi_a, lo_b, hi_b = a.smin, a.smax, b.smin, b.smax
    else:
        return None
    return _decide(_UNSIGNED.get(op) or _SIGNED[op], lo_a, hi_a, lo_b, hi_b)


def _decide(rel: str, lo_a: int, hi_a: int, lo_b: int, hi_b: int) -> bool | None:
    if rel == ">":
        return True if lo_a > hi_b else False if hi_a <= lo_b else None
    if rel == ">=":
        return True if lo_a >= hi_b else False if hi_a < lo_b else None
    if rel == "<":
        return True if hi_a < lo_b else False if lo_a >= hi_b else None
    return True if hi_a <= lo_b else False if lo_a > hi_b else None


def _cmp32(op: int, x: int, y: int) -> bool:
    x, y = x & U32, y & U32
    if op in _SIGNED:
        x = x - (1 << 32) if x >> 31 else x
        y = y - (1 << 32) if y >> 31 else y
    return {
        0x10: x == y,
        0x50: x != y,
        0x20: x > y,
        0x30: x >= y,
        0xA0: x < y,
        0xB0: x <= y,
        0x60: x > y,
        0x70: x >= y,
        0xC0: x < y,
        0xD0: x <= y,
        0x40: bool(x & y),
    }[op]


#: Ordered jumps (jgt, jge, jlt, jle, jsgt, jsge, jslt, jsle) when taken: which bound of
#: ``a`` (0 umin, 1 umax, 2 smin, 3 smax) moves to the same bound of ``b`` plus an offset;
#: even indexes are lower bounds (they only rise), odd ones upper bounds (they only fall).
_ORDER_REFINE = {
    0x20: (0, 1),
    0x30: (0, 0),
    0xA0: (1, -1),
    0xB0: (1, 0),
    0x60: (2, 1),
    0x70: (2, 0),
    0xC0: (3, -1),
    0xD0: (3, 0),
}


def branch(op: int, a: Reg, b: Reg, bits: int, taken: bool) -> Reg:
    """``reg_set_min_max`` for ``a``: its facts given ``a op b`` is ``taken`` (or not)."""
    if a.type != RegType.SCALAR or b.type != RegType.SCALAR:
        return a
    if bits == 32 and b.umin == b.umax <= U32:
        if (op == 0x10 and taken) or (op == 0x50 and not taken):  # the low 32 bits are known
            return make_scalar(a.umin, a.umax, a.smin, a.smax, ((a.tv & ~U32) | b.umin, a.tm & ~U32)) or a
        if op == 0x40:  # a 32-bit mask tests the same bits of the 64-bit value
            bits = 64
    if bits == 32:
        signed = op in _SIGNED
        if not _fits32(a, b, signed):
            return _branch_s32(op, a, b, taken) if signed else a
        if signed:
            op = {0x60: 0x20, 0x70: 0x30, 0xC0: 0xA0, 0xD0: 0xB0}[op]
    if op == 0x40:
        if b.umin != b.umax:
            return a
        mask = b.umin
        if taken:
            if mask and not mask & (mask - 1):  # one bit: it is set
                return make_scalar(a.umin, a.umax, a.smin, a.smax, (a.tv | mask, a.tm & ~mask)) or a
            return a
        return make_scalar(a.umin, a.umax, a.smin, a.smax, (a.tv & ~mask, a.tm & ~mask & U64)) or a
    if not taken:
        neg = _NEG.get(op)
        if neg is None:
            return a
        op = neg
    umin, umax, smin, smax, t = a.umin, a.umax, a.smin, a.smax, _t(a)
    if op == 0x10:  # eq
        umin, umax = max(umin, b.umin), min(umax, b.umax)
        smin, smax = max(smin, b.smin), min(smax, b.smax)
        if b.umin == b.umax:
            t = (b.umin, 0)
    elif op == 0x50:  # ne: only a constant at an end moves the bound
        if b.umin == b.umax:
            v = b.umin
            if umin == v:
                umin += 1
            elif umax == v:
                umax -= 1
            sv = _s(v)
            if smin == sv:
                smin += 1
            elif smax == sv:
                smax -= 1
    elif op in _ORDER_REFINE:
        i, delta = _ORDER_REFINE[op]
        bounds = [umin, umax, smin, smax]
        limit = (b.umin, b.umax, b.smin, b.smax)[i] + delta
        bounds[i] = max(bounds[i], limit) if i % 2 == 0 else min(bounds[i], limit)
        umin, umax, smin, smax = bounds
    reg = make_scalar(umin, umax, smin, smax, t)
    return reg if reg is not None else a
